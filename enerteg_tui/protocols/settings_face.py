"""What every face that a settings topic starts and stops has in common.

The SNMP agent (``config/snmp_agent``) and the Modbus server (``config/modbus``), and the
network faces to come, are always among the controller's services, running or not: at
start and on every change of their topic they (re)start or stop without a restart of
the controller. Each reports whether it runs, and why not, in ``core.faces`` (the shell's
``cat``/``put`` and the console's Settings form show it), registers as the applier of
its topic, and answers a port it cannot bind with one log line and one audit entry of
severity error rather than a crash. While a face that is enabled does not run, an alarm
says so (a condition alarm of the core's alarm service, ``modbusNotRunning``,
``snmpAgentNotRunning``): raised with the reason, cleared when the face listens (after a
settings change, or a retry every ``RETRY_SECONDS`` once the port is free) or is
disabled. A subclass says how to apply the settings (``_apply``), how to stop
(``_close``) and which files it puts into ``/docs``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.alarm_texts import BIND, BIND_HELD, BIND_ROOT, compose
from ..core.audit import Severity
from ..core.permissions import SYSTEM
from ..core.services import CoreServices
from ..core.waiting import cancel_and_wait

__all__ = ["FaceStatus", "SettingsDrivenFace", "bind_problem"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FaceStatus:
    """Whether a face answers, and why not when it does not."""

    running: bool
    text: str


def bind_problem(exc: OSError, proto: str, address: str, port: int, port_key: str,
                 holder: str = "another program") -> str:
    """Why a face cannot listen, in words an operator can act on."""
    values = {"proto": proto, "address": f"{address}:{port}", "error": exc.strerror or exc}
    if isinstance(exc, PermissionError) or exc.errno == 13:
        return compose(BIND_ROOT, **values, key=port_key)
    if exc.errno == 98:
        return compose(BIND_HELD, **values, holder=holder)
    return compose(BIND, **values)


class SettingsDrivenFace:
    """Base of a face that its settings topic starts and stops live."""

    TOPIC: ClassVar[str]
    """The settings topic (``snmp_agent``, ``modbus``)."""
    TITLE: ClassVar[str]
    """The face in words (``SNMP agent``, ``Modbus server``)."""
    APPLIER: ClassVar[str]
    """The name the Settings page shows as applying the topic."""
    RETRY_SECONDS: ClassVar[float] = 30.0
    """How often a face that could not start tries again with the same settings."""

    def __init__(self, core: CoreServices) -> None:
        self.core = core
        self._status = FaceStatus(False, f"disabled (config/{self.TOPIC} enabled=disabled)")
        self._watch: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.retry_seconds = self.RETRY_SECONDS

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Register as the topic's applier, publish the docs, apply the settings and
        follow their changes."""
        self.core.config.appliers.register(self.TOPIC, self.APPLIER)
        self._publish_docs()
        await self._apply(self.core.config.get(self.TOPIC))
        self._watch = asyncio.create_task(self._follow(), name=f"{self.TOPIC}-settings")

    async def stop(self) -> None:
        """Stop following the settings and close the face."""
        await cancel_and_wait(self._watch, self._retry)
        self._watch = self._retry = None
        await self._close()

    @property
    def condition(self) -> str:
        """Name of the alarm raised while the face is enabled but not running
        (``snmp_agent`` → ``snmpAgentNotRunning``)."""
        head, *rest = self.TOPIC.split("_")
        return head + "".join(p.title() for p in rest) + "NotRunning"

    @property
    def status(self) -> FaceStatus:
        """Running on address:port, or why not."""
        return self._status

    async def _follow(self) -> None:
        with self.core.events.subscribe(kinds={"settings"}) as sub:
            while True:
                batch = await sub.get()
                for ev in batch.events:
                    if ev.subject == self.TOPIC:
                        try:
                            await self._apply(ev.data)
                        except Exception:
                            log.exception("%s: applying config/%s failed", self.TITLE,
                                          self.TOPIC)

    def _set_status(self, running: bool, text: str) -> None:
        """Report the face's state; raise or clear its alarm to match (running or
        disabled: no alarm; enabled but not running: the alarm, with the reason)."""
        self._status = FaceStatus(running, text)
        self.core.faces.report(self.TOPIC, text)
        alarms = self.core.alarms
        if running:
            alarms.clear_condition(self.condition, f"{self.TITLE} {text}")
        elif text.startswith("disabled"):
            alarms.clear_condition(self.condition, f"{self.TITLE} {text}")
        else:
            alarms.raise_condition(self.condition, f"{self.TITLE} {text}", severity="Warning")

    async def _not_started(self, why: str, action: str) -> None:
        """A face that cannot start: one log line, the status, one audit entry, the
        alarm; then a quiet retry every ``retry_seconds`` (the same reason again is
        neither logged nor audited again)."""
        again = self._status.text == f"not running: {why}"
        self._set_status(False, f"not running: {why}")
        if not again:
            log.error("%s not started: %s", self.TITLE, why)
            await self.core.audit.record(SYSTEM, action, f"config/{self.TOPIC}",
                                         f"{self.TITLE} not started: {why}",
                                         severity=Severity.ERROR)
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(self._retry_loop(), name=f"{self.TOPIC}-retry")

    async def _retry_loop(self) -> None:
        while not self._status.running and not self._status.text.startswith("disabled"):
            await asyncio.sleep(self.retry_seconds)
            if self._status.running or self._status.text.startswith("disabled"):
                return
            try:
                await self._apply(self.core.config.get(self.TOPIC))
            except Exception:
                log.exception("%s: retrying config/%s failed", self.TITLE, self.TOPIC)
                return

    # ------------------------------------------------------------------ subclass
    async def _apply(self, settings: Any) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    def _publish_docs(self) -> None:
        """Put the face's files into the file tree's ``/docs`` (default: none)."""
