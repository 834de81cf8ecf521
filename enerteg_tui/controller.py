"""The controller: wires core services, the driver and protocol services on one loop.

``enerteg serve`` builds one ``Controller``; tests build them too. Start order: data
directory (locked against a second controller), database, settings, audit, driver,
device registry, structure, poller, topics, then protocol services. Stop runs in
reverse and flushes what must be flushed (driver state, WAL checkpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .core.alarms import AlarmService
from .core.audit import AuditLog, Severity
from .core.backup import BackupService
from .core.configuration import Configuration
from .core.devices import DeviceService
from .core.errors import EnertegError, Invalid
from .core.events import EventBus
from .core.export import ExportService
from .core.history import HistoryService
from .core.live import LiveState
from .core.model import DeviceState
from .core.permissions import SYSTEM
from .core.poller import Poller
from .core.rules import RuleService
from .core.store import Store, open_data_dir
from .core.structure import Structure
from .core.topics import Topics
from .core.users import UserService
from .drivers.base import Driver
from .logfile import install_log_file

__all__ = ["Controller", "ControllerOptions", "Service"]

log = logging.getLogger(__name__)

DB_NAME = "enerteg.db"
"""The controller database inside the data directory."""
SIM_STATE_NAME = "sim-ring.json"
"""Where the simulated PDUs keep their memory (energy counters, settings)."""
RUN_INFO_NAME = "run.json"
"""Written while running: pid and the SSH port, for ``enerteg console``."""
LOCK_NAME = ".lock"
"""Advisory lock: one controller per data directory."""


class Service(Protocol):
    """A protocol service run beside the core (SSH, SNMP, Modbus, HTTP, ...)."""

    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def describe(self) -> str: ...


@dataclass(slots=True)
class ControllerOptions:
    """What ``enerteg serve`` was asked for; None means "from the settings"."""

    data_dir: Path = Path("./enerteg-data")
    simulate: int | None = None
    """Number of simulated PDUs; overrides ``config/devices`` simulatedPdus."""
    interval: float | None = None
    """Sweep interval in seconds; overrides ``config/core`` pollIntervalSeconds."""
    seed: int = 0
    bind: str | None = None
    """Address the network services listen on; None = each service's settings."""
    bus_latency_ms: float | None = None
    equipment: str = "mixed"
    """Simulated ring equipment: "mixed" models, or "full" (largest model everywhere)."""
    ssh_enabled: bool | None = None
    """Run the SSH server; None = ``config/cli`` enabled."""
    ssh_port: int | None = None
    """SSH port; None = ``config/cli`` port; 0 = any free port (tests)."""
    serial_device: str | None = None
    """Serial console device; None = ``config/cli`` serialDevice ("" = none)."""
    serial_baud: int | None = None
    """Serial console speed; None = ``config/cli`` serialBaud."""
    log_file: bool = False
    """Write a rotating log file to ``<data-dir>/logs`` (``enerteg serve`` does)."""
    email_options: dict[str, Any] = field(default_factory=dict)
    """Extra arguments for the e-mail notifier (tests: ``delay``, ``retry``, ``tls_context``)."""


GC_THRESHOLDS = (700, 10, 100)
"""CPython's cyclic collector: young generations as by default, the full collection only
after 100 middle ones (default 10). A full pass walks every object of every console
session; with Textual's eager strip caches (seven per cached line, see
``screens/strip_caches``) it held the loop 300-600 ms about every 3 s at the default.
With lazy strip caches and this threshold (bench/console.py, 20 sessions, 100 PDUs):
key→screen p90 34-41 ms, 4.3-4.4 MiB per idle session; at 1,000 the p90 was 17-27 ms
but garbage waited so long that a session cost 5.5-5.7 MiB. Young passes stay short."""


def tune_gc() -> None:
    """Freeze what start-up allocated (modules, settings, the ring) out of the collector's
    passes and apply ``GC_THRESHOLDS``; ``enerteg serve`` calls it once started."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Controller:
    """One running controller: core services, driver and protocol services.

    Attributes are the core services faces use: ``live``, ``events``, ``audit``,
    ``config``, ``users``, ``devices``, ``structure``, ``rules``, ``alarms``, ``topics``,
    ``poller``, ``history``, ``backup``, ``export``.
    """

    def __init__(
        self, options: ControllerOptions, *, driver_factory: Callable[..., Driver] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self._driver_factory = driver_factory
        self.clock = clock
        self.services: list[Service] = []
        self._lock_fd: int | None = None
        self._watch: asyncio.Task[None] | None = None
        self.started_at = 0.0
        self._log_handler: logging.Handler | None = None

    # ------------------------------------------------------------------ start
    async def start(self) -> None:
        """Open storage, load settings, start the driver, poller and services."""
        opts = self.options
        self.data_dir = open_data_dir(Path(opts.data_dir))
        self._lock()
        if opts.log_file:
            self._log_handler = install_log_file(self.data_dir / "logs")
        try:
            await self._start_core()
        except BaseException:
            if getattr(self, "poller", None) is not None and getattr(self, "store", None):
                await self.stop()          # core was up: stop it in order
            else:
                await self._close_partial()
            raise

    async def _start_core(self) -> None:
        opts = self.options
        self.events = EventBus()
        self.live = LiveState()
        self.store = await Store.open(self.data_dir / DB_NAME)
        self.config: Configuration
        self.audit = AuditLog(self.store, self.events, retention=self._retention, clock=self.clock)
        self.config = Configuration(self.store, self.audit, self.events, clock=self.clock)
        await self.config.load()
        applies = self.config.appliers.register  # each reader of a topic, where it reads it
        applies("notifications", "audit")         # self._retention
        applies("auth", "users")
        applies("devices", "driver")              # self._build_driver
        self.users = UserService(self.store, self.audit, policy=lambda: self.config.get("auth"),
                                 clock=self.clock)
        await self.users.load()
        self.driver = self._build_driver()
        await self.driver.open()
        self.devices = DeviceService(self.store, self.driver, self.live, self.audit, self.events,
                                     refresh=lambda: self.poller.request_refresh(), clock=self.clock)
        await self.devices.load()
        self.structure = Structure(self.store, self.devices, self.live, self.audit, self.events,
                                   clock=self.clock)
        await self.structure.load()
        self.rules = RuleService(self.store, self.audit, self.events, self.live,
                                 element_kind=self._element_kind, device_places=self._places,
                                 clock=self.clock)
        await self.rules.load()
        self.alarms = AlarmService(self.store, self.audit, self.events, self.live, self.rules,
                                   self.structure, clock=self.clock)
        await self.alarms.load()
        self.structure.health = self.alarms.device_health
        core = self.config.get("core")
        interval = opts.interval if opts.interval is not None else float(core.pollIntervalSeconds)
        applies("core", "poller")
        self.poller = Poller(self.driver, self.live, self.events, interval=interval,
                             stale_after=int(core.staleAfterSweeps),
                             on_new_device=self.devices.remember, clock=self.clock)
        self.poller.add_sweep_listener(self.alarms.on_sweep)
        applies("core", "history")
        self.history = HistoryService(self.data_dir, self.live, lambda: self.config.get("core"),
                                      clock=self.clock)
        await self.history.start()
        self.poller.add_device_listener(self.history.on_device)
        self.topics = Topics(self.config, self.devices, self.live, self.structure, self.audit,
                             faults=self.driver.fault_injector(), clock=self.clock,
                             rules=self.rules, alarms=self.alarms)
        await self.audit.start()
        await self.alarms.start()
        from .notify.syslog import SyslogClient
        self.syslog = SyslogClient(self.config, self.events,
                                   hostname=lambda: self.config.get("hostname").hostname)
        await self.syslog.start()
        from .notify.email import EmailNotifier
        self.email = EmailNotifier(self.config, self.events, self.audit, self.data_dir / "mail",
                                   **self.options.email_options)
        await self.email.start()
        self.backup = BackupService(self, clock=self.clock)
        await self.backup.start()
        self.export = ExportService(self.config, self.history, self.live, self.store, self.audit,
                                    self.events, self.data_dir, clock=self.clock)
        await self.export.start()
        await self.poller.start()
        self._watch = asyncio.create_task(self._watch_settings(), name="settings-watch")
        self.services[:0] = self._default_services()
        for service in self.services:
            await service.start()
        self.started_at = self.clock()
        self._write_run_info()
        await self.audit.record(SYSTEM, "controller.start", "controller",
                                f"Controller started ({self.driver.NAME} driver, "
                                f"sweep every {self.poller.interval:g} s)", severity=Severity.INFO)

    def _default_services(self) -> list[Service]:
        """The protocol services this controller runs, from options and settings."""
        opts = self.options
        out: list[Service] = []
        from .protocols.ssh.server import SSHOptions, SSHService
        out.append(SSHService(self, SSHOptions(port=opts.ssh_port, address=opts.bind,
                                               enabled=opts.ssh_enabled)))
        cli = self.config.get("cli")
        device = opts.serial_device if opts.serial_device is not None else cli.serialDevice
        if device:
            from .protocols.serial.console import SerialConsoleService
            baud = opts.serial_baud if opts.serial_baud is not None else int(cli.serialBaud)
            out.append(SerialConsoleService(self, device, baud))
        return out

    def service(self, name: str) -> Service | None:
        """The running protocol service called ``name`` (``ssh``, ``serial``...), if any."""
        return next((s for s in self.services if s.name == name), None)

    def _build_driver(self) -> Driver:
        opts = self.options
        devices = self.config.get("devices")
        kwargs: dict[str, Any] = {
            "pdus": opts.simulate if opts.simulate is not None else int(devices.simulatedPdus),
            "seed": opts.seed,
            "state_path": self.data_dir / SIM_STATE_NAME,
            "bus_latency_ms": (opts.bus_latency_ms if opts.bus_latency_ms is not None
                               else float(devices.busLatencyMs)),
            "timeout": int(devices.pollTimeoutMs) / 1000,
            "equipment": opts.equipment,
            "clock": self.clock,
        }
        if self._driver_factory is not None:
            return self._driver_factory(**kwargs)
        from .drivers.simulated import SimulatedDriver
        return SimulatedDriver(**kwargs)

    def _element_kind(self, element_id: int) -> str | None:
        try:
            return self.structure.get(element_id).kind.value
        except EnertegError:
            return None

    def _places(self, hex_id: str) -> dict[str, int]:
        """Rack, row and room ids a device sits in (rule scopes)."""
        out: dict[str, int] = {}
        el_id = self.devices.rack_of(hex_id)
        while el_id:
            try:
                el = self.structure.get(el_id)
            except EnertegError:
                break
            out[el.kind.value] = el.id
            el_id = el.parent_id
        return out

    def _retention(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.config.get("notifications").model_dump().items()
                if isinstance(v, int) and not isinstance(v, bool)}

    async def _watch_settings(self) -> None:
        with self.events.subscribe(kinds={"settings"}) as sub:
            while True:
                batch = await sub.get()
                for ev in batch.events:
                    if ev.subject == "core":
                        if self.options.interval is None:
                            self.poller.set_interval(float(ev.data.pollIntervalSeconds))
                        self.poller.stale_after = int(ev.data.staleAfterSweeps)

    def _write_run_info(self) -> None:
        """``<data-dir>/run.json``: how to reach this running controller (``enerteg console``)."""
        info: dict[str, Any] = {"pid": os.getpid()}
        ssh = self.service("ssh")
        port = getattr(ssh, "port", None)
        if port:
            info["ssh"] = {"address": getattr(ssh, "address", None) or "", "port": port}
        tmp = self.data_dir / (RUN_INFO_NAME + ".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.data_dir / RUN_INFO_NAME)

    def _lock(self) -> None:
        path = self.data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise Invalid(
                f"data directory {str(self.data_dir)!r} is in use by another controller (pid {other})",
                thing="--data-dir", value=str(self.data_dir), allowed="a directory no other controller uses",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    # ------------------------------------------------------------------ stop
    async def stop(self) -> None:
        """Stop services, poller and driver; checkpoint and close the database."""
        for service in reversed(self.services):
            with contextlib.suppress(Exception):
                await service.stop()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.poller.stop()
        if getattr(self, "backup", None) is not None:
            await self.backup.stop()
        if getattr(self, "export", None) is not None:
            await self.export.stop()
        if getattr(self, "history", None) is not None:
            await self.history.stop()
        with contextlib.suppress(Exception):
            await self.alarms.stop()
        if getattr(self, "syslog", None) is not None:
            await self.syslog.stop()
        if getattr(self, "email", None) is not None:
            await self.email.stop()
        await self.audit.stop()
        with contextlib.suppress(Exception):
            await self.audit.record(SYSTEM, "controller.stop", "controller", "Controller stopped",
                                    severity=Severity.INFO)
        await self._close_partial()

    async def _close_partial(self) -> None:
        driver = getattr(self, "driver", None)
        if driver is not None and driver.state != "closed":
            try:
                await driver.close()
            except Exception:
                log.exception("driver close failed")
        store = getattr(self, "store", None)
        if store is not None:
            await store.close()
            self.store = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                (self.data_dir / RUN_INFO_NAME).unlink()
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    # ------------------------------------------------------------------ info
    def ready_line(self) -> str:
        """The one line printed when everything is up (after the first sweep).

        ``pdus`` counts the PDUs present in the ring (found by the last discovery);
        PDUs only remembered from earlier runs are ``known`` and shown only when more.
        """
        present = sum(1 for d in self.live.devices.values()
                      if d.state is not DeviceState.UNREACHABLE)
        parts = [
            f"data-dir={self.data_dir}",
            f"driver={self.driver.NAME}",
            f"pdus={present}",
            f"interval={self.poller.interval:g}s",
        ]
        if len(self.live.devices) > present:
            parts.insert(3, f"known={len(self.live.devices)}")
        parts += [s.describe() for s in self.services]
        return "enerteg ready: " + " ".join(parts)
