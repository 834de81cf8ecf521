"""The core as one object: every service a face may use, built in one place.

Faces (the SSH server, shell, SFTP, serial and local consoles, notifiers, and the
network faces to come) receive a ``CoreServices`` and nothing else: not the process
object (``controller.Controller``), which keeps process concerns only (the data
directory lock, the run file, log files, GC tuning, the driver choice, starting and
stopping faces). ``build_core`` wires the services from their explicit dependencies:
a store, a driver, a clock and a password hasher, plus the data-directory layout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from argon2 import PasswordHasher

from .alarms import AlarmService
from .api_tokens import ApiTokens
from .audit import AuditLog
from .backup import BackupService
from .cert_topics import CertTopics
from .certstore import CertStore
from .directory import Directory
from .configuration import Configuration
from .devices import CommandDriver, DeviceService
from .errors import Unsupported
from .events import EventBus
from .export import ExportService
from .faces import FaceStatus
from .faults import FaultInjector
from .firmware_update import FirmwareDriver, FirmwareService
from .group_switching import GroupSwitching
from .history import HistoryService
from .live import LiveState
from .network import RESOLV_CONF, NetworkService
from .permissions import Principal
from .poller import PollDriver, Poller
from .layout import DataLayout
from .reports import ReportService
from .rules import RuleService
from .secretbox import SecretBox
from .software_update import SoftwareUpdate
from .store import Store
from .subscriptions import Subscriptions
from .retire import Retirement
from .system import SystemService
from .hostntp import HostNtpClient, NtpClientPaths
from .timesync import TimeService
from .structure import Structure
from .support import SupportAccess
from .topics import Topics
from .users import UserService


class CoreDriver(PollDriver, CommandDriver, FirmwareDriver, Protocol):
    """What the core needs of a driver: polling, commands, firmware updates and
    (simulated rings) a fault injector. ``drivers.base.Driver`` satisfies it; core never imports a driver."""

    def fault_injector(self) -> FaultInjector | None: ...

__all__ = ["CoreDriver", "CoreServices", "DataLayout", "Notifications", "TestMessage", "build_core"]


class TestMessage(Protocol):
    """A notifier that can send a test message on an operator's request."""

    async def send_test(self, principal: Principal) -> str: ...


class Notifications:
    """Test messages for the notification channels (e-mail today) that are running.

    Notifiers live outside core (``notify/``) and register here when they start, so a
    face asks the core ("send a test e-mail") without holding the notifier.
    """

    def __init__(self) -> None:
        self._channels: dict[str, TestMessage] = {}

    def register(self, name: str, channel: TestMessage) -> None:
        """Make ``channel`` answer test requests for ``name`` (``email``)."""
        self._channels[name] = channel

    def unregister(self, name: str) -> None:
        """Forget a stopped channel."""
        self._channels.pop(name, None)

    async def send_test(self, principal: Principal, name: str = "email") -> str:
        """Send a test message through ``name``; ``Unsupported`` when it is not running."""
        channel = self._channels.get(name)
        if channel is None:
            raise Unsupported(f"{name} notifications are not running in this controller",
                              thing=name, value="test", allowed=f"a controller with {name}")
        return await channel.send_test(principal)


