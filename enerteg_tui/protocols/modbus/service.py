"""The Modbus TCP server as a controller service, following ``config/modbus`` live.

Always among the controller's services, running or not: at start and on every change of
the settings topic it (re)starts the server when enabled, or stops it when disabled,
without a restart. pymodbus is imported only when the server is enabled, so a controller
with Modbus off (the default) does not pay its start-up time. A port already in use (or
an address not on this host, or a privileged port without the right) is one log line,
an audit entry of severity error, ``status`` saying why and an alarm until it listens
(``SettingsDrivenFace``); the controller runs on.
``status`` (also in ``core.faces`` under ``modbus``) is what the shell and console show.
The register map (CSV) and its generated list are put to the file tree's ``/docs``.
"""

from __future__ import annotations

import logging
import shutil
import socket
from typing import Any

from ...core.services import CoreServices
from ...core.settings import ModbusSettings
from ..settings_face import FaceStatus, SettingsDrivenFace, bind_problem
from .regmap import MAP_PATH

__all__ = ["ModbusService", "ServerStatus", "bind_tcp"]

log = logging.getLogger(__name__)

TOPIC = "modbus"
REGISTER_LIST = "modbus-registers.md"
POINTS = "modbus_points.csv"


ServerStatus = FaceStatus
"""Whether the server answers, and why not (the shared ``FaceStatus``)."""


class ModbusService(SettingsDrivenFace):
    """Runs (or not) the Modbus TCP server as ``config/modbus`` says."""

    name = "modbus"
    TOPIC = TOPIC
    TITLE = "Modbus server"
    APPLIER = "modbus server"

    def __init__(self, core: CoreServices, *, port: int | None = None,
                 address: str | None = None, arm_seconds: float = 10.0) -> None:
        """``port``/``address`` override the settings (tests and ``--bind``)."""
        super().__init__(core)
        self._port_override = port
        self._address_override = address
        self.arm_seconds = arm_seconds
        self.server: Any = None
        self.face: Any = None
        self.port: int | None = None
        self.address = ""
        self._applied: tuple[str, int, int, int] | None = None

    # ------------------------------------------------------------------ lifecycle
    def describe(self) -> str:
        return f"modbus={self.address}:{self.port}" if self.server else "modbus=off"

    def _allow_write(self) -> bool:
        return bool(self.core.config.get(TOPIC).allowWrite)

    # ------------------------------------------------------------------ apply
    async def _apply(self, settings: ModbusSettings) -> None:
        address = self._address_override or settings.listenAddress or "0.0.0.0"
        port = self._port_override if self._port_override is not None else settings.port
        async with self._lock:
            wanted = ((address, port, settings.maxConnections, settings.idleTimeoutSeconds)
                      if settings.enabled else None)
            if wanted == self._applied and (self.server is not None or wanted is None):
                self._set_status(self._status.running, self._running_text(settings)
                                 if self.server else self._status.text)   # answer the put
                return
            self._applied = wanted
            await self._close()
            if not settings.enabled:
                self._set_status(False, "disabled (config/modbus enabled=disabled)")
                return
            try:
                sock = bind_tcp(address, port)
            except OSError as exc:
                await self._not_started(
                    bind_problem(exc, "TCP", address, port, "config/modbus port"),
                    "modbus.error")
                return
            try:
                from .face import ModbusFace       # pymodbus only when enabled
                from .server import FaceServer
                self.face = ModbusFace(self.core, allow_write=self._allow_write,
                                       arm_seconds=self.arm_seconds)
                self.server = FaceServer(self.face, sock,
                                         max_connections=settings.maxConnections,
                                         idle_timeout=float(settings.idleTimeoutSeconds))
                await self.server.start()
            except Exception as exc:
                sock.close()
                self.server = None
                log.exception("Modbus server not started")
                self._set_status(False, f"not running: {type(exc).__name__}: {exc}")
                return
            self.port = sock.getsockname()[1]
            self.address = address
            self._set_status(True, self._running_text(settings))
            log.info("Modbus server %s", self._status.text)

    def _running_text(self, settings: ModbusSettings) -> str:
        writes = "writes allowed" if settings.allowWrite else "read-only"
        return (f"running on TCP {self.address}:{self.port} ({writes}, at most "
                f"{settings.maxConnections} connections)")

    async def _close(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            try:
                await server.stop()
            except Exception:
                log.exception("Modbus: stopping the server failed")
            self.port = None
            self.face = None

    # ------------------------------------------------------------------ data files
    def _publish_docs(self) -> None:
        """Put the register map (the CSV, its list docs/modbus-registers.md and the point
        list, one row per address) into the file tree's /docs, byte for byte what the
        server answers from."""
        from .regmap import load_map, render_markdown, render_points
        docs = self.core.paths.root / "docs"
        try:
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(MAP_PATH, docs / MAP_PATH.name)
            (docs / REGISTER_LIST).write_text(render_markdown(load_map()), encoding="utf-8")
            (docs / POINTS).write_text(render_points(load_map()), encoding="utf-8")
        except OSError as exc:
            log.warning("Modbus: cannot copy the register map into %s: %s", docs, exc)


def bind_tcp(address: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking TCP socket (IPv6 when the address is one)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
