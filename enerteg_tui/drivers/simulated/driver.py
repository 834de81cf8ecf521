"""The simulated databus ring: the default driver, indistinguishable on screen from a site.

Owns the ring (``SimPdu`` by position), the serial bus (one ``asyncio.Lock``: a real
databus answers one query at a time, each costing ``bus_latency_ms``), ring breaks,
and the PDUs' memory file (written as a real PDU writes its flash: settings and relay
states before a command is acknowledged, energy counters stored a reserve ahead and
rewritten before a counter can pass what is stored, so a restart after a crash never
loses an acknowledged setting nor shows a smaller counter than one already read). Protocol: none (in-process); link: the lock; limits: 1 to
1000 PDUs (100 is the product's supported maximum). Quantities provided: every key of
``TOTAL_QUANTITIES``, ``INPUT_QUANTITIES``, ``BRANCH_QUANTITIES``,
``OUTLET_QUANTITIES`` (metered outlets) and ``temperature``/``humidity`` per sensor.
Invariants: a PDU cut off by ring breaks fails at once with ``DeviceUnavailable``, a
silent or unpowered one after ``timeout`` with ``DriverTimeout``, an unknown id with
``NotFound``; same seed, same calls and same clock values give identical samples.
Answer times vary as on a real bus (a log-normal spread around ``bus_latency_ms``, now
and then a PDU busy for 2–4 times as long) and one poll answer in ``answer_error_rate``
arrives garbled (``DeviceUnavailable`` at once; the poller repeats the query), both from
a generator seeded by the ring's seed, so the poller's diagnostics have real figures.
Called by the controller (built in ``Controller._build_driver``), the poller, the
device service, and the topic service through ``fault_injector()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from ...core.errors import DeviceUnavailable, Invalid, NotFound, Unsupported
from ...core.model import (
    DeviceSample,
    DeviceSettings,
    Identification,
    OutletAction,
    RingScan,
)
from ..base import Driver
from .catalogue import Equipment, SerialSource
from .device import SimPdu, check_settings
from .faults import MAX_PDUS, SimulatorFaults
from .firmware import REBOOT_S
from .physics import SiteGrid
from .ring import ring_view
from .state import load_state, write_state

__all__ = ["SimulatedDriver"]

log = logging.getLogger(__name__)


def _bad(thing: str, value: Any, allowed: str) -> Invalid:
    return Invalid(f"simulator option {thing}={value!r} is not allowed; use {allowed}",
                   thing=thing, value=value, allowed=allowed)


ANSWER_SPREAD = 0.15
"""Sigma of the log-normal spread of answer times around ``bus_latency_ms``."""
BUSY_SHARE = 0.01
"""Share of answers from a PDU busy with something else (2–4 times as slow)."""
FIRMWARE_BLOCK = 256
"""Bytes of firmware image per bus transaction."""
FIRMWARE_BAUD = 115200
"""Databus speed a firmware block travels at (the databus default of 115200 baud): a
block holds the bus ``bus_latency_ms`` plus its 10 bits a byte at this speed (22 ms for
256 bytes), so the shipped 24 KiB image takes about 2.3 s of bus time."""
ANSWER_ERROR_RATE = 0.001
"""Share of garbled poll answers of a healthy RS-485 bus (one in a thousand): what
``enerteg serve`` simulates; a driver built without the option has a perfect bus."""


class SimulatedDriver(Driver):
    """A seeded, deterministic ring of simulated PDUs.

    Lifecycle as every driver: ``open()`` loads the PDUs' memory from ``state_path``,
    ``discover()``/``poll()`` and commands run over one serial bus, ``close()``
    cancels pending switch actions and writes the memory back.

    Args:
        pdus: number of PDUs on the ring, 1 to 1000.
        seed: decides the hardware at every position and all noise.
        state_path: where the PDUs keep their memory (JSON), or None for none.
        bus_latency_ms: time each query occupies the bus; 0 for none.
        timeout: seconds a query waits for a silent PDU before ``DriverTimeout``.
        clock: wall-clock source (seconds since the epoch); inject a fake one in tests.
        equipment: ``"mixed"`` models, or ``"full"`` (largest model everywhere).
        answer_error_rate: share of poll answers that arrive garbled (0 to 1).
        **ignored: unknown options are accepted and ignored.

    Raises:
        Invalid: ``pdus``, ``bus_latency_ms`` or ``equipment`` out of range.
    """

    NAME: ClassVar[str] = "simulated"
    IMPLEMENTS_SWITCHING: ClassVar[bool] = True

    def __init__(self, *, pdus: int = 8, seed: int = 0, state_path: Path | None = None,
                 bus_latency_ms: float = 2.0, timeout: float = 0.5,
                 clock: Callable[[], float] = time.time, equipment: Equipment = "mixed",
                 answer_error_rate: float = 0.0, firmware_reboot_s: float = REBOOT_S,
                 **ignored: Any) -> None:
        super().__init__(timeout=timeout)
        if equipment not in ("mixed", "full"):
            raise _bad("equipment", equipment, '"mixed" or "full"')
        if not (isinstance(bus_latency_ms, int | float) and 0 <= bus_latency_ms <= 1000):
            raise _bad("bus_latency_ms", bus_latency_ms, "0 to 1000 ms")
        self.seed = int(seed)
        """Seed of the ring (read-only once built)."""
        self.clock = clock
        """Wall-clock source used for readings, energy and blinking."""
        self.state_path = Path(state_path) if state_path is not None else None
        """The PDUs' memory file, or None."""
        self.bus_latency_ms = float(bus_latency_ms)
        """Time one query occupies the bus, in milliseconds (the median answer time)."""
        if not (isinstance(answer_error_rate, int | float) and 0 <= answer_error_rate <= 1):
            raise _bad("answer_error_rate", answer_error_rate, "0 to 1")
        self.answer_error_rate = float(answer_error_rate)
        """Share of poll answers that arrive garbled (fault ``sim/_data answerErrorRate``)."""
        self._noise = random.Random(f"bus-{self.seed}")
        """Answer-time spread and garbled answers: seeded, apart from the values' noise."""
        self.equipment: Equipment = equipment
        self.ring_breaks: list[int] = []
        """Broken links; link k joins positions k and k+1, the last one closes to 0."""
        self._grid = SiteGrid(self.seed)
        self._serials = SerialSource(self.seed)
        self._ring: list[SimPdu] = []
        self._by_hex: dict[str, SimPdu] = {}
        self._shelf: dict[int, SimPdu] = {}
        self._memory: dict[str, dict[str, Any]] = {}
        self._bus = asyncio.Lock()
        self._faults = SimulatorFaults(self)
        self._save_task: asyncio.Task[None] | None = None
        self._save_lock = asyncio.Lock()
        self._wanted = 0
        """Number of the latest write asked for; a write covers every request before it."""
        self._written = 0
        """Number of the latest request a finished write covers."""
        self._ceilings: dict[int, list[float]] = {}
        """Per PDU serial: the energy counters as stored (reserved ahead), flat."""
        self._kept: dict[int, list[bool]] = {}
        """Per PDU serial: the relay states as stored."""
        self.writes = 0
        """Writes of the memory file since start (tests and the bench)."""
        self.firmware_reboot_s = float(firmware_reboot_s)
        """Seconds a PDU takes to restart into new firmware (loop clock; tests shorten it)."""
        self._reboots: dict[str, asyncio.TimerHandle] = {}
        self.resize(pdus)

    # ------------------------------------------------------------------ the ring
    @property
    def pdus(self) -> int:
        """Number of PDUs on the ring."""
        return len(self._ring)

    def resize(self, pdus: int) -> None:
        """Grow (new PDUs at the end, the same ones for the same seed) or shrink the ring.

        A PDU removed by shrinking keeps its memory and comes back as it was.

        Raises:
            Invalid: ``pdus`` outside 1..1000.
        """
        if isinstance(pdus, bool) or not isinstance(pdus, int) or not 1 <= pdus <= MAX_PDUS:
            raise _bad("pdus", pdus, f"a whole number from 1 to {MAX_PDUS}")
        while len(self._ring) < pdus:
            pos = len(self._ring)
            serial = self._serials.at(pos)
            pdu = self._shelf.pop(serial, None)
            if pdu is None:
                pdu = SimPdu(self.seed, serial, pos, self.equipment, self._grid)
                saved = self._memory.get(str(serial))
                if saved is not None:
                    pdu.restore(saved)
            self._ring.append(pdu)
            self._by_hex[pdu.hex_id] = pdu
            if pdu.serial not in self._ceilings:
                self.memory_changed()
        for pdu in self._ring[pdus:]:
            pdu.outlets.cancel()
            self._shelf[pdu.serial] = pdu
            del self._by_hex[pdu.hex_id]
        del self._ring[pdus:]
        self.ring_breaks = [b for b in self.ring_breaks if b < pdus]

    def device_ids(self) -> list[str]:
        """Hex ids of every PDU on the ring, answering or not, in ring order."""
        return [p.hex_id for p in self._ring]

    def device(self, hex_id: str) -> SimPdu:
        """The simulated PDU with ``hex_id``.

        Raises:
            NotFound: no PDU with that hex id on the ring.
        """
        pdu = self._by_hex.get(hex_id)
        if pdu is None:
            raise NotFound(f"no PDU {hex_id!r} on the simulated ring", thing="hexId",
                           value=hex_id, allowed="the hex id of a PDU on the ring")
        return pdu

    def fault_injector(self) -> SimulatorFaults:
        """The ``sim/`` documents of this ring."""
        return self._faults

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Load the PDUs' memory (counters, settings, outlet states) and start."""
        if self.state == "running":
            return
        if self.state_path is not None:
            self._memory = await asyncio.to_thread(load_state, self.state_path)
            for pdu in self._ring:
                saved = self._memory.get(str(pdu.serial))
                if saved is not None:
                    pdu.restore(saved)
        self.state = "running"
        if self.state_path is not None:  # store every counter a reserve ahead before any poll
            await self.save()

    async def close(self) -> None:
        """Complete accepted switch actions at once and write the PDUs' memory."""
        if self.state == "closed":
            return
        was_running = self.state == "running"
        self.state = "closed"
        for handle in self._reboots.values():  # a PDU that was rebooting finishes its reboot
            handle.cancel()
        self._reboots.clear()
        for pdu in [*self._ring, *self._shelf.values()]:
            pdu.firmware_rebooted()
        for pdu in [*self._ring, *self._shelf.values()]:
            await pdu.outlets.finish()
        if self._save_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._save_task
            self._save_task = None
        if was_running and self.state_path is not None:
            await self.save(reserve=False)  # exact counters: a clean restart shows no jump

    # ------------------------------------------------------------------ queries
    async def discover(self) -> RingScan:
        """The PDUs that answer: reachable through the ring and neither silent, unpowered
        nor rebooting into new firmware.

        The controller module tracks the ring itself, so discovery does not occupy the bus.
        """
        self._require_open()
        view = ring_view(len(self._ring), self.ring_breaks)
        devices = [p.info() for p in self._ring if p.answers and view.reaches(p.position)]
        return RingScan(devices=devices, reachable={d.hex_id for d in devices},
                        breaks=view.breaks)

    async def poll(self, hex_id: str) -> DeviceSample:
        """One reading of every channel of one PDU.

        Raises:
            NotFound: unknown hex id.
            DeviceUnavailable: cut off by ring breaks (at once) or the link is closed.
            DriverTimeout: the PDU is silent or unpowered (after ``timeout``).
        """
        self._reach(hex_id)
        async with self._bus:
            pdu = await self._answer(hex_id, "poll")
            sample = pdu.sample(self.clock())
        await self._keep_counters(pdu)
        return sample

    async def identify(self, hex_id: str) -> Identification:
        """The PDU's identification block (manual §8.6).

        Raises:
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        self._reach(hex_id)
        async with self._bus:
            pdu = await self._answer(hex_id, "identify")
            return pdu.identification.model_copy()

    # ------------------------------------------------------------------ commands
    async def write_settings(self, hex_id: str, settings: DeviceSettings) -> None:
        """Store settings in the PDU; the next discovery reports them.

        Raises:
            Invalid: a list whose length does not match the hardware.
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        pdu = self._reach(hex_id)
        check_settings(hex_id, pdu.model, len(pdu.sensors), settings)
        async with self._bus:
            pdu = await self._answer(hex_id, "settings")
            pdu.apply_settings(settings)
        await self.save(strict=True)  # in the PDU's memory before the command is acknowledged

    async def switch_outlet(self, hex_id: str, outlet: int, action: OutletAction) -> None:
        """Accept a switch command; it takes effect after the PDU's outlet delay.

        Returns once the PDU has accepted the command, not when the relay has moved.

        Raises:
            Unsupported: the PDU's outlets are not switchable.
            Invalid: no such outlet, or an unknown action.
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        pdu = self._reach(hex_id)
        m = pdu.model
        what = f"{hex_id} outlet {outlet}"
        if not m.switchable:
            kind = "metered only" if m.metered_outlets else "neither metered nor switched"
            raise Unsupported(f"PDU {hex_id} ({m.type_name}) cannot switch outlets: they are "
                              f"{kind}", thing=what, value=str(action), allowed="a switched PDU")
        if isinstance(outlet, bool) or not isinstance(outlet, int) or not 1 <= outlet <= m.outlets:
            raise Invalid(f"outlet {outlet!r} does not exist on PDU {hex_id}", thing="outlet",
                          value=outlet, allowed=f"an outlet number from 1 to {m.outlets}")
        try:
            action = OutletAction(action)
        except ValueError:
            raise Invalid(f"unknown switch action {action!r} for {what}", thing="action",
                          value=action, allowed="on, off or cycle") from None
        async with self._bus:
            pdu = await self._answer(hex_id, f"switch outlet {outlet}")
            pdu.outlets.command(outlet, action, pdu.settings)
        if pdu.outlets.kept_states() != self._kept.get(pdu.serial):
            await self.save(strict=True)

    async def blink(self, hex_id: str, seconds: float = 10.0) -> None:
        """Make the PDU's display blink for ``seconds`` (visible as ``blinking`` in ``sim/``).

        Raises:
            Invalid: ``seconds`` not a positive number.
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        self._reach(hex_id)
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
            raise Invalid(f"blink time {seconds!r} is not allowed", thing="seconds",
                          value=seconds, allowed="a positive number of seconds")
        async with self._bus:
            pdu = await self._answer(hex_id, "blink")
            pdu.blink_until = self.clock() + float(seconds)

    async def reset_peaks(self, hex_id: str, component: str | None = None,
                          index: int | None = None) -> None:
        """Reset the PDU's current peaks (all, or one component and index); the next
        reading reports them from the present current on.

        Raises:
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        self._reach(hex_id)
        async with self._bus:
            pdu = await self._answer(hex_id, "reset-peaks")
            pdu.physics.reset_peaks(component, index)

    async def remove_sensor(self, hex_id: str, index: int) -> None:
        """Forget a disconnected sensor; the next discovery lists it as ``removed``.

        Raises:
            Invalid: no such sensor. Conflict: it is connected.
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        self._reach(hex_id)
        async with self._bus:
            pdu = await self._answer(hex_id, "remove sensor")
            pdu.remove_sensor(index)

    async def update_firmware(self, hex_id: str, image: bytes,
                              progress: Callable[[int, int], None] | None = None,
                              pace: Callable[[], Awaitable[None]] | None = None) -> None:
        """Send ``image`` in ``FIRMWARE_BLOCK`` blocks, each holding the bus for its
        latency and transmission time (none when ``bus_latency_ms`` is 0) and each after
        ``pace()`` allowed it, then activate it; the PDU checks the header on the first block and the payload's
        SHA-256 at activation, and refuses a bad image (``Invalid``, old firmware kept).
        An accepted image makes the PDU reboot for ``firmware_reboot_s`` seconds (absent
        from discovery, LED ring blue) with its relays latched; then it answers with the
        new ``firmware_version``.

        Raises:
            Invalid: refused by the PDU. Conflict: the PDU is already rebooting.
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        pdu = self._reach(hex_id)
        total = len(image)
        sent = 0
        try:
            while sent < total:
                block = image[sent:sent + FIRMWARE_BLOCK]
                if pace is not None:
                    await pace()
                async with self._bus:
                    pdu = await self._answer(hex_id, f"firmware block at {sent}")
                    if self.bus_latency_ms > 0:
                        await asyncio.sleep(len(block) * 10 / FIRMWARE_BAUD)
                    pdu.firmware.receive(sent, block)
                sent += len(block)
                if progress is not None:
                    progress(sent, total)
                await asyncio.sleep(0)  # one block per loop turn, even on a bus without latency
            async with self._bus:
                pdu = await self._answer(hex_id, "firmware activation")
                pdu.firmware.activate()
        except BaseException:
            pdu.firmware.discard()  # a partial image is dropped; the running firmware stays
            raise
        loop = asyncio.get_running_loop()
        self._reboots[hex_id] = loop.call_later(self.firmware_reboot_s,
                                                partial(self._rebooted, pdu))

    def _rebooted(self, pdu: SimPdu) -> None:
        self._reboots.pop(pdu.hex_id, None)
        pdu.firmware_rebooted()
        self.memory_changed()  # the PDU keeps its firmware version in its memory

    # ------------------------------------------------------------------ helpers
    def _require_open(self) -> None:
        if self.state != "running":
            raise DeviceUnavailable(f"the simulated ring is {self.state}, not running",
                                    thing="driver", value=self.state, allowed="an open driver")

    def _reach(self, hex_id: str) -> SimPdu:
        """The PDU, if the controller has a link to it (checks open, id and ring breaks)."""
        self._require_open()
        pdu = self.device(hex_id)
        view = ring_view(len(self._ring), self.ring_breaks)
        if not view.reaches(pdu.position):
            raise DeviceUnavailable(
                f"PDU {hex_id} at ring position {pdu.position} is cut off by ring breaks at "
                f"links {', '.join(map(str, view.breaks))}", thing=hex_id, value=view.breaks,
                allowed="a PDU reachable from one side of the ring")
        return pdu

    async def _answer(self, hex_id: str, what: str) -> SimPdu:
        """With the bus held: the PDU's answer after the bus latency, or ``DriverTimeout``."""
        pdu = self._reach(hex_id)  # the ring may have changed while we waited for the bus
        if not pdu.answers:
            await self._bounded(hex_id, what, asyncio.Event().wait())
        noise = self._noise
        if self.bus_latency_ms > 0:
            factor = noise.lognormvariate(0.0, ANSWER_SPREAD)
            if noise.random() < BUSY_SHARE:
                factor *= noise.uniform(2.0, 4.0)
            await asyncio.sleep(self.bus_latency_ms * factor / 1000.0)
        if what == "poll" and self.answer_error_rate and noise.random() < self.answer_error_rate:
            raise DeviceUnavailable(
                f"PDU {hex_id}: garbled answer to {what} (checksum error)", thing=hex_id,
                value="checksum", allowed="a clean answer (the poller asks again)")
        return pdu

    # ------------------------------------------------------------------ memory
    def memory_changed(self) -> None:
        """Something the PDUs keep changed outside a command (ring grown, power cut or
        restored, a relay moved after its delay): write the memory soon, in the background."""
        if self.state_path is None or self.state != "running":
            return
        if self._save_task is not None and not self._save_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._save_task = loop.create_task(self.save(), name="sim-state-save")

    async def save(self, *, reserve: bool = True, strict: bool = False) -> None:
        """Write the memory of every PDU atomically; returns once it is on disk.

        Concurrent callers share one write: a call returns after a write that started
        after the call has finished. With ``reserve`` the energy counters are stored
        ``SimPdu.energy_reserve_kwh`` ahead of their values.

        Raises:
            DeviceUnavailable: with ``strict`` (a command), the file could not be
                written: the PDU does not acknowledge what it could not keep.
        """
        if self.state_path is None:
            return
        self._wanted += 1
        mine = self._wanted
        async with self._save_lock:
            if self._written >= mine:
                return
            upto = self._wanted
            snapshot = dict(self._memory)
            ceilings: dict[int, list[float]] = {}
            kept: dict[int, list[bool]] = {}
            for pdu in [*self._shelf.values(), *self._ring]:
                r = pdu.energy_reserve_kwh if reserve else 0.0
                snapshot[str(pdu.serial)] = pdu.memory(r)
                ceilings[pdu.serial] = [v + r for v in pdu.physics.counter_values()]
                kept[pdu.serial] = pdu.outlets.kept_states()
            try:
                await asyncio.to_thread(write_state, self.state_path, snapshot, self.clock())
            except OSError as exc:
                log.warning("simulator: cannot write state file %s: %s", self.state_path, exc)
                if strict:
                    raise DeviceUnavailable(
                        f"the simulated PDUs cannot store the change in their memory "
                        f"({self.state_path}: {exc.strerror or exc}); it is lost at a restart",
                        thing="simulator memory", value=str(self.state_path),
                        allowed="a writable data directory") from None
                return
            self.writes += 1
            self._ceilings.update(ceilings)
            self._kept.update(kept)
            self._written = upto

    async def _keep_counters(self, pdu: SimPdu) -> None:
        """After a poll: the counters it showed must be covered by the stored ones.

        Half the reserve used (or relays moved): write in the background. A counter past
        its stored value (a load far above the outlet's rating): write before answering.
        """
        if self.state_path is None:
            return
        ceilings = self._ceilings.get(pdu.serial)
        room = -1.0 if ceilings is None else pdu.physics.headroom(ceilings)
        if room < 0:
            await self.save()
        elif (room < pdu.energy_reserve_kwh / 2
              or pdu.outlets.kept_states() != self._kept.get(pdu.serial)):
            self.memory_changed()
