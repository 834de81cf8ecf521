"""Notifications to people who are not looking: syslog (manual §5.4) and e-mail (§5.7).

Each notifier is a service (``start``/``stop``/``describe``) fed by the event bus
(``alarm`` and ``audit`` events); none of them can slow the poller or the core: they
keep bounded queues of their own and do their network I/O in their own tasks.
"""
