"""The driver contract, run over every driver: lifecycle, catalogue keys, named errors.

Each entry of ``DRIVERS`` builds a driver for a ring of a few PDUs from the common
options (``pdus``, ``seed``, ``state_path``, ``bus_latency_ms``, ``timeout``, ``clock``,
``equipment``) plus one unknown option, which every driver must ignore. Only the
simulated ring exists today; a hardware driver adds its factory (and skips itself
when no ring is attached).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.errors import DeviceUnavailable, EnertegError, Invalid, NotFound, Unsupported
from enerteg_tui.core.faults import FaultInjector
from enerteg_tui.core.model import (
    DeviceSample,
    Identification,
    OutletAction,
    OutletState,
    RingScan,
    SensorType,
)
from enerteg_tui.core.quantities import BY_KEY, COMPONENT_QUANTITIES, Component
from enerteg_tui.drivers.base import Driver
from enerteg_tui.drivers.simulated import SimulatedDriver

Factory = Callable[..., Driver]

DRIVERS: list[Any] = [
    pytest.param(SimulatedDriver, id="simulated"),
]
"""Every driver the contract applies to, as a factory taking the common options."""

ALLOWED = {component: set(keys) for component, keys in COMPONENT_QUANTITIES.items()}
"""Quantity keys a driver may emit per component."""


def _options(tmp_path: Path) -> dict[str, Any]:
    return {"pdus": 4, "seed": 1, "state_path": tmp_path / "state.json", "bus_latency_ms": 0,
            "timeout": 0.2, "equipment": "mixed", "no_such_option": "ignored"}


@pytest.fixture(params=DRIVERS)
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Driver]:
    d = request.param(**_options(tmp_path))
    assert d.state == "init"
    await d.open()
    assert d.state == "running"
    yield d
    await d.close()
    assert d.state == "closed"


@pytest.mark.parametrize("factory", DRIVERS)
def test_unknown_options_are_ignored(factory: Factory, tmp_path: Path) -> None:
    d = factory(**_options(tmp_path), colour="red", retries=3)
    assert isinstance(d, Driver) and d.NAME and d.state == "init"


async def test_discover_finds_the_ring(driver: Driver) -> None:
    scan = await driver.discover()
    assert isinstance(scan, RingScan) and scan.devices
    assert [i.position for i in scan.devices] == sorted(i.position for i in scan.devices)
    assert scan.reachable == {i.hex_id for i in scan.devices}
    assert sum(i.controller for i in scan.devices) <= 1
    for info in scan.devices:
        assert info.hex_id == info.identification.hex_id
        m = info.model
        assert len(m.outlet_phase) == m.outlets and len(m.outlet_branch) == m.outlets
        assert len(m.branch_phase) == m.branches
        assert all(1 <= p <= m.phases for p in m.outlet_phase)
        assert all(0 <= b <= m.branches for b in m.outlet_branch)
        assert len(info.settings.outlets) == m.outlets
        assert len(info.settings.input_names) == m.phases
        assert len(info.settings.branch_names) == m.branches
        assert len(info.settings.sensor_names) == len(info.sensors)


async def test_poll_emits_only_catalogue_quantities(driver: Driver) -> None:
    for info in (await driver.discover()).devices:
        sample = await driver.poll(info.hex_id)
        assert isinstance(sample, DeviceSample) and sample.hex_id == info.hex_id
        m = info.model
        limits = {Component.TOTAL: 0, Component.INPUT: m.phases, Component.BRANCH: m.branches,
                  Component.OUTLET: m.outlets if m.metered_outlets else 0,
                  Component.SENSOR: len(info.sensors)}
        assert (Component.TOTAL, 0) in sample.groups
        for (comp, idx), values in sample.groups.items():
            assert isinstance(comp, Component)
            assert (idx == 0) if comp is Component.TOTAL else (1 <= idx <= limits[comp])
            assert set(values) <= ALLOWED[comp], (comp, set(values) - ALLOWED[comp])
            for key, value in values.items():
                assert key in BY_KEY and isinstance(value, float)
        assert set(sample.outlet_states) <= set(range(1, m.outlets + 1))
        assert all(isinstance(s, OutletState) for s in sample.outlet_states.values())
        assert all(isinstance(t, SensorType) for t in sample.sensor_types.values())


async def test_identify(driver: Driver) -> None:
    info = (await driver.discover()).devices[0]
    ident = await driver.identify(info.hex_id)
    assert isinstance(ident, Identification) and ident.hex_id == info.hex_id and ident.serial


async def test_unknown_device_is_not_found(driver: Driver) -> None:
    for call in (driver.poll("0"), driver.identify("0")):
        with pytest.raises(NotFound):
            await call


async def test_switching_answers_or_is_unsupported(driver: Driver) -> None:
    for info in (await driver.discover()).devices:
        if not (driver.IMPLEMENTS_SWITCHING and info.model.switchable):
            with pytest.raises(Unsupported):
                await driver.switch_outlet(info.hex_id, 1, OutletAction.ON)
        else:
            with pytest.raises(Invalid):
                await driver.switch_outlet(info.hex_id, info.model.outlets + 1,
                                           OutletAction.ON)
            await driver.switch_outlet(info.hex_id, 1, OutletAction.ON)


async def test_commands_raise_named_errors_only(driver: Driver) -> None:
    info = (await driver.discover()).devices[0]
    for call in (driver.blink(info.hex_id, 1.0),
                 driver.write_settings(info.hex_id, info.settings)):
        # success, Unsupported or another named error are fine; anything else fails the test
        with contextlib.suppress(EnertegError):
            await call


async def test_fault_injector_is_none_or_the_protocol(driver: Driver) -> None:
    faults = driver.fault_injector()
    assert faults is None or isinstance(faults, FaultInjector)


async def test_closed_driver_is_unavailable(driver: Driver) -> None:
    info = (await driver.discover()).devices[0]
    await driver.close()
    with pytest.raises(DeviceUnavailable):
        await driver.poll(info.hex_id)
    with pytest.raises(DeviceUnavailable):
        await driver.discover()
    await driver.close()  # idempotent
