"""Pilot tests of switching a rack from its dashboard (manual §6.1): unlock, choose, the
impact, the gap, confirm, progress per outlet, stop, refusals, audit."""

from __future__ import annotations

from textual.widgets import Input, Static

from enerteg_tui.core.model import OutletState
from enerteg_tui.screens.group_switching import GroupSwitchDialog
from enerteg_tui.screens.tree import Place
from tests.conftest import principal
from tests.helpers import wait_for

from .conftest import make_app, settle


def _rack(c, name="Rack 1"):
    return next(e for e in c.structure.elements() if e.name == name)


def _switchable_outlets(c, rack_id) -> int:
    return sum(c.live.get(h).info.model.outlets for h in c.structure.devices_in(rack_id)
               if c.live.get(h).info.model.switchable)


async def _open(app, pilot, element_id) -> None:
    await settle(pilot)
    await app.open_place(Place("element", element_id))
    await settle(pilot)


def _text(dialog, wid: str) -> str:
    return str(dialog.query_one(wid, Static).render())


async def test_switch_rack_off_shows_impact_and_progress(frozen) -> None:
    rack = _rack(frozen)
    n = _switchable_outlets(frozen, rack.id)
    app = make_app(frozen)
    async with app.run_test(size=(100, 40)) as pilot:
        await _open(app, pilot, rack.id)
        await pilot.press("u")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, GroupSwitchDialog)
        assert f"{n} switched outlet(s)" in _text(dialog, "#what")
        await pilot.press("0")
        await settle(pilot)
        impact = _text(dialog, "#impact")
        assert f"Switch off {n} outlet(s) of rack \"Hall A / Row 1 / Rack 1\"" in impact
        assert "Load that will drop:" in impact and "loses power" in impact
        assert dialog.query_one("#gap", Input).value == "0.25"
        dialog.query_one("#gap", Input).value = "abc"
        await settle(pilot)
        assert "not a number" in _text(dialog, "#error")
        dialog.query_one("#gap", Input).value = "0"
        await settle(pilot)
        assert "one every 0 s (given)" in _text(dialog, "#impact")
        dialog.query_one("#no").focus()
        await pilot.press("y")
        await wait_for(lambda: dialog.stage == "done", timeout=20)
        await settle(pilot)
        assert f"[{n}/{n}]" in _text(dialog, "#progress")
        assert f"{n} outlet(s) of rack \"Hall A / Row 1 / Rack 1\" switched off." in \
            _text(dialog, "#outcome")
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, GroupSwitchDialog)
    entries = await frozen.audit.query(principal("admin"), limit=100)
    actions = [e.action for e in reversed(entries) if e.action.startswith("outlet.")]
    assert actions == ["outlet.group.start"] + ["outlet.off"] * n + ["outlet.group.done"]
    assert all(e.user == "admin" for e in entries if e.action.startswith("outlet."))


async def test_cancel_at_impact_and_stop_midway(frozen) -> None:
    rack = _rack(frozen)
    app = make_app(frozen)
    async with app.run_test(size=(100, 40)) as pilot:
        await _open(app, pilot, rack.id)
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("0")
        await settle(pilot)
        await pilot.press("n")                 # cancel at the confirmation
        await settle(pilot)
        assert not isinstance(app.screen, GroupSwitchDialog)
        assert not any(frozen.live.get(h).pending_outlets for h in frozen.structure.devices_in(rack.id))
        await pilot.press("u")
        await settle(pilot)
        dialog = app.screen
        await pilot.press("0")
        await settle(pilot)
        dialog.query_one("#gap", Input).value = "30"
        await settle(pilot)
        dialog.query_one("#no").focus()
        await pilot.press("y")
        await wait_for(lambda: "[1/" in _text(dialog, "#progress"), timeout=10)
        await pilot.press("s")                 # stop while waiting the 30 s gap
        await wait_for(lambda: dialog.stage == "done", timeout=10)
        await settle(pilot)
        assert "Stopped between two outlets" in _text(dialog, "#outcome")
    moved = sum(1 for h in frozen.structure.devices_in(rack.id)
                for n, st in frozen.live.get(h).outlet_states.items()
                if n in frozen.live.get(h).pending_outlets or st is OutletState.OFF)
    assert moved == 1                          # pending, or already reported off
    entries = await frozen.audit.query(principal("admin"), limit=20)
    stopped = [e for e in entries if e.action == "outlet.group.interrupted"]
    assert stopped and "Interrupted after 1 of" in stopped[0].message


async def test_roles(frozen) -> None:
    rack = _rack(frozen)
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(100, 40)) as pilot:
        await _open(app, pilot, rack.id)
        await pilot.press("u")                 # no switch right: the key is not offered
        await settle(pilot)
        assert not isinstance(app.screen, GroupSwitchDialog)
    app = make_app(frozen, "poweroff")
    async with app.run_test(size=(100, 40)) as pilot:
        await _open(app, pilot, rack.id)
        await pilot.press("u")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, GroupSwitchDialog)
        assert dialog.query_one("#do-on").disabled and dialog.query_one("#do-cycle").disabled
        assert not dialog.query_one("#do-off").disabled
        assert "switch-on" in _text(dialog, "#why")
        await pilot.press("1")                 # refused, says why, stays
        await settle(pilot)
        assert dialog.stage == "choose" and isinstance(app.screen, GroupSwitchDialog)
    assert all(frozen.live.get(h).outlet_states.get(1) is not OutletState.OFF
               for h in frozen.structure.devices_in(rack.id))
