"""The poller: one sweep of the databus per interval, feeding live state.

A sweep discovers the ring (so PDUs added or removed appear within one sweep), then
queries each answering device in ring order, one at a time as a serial bus demands.
Sweeps are scheduled on the monotonic clock at ``start + k·interval``: a slow sweep
never shifts later ones, and an overrun skips the missed slots (counted) rather than
bunching sweeps. Failures are state, not log spam: one line when a device stops
answering, one when it recovers. Only the poller writes live state.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from .errors import DriverTimeout, EnertegError, NotFound
from .events import Event, EventBus
from .live import DeviceLive, LiveState
from .model import DeviceInfo, DeviceState, RingScan, RingState
from .waiting import cancel_and_wait, wait_event

__all__ = ["Poller", "PollDriver"]

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.05
"""Lower bound for tests and benchmarks; the settings schema allows 1–60 s."""
POLL_RETRIES = 1
"""Queries repeated at once after a failed one in the same sweep: a garbled answer on a
serial bus is common and the next try usually succeeds; more would stretch the sweep.
A timeout is not repeated (it already cost the driver's whole timeout)."""


class PollDriver(Protocol):
    """What the poller needs of a driver (drivers.base.Driver satisfies it)."""

    NAME: str
    state: str

    async def discover(self) -> RingScan: ...
    async def poll(self, hex_id: str): ...  # -> DeviceSample


class Poller:
    """Sweeps the ring on a fixed cadence and keeps ``LiveState`` current.

    Args:
        driver: the ring's driver.
        live: live state to update.
        events: bus for live changes and device/ring events.
        interval: seconds between sweep starts.
        stale_after: missed sweeps before a device is flagged stale (or unreachable).
        on_new_device: awaited with each device seen for the first time or whose
            info changed (the device registry persists it).
        clock: wall clock for timestamps.
    """

    def __init__(
        self,
        driver: PollDriver,
        live: LiveState,
        events: EventBus,
        *,
        interval: float = 5.0,
        stale_after: int = 3,
        on_new_device: Callable[[DeviceInfo], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.driver = driver
        self.live = live
        self.events = events
        self.interval = max(MIN_INTERVAL_S, float(interval))
        self.stale_after = stale_after
        self._on_new_device = on_new_device
        self._clock = clock
        self._monotonic = monotonic
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_infos: dict[str, DeviceInfo] = {}
        self.first_sweep_done = asyncio.Event()
        self.sweeping = False
        """True while a sweep runs: faces that can wait (the SNMP agent) pace their work
        then, so the sweep keeps its cadence."""
        self.idle = asyncio.Event()
        """Set while no sweep runs: bulk bus work (firmware blocks) waits for it."""
        self.idle.set()
        self.rebooting: set[str] = set()
        """PDUs restarting into new firmware (the firmware service keeps it): their
        silence is expected, so it does not make them stale or unreachable."""
        """Set once the first sweep has finished (``serve`` waits for it before 'ready')."""
        self._sweep_listeners: list[Callable[[], None]] = []
        self._device_listeners: list[Callable[[DeviceLive], None]] = []
        live.bus.driver = driver.NAME
        live.bus.interval_s = self.interval

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start sweeping in the background; the first sweep starts at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="poller")

    def follow_settings(self, *, interval: bool = True) -> None:
        """Apply ``config/core`` changes as they are made: ``pollIntervalSeconds`` (unless
        ``interval`` is False because a command-line option fixed it) and
        ``staleAfterSweeps``. Runs until ``stop``."""
        if self._watch is None:
            self._watch = asyncio.create_task(self._follow(interval), name="poller-settings")

    async def _follow(self, interval: bool) -> None:
        with self.events.subscribe(kinds={"settings"}) as sub:
            while True:
                batch = await sub.get()
                for ev in batch.events:
                    if ev.subject == "core":
                        if interval:
                            self.set_interval(float(ev.data.pollIntervalSeconds))
                        self.stale_after = int(ev.data.staleAfterSweeps)

    async def stop(self) -> None:
        """Stop after cancelling the current sweep."""
        await cancel_and_wait(self._watch)
        self._watch = None
        await cancel_and_wait(self._task)
        self._task = None

    def set_interval(self, seconds: float) -> None:
        """Change the sweep interval; takes effect from the next slot."""
        self.interval = max(MIN_INTERVAL_S, float(seconds))
        self.live.bus.interval_s = self.interval
        self._wake.set()

    def add_sweep_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (synchronously, so keep it cheap) at the end of every sweep.

        Rule evaluation hangs here. A listener that raises is logged; the poller goes on.

        Returns:
            A callable that removes the listener.
        """
        self._sweep_listeners.append(listener)
        return lambda: self._sweep_listeners.remove(listener) if listener in self._sweep_listeners else None

    def add_device_listener(self, listener: Callable[[DeviceLive], None]) -> Callable[[], None]:
        """Call ``listener(live)`` right after each device's readings are applied.

        Per-device work (the history's ingest) hangs here rather than at the end of
        the sweep, so it is spread over the sweep in slices the loop can interleave
        with console keys, instead of one 20-30 ms block for 100 PDUs.

        Returns:
            A callable that removes the listener.
        """
        self._device_listeners.append(listener)
        return lambda: (self._device_listeners.remove(listener)
                        if listener in self._device_listeners else None)

    def request_refresh(self) -> None:
        """Ask for a sweep now (e.g. after switching an outlet); folds into one."""
        self._wake.set()

    async def _run(self) -> None:
        next_at = self._monotonic()
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # the poller must outlive any bug in one sweep
                log.exception("poller: sweep failed")
            next_at += self.interval
            now = self._monotonic()
            if next_at <= now:
                skipped = math.floor((now - next_at) / self.interval) + 1
                self.live.bus.overruns += skipped
                next_at += skipped * self.interval
            self._wake.clear()
            if await wait_event(self._wake, next_at - now):
                next_at = self._monotonic()  # refresh requested or interval changed

    # ---------------------------------------------------------------- one sweep
    async def sweep(self) -> None:
        """Discover the ring, then poll every answering device once."""
        self.sweeping = True
        self.idle.clear()
        try:
            await self._sweep()
        finally:
            self.sweeping = False
            self.idle.set()

    async def _sweep(self) -> None:
        started = self._monotonic()
        bus = self.live.bus
        bus.driver_state = self.driver.state
        try:
            scan = await self.driver.discover()
        except EnertegError as exc:
            bus.discovery_errors += 1
            log.warning("poller: ring discovery failed: %s", exc)
            scan = RingScan(devices=[], reachable=set(), breaks=bus.breaks)
        self._apply_ring(scan)
        seen: set[str] = set()
        for info in scan.devices:
            seen.add(info.hex_id)
            live, is_new = self.live.upsert_info(info)
            if is_new or self._last_infos.get(info.hex_id) is not info:
                self._last_infos[info.hex_id] = info
                if is_new:
                    self.events.publish(Event("device", info.hex_id, "found"))
                    log.info("poller: PDU %s (%s) found at ring position %d",
                             info.hex_id, info.display_name, info.position)
                if self._on_new_device is not None:
                    await self._on_new_device(info)
            await self._poll_one(live)
            await asyncio.sleep(0)  # one device per loop turn: keys never wait a sweep
        for hex_id, live in self.live.devices.items():
            if hex_id not in seen:
                self._missed(live, "absent from ring discovery", absent=True)
        duration_ms = (self._monotonic() - started) * 1000
        bus.sweeps += 1
        bus.last_sweep_ms = duration_ms
        bus.recent_sweep_ms.append(duration_ms)
        bus.last_sweep_at = self._clock()
        for listener in self._sweep_listeners:
            try:
                listener()
            except Exception:  # one bad listener must not stop the poller
                log.exception("poller: sweep listener %r failed", listener)
        self.events.sweep_done()
        self.first_sweep_done.set()

    def _apply_ring(self, scan: RingScan) -> None:
        bus = self.live.bus
        state = scan.state
        if state is not bus.ring_state or scan.breaks != bus.breaks:
            if state is RingState.CLOSED:
                log.info("poller: ring closed again")
            else:
                log.warning("poller: ring %s, break(s) at link(s) %s", state.value,
                            ", ".join(map(str, scan.breaks)))
            bus.ring_state = state
            bus.breaks = list(scan.breaks)
            self.events.publish(Event("ring", state.value, list(scan.breaks)))

    async def _poll_one(self, live: DeviceLive) -> None:
        diag = live.diag
        sample = None
        for attempt in range(POLL_RETRIES + 1):
            if attempt:
                diag.retries += 1
            t0 = self._monotonic()
            try:
                sample = await self.driver.poll(live.hex_id)
            except EnertegError as exc:
                live.latency_ms = (self._monotonic() - t0) * 1000
                timeout = isinstance(exc, DriverTimeout)
                diag.failed(str(exc), self._clock(), timeout=timeout)
                if timeout or isinstance(exc, NotFound):
                    break  # a timeout already cost the full wait; a PDU gone will not answer
                continue
            live.latency_ms = (self._monotonic() - t0) * 1000
            diag.answered(live.latency_ms)
            break
        if sample is None:
            self._missed(live, diag.last_error, absent=False)
            return
        if sample.uptime_s is not None:
            diag.uptime_s, diag.uptime_at = sample.uptime_s, sample.taken_at
        live.polls += 1
        changed = LiveState.apply_sample(live, sample)
        live.last_ok_at = sample.taken_at
        if live.state is not DeviceState.RUNNING or live.missed:
            if live.missed >= self.stale_after or live.state is not DeviceState.RUNNING:
                log.info("poller: PDU %s answers again", live.hex_id)
            live.state = DeviceState.RUNNING
            live.missed = 0
            live.last_error = ""
            self.events.publish_device(live.hex_id)
            self.events.publish(Event("device", live.hex_id, "running"))
        self.events.publish_live(live.hex_id, changed)
        for listener in self._device_listeners:
            try:
                listener(live)
            except Exception:  # one bad listener must not stop the poller
                log.exception("poller: device listener %r failed", listener)

    def _missed(self, live: DeviceLive, why: str, *, absent: bool) -> None:
        if live.hex_id in self.rebooting:
            return
        live.missed += 1
        if not absent:
            live.errors += 1
        live.last_error = why
        if live.missed == 1:
            log.warning("poller: PDU %s missed a sweep: %s", live.hex_id, why)
        if live.missed < self.stale_after:
            return
        new_state = DeviceState.UNREACHABLE if absent else DeviceState.STALE
        if live.state is new_state:
            return
        live.state = new_state
        if new_state is DeviceState.UNREACHABLE:
            live.groups = {}
            live.group_ts = {}
        log.warning("poller: PDU %s is %s after %d missed sweeps", live.hex_id,
                    new_state.value.lower(), live.missed)
        self.events.publish_device(live.hex_id)
        self.events.publish(Event("device", live.hex_id, new_state.value.lower()))