@dataclass(frozen=True, slots=True)
class CoreServices:
    """Every core service a face uses, typed and fixed once built."""

    config: Configuration
    users: UserService
    devices: DeviceService
    structure: Structure
    rules: RuleService
    alarms: AlarmService
    topics: Topics
    audit: AuditLog
    live: LiveState
    events: EventBus
    poller: Poller
    history: HistoryService
    backup: BackupService
    export: ExportService
    reports: ReportService
    switching: GroupSwitching
    """Switching a rack, row, room, PDUs or an outlet group in a staggered sequence."""
    notifications: Notifications
    faces: FaceStatus
    """What the optional network faces (SNMP agent) report: running, or why not."""
    paths: DataLayout
    clock: Callable[[], float]
    retire: Retirement
    """Forget a PDU that left the ring (closes its alarms, keeps its history)."""
    system: SystemService
    """Version information; restart of the controller, poweroff/reboot of the host."""
    certs: CertStore
    """The certificate store: TLS certificates served and trusted (``ssl_context``)."""
    tokens: ApiTokens
    """API tokens of users, and the web faces' sessions (``tokens.sessions``)."""
    timesync: TimeService
    """The clock: NTP check, sync state and offset, the clock alarm, ``date set``."""
    network: NetworkService
    """config/network applied to the host (``--manage-host``) behind a confirm timer."""
    support: SupportAccess
    """Time-limited support access: the ``support`` account, its expiry timer."""
    subscriptions: Subscriptions
    """Event subscriptions (listeners pushed alarms and outlet changes; Redfish)."""
    firmware: FirmwareService
    """PDU firmware updates over the ring (docs/firmware.md)."""
    software: SoftwareUpdate
    """Software update of the controller: check, install beside, restart, roll back."""

    async def start_polling(self, *, follow_interval: bool = True) -> None:
        """Start the sweeps (the last step of a start: every listener is in place) and
        follow ``config/core``; ``follow_interval`` False keeps a fixed interval."""
        await self.poller.start()
        self.poller.follow_settings(interval=follow_interval)

    async def stop(self) -> None:
        """Stop the background work in reverse order of start; the store stays open (its
        owner closes it after writing the last audit entry)."""
        await self.firmware.stop()
        await self.poller.stop()
        await self.network.stop()
        await self.timesync.stop()
        await self.support.stop()
        await self.backup.stop()
        await self.certs.stop()
        await self.export.stop()
        await self.history.stop()
        try:
            await self.alarms.stop()
        except Exception:                       # keep stopping the rest
            logging.getLogger(__name__).exception("alarm service stop failed")
        await self.audit.stop()


