"""Pilot tests and snapshots of the DC chart (manual §7.2.3): ``g`` on a dashboard opens
the element's chart; the ranges, the phase and the quantity switch; the series drawn is
the history's ``dc_series`` of the element's PDUs; an element without history says so.

The module's controller is the frozen ring of the snapshots started three days before
the snapshots' time, its poller stopped after the first sweep, and three days of
readings every minute fed into the history with a simulated clock that ends at
``FIXED_CLOCK``.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from textual.widgets import Static

from enerteg_tui.screens.dashboard import DashboardPage
from enerteg_tui.screens.dc_chart import DCChartScreen, DCPlot
from enerteg_tui.screens.tree import Place

from .conftest import FIXED_CLOCK, SIZES, build_frozen, make_app, settle
from .test_reports_page import MovableClock, readings

HISTORY_S = 3 * 86400
"""Simulated history before the snapshots' time (minute and hourly blocks)."""
STEP_S = 60


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def with_history(tmp_path_factory: pytest.TempPathFactory):
    """The snapshots' ring and DC tree with three days of history before ``FIXED_CLOCK``."""
    clock = MovableClock(FIXED_CLOCK - HISTORY_S - 120)
    c = await build_frozen(tmp_path_factory.mktemp("dc-chart"), clock=clock)
    await c.poller.stop()
    devs = [d.hex_id for d in c.live.ordered()]
    t0 = t = FIXED_CLOCK - HISTORY_S
    while t < FIXED_CLOCK:
        clock.t = t
        for n, hex_id in enumerate(devs):
            c.history.collector.ingest(hex_id, readings(t, n, t0, 0.0), t)
        t += STEP_S
        if int(t) % 3600 == 0:
            await c.history.flush(now=t)
    clock.t = FIXED_CLOCK
    await c.history.flush(now=FIXED_CLOCK)
    yield c
    await c.stop()


def rack(c, name: str = "Rack 1"):
    return next(e for e in c.structure.elements() if e.name == name)


async def open_chart(pilot, element_id: int | None) -> DCChartScreen:
    await settle(pilot)
    await pilot.app.open_place(Place("site") if element_id is None
                               else Place("element", element_id))
    await settle(pilot)
    assert isinstance(pilot.app.main.query_one("#page").children[0], DashboardPage)
    await pilot.press("g")
    await loaded(pilot)
    assert isinstance(pilot.app.screen, DCChartScreen)
    return pilot.app.screen


async def loaded(pilot) -> None:
    """Wait until the chart's worker has delivered its series."""
    for _ in range(100):
        await settle(pilot)
        screen = pilot.app.screen
        if isinstance(screen, DCChartScreen) and screen.plot.series is not None:
            break
    await settle(pilot)


def status(screen: DCChartScreen) -> str:
    return str(screen.query_one("#status", Static).render())


@pytest.mark.asyncio(loop_scope="module")
async def test_rack_chart_ranges_phases_quantities(with_history) -> None:
    c = with_history
    el = rack(c)
    devices = c.structure.devices_in(el.id)
    async with make_app(c).run_test(size=(120, 40)) as pilot:
        screen = await open_chart(pilot, el.id)
        plot = screen.query_one(DCPlot)
        want = await c.history.dc_series(devices, "current", 1, None, now=FIXED_CLOCK)
        assert len(want.t) == 360 and plot.series == want  # a day of minute blocks, downsampled
        assert "Current, last 1 day" in status(screen) and f"{len(want.t)} point(s)" in status(screen)
        assert "Rack Hall A / Row 1 / Rack 1" in screen.query_one("Vertical").border_title
        for key, days in (("7", 7), ("4", 14), ("3", 30)):
            await pilot.press(key)
            await loaded(pilot)
            want = await c.history.dc_series(devices, "current", days, None, now=FIXED_CLOCK)
            assert screen.days == days and plot.series == want
            assert HISTORY_S // 3600 <= len(want.t) <= HISTORY_S // 3600 + 1  # hourly blocks
        await pilot.press("1")
        await loaded(pilot)
        await pilot.press("p")  # L1 only
        await loaded(pilot)
        assert screen.phase == 1
        l1 = await c.history.dc_series(devices, "current", 1, 1, now=FIXED_CLOCK)
        every = await c.history.dc_series(devices, "current", 1, None, now=FIXED_CLOCK)
        assert plot.series == l1 and l1.avg[-1] < every.avg[-1]
        await pilot.press("p", "p", "p")  # L2, L3, back to all
        await loaded(pilot)
        assert screen.phase is None
        await pilot.press("q")  # active power, drawn in kW
        await loaded(pilot)
        power = await c.history.dc_series(devices, "activePower", 1, None, now=FIXED_CLOCK)
        assert screen.quantity == "activePower" and plot.series == power
        assert "kW" in status(screen)
        for _ in range(3):  # to residual current: the PDUs' totals, no phases
            await pilot.press("q")
            await loaded(pilot)
        assert screen.quantity == "residualCurrent"
        await pilot.press("p")
        assert "has no phases" in status(screen) and screen.phase is None
        await pilot.press("m")
        assert plot.show_minmax
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, DCChartScreen)
        assert isinstance(pilot.app.main.query_one("#page").children[0], DashboardPage)


@pytest.mark.asyncio(loop_scope="module")
async def test_site_chart_sums_every_pdu(with_history) -> None:
    c = with_history
    async with make_app(c).run_test(size=(80, 24)) as pilot:
        screen = await open_chart(pilot, None)
        assert screen.devices == c.structure.devices_in(None) and len(screen.devices) == 8
        assert screen.plot.series == await c.history.dc_series(screen.devices, "current", 1,
                                                                now=FIXED_CLOCK)


@pytest.mark.asyncio
async def test_empty_history_says_so(frozen) -> None:
    await frozen.history.clear()
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        screen = await open_chart(pilot, rack(frozen, "Rack 2").id)
        assert screen.plot.series is not None and not screen.plot.series.t
        assert "no history yet for Rack Hall A / Row 1 / Rack 2" in status(screen)


@pytest.mark.asyncio
async def test_element_without_pdus(frozen) -> None:
    from enerteg_tui.core.structure import Kind
    from tests.conftest import ADMIN

    row = next(e for e in frozen.structure.elements() if e.name == "Row 1")
    empty = await frozen.structure.create(ADMIN, Kind.RACK, "Rack 9", row.id)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        screen = await open_chart(pilot, empty.id)
        assert "No PDUs in this element" in status(screen)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.asyncio(loop_scope="module")
async def test_dc_chart_rack(with_history, snap, size) -> None:
    el = rack(with_history)

    async def go(pilot):
        await pilot.app.open_place(Place("element", el.id))
        await settle(pilot)
        await pilot.press("g")
        await loaded(pilot)

    assert await snap(make_app(with_history), size, go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.asyncio(loop_scope="module")
async def test_dc_chart_rack_week_power_l2(with_history, snap, size) -> None:
    el = rack(with_history)

    async def go(pilot):
        await pilot.app.open_place(Place("element", el.id))
        await settle(pilot)
        await pilot.press("g")
        await loaded(pilot)
        await pilot.press("7", "q", "p", "p", "m")
        await loaded(pilot)

    assert await snap(make_app(with_history), size, go)
