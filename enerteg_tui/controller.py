"""The controller: wires core services, the driver and protocol services on one loop.

``enerteg serve`` builds one ``Controller``; tests build them too. Start order: data
directory (locked against a second controller), database, settings, audit, driver,
device registry, structure, poller, topics, then protocol services. Stop runs in
reverse and flushes what must be flushed (driver state, WAL checkpoint).
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from argon2 import PasswordHasher

from .core.audit import Severity
from .core.configuration import read_settings
from .core.errors import Invalid
from .core.filemodes import private_umask, tighten
from .core.hostntp import NtpClientPaths
from .core.model import DeviceState
from .core.permissions import SYSTEM
from .core.services import CoreServices, DataLayout, build_core
from .core.store import Store, open_data_dir
from .drivers.base import Driver
from .logfile import install_log_file

__all__ = ["Controller", "ControllerOptions", "Service"]

log = logging.getLogger(__name__)

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
    manage_host: bool = False
    """``--manage-host``: the shell's and console's poweroff and reboot act on the host."""
    answer_error_rate: float = 0.001
    """Simulated ring: share of garbled poll answers (a healthy RS-485 bus; tests use 0)."""
    equipment: str = "mixed"
    """Simulated ring equipment: "mixed" models, or "full" (largest model everywhere)."""
    ssh_enabled: bool | None = None
    """Run the SSH server; None = ``config/cli`` enabled."""
    ssh_port: int | None = None
    """SSH port; None = ``config/cli`` port; 0 = any free port (tests)."""
    snmp_port: int | None = None
    """SNMP agent's UDP port; None = ``config/snmp_agent`` agentPort (tests pass a free one)."""
    modbus_port: int | None = None
    """Modbus server's TCP port; None = ``config/modbus`` port (tests pass a free one)."""
    http_port: int | None = None
    """Web server's plain HTTP port; None = ``config/http_server`` port (tests pass a free one)."""
    https_port: int | None = None
    """Web server's HTTPS port; None = ``config/http_server`` httpsPort (tests pass a free one)."""
    ntp_port: int | None = None
    """UDP port of the NTP servers of ``config/time``. None: 123 under ``--manage-host``
    (the appliance owns its clock), else no clock checks, so a controller on an ordinary
    host never queries the Internet's servers on its own; 0: never (tests pass a fake
    server's port when they check the clock)."""
    resolv_conf: Path | None = None
    """Where ``config/network``'s DNS servers go under ``--manage-host``; None =
    /etc/resolv.conf (tests point it into a temporary directory)."""
    chrony_sources: Path | None = None
    """Under ``--manage-host``: chrony's sources file for ``config/time``'s servers;
    None = /etc/chrony/sources.d/enerteg.sources (tests point it into a temporary
    directory; ``core.hostntp``)."""
    chronyc_socket: Path | None = None
    """chronyd's command socket for ``chronyc -h``; None = chronyc's default."""
    timesyncd_conf: Path | None = None
    """Under ``--manage-host``: the systemd-timesyncd drop-in; None =
    /etc/systemd/timesyncd.conf.d/enerteg.conf."""
    serial_device: str | None = None
    """Serial console device; None = ``config/cli`` serialDevice ("" = none)."""
    serial_baud: int | None = None
    """Serial console speed; None = ``config/cli`` serialBaud."""
    log_file: bool = False
    """Write a rotating log file to ``<data-dir>/logs`` (``enerteg serve`` does)."""
    update_keys: tuple[Path, ...] = ()
    """Public keys (PEM files) trusted for software update packages beside the ones
    shipped in ``enerteg_tui/update_keys`` (``--update-key``; tests, private builds).
    Read at start only: no upload can add one."""
    update_boot_seconds: float | None = None
    """How long a version started by a software update has to be ready and healthy
    before it is rolled back (``--update-boot-seconds``); None = 180 s."""
    email_options: dict[str, Any] = field(default_factory=dict)
    """Extra arguments for the e-mail notifier (tests: ``delay``, ``retry``, ``tls_context``)."""


