"""The SNMP agent as a controller service, following ``config/snmp_agent`` live.

Always among the controller's services, running or not: at start and on every change
of the settings topic it (re)builds the agent when enabled, or stops it when disabled,
without a restart. pysnmp is imported only when the agent is enabled, so a controller
with the agent off (the default) does not pay pysnmp's start-up time. A port already in
use (or an address not on this host, or a privileged port without the right) is one
log line, an audit entry of severity error, and ``status`` saying why; the controller
runs on. The engine id is made once and kept in the data directory
(``DataLayout.snmp_engine``) with the boot counter, so SNMPv3 managers keep their keys
across restarts. ``status`` is what the shell and console show.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shutil
import socket
from typing import Any

from ...core.services import CoreServices
from ...core.settings import SnmpAgentSettings
from ..settings_face import FaceStatus, SettingsDrivenFace, bind_problem
from .mib import MIB_TEXT

__all__ = ["SnmpAgentService", "AgentStatus", "RESTART_KEYS"]

log = logging.getLogger(__name__)

RESTART_KEYS = frozenset(SnmpAgentSettings.model_fields) - {
    "snmpLocation", "snmpContact", "snmpName"}
"""Keys whose change rebuilds the agent; the system group is read per request."""

GUIDE = "snmp.md"


AgentStatus = FaceStatus
"""Whether the agent answers, and why not (the shared ``FaceStatus``)."""


class SnmpAgentService(SettingsDrivenFace):
    """Runs (or not) the SNMP agent as ``config/snmp_agent`` says."""

    name = "snmp"
    TOPIC = "snmp_agent"
    TITLE = "SNMP agent"
    APPLIER = "snmp agent"

    def __init__(self, core: CoreServices, *, port: int | None = None,
                 address: str | None = None, unlock_seconds: float = 10.0) -> None:
        """``port``/``address`` override the settings (tests and ``--bind``)."""
        super().__init__(core)
        self._port_override = port
        self._address_override = address
        self.unlock_seconds = unlock_seconds
        self.agent: Any = None
        self.port: int | None = None
        self.address = ""
        self._applied: dict[str, Any] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        # sysName is the host name while snmpName is empty (read per request)
        self.core.config.appliers.register("hostname", self.APPLIER)
        await super().start()

    def describe(self) -> str:
        return f"snmp={self.address}:{self.port}" if self.agent else "snmp=off"

    # ------------------------------------------------------------------ apply
    async def _apply(self, settings: SnmpAgentSettings) -> None:
        wanted = {k: v for k, v in settings.model_dump().items() if k in RESTART_KEYS}
        async with self._lock:
            if wanted == self._applied and (self.agent is not None or not settings.enabled):
                self._set_status(self._status.running, self._status.text)   # answer the put
                return
            self._applied = wanted
            await self._close()
            if not settings.enabled:
                self._set_status(False, "disabled (config/snmp_agent enabled=disabled)")
                return
            address = self._address_override or settings.agentAddress or "0.0.0.0"
            port = self._port_override if self._port_override is not None else settings.agentPort
            try:
                sock = _bind(address, port)
            except OSError as exc:
                await self._not_started(
                    bind_problem(exc, "UDP", address, port, "config/snmp_agent agentPort",
                                 holder="another program, such as snmpd,"), "snmp.error")
                return
            try:
                from .agent import Agent      # pysnmp only when enabled
                from .mib import load_mib
                engine_id, boots = self._engine_identity()
                self.agent = Agent(self.core, settings, load_mib(), sock, engine_id, boots,
                                   unlock_seconds=self.unlock_seconds)
            except Exception as exc:
                sock.close()
                log.exception("SNMP agent not started")
                self._set_status(False, f"not running: {type(exc).__name__}: {exc}")
                return
            self.port = sock.getsockname()[1]
            self.address = address
            versions = {"snmpV2C": "v1/v2c", "snmpV3": "v3", "snmpV2CV3": "v1/v2c and v3"}
            write = ("SET allowed" if settings.enabledWrite and settings.genericMibEnabledSet
                     else "read-only")
            self._set_status(True, f"running on UDP {address}:{self.port} "
                                   f"({versions[settings.snmpVersion]}, {write})")
            log.info("SNMP agent %s", self._status.text)

    async def _close(self) -> None:
        if self.agent is not None:
            agent, self.agent = self.agent, None
            try:
                await agent.close()
            except Exception:
                log.exception("SNMP agent: close failed")
            self.port = None

    # ------------------------------------------------------------------ data files
    def _engine_identity(self) -> tuple[bytes, int]:
        """The persistent engine id (RFC 3411 format 5, random) and the next boot count."""
        path = self.core.paths.snmp_engine
        data: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
        engine_id = data.get("engineId")
        if not isinstance(engine_id, str) or len(engine_id) < 10:
            # 0x80 | enterprise 28402, format 5 (octets), 12 random octets
            engine_id = (bytes.fromhex("80006ef205") + os.urandom(12)).hex()
        boots = int(data.get("boots", 0)) + 1 if str(data.get("boots", "0")).isdigit() else 1
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"engineId": engine_id, "boots": boots}))
        os.replace(tmp, path)
        return bytes.fromhex(engine_id), boots

    def _publish_docs(self) -> None:
        """Put the MIB and the integration guide into the file tree's /docs."""
        docs = self.core.paths.root / "docs"
        try:
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(MIB_TEXT, docs / MIB_TEXT.name)
            guide = MIB_TEXT.with_name(GUIDE)
            if guide.exists():
                shutil.copyfile(guide, docs / GUIDE)
        except OSError as exc:
            log.warning("SNMP: cannot copy the MIB into %s: %s", docs, exc)


def _bind(address: str, port: int) -> socket.socket:
    """A bound, non-blocking UDP socket (IPv6 when the address is one)."""
    try:
        family = (socket.AF_INET6 if ipaddress.ip_address(address).version == 6
                  else socket.AF_INET)
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock
