"""The serial console face: a login prompt and the topic shell on a serial line."""

from .console import SerialConsoleService, SerialTerm

__all__ = ["SerialConsoleService", "SerialTerm"]