_CORE_FIELDS = frozenset(f.name for f in dataclasses.fields(CoreServices))
"""Names ``Controller.__getattr__`` forwards to the core (``users``, ``live``...)."""

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
    """One running controller process: the data-directory lock, log files, the run file,
    the driver choice, the notifiers, and starting and stopping the faces.

    ``core`` (a ``CoreServices``) holds every core service; faces receive it, never the
    controller. Scripts and tests may read ``controller.users`` and the like (forwarded).
    """

    def __init__(
        self, options: ControllerOptions, *, driver_factory: Callable[..., Driver] | None = None,
        clock: Callable[[], float] = time.time, password_hasher: PasswordHasher | None = None,
    ) -> None:
        self.options = options
        self._password_hasher = password_hasher
        """None: argon2 at production strength (``enerteg serve`` never passes one)."""
        self._driver_factory = driver_factory
        self.clock = clock
        self.services: list[Service] = []
        self._lock_fd: int | None = None
        self.started_at = 0.0
        self._log_handler: logging.Handler | None = None
        self._umask: int | None = None

    # ------------------------------------------------------------------ start
    async def start(self) -> None:
        """Open storage, load settings, start the driver, poller and services."""
        opts = self.options
        # everything the controller creates is its owner's alone; older data tightened
        self._umask = private_umask()
        self.data_dir = open_data_dir(Path(opts.data_dir))
        self.layout = DataLayout(self.data_dir)
        tighten(self.data_dir)
        self._lock()
        if opts.log_file:
            self._log_handler = install_log_file(self.layout.logs)
        try:
            await self._start_core()
        except BaseException:
            if "core" in self.__dict__ and getattr(self, "store", None):
                await self.stop()          # core was up: stop it in order
            else:
                await self._close_partial()
            raise

    def _ntp_client_paths(self) -> NtpClientPaths:
        """``core.hostntp``'s paths: the system's unless the options move them."""
        o, d = self.options, NtpClientPaths()
        return NtpClientPaths(chrony_sources=o.chrony_sources or d.chrony_sources,
                              chronyc_socket=o.chronyc_socket,
                              timesyncd_conf=o.timesyncd_conf or d.timesyncd_conf)

    async def _start_core(self) -> None:
        opts = self.options
        self.store = await Store.open(self.layout.database)
        self.driver = self._build_driver(await read_settings(self.store, "devices"))
        await self.driver.open()
        self.core = await build_core(self.store, self.driver, paths=self.layout,
                                     clock=self.clock, interval=opts.interval,
                                     password_hasher=self._password_hasher,
                                     manage_host=opts.manage_host,
                                     update_keys=tuple(opts.update_keys),
                                     update_boot_s=opts.update_boot_seconds,
                                     ntp_port=(opts.ntp_port or None) if opts.ntp_port is not None
                                     else (123 if opts.manage_host else None),
                                     **({"resolv_conf": opts.resolv_conf}
                                        if opts.resolv_conf is not None else {}),
                                     ntp_client=self._ntp_client_paths())
        core = self.core
        from .notify.syslog import SyslogClient
        self.syslog = SyslogClient(core.config, core.events,
                                   hostname=lambda: core.config.get("hostname").hostname)
        await self.syslog.start()
        from .notify.email import EmailNotifier
        self.email = EmailNotifier(core.config, core.events, core.audit, core.paths.mail,
                                   trust=lambda: core.certs.ssl_context("smtp"),
                                   **self.options.email_options)
        await self.email.start()
        core.notifications.register("email", self.email)
        await core.start_polling(follow_interval=opts.interval is None)
        self.services[:0] = self._default_services()
        for service in self.services:
            await service.start()
        self.started_at = self.clock()
        self._write_run_info()
        await core.audit.record(SYSTEM, "controller.start", "controller",
                                f"Controller started ({self.driver.NAME} driver, "
                                f"sweep every {core.poller.interval:g} s)", severity=Severity.INFO)

    def __getattr__(self, name: str) -> Any:
        """Scripts and tests may read a core service through the controller
        (``controller.users``); faces receive ``CoreServices`` and never the controller."""
        if name in _CORE_FIELDS:
            core = self.__dict__.get("core")
            if core is not None:
                return getattr(core, name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def _default_services(self) -> list[Service]:
        """The protocol services this controller runs, from options and settings."""
        opts = self.options
        out: list[Service] = []
        from .protocols.ssh.server import SSHOptions, SSHService
        out.append(SSHService(self.core, SSHOptions(port=opts.ssh_port, address=opts.bind,
                                               enabled=opts.ssh_enabled)))
        from .protocols.snmp.service import SnmpAgentService
        out.append(SnmpAgentService(self.core, port=opts.snmp_port, address=opts.bind))
        from .protocols.modbus.service import ModbusService
        out.append(ModbusService(self.core, port=opts.modbus_port, address=opts.bind))
        from .protocols.http.service import HttpService
        out.append(HttpService(self.core, port=opts.http_port, https_port=opts.https_port,
                               address=opts.bind))
        cli = self.core.config.get("cli")
        device = opts.serial_device if opts.serial_device is not None else cli.serialDevice
        if device:
            from .protocols.serial.console import SerialConsoleService
            baud = opts.serial_baud if opts.serial_baud is not None else int(cli.serialBaud)
            out.append(SerialConsoleService(self.core, device, baud))
        from .protocols.mdns import MdnsService
        out.append(MdnsService(self.core, self._announced_ports, manage_host=opts.manage_host))
        return out

    def _announced_ports(self) -> dict[str, int]:
        """The faces that listen now, by DNS-SD service type (for the mDNS announcement)."""
        found: dict[str, int] = {}
        for svc, attr, stype in (("ssh", "port", "_ssh._tcp"), ("snmp", "port", "_snmp._udp"),
                                 ("http", "port", "_http._tcp"),
                                 ("http", "https_port", "_https._tcp")):
            port = getattr(self.service(svc), attr, None)
            if port:
                found[stype] = int(port)
        return found

    def service(self, name: str) -> Service | None:
        """The running protocol service called ``name`` (``ssh``, ``serial``...), if any."""
        return next((s for s in self.services if s.name == name), None)

    def _build_driver(self, devices: Any) -> Driver:
        opts = self.options
        kwargs: dict[str, Any] = {
            "pdus": opts.simulate if opts.simulate is not None else int(devices.simulatedPdus),
            "seed": opts.seed,
            "state_path": self.layout.simulator_memory,
            "bus_latency_ms": (opts.bus_latency_ms if opts.bus_latency_ms is not None
                               else float(devices.busLatencyMs)),
            "timeout": int(devices.pollTimeoutMs) / 1000,
            "equipment": opts.equipment,
            "answer_error_rate": opts.answer_error_rate,
            "clock": self.clock,
        }
        if self._driver_factory is not None:
            return self._driver_factory(**kwargs)
        from .drivers.simulated import SimulatedDriver
        return SimulatedDriver(**kwargs)

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
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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
        for notifier in ("syslog", "email"):
            if notifier in self.__dict__:
                with contextlib.suppress(Exception):
                    await self.__dict__[notifier].stop()
        self.core.notifications.unregister("email")
        await self.core.stop()
        with contextlib.suppress(Exception):
            await self.core.audit.record(SYSTEM, "controller.stop", "controller", "Controller stopped",
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
        if self._umask is not None:
            os.umask(self._umask)
            self._umask = None

    # ------------------------------------------------------------------ info
    def health_targets(self) -> dict[str, tuple[str, int, bytes]]:
        """The network faces that run, as the software update's health check probes them:
        name → (address, port, first bytes expected)."""
        out: dict[str, tuple[str, int, bytes]] = {}
        ssh = self.service("ssh")
        ssh_port = getattr(ssh, "port", None)
        if ssh_port:
            out["ssh"] = (getattr(ssh, "address", None) or "", int(ssh_port), b"SSH-")
        http = self.service("http")
        for attr in ("port", "https_port"):
            port = getattr(http, attr, None)
            if port:
                out["http" if attr == "port" else "https"] = (
                    getattr(http, "address", None) or "", int(port), b"")
        return out

    def ready_line(self) -> str:
        """The one line printed when everything is up (after the first sweep); names the
        data directory by its absolute path (where the database, logs and backups are).

        ``pdus`` counts the PDUs present in the ring (found by the last discovery);
        PDUs only remembered from earlier runs are ``known`` and shown only when more.
        """
        present = sum(1 for d in self.core.live.devices.values()
                      if d.state is not DeviceState.UNREACHABLE)
        parts = [
            f"data-dir={self.data_dir.resolve()}",
            f"driver={self.driver.NAME}",
            f"pdus={present}",
            f"interval={self.core.poller.interval:g}s",
        ]
        if len(self.core.live.devices) > present:
            parts.insert(3, f"known={len(self.core.live.devices)}")
        parts += [s.describe() for s in self.services]
        return "enerteg ready: " + " ".join(parts)
