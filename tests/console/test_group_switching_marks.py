"""Pilot tests of switching a set of PDUs (marked on the device list) and an outlet group
(marked in the device view's outlet table) through the group switching dialog (manual
§6.1): space marks, ``u`` opens the dialog with the impact, ``y`` switches one after the
other, the audit has the run; nothing marked keeps the single-outlet ``u``."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Static

from enerteg_tui.screens.device_list import DeviceListPage
from enerteg_tui.screens.group_switching import GroupSwitchDialog
from enerteg_tui.screens.listtable import ListTable
from enerteg_tui.screens.switching import SwitchDialog
from enerteg_tui.screens.tree import Place
from tests.conftest import principal
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


def _text(dialog: Any, wid: str) -> str:
    return str(dialog.query_one(wid, Static).render())


async def _move_to(pilot: Any, table: ListTable, key: object) -> None:
    """Walk the cursor to the row ``key`` with the arrow keys."""
    await pilot.press("home")
    for _ in range([r.key for r in table.rows].index(key)):
        await pilot.press("down")
    await settle(pilot)
    assert table.current is not None and table.current.key == key


async def _run_off(pilot: Any, dialog: GroupSwitchDialog) -> None:
    """0 (off), gap 0, y; wait for the end of the run."""
    await pilot.press("0")
    await settle(pilot)
    assert dialog.stage == "confirm"
    dialog.query_one("#gap", Input).value = "0"
    await settle(pilot)
    dialog.query_one("#no").focus()
    await pilot.press("y")
    await wait_for(lambda: dialog.stage == "done", timeout=20)
    await settle(pilot)


async def _outlet_audit(c: Any) -> list[tuple[str, str]]:
    entries = await c.audit.query(principal("admin"), limit=200)
    return [(e.action, e.object) for e in reversed(entries) if e.action.startswith("outlet.")]


async def test_marked_pdus_switch_as_a_set(frozen) -> None:
    lives = [d for d in frozen.live.ordered() if d.info.model.switchable][:2]
    hexes = [d.hex_id for d in lives]
    n = sum(d.info.model.outlets for d in lives)
    app = make_app(frozen)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(page(app), DeviceListPage)
        table = page(app).query_one(ListTable)
        table.focus()
        for hx in hexes:
            await _move_to(pilot, table, hx)
            await pilot.press("space")
            await settle(pilot)
        assert table.marked_keys() == hexes
        assert "2 marked (u switches)" in str(page(app).query_one("#mode").render())
        await pilot.press("u")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, GroupSwitchDialog) and dialog.devices == tuple(hexes)
        assert f"2 marked PDU(s), {n} switched outlet(s)" in _text(dialog, "#what")
        await _run_off(pilot, dialog)
        assert f"[{n}/{n}]" in _text(dialog, "#progress")
        assert f"{n} outlet(s) of 2 PDUs switched off." in _text(dialog, "#outcome")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(page(app), DeviceListPage) and table.marked_keys() == []
    audit = await _outlet_audit(frozen)
    target = ",".join(f"sensor/{h}" for h in hexes)
    assert audit[0] == ("outlet.group.start", target)
    assert audit[-1] == ("outlet.group.done", target)
    assert [a for a, _ in audit[1:-1]] == ["outlet.off"] * n
    assert {o.split("/o/")[0] for _, o in audit[1:-1]} == {f"sensor/{h}" for h in hexes}


async def test_marked_outlets_switch_as_a_group_and_unmarked_u_stays_single(frozen) -> None:
    hex_id = next(d for d in frozen.live.ordered() if d.info.model.switchable).hex_id
    app = make_app(frozen)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await app.open_place(Place("device", hex_id))
        await settle(pilot)
        table = page(app).query_one("#outlets", ListTable)
        table.focus()
        await _move_to(pilot, table, 2)
        await pilot.press("space")                 # mark and unmark: nothing marked
        await pilot.press("space")
        await settle(pilot)
        assert table.marked_keys() == []
        await pilot.press("u")                     # the single-outlet dialog, as before
        await settle(pilot)
        assert isinstance(app.screen, SwitchDialog)
        await pilot.press("escape")
        await settle(pilot)
        for n in (2, 4, 5):
            await _move_to(pilot, table, n)
            await pilot.press("space")
        await _move_to(pilot, table, 5)
        await pilot.press("space")                 # unmark 5 again
        await settle(pilot)
        assert table.marked_keys() == [2, 4]
        await pilot.press("u")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, GroupSwitchDialog)
        assert dialog.outlets == ((hex_id, 2), (hex_id, 4))
        assert "2 marked outlet(s) of PDU" in _text(dialog, "#what")
        await pilot.press("0")
        await settle(pilot)
        assert "Switch off 2 outlet(s) of an outlet group" in _text(dialog, "#impact")
        dialog.query_one("#gap", Input).value = "0"
        await settle(pilot)
        dialog.query_one("#no").focus()
        await pilot.press("y")
        await wait_for(lambda: dialog.stage == "done", timeout=20)
        await settle(pilot)
        assert "2 outlet(s) of an outlet group switched off." in _text(dialog, "#outcome")
        await pilot.press("escape")
        await settle(pilot)
        assert table.marked_keys() == []
    audit = await _outlet_audit(frozen)
    assert audit == [("outlet.group.start", f"sensor/{hex_id}"),
                     ("outlet.off", f"sensor/{hex_id}/o/2"), ("outlet.off", f"sensor/{hex_id}/o/4"),
                     ("outlet.group.done", f"sensor/{hex_id}")]


async def test_readonly_cannot_mark_or_switch_pdus(frozen) -> None:
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        table = page(app).query_one(ListTable)
        table.focus()
        await pilot.press("space", "u")
        await settle(pilot)
        assert table.marked_keys() == []
        assert not isinstance(app.screen, GroupSwitchDialog)
    assert await _outlet_audit(frozen) == []
