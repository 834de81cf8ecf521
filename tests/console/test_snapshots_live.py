"""SVG snapshots of the display preferences dialog and a history chart with its cursor
and min/max band (issue 18 items 5 and 6)."""

from __future__ import annotations

import pytest

from enerteg_tui.core.quantities import Channel, Component
from enerteg_tui.screens.chart import ChannelPlot, ChartScreen
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import SIZES, make_app, settle
from .test_dc_chart import with_history  # noqa: F401  (three days of history, module-scoped)

sized = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def frozen(frozen_shared):
    """The module's shared frozen controller (snapshots only read it)."""
    return frozen_shared


@sized
async def test_display_preferences(frozen, snap, size):
    async def go(pilot):
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Display pref")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)

    assert await snap(make_app(frozen, "readonly"), size, go)


@sized
async def test_chart_3d_band_and_cursor(with_history, snap, size):  # noqa: F811
    """Three days of history: dates at midnight, hours between, 0 on the current axis,
    the min/max band, and the cursor's read-out three points back from the end."""
    async def go(pilot):
        hex_id = with_history.live.ordered()[0].hex_id
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)
        pilot.app.push_screen(ChartScreen(Channel(hex_id, Component.INPUT, 1, "current")))
        await settle(pilot)
        plot = pilot.app.screen.query_one(ChannelPlot)
        await pilot.press("3")
        await wait_for(lambda: plot.series is not None, timeout=20)
        await pilot.press("m", "left", "left", "left")

    assert await snap(make_app(with_history), size, go)
