"""Pilot tests of outlet switching (manual §7.3): unlock, choose, confirm, pending, refusals."""

from __future__ import annotations

from enerteg_tui.core.model import OutletState
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.switching import SwitchDialog
from enerteg_tui.screens.tree import Place
from tests.conftest import principal
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


async def _to_outlet(app, pilot, hex_id, outlet=1):
    await settle(pilot)
    await app.open_place(Place("device", hex_id))
    await settle(pilot)
    table = page(app).query_one("#outlets")
    table.focus()
    table.cursor_row = outlet - 1
    await settle(pilot)
    return table


async def test_switch_off_pending_then_reported_and_audited(ticking):
    hex_id = ticking.live.ordered()[0].hex_id
    app = make_app(ticking)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _to_outlet(app, pilot, hex_id, 3)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, SwitchDialog)
        assert app.screen.query_one("#do-on").disabled  # already on
        await pilot.press("0")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        live = ticking.live.get(hex_id)
        # pending until the PDU reports (relay acts after the 250 ms outlet delay)
        await wait_for(lambda: "pend" in str(table.row(3).cells["state"]) or
                       live.outlet_states[3] is OutletState.OFF, timeout=3)
        await wait_for(lambda: live.outlet_states[3] is OutletState.OFF and 3 not in live.pending_outlets,
                       timeout=5)
        await wait_for(lambda: "off" in str(table.row(3).cells["state"])
                       and "pend" not in str(table.row(3).cells["state"]), timeout=5)
        entries = await ticking.audit.query(principal("admin"), limit=50)
        off = [e for e in entries if e.action == "outlet.off"]
        assert off and off[0].user == "admin" and off[0].object == f"sensor/{hex_id}/o/3"


async def test_cancel_at_confirm_switches_nothing(frozen):
    hex_id = frozen.live.ordered()[0].hex_id
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_outlet(app, pilot, hex_id)
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("0")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert not frozen.live.get(hex_id).pending_outlets
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, SwitchDialog)


async def test_readonly_is_refused_with_reason(frozen):
    hex_id = frozen.live.ordered()[0].hex_id
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_outlet(app, pilot, hex_id)
        await pilot.press("u")
        await settle(pilot)
        assert not isinstance(app.screen, SwitchDialog)
        messages = [str(n.message) for n in app._notifications]
        assert any("Permission denied" in m and "readonly" in m for m in messages)


async def test_poweroff_role_may_only_switch_off(frozen):
    hex_id = frozen.live.ordered()[0].hex_id
    app = make_app(frozen, "poweroff")
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_outlet(app, pilot, hex_id)
        await pilot.press("u")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, SwitchDialog)
        assert dialog.query_one("#do-on").disabled and dialog.query_one("#do-cycle").disabled
        assert not dialog.query_one("#do-off").disabled
        why = str(dialog.query_one("#why").render())
        assert "switch-on" in why and "poweron" in why
        await pilot.press("r")  # refused: says why, stays open
        await settle(pilot)
        assert isinstance(app.screen, SwitchDialog)


async def test_unswitchable_pdu_says_so(frozen):
    metered = next(d for d in frozen.live.ordered()
                   if d.info.model.outlets and not d.info.model.switchable)
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_outlet(app, pilot, metered.hex_id)
        await pilot.press("u")
        await settle(pilot)
        assert not isinstance(app.screen, SwitchDialog)
        assert any("no switchable outlets" in str(n.message) for n in app._notifications)
