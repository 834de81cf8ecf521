"""Drivers: talk to PDUs and report catalogue quantities to the core.

Drivers import only ``core.model``, ``core.quantities`` and ``core.errors``.
"""
