"""SVG snapshots of the console pages: dashboards, device list, device view tabs (issue 5)."""

from __future__ import annotations

import pytest

from enerteg_tui.screens.tree import Place

from .conftest import SIZES, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest.fixture
def frozen(frozen_shared):
    """The module's shared frozen controller (snapshots only read it)."""
    return frozen_shared


async def test_site_dashboard(frozen, snap, size):
    """The console opens on the site dashboard, tree and header around it."""
    assert await snap(make_app(frozen), size)


async def test_rack_dashboard(frozen, snap, size):
    rack = next(e for e in frozen.structure.elements() if e.name == "Rack 1")

    async def go(pilot):
        await pilot.app.open_place(Place("element", rack.id))
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_row_dashboard(frozen, snap, size):
    row = next(e for e in frozen.structure.elements() if e.name == "Row 1")

    async def go(pilot):
        await pilot.app.open_place(Place("element", row.id))
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_device_list(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f3")

    assert await snap(make_app(frozen), size, go)


async def test_device_list_unassigned_search(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f3", "f", "f", "slash", *"pdu #")

    assert await snap(make_app(frozen), size, go)


async def test_device_information(frozen, snap, size):
    hex_id = frozen.live.ordered()[0].hex_id

    async def go(pilot):
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_device_information_outlets(frozen, snap, size):
    """Cursor moved down into the outlet table (scrolled into view)."""
    hex_id = frozen.live.ordered()[0].hex_id

    async def go(pilot):
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)
        pilot.app.screen.query_one("#outlets").focus(scroll_visible=False)
        await pilot.press("down", "down")

    assert await snap(make_app(frozen), size, go)


async def test_device_identification(frozen, snap, size):
    hex_id = frozen.live.ordered()[0].hex_id

    async def go(pilot):
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)
        await pilot.press("2")

    assert await snap(make_app(frozen), size, go)


async def test_device_configuration(frozen, snap, size):
    hex_id = frozen.live.ordered()[0].hex_id

    async def go(pilot):
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)
        await pilot.press("3")

    assert await snap(make_app(frozen), size, go)


async def test_device_configuration_readonly(frozen, snap, size):
    hex_id = frozen.live.ordered()[0].hex_id

    async def go(pilot):
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)
        await pilot.press("3")

    assert await snap(make_app(frozen, "readonly"), size, go)


async def test_device_information_no_color(frozen, snap, size):
    """NO_COLOR / a vt100: the same device view in greys, states still told by shapes."""
    from enerteg_tui.protocols.terminal_caps import apply_terminal_caps

    hex_id = frozen.live.ordered()[1].hex_id
    app = make_app(frozen)
    apply_terminal_caps(app, "xterm-256color", {"NO_COLOR": "1"})

    async def go(pilot):
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)

    assert await snap(app, size, go)