async def build_core(store: Store, driver: CoreDriver, *, paths: DataLayout,
                     clock: Callable[[], float], interval: float | None = None,
                     password_hasher: PasswordHasher | None = None,
                     manage_host: bool = False, ntp_port: int | None = 123,
                     resolv_conf: Path = RESOLV_CONF,
                     update_keys: tuple[Path, ...] = (),
                     update_boot_s: float | None = None,
                     ntp_client: NtpClientPaths | None = None) -> CoreServices:
    """Build, load and start the core services over an open store and driver.

    Args:
        store: the open controller database.
        driver: the open PDU driver (the simulated ring or a real one).
        paths: the data-directory layout.
        clock: wall clock for timestamps (tests pass a fixed one).
        interval: a sweep interval fixed by the command line; None = ``config/core``.
        password_hasher: argon2 parameters for passwords; None = full strength (tests
            pass a cheap one; production code has no switch that lowers it).
        manage_host: started with ``--manage-host`` (poweroff and reboot allowed).
        ntp_port: UDP port of the NTP servers; None = do not check the clock (tests).
        resolv_conf: where DNS servers of ``config/network`` go (``--manage-host`` only).
        update_keys: public keys trusted for software updates beside the shipped ones.
        update_boot_s: how long a new version has to become healthy (None = default).
        ntp_client: where the host's NTP client is configured (``--manage-host`` only;
            None = the system's paths, ``core.hostntp``).

    The poller is built but not started: ``CoreServices.start_polling`` does that once
    the faces' listeners are in place.
    """
    events = EventBus()
    live = LiveState()
    config: Configuration | None = None

    def retention() -> dict[str, int]:
        assert config is not None
        return {k: int(v) for k, v in config.get("notifications").model_dump().items()
                if isinstance(v, int) and not isinstance(v, bool)}

    audit = AuditLog(store, events, retention=retention, clock=clock)
    config = Configuration(store, audit, events, clock=clock)
    await config.load()
    applies = config.appliers.register      # each reader of a topic, where it reads it
    applies("notifications", "audit")       # retention()
    applies("auth", "users")
    applies("devices", "driver")            # the controller chose the driver from it
    applies("core", "poller")               # interval, stale-after (Poller.follow_settings)
    applies("core", "history")              # retention per tier
    applies("core", "watchdog")             # autoRestart (service_unit.Watchdog, under systemd)
    certs_ref: list[CertStore] = []         # directory TLS trusts the store (made below)
    users = UserService(store, audit, policy=lambda: config.get("auth"), clock=clock,
                        password_hasher=password_hasher,
                        session_limit=lambda: int(config.get("cli").maxSessionsPerUser),
                        directory=Directory(lambda: config.get("auth"),
                                            trust=lambda: certs_ref[0].ssl_context("ldap")))
    await users.load()
    tokens = ApiTokens(store, users, audit, clock=clock,       # web sessions idle out as the CLI
                       idle_minutes=lambda: config.get("cli").idleTimeoutMinutes)
    await tokens.load()
    poller_ref: list[Poller] = []
    devices = DeviceService(store, driver, live, audit, events,
                            refresh=lambda: poller_ref[0].request_refresh(), clock=clock)
    await devices.load()
    structure = Structure(store, devices, live, audit, events, clock=clock)
    await structure.load()
    rules = RuleService(store, audit, events, live, element_kind=structure.kind_of,
                        device_places=structure.places_of, clock=clock)
    await rules.load()
    alarms = AlarmService(store, audit, events, live, rules, structure, clock=clock)
    await alarms.load()
    structure.health = alarms.device_health
    structure.own_health = alarms.element_own_health
    core = config.get("core")
    poller = Poller(driver, live, events,
                    interval=interval if interval is not None else float(core.pollIntervalSeconds),
                    stale_after=int(core.staleAfterSweeps), on_new_device=devices.remember,
                    clock=clock)
    poller_ref.append(poller)
    poller.add_sweep_listener(alarms.on_sweep)
    history = HistoryService(paths.root, live, lambda: config.get("core"), clock=clock)
    await history.start()
    poller.add_device_listener(history.on_device)
    certs = CertStore(store, audit, events, SecretBox(paths.secret_key), alarms, clock=clock)
    await certs.load()
    certs_ref.append(certs)
    topics = Topics(config, devices, live, structure, audit, faults=driver.fault_injector(),
                    clock=clock, rules=rules, alarms=alarms,
                    certs=CertTopics(certs, paths.upload, clock=clock))
    await audit.start()
    await alarms.start()
    await certs.start()
    export = ExportService(config, history, live, store, audit, events, paths.root, clock=clock,
                           trust=lambda names: certs.client_context("unrestricted",
                                                                     check_hostname=names))
    await export.start()
    subscriptions = Subscriptions(store, audit, clock=clock)
    await subscriptions.load()
    users.forgetters.append(subscriptions.forget)
    backup = BackupService(store=store, config=config, users=users, devices=devices,
                           structure=structure, rules=rules, alarms=alarms, audit=audit,
                           events=events, history=history, export=export, paths=paths,
                           clock=clock, certs=certs, tokens=tokens,
                           subscriptions=subscriptions)
    await backup.start()
    reports = ReportService(live=live, structure=structure, history=history, alarms=alarms,
                            core_settings=lambda: config.get("core"), folder=paths.reports,
                            clock=clock, forgotten=devices.forgotten,
                            zone=lambda: str(config.get("time").timezone))
    faces = FaceStatus()
    timesync = TimeService(config, alarms, audit, events, manage_host=manage_host,
                           ntp_port=ntp_port, clock=clock, faces=faces,
                           host_client=HostNtpClient(ntp_client or NtpClientPaths(),
                                                     port=ntp_port or 123)
                           if manage_host else None)
    await timesync.start()
    network = NetworkService(config, audit, events, state_dir=paths.root,
                             manage_host=manage_host, resolv_conf=resolv_conf, faces=faces,
                             clock=clock)
    await network.start()
    support = SupportAccess(store, users, audit, clock=clock, events=events,
                            switch=lambda: bool(config.get("core").remoteManagement))
    applies("core", "support access")      # remoteManagement (the support access switch)
    await support.start()
    firmware = FirmwareService(store, driver, live, alarms, config, audit, events,
                               upload=paths.upload, clock=clock, bus_free=poller.idle.wait,
                               rebooting=poller.rebooting)
    await firmware.load()
    await firmware.start(poller.first_sweep_done)
    system = SystemService(audit, users.sessions, manage_host=manage_host)
    software = SoftwareUpdate(audit, system, paths, extra_keys=update_keys, clock=clock,
                              **({"boot_deadline_s": update_boot_s} if update_boot_s else {}))
    await software.start()
    return CoreServices(config=config, users=users, devices=devices, structure=structure,
                        rules=rules, alarms=alarms, topics=topics, audit=audit, live=live,
                        events=events, poller=poller, history=history, backup=backup,
                        export=export, reports=reports, notifications=Notifications(),
                        faces=faces, paths=paths, clock=clock,
                        retire=Retirement(devices, alarms),
                        system=system, software=software,
                        switching=GroupSwitching(devices, structure, audit, clock=clock),
                        certs=certs, tokens=tokens, timesync=timesync,
                        network=network,
                        support=support,
                        subscriptions=subscriptions,
                        firmware=firmware)
