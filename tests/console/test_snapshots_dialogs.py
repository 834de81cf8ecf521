"""SVG snapshots of the console dialogs: switching, chart, palette, quit, too small (issue 5)."""

from __future__ import annotations

import pytest

from enerteg_tui.screens.tree import Place

from .conftest import SIZES, make_app, settle

sized = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def frozen(frozen_shared):
    """The module's shared frozen controller (snapshots only read it)."""
    return frozen_shared


async def _outlets(pilot, controller):
    """Open the controller PDU's device view with the cursor on outlet 1."""
    await pilot.app.open_place(Place("device", controller.live.ordered()[0].hex_id))
    await settle(pilot)
    pilot.app.screen.query_one("#outlets").focus(scroll_visible=False)
    await settle(pilot)


@sized
async def test_switch_dialog(frozen, snap, size):
    async def go(pilot):
        await _outlets(pilot, frozen)
        await pilot.press("u")

    assert await snap(make_app(frozen), size, go)


@sized
async def test_switch_dialog_poweron_role(frozen, snap, size):
    """A poweron user sees "switch off" and "power-cycle" refused, with the reason."""
    async def go(pilot):
        await _outlets(pilot, frozen)
        await pilot.press("u")

    assert await snap(make_app(frozen, "poweron"), size, go)


@sized
async def test_switch_confirm(frozen, snap, size):
    async def go(pilot):
        await _outlets(pilot, frozen)
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("0")

    assert await snap(make_app(frozen), size, go)


@sized
async def test_chart_realtime(frozen, snap, size):
    async def go(pilot):
        await pilot.app.open_place(Place("device", frozen.live.ordered()[0].hex_id))
        await settle(pilot)
        await pilot.press("down", "down", "right", "right", "right", "enter")  # L1 current

    assert await snap(make_app(frozen), size, go)


@sized
async def test_chart_no_history(frozen, snap, size):
    async def go(pilot):
        await pilot.app.open_place(Place("device", frozen.live.ordered()[0].hex_id))
        await settle(pilot)
        await pilot.press("down", "down", "right", "enter")
        await settle(pilot)
        await pilot.press("3")

    assert await snap(make_app(frozen), size, go)


@sized
async def test_palette_device_search(frozen, snap, size):
    hex_id = frozen.live.ordered()[1].hex_id

    async def go(pilot):
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*hex_id)
        await pilot.pause(0.3)

    assert await snap(make_app(frozen), size, go)


@sized
async def test_quit_confirm(frozen, snap, size):
    async def go(pilot):
        await pilot.press("q")

    assert await snap(make_app(frozen), size, go)


@sized
async def test_config_validation_error(frozen, snap, size):
    """A Device ID out of range is refused with the schema's words; nothing changes."""
    async def go(pilot):
        await pilot.app.open_place(Place("device", frozen.live.ordered()[0].hex_id))
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        pilot.app.screen.query_one("#f-deviceId").value = "999"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.pause(0.2)

    assert await snap(make_app(frozen), size, go)


async def test_terminal_too_small(frozen, snap):
    assert await snap(make_app(frozen), (60, 20))
