"""The simulated ring driver: topology, physics, switching, power-up, persistence, faults.

Time moves by a fake clock (readings, energy, blinking, saves); only switch
delays use short real sleeps, as the relays run on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from enerteg_tui.core.errors import DeviceUnavailable, DriverTimeout, Invalid, NotFound, Unsupported
from enerteg_tui.core.model import (
    DeviceInfo,
    DeviceSample,
    OutletAction,
    OutletState,
    PowerUpMode,
    RingState,
    SensorType,
)
from enerteg_tui.core.quantities import BY_KEY, Component
from enerteg_tui.drivers.simulated import DeviceDocument, RingDocument, SimulatedDriver
from tests.helpers import wait_for

T0 = 1_760_000_000.0


class FakeClock:
    """A wall clock that moves only when told."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


Make = Callable[..., Awaitable[SimulatedDriver]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make(clock: FakeClock) -> AsyncIterator[Make]:
    """Factory of opened drivers (no bus latency, the fake clock); all closed at the end."""
    made: list[SimulatedDriver] = []

    async def factory(**kw: object) -> SimulatedDriver:
        kw.setdefault("bus_latency_ms", 0)
        kw.setdefault("clock", clock)
        d = SimulatedDriver(**kw)  # type: ignore[arg-type]
        await d.open()
        made.append(d)
        return d

    yield factory
    for d in made:
        await d.close()


async def _set(d: SimulatedDriver, hex_id: str, **changes: object) -> None:
    """Write settings with some top-level fields changed."""
    info = next(i for i in (await d.discover()).devices if i.hex_id == hex_id)
    await d.write_settings(hex_id, info.settings.model_copy(update=changes))


async def _until(cond: Callable[[], Awaitable[bool]], timeout: float = 3.0) -> float:
    """Poll ``cond`` until true; returns the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    await wait_for(cond, timeout=timeout, step=0.003)
    return loop.time() - start


def _states(sample: DeviceSample) -> list[bool]:
    return [s is OutletState.ON for _, s in sorted(sample.outlet_states.items())]


# ---------------------------------------------------------------- discovery and ring
async def test_discovers_100_pdus(make: Make) -> None:
    d = await make(pdus=100)
    scan = await d.discover()
    assert len(scan.devices) == 100 and scan.breaks == [] and scan.state is RingState.CLOSED
    assert [i.position for i in scan.devices] == list(range(100))
    assert scan.devices[0].controller and not any(i.controller for i in scan.devices[1:])
    assert len({i.hex_id for i in scan.devices}) == 100 == len(scan.reachable)
    for info in scan.devices:
        serial = int(info.identification.serial)
        assert 100_000 <= serial <= 999_999 and info.hex_id == format(serial, "x")
        assert info.identification.mac.startswith("D0:22:12:")
        assert info.settings.device_id == info.position + 1
        assert len(info.settings.outlets) == info.model.outlets
    assert scan.devices[0].settings.name == "Controller PDU"
    assert scan.devices[7].settings.name == "Daisy-Chain PDU #7"
    assert {i.model.type_name for i in scan.devices} >= {
        "1P 16A switched", "3P 16A metered", "3P 16A switched", "3P 32A switched",
        "1P 16A inlet-metered"}
    again = await d.discover()
    # DeviceInfo objects are cached, not rebuilt every sweep
    assert all(a is b for a, b in zip(scan.devices, again.devices, strict=True))


async def test_ring_grows_and_shrinks_deterministically(make: Make) -> None:
    d = await make(pdus=8, seed=3)
    faults = d.fault_injector()
    before = [i.hex_id for i in (await d.discover()).devices]
    faults.apply_ring(faults.ring_document().model_copy(update={"pdus": 12}))
    grown = [i.hex_id for i in (await d.discover()).devices]
    fresh = await make(pdus=12, seed=3)
    assert grown[:8] == before and grown == [i.hex_id for i in (await fresh.discover()).devices]
    await _set(d, grown[10], name="Rack 9 PDU B")
    faults.apply_ring(faults.ring_document().model_copy(update={"pdus": 5}))
    assert [i.hex_id for i in (await d.discover()).devices] == before[:5]
    assert faults.device_ids() == before[:5]
    with pytest.raises(NotFound):
        await d.poll(grown[10])
    faults.apply_ring(faults.ring_document().model_copy(update={"pdus": 12}))
    back = (await d.discover()).devices
    assert [i.hex_id for i in back] == grown and back[10].settings.name == "Rack 9 PDU B"


async def test_one_break_keeps_everyone_reachable(make: Make) -> None:
    d = await make(pdus=10)
    faults = d.fault_injector()
    for link in (4, 9, 0):
        faults.apply_ring(faults.ring_document().model_copy(update={"ring_breaks": [link]}))
        scan = await d.discover()
        assert len(scan.devices) == 10 and scan.breaks == [link]
        assert scan.state is RingState.OPEN
        await d.poll(scan.devices[5].hex_id)


async def test_two_breaks_cut_off_the_pdus_between(make: Make) -> None:
    d = await make(pdus=10, timeout=5.0)
    faults = d.fault_injector()
    ids = faults.device_ids()
    faults.apply_ring(RingDocument(pdus=10, ring_breaks=[6, 3], seed=0))
    scan = await d.discover()
    assert scan.breaks == [3, 6] and scan.state is RingState.BROKEN
    assert [i.position for i in scan.devices] == [0, 1, 2, 3, 7, 8, 9]
    t0 = time.monotonic()
    with pytest.raises(DeviceUnavailable) as err:
        await d.poll(ids[5])
    assert not isinstance(err.value, DriverTimeout) and time.monotonic() - t0 < 1.0
    assert "cut off" in str(err.value)
    faults.apply_ring(RingDocument(pdus=10, ring_breaks=[2, 5, 7], seed=0))
    scan = await d.discover()
    assert scan.breaks == [2, 7] and [i.position for i in scan.devices] == [0, 1, 2, 8, 9]


def test_ring_document_is_validated() -> None:
    with pytest.raises(ValidationError, match="pdus"):
        RingDocument.model_validate({"pdus": 0, "seed": 0})
    with pytest.raises(ValidationError, match="ringBreaks"):
        RingDocument.model_validate({"pdus": 5, "ringBreaks": [5], "seed": 0})
    with pytest.raises(ValidationError, match="twice"):
        RingDocument.model_validate({"pdus": 5, "ringBreaks": [1, 1], "seed": 0})
    with pytest.raises(ValidationError, match="extra"):
        RingDocument.model_validate({"pdus": 5, "seed": 0, "colour": "red"})
    with pytest.raises(ValidationError, match="loadFactor"):
        DeviceDocument.model_validate({"loadFactor": 11})


async def test_fault_documents_reject_impossible_values(make: Make) -> None:
    d = await make(pdus=4, seed=5)
    faults = d.fault_injector()
    doc = faults.ring_document()
    assert doc.model_dump(by_alias=True) == {"pdus": 4, "ringBreaks": [], "busLatencyMs": 0.0,
                                             "answerErrorRate": 0.0, "seed": 5}
    with pytest.raises(Invalid) as err:
        faults.apply_ring(doc.model_copy(update={"seed": 6}))
    assert err.value.thing == "seed"
    with pytest.raises(Invalid) as err:
        faults.apply_ring(RingDocument.model_construct(pdus=1001, ring_breaks=[], seed=5,
                                                       bus_latency_ms=0))
    assert err.value.thing == "pdus" and err.value.value == 1001
    h = faults.device_ids()[1]
    dev = faults.device_document(h)
    assert dev.position == 1 and dev.reachable and dev.powered and dev.load_factor == 1.0
    with pytest.raises(Invalid):
        faults.apply_device(h, dev.model_copy(update={"position": 3}))
    with pytest.raises(Invalid):
        faults.apply_device(h, dev.model_copy(update={"load_factor": -1.0}))
    with pytest.raises(NotFound):
        faults.device_document("123abc")


# ---------------------------------------------------------------- physics
def _near(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def _check_sample(s: DeviceSample, info: DeviceInfo, off: set[int]) -> None:
    m = info.model
    g = s.groups
    for (comp, idx), values in g.items():
        for key, v in values.items():
            assert round(v, BY_KEY[key].precision) == v, (comp, idx, key, v)
    outlets = {n: g[(Component.OUTLET, n)] for n in range(1, m.outlets + 1)} \
        if m.metered_outlets else {}
    for n, o in outlets.items():
        if n in off:
            assert s.outlet_states[n] is OutletState.OFF
            assert all(o[k] == 0 for k in ("voltage", "current", "activePower", "apparentPower",
                                           "reactivePower", "powerFactor"))
            continue
        assert 225 < o["voltage"] < 235
        assert _near(o["apparentPower"], o["voltage"] * o["current"], 0.06 + 0.006 * o["voltage"])
        assert _near(o["activePower"], o["apparentPower"] * o["powerFactor"],
                     0.1 + 0.001 * o["apparentPower"])
        assert _near(math.hypot(o["activePower"], o["reactivePower"]), o["apparentPower"], 0.2)
        assert o["reactivePower"] <= 0
        if o["current"] >= 0.05:
            assert 0.85 <= o["powerFactor"] <= 0.99 and 1.4 <= o["crestFactor"] <= 2.0
            assert 4 <= o["thd"] <= 32
    for b in range(1, m.branches + 1):
        mine = [outlets[n] for n in outlets if m.outlet_branch[n - 1] == b]
        br = g[(Component.BRANCH, b)]
        for key, tol in (("current", 0.005), ("activePower", 0.05), ("apparentPower", 0.05),
                         ("reactivePower", 0.05), ("energy", 0.005)):
            assert _near(sum(o[key] for o in mine), br[key], tol * (len(mine) + 1)), (b, key)
    phases = [g[(Component.INPUT, p)] for p in range(1, m.phases + 1)]
    total = g[(Component.TOTAL, 0)]
    for ph in phases:
        assert 49.9 <= ph["frequency"] <= 50.1 and 227 < ph["voltage"] < 233
        assert ph["voltageDip"] <= ph["voltage"] <= ph["voltagePeak"]
        assert 1.0 <= ph["thd"] <= 4.0 and 1.37 <= ph["crestFactor"] <= 1.42
        assert _near(ph["apparentPower"], ph["voltage"] * ph["current"],
                     0.2 + 0.006 * ph["voltage"] + 0.11 * ph["current"])
        va, w = ph["apparentPower"], ph["activePower"]
        assert _near(ph["powerFactor"], w / va, 0.002 + 0.1 / va) and w <= va + 0.1
        assert 0.96 * va - 0.2 <= math.hypot(w, ph["reactivePower"]) <= va + 0.2
        assert ph["currentPeak"] >= ph["current"] and ph["energy"] <= ph["apparentEnergy"]
    for key, tol in (("current", 0.005), ("activePower", 0.05), ("apparentPower", 0.05),
                     ("reactivePower", 0.05), ("energy", 0.005), ("apparentEnergy", 0.005)):
        assert _near(sum(ph[key] for ph in phases), total[key], tol * (len(phases) + 1)), key
    assert total["neutralCurrent"] <= sum(ph["current"] for ph in phases) + 0.02
    if m.phases == 1:
        assert total["neutralCurrent"] == total["current"]
    assert 0 < total["residualCurrent"] < 20
    for idx, kind in s.sensor_types.items():
        values = g[(Component.SENSOR, idx)]
        if kind is SensorType.TEMPERATURE:
            assert 20.5 <= values["temperature"] <= 28.5
        elif kind is SensorType.HUMIDITY:
            assert 28 <= values["humidity"] <= 57
        else:
            assert values == {}


async def test_physics_invariants_over_ten_sweeps(make: Make, clock: FakeClock) -> None:
    d = await make(pdus=100, seed=11)
    scan = await d.discover()
    ctrl = scan.devices[0].hex_id
    await _set(d, ctrl, outlet_delay_ms=0)
    await d.switch_outlet(ctrl, 3, OutletAction.OFF)
    last: dict[tuple[str, Component, int, str], float] = {}
    for _ in range(10):
        clock.advance(1.0)
        for info in scan.devices:
            s = await d.poll(info.hex_id)
            assert s.taken_at == clock.t
            _check_sample(s, info, {3} if info.hex_id == ctrl else set())
            for (comp, idx), values in s.groups.items():
                for key in ("energy", "apparentEnergy", "currentPeak"):
                    if key in values:
                        k = (info.hex_id, comp, idx, key)
                        assert values[key] >= last.get(k, 0.0), k
                        last[k] = values[key]


async def test_energy_integrates_wall_clock_time(make: Make, clock: FakeClock) -> None:
    d = await make(pdus=2)
    h = d.device_ids()[0]
    first = (await d.poll(h)).groups[(Component.TOTAL, 0)]
    assert first["energy"] > 0  # a PDU in service has history
    again = (await d.poll(h)).groups[(Component.TOTAL, 0)]
    assert again["energy"] == first["energy"]  # no time passed
    clock.advance(3600.0)  # one step integrates at most 60 s
    later = (await d.poll(h)).groups[(Component.TOTAL, 0)]
    expect = later["activePower"] * 60 / 3.6e6
    assert _near(later["energy"] - first["energy"], expect, 0.1 * expect + 0.011)


async def test_load_factor_doubles_current(make: Make) -> None:
    a, b = await make(pdus=6, seed=2), await make(pdus=6, seed=2)
    h = a.device_ids()[1]
    b.fault_injector().apply_device(h, b.fault_injector().device_document(h).model_copy(
        update={"load_factor": 2.0}))
    sa, sb = await a.poll(h), await b.poll(h)
    ta, tb = sa.groups[(Component.TOTAL, 0)], sb.groups[(Component.TOTAL, 0)]
    assert 1.95 <= tb["current"] / ta["current"] <= 2.02
    for key, values in sa.groups.items():
        if key[0] is Component.OUTLET and values["current"] >= 0.2:
            assert 1.95 <= sb.groups[key]["current"] / values["current"] <= 2.05


async def test_temperature_offset_and_residual_current(make: Make) -> None:
    a, b = await make(pdus=6, equipment="full"), await make(pdus=6, equipment="full")
    h = a.device_ids()[2]
    faults = b.fault_injector()
    faults.apply_device(h, faults.device_document(h).model_copy(
        update={"temperature_offset": 10.0, "residual_current_ma": 30.0}))
    sa, sb = await a.poll(h), await b.poll(h)
    assert sb.groups[(Component.TOTAL, 0)]["residualCurrent"] == 30.0
    ta, tb = sa.groups[(Component.SENSOR, 1)], sb.groups[(Component.SENSOR, 1)]
    assert 9.9 <= tb["temperature"] - ta["temperature"] <= 10.1
    ha, hb = sa.groups[(Component.SENSOR, 2)], sb.groups[(Component.SENSOR, 2)]
    assert hb["humidity"] < ha["humidity"]  # warmer air, lower relative humidity


async def test_same_seed_same_samples_in_any_poll_order(make: Make, clock: FakeClock) -> None:
    a, b = await make(pdus=10, seed=7), await make(pdus=10, seed=7)
    ids = a.device_ids()
    assert ids == b.device_ids()
    for _ in range(3):
        clock.advance(2.0)
        got_a = {h: await a.poll(h) for h in ids}
        got_b = {h: await b.poll(h) for h in reversed(ids)}
        for h in ids:
            assert got_a[h].groups == got_b[h].groups
            assert got_a[h].outlet_states == got_b[h].outlet_states
    other = await make(pdus=10, seed=8)
    assert set(other.device_ids()) != set(ids)


async def test_full_equipment(make: Make) -> None:
    d = await make(pdus=5, equipment="full")
    for info in (await d.discover()).devices:
        m = info.model
        assert (m.phases, m.rating_a, m.outlets, m.branches) == (3, 32, 24, 6)
        assert m.switchable and m.metered_outlets and len(info.sensors) == 4
        assert m.outlet_branch[:5] == (1, 1, 1, 1, 2) and m.branch_phase == (1, 1, 2, 2, 3, 3)


async def test_full_pdu_poll_is_cheap(make: Make, clock: FakeClock) -> None:
    d = await make(pdus=2, equipment="full")
    h = d.device_ids()[1]
    start = time.process_time()
    for _ in range(200):
        clock.advance(1.0)
        await d.poll(h)
    assert (time.process_time() - start) / 200 < 0.0025  # loose: typically ~0.15 ms


# ---------------------------------------------------------------- commands
async def test_switching_honours_delays_and_power_cycle(make: Make) -> None:
    d = await make(pdus=2)
    h = d.device_ids()[0]
    info = (await d.discover()).devices[0]
    s = info.settings.model_copy(deep=True)
    s.outlet_delay_ms = 30
    s.outlets[0].power_cycle_delay = 1.0
    await d.write_settings(h, s)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await d.switch_outlet(h, 2, OutletAction.OFF)
    await d.switch_outlet(h, 3, OutletAction.OFF)
    assert _states(await d.poll(h))[1:3] == [True, True]  # accepted, not yet done
    await _until(lambda: _is(d, h, 2, False))
    assert loop.time() - t0 >= 0.025
    await _until(lambda: _is(d, h, 3, False))
    assert loop.time() - t0 >= 0.055  # the second action waits for the system-wide delay
    await d.switch_outlet(h, 2, OutletAction.ON)
    await _until(lambda: _is(d, h, 2, True))
    t0 = loop.time()
    await d.switch_outlet(h, 1, OutletAction.CYCLE)
    await _until(lambda: _is(d, h, 1, False))
    await _until(lambda: _is(d, h, 1, True))
    assert loop.time() - t0 >= 1.0


async def _is(d: SimulatedDriver, h: str, n: int, on: bool) -> bool:
    return (await d.poll(h)).outlet_states[n] is (OutletState.ON if on else OutletState.OFF)


async def test_switching_refuses_what_the_pdu_cannot_do(make: Make) -> None:
    d = await make(pdus=100)
    devices = (await d.discover()).devices
    for kind in ("3P 16A metered", "1P 16A inlet-metered"):
        h = next(i.hex_id for i in devices if i.model.type_name == kind)
        with pytest.raises(Unsupported):
            await d.switch_outlet(h, 1, OutletAction.OFF)
    h = devices[0].hex_id
    for bad in (0, 13, True):
        with pytest.raises(Invalid):
            await d.switch_outlet(h, bad, OutletAction.OFF)
    with pytest.raises(Invalid):
        await d.switch_outlet(h, 1, "toggle")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await d.switch_outlet("abcdef", 1, OutletAction.OFF)


@pytest.mark.parametrize("mode", list(PowerUpMode))
async def test_power_up_modes(make: Make, mode: PowerUpMode) -> None:
    d = await make(pdus=2, timeout=0.05)
    h = d.device_ids()[0]  # the controller PDU: 3-phase, 12 switched outlets
    info = (await d.discover()).devices[0]
    s = info.settings.model_copy(deep=True)
    s.outlet_delay_ms, s.power_up_mode = 0, mode
    s.outlets[0].delay = 0.25
    await d.write_settings(h, s)
    await d.switch_outlet(h, 2, OutletAction.OFF)
    s.outlet_delay_ms = 15
    await d.write_settings(h, s)
    before = _states(await d.poll(h))
    assert before == [True, False] + [True] * 10
    faults = d.fault_injector()
    doc = faults.device_document(h)
    faults.apply_device(h, doc.model_copy(update={"powered": False}))
    assert h not in (await d.discover()).reachable
    with pytest.raises(DriverTimeout):
        await d.poll(h)
    faults.apply_device(h, doc.model_copy(update={"powered": True}))
    first = _states(await d.poll(h))
    if mode is PowerUpMode.NO_SWITCHING_ON_POWER_DOWN:
        assert first == before
        return
    assert first == [False] * 12
    if mode is PowerUpMode.NO_SWITCHING_ON_POWER_UP:
        await asyncio.sleep(0.3)
        assert _states(await d.poll(h)) == [False] * 12
        return
    seen: list[list[bool]] = []

    async def restored() -> bool:
        seen.append(_states(await d.poll(h)))
        return seen[-1] == before

    await _until(restored)
    assert not any(st[1] for st in seen)  # an outlet that was off stays off
    if mode is PowerUpMode.SYSTEM_DELAY:
        counts = [sum(st) for st in seen]
        assert counts == sorted(counts) and len(set(counts)) >= 4  # one by one
    else:  # individual delay: outlet 1 (0.25 s) comes back after the others
        assert seen[-2][2:] == [True] * 10 and not seen[-2][0]


async def test_write_settings_validates_and_shows_in_discovery(make: Make) -> None:
    d = await make(pdus=3)
    info = (await d.discover()).devices[1]
    with pytest.raises(Invalid) as err:
        await d.write_settings(info.hex_id, info.settings.model_copy(
            update={"outlets": info.settings.outlets[:-1]}))
    assert err.value.thing == "outlets" and err.value.value == info.model.outlets - 1
    with pytest.raises(Invalid) as err:
        await d.write_settings(info.hex_id, info.settings.model_copy(update={"input_names": []}))
    assert err.value.thing == "inputNames"
    await _set(d, info.hex_id, name="Rack 7 PDU A", location="Hall 2")
    fresh = (await d.discover()).devices[1]
    assert fresh is not info and fresh.settings.name == "Rack 7 PDU A"
    assert (await d.discover()).devices[1] is fresh


async def test_blink_is_visible_for_its_time(make: Make, clock: FakeClock) -> None:
    d = await make(pdus=2)
    h = d.device_ids()[1]
    faults = d.fault_injector()
    await d.blink(h, 5)
    assert faults.device_document(h).blinking
    faults.apply_device(h, faults.device_document(h).model_copy(update={"blinking": False}))
    assert faults.device_document(h).blinking  # a status: writing it changes nothing
    clock.advance(5.5)
    assert not faults.device_document(h).blinking
    with pytest.raises(Invalid):
        await d.blink(h, 0)


async def test_silent_pdu_times_out(make: Make) -> None:
    d = await make(pdus=4, timeout=0.05)
    faults = d.fault_injector()
    h = faults.device_ids()[2]
    faults.apply_device(h, faults.device_document(h).model_copy(update={"reachable": False}))
    assert h not in (await d.discover()).reachable
    t0 = time.monotonic()
    with pytest.raises(DriverTimeout) as err:
        await d.poll(h)
    assert time.monotonic() - t0 >= 0.045 and h in str(err.value)
    with pytest.raises(DriverTimeout):
        await d.identify(h)
    faults.apply_device(h, faults.device_document(h).model_copy(update={"reachable": True}))
    assert (await d.poll(h)).groups


async def test_bus_latency_serialises_queries() -> None:
    d = SimulatedDriver(pdus=4, bus_latency_ms=20, flux_capacitor=True)
    await d.open()
    try:
        t0 = time.monotonic()
        await asyncio.gather(*(d.poll(h) for h in d.device_ids()))
        assert time.monotonic() - t0 >= 0.075  # four queries, one after the other
    finally:
        await d.close()


def test_options_out_of_range() -> None:
    bad_options: list[dict[str, Any]] = [
        {"pdus": 0}, {"pdus": 1001}, {"equipment": "some"}, {"bus_latency_ms": -1}]
    for bad in bad_options:
        with pytest.raises(Invalid):
            SimulatedDriver(**bad)


# ---------------------------------------------------------------- persistence
async def test_memory_survives_a_restart(make: Make, clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "sim-ring.json"
    d = await make(pdus=4, state_path=path)
    ctrl, h = d.device_ids()[0], d.device_ids()[1]
    await _set(d, ctrl, outlet_delay_ms=0, name="Rack 1 PDU A")
    await d.switch_outlet(ctrl, 4, OutletAction.OFF)
    for _ in range(5):
        clock.advance(60.0)
        energy = (await d.poll(h)).groups[(Component.TOTAL, 0)]["energy"]
    await _set(d, ctrl, outlet_delay_ms=60_000)
    await d.switch_outlet(ctrl, 5, OutletAction.OFF)  # accepted, the PDU completes it alone
    await d.close()
    saved = json.loads(path.read_text())
    assert saved["format"] == "enerteg-sim-ring" and len(saved["pdus"]) == 4
    e = await make(pdus=4, state_path=path)
    assert (await e.discover()).devices[0].settings.name == "Rack 1 PDU A"
    sample = await e.poll(ctrl)
    assert sample.outlet_states[4] is sample.outlet_states[5] is OutletState.OFF
    assert (await e.poll(h)).groups[(Component.TOTAL, 0)]["energy"] >= energy
    clock.advance(60.0)
    assert (await e.poll(h)).groups[(Component.TOTAL, 0)]["energy"] > energy


def _energies(sample: DeviceSample) -> dict[tuple[object, str], float]:
    """Every energy reading of one poll, by (group, quantity)."""
    return {(g, q): v for g, vals in sample.groups.items() for q, v in vals.items()
            if q in ("energy", "apparentEnergy")}


def _crash_copy(path: Path, tmp_path: Path, n: int) -> Path:
    """The memory file as a kill -9 at this instant would leave it (no close, no later write)."""
    copy = tmp_path / f"crash-{n}.json"
    copy.write_bytes(path.read_bytes())
    return copy


async def test_acknowledged_settings_survive_a_crash(make: Make, tmp_path: Path) -> None:
    """Issue 14 item 7: settings acknowledged by the PDU are in its memory at once."""
    path = tmp_path / "sim-ring.json"
    d = await make(pdus=3, state_path=path)
    ctrl = d.device_ids()[1]
    for n in range(5):
        await _set(d, ctrl, name=f"Rack 1 PDU {n}")
        await d.switch_outlet(ctrl, 2, OutletAction.OFF if n % 2 == 0 else OutletAction.ON)
        e = await make(pdus=3, state_path=_crash_copy(path, tmp_path, n))
        info = next(i for i in (await e.discover()).devices if i.hex_id == ctrl)
        assert info.settings.name == f"Rack 1 PDU {n}"


async def test_energy_never_goes_back_after_a_crash(make: Make, clock: FakeClock,
                                                   tmp_path: Path) -> None:
    """Issue 14 item 7: after a crash at any poll, no counter is below a value already read;
    the memory is written far less often than once a poll."""
    path = tmp_path / "sim-ring.json"
    d = await make(pdus=2, state_path=path)
    h = d.device_ids()[0]
    await _set(d, h, outlet_delay_ms=0)
    d.fault_injector().apply_device(h, d.fault_injector().device_document(h).model_copy(
        update={"load_factor": 3.0}))
    writes0 = d.writes
    seen: dict[tuple[object, str], float] = {}
    for n in range(300):
        clock.advance(1.0)
        seen = _energies(await d.poll(h))
        if n % 30 == 29:
            e = await make(pdus=2, state_path=_crash_copy(path, tmp_path, n))
            after = _energies(await e.poll(h))
            behind = {k: (v, after[k]) for k, v in seen.items() if after[k] < v}
            assert not behind, f"counters went back after a crash at poll {n}: {behind}"
    assert d.writes - writes0 < 30, f"{d.writes - writes0} writes in 300 polls"


async def test_a_load_beyond_the_reserve_is_written_before_it_is_read(
        make: Make, clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "sim-ring.json"
    d = await make(pdus=1, state_path=path)
    h = d.device_ids()[0]
    d.fault_injector().apply_device(h, d.fault_injector().device_document(h).model_copy(
        update={"load_factor": 10.0}))
    for n in range(5):
        clock.advance(60.0)
        seen = _energies(await d.poll(h))
        e = await make(pdus=1, state_path=_crash_copy(path, tmp_path, n))
        after = _energies(await e.poll(h))
        assert all(after[k] >= v for k, v in seen.items())


async def test_a_clean_restart_shows_no_jump(make: Make, clock: FakeClock,
                                            tmp_path: Path) -> None:
    path = tmp_path / "sim-ring.json"
    d = await make(pdus=1, state_path=path)
    h = d.device_ids()[0]
    clock.advance(5.0)
    before = _energies(await d.poll(h))
    await d.close()
    e = await make(pdus=1, state_path=path)
    assert _energies(await e.poll(h)) == before


async def test_corrupt_state_file_starts_fresh(make: Make, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "sim-ring.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        d = await make(pdus=3, state_path=path)
    assert "corrupt" in caplog.text and (tmp_path / "sim-ring.json.corrupt").exists()
    assert len((await d.discover()).devices) == 3
    await d.close()
    assert len(json.loads(path.read_text())["pdus"]) == 3
    # an entry that does not fit is skipped, the rest of the file is used
    doc = json.loads(path.read_text())
    first = next(iter(doc["pdus"]))
    doc["pdus"][first]["settings"] = {"name": "x" * 100}
    path.write_text(json.dumps(doc))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        e = await make(pdus=3, state_path=path)
    assert "unusable" in caplog.text and len((await e.discover()).devices) == 3


async def test_a_setting_the_memory_cannot_keep_is_not_acknowledged(make: Make,
                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "mem"
    folder.mkdir()
    d = await make(pdus=1, state_path=folder / "sim-ring.json")
    h = d.device_ids()[0]
    (folder / "sim-ring.json.tmp").mkdir()  # the atomic write's temporary file cannot be made
    with pytest.raises(DeviceUnavailable) as err:
        await _set(d, h, name="never kept")
    assert "cannot store the change" in str(err.value)
    (folder / "sim-ring.json.tmp").rmdir()
