"""Pilot tests of the rules page (issue 8 part 3): list, create, edit, on/off, delete, report.

Every change is checked in the core (``controller.rules``) and every refusal against
the core's own words; readonly and the switching roles see no changing keys, and the
core still refuses when such a control is reached anyway.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from enerteg_tui.core.errors import Invalid, PermissionDenied
from enerteg_tui.core.permissions import Role
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.rule_form import OnOff, RuleForm
from enerteg_tui.screens.rules_page import RulesPage
from enerteg_tui.screens.structure_dialogs import ChoiceDialog
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN, READONLY
from tests.helpers import wait_for

from .conftest import make_app, settle


def page(app) -> RulesPage:
    p = app.main.query_one("#page").children[0]
    assert isinstance(p, RulesPage)
    return p


def keybar(app) -> str:
    return app.main.query_one(KeyBar)._text.plain


async def open_rules(pilot) -> RulesPage:
    await settle(pilot)
    await pilot.press("f6")
    await settle(pilot)
    return page(pilot.app)


async def fill_form(pilot, form: RuleForm, **values) -> None:
    """Choose selects in the manual's order, then type into the inputs."""
    for name in ("scope", "target", "quantity", "component", "unit"):
        if name in values:
            form.query_one(f"#f-{name}", Select).value = values.pop(name)
            await settle(pilot)
    for name, value in values.items():
        widget = form.query_one(f"#f-{name}")
        if isinstance(widget, OnOff):
            widget.value = bool(value)
        else:
            assert isinstance(widget, Input)
            widget.value = str(value)
    await settle(pilot)


async def test_list_shows_every_rule_with_detail(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_rules(pilot)
        rows = p.table.rows
        assert [r.key for r in rows] == [r.id for r in frozen.rules.all()]
        first = rows[0].cells
        assert first["name"] == "Phase current" and first["scope"] == "all PDUs"
        assert first["measure"] == "Current · phases"
        assert first["warningAbove"] == "80 %" and first["criticalAbove"] == "90 %"
        assert first["warningBelow"] == "—" and first["hyst"] == "auto" and first["dur"] == "5 s"
        detail = str(p.query_one("#detail").render())
        assert 'Rule 1 "Phase current"' in detail and "Crit > 90 %" in detail
        await pilot.press("down", "down")
        await settle(pilot)
        assert 'Rule 3 "Residual current"' in str(p.query_one("#detail").render())
        assert " n New " in keybar(app) and " d Delete " in keybar(app)


async def test_create_rule_in_the_manuals_order(frozen):
    rack = next(e for e in frozen.structure.elements() if e.name == "Rack 1")
    before = {r.id for r in frozen.rules.all()}
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_rules(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RuleForm)
        # scope narrows the targets to what exists; measurement narrows the restriction
        await fill_form(pilot, form, scope="rack")
        targets = [v for _, v in form.query_one("#f-target", Select)._options]
        assert str(rack.id) in targets and "" not in targets
        await fill_form(pilot, form, target=str(rack.id), quantity="voltage")
        comps = [v for _, v in form.query_one("#f-component", Select)._options]
        assert comps == ["", "i", "b", "o"]            # voltage: no totals, no sensors
        await fill_form(pilot, form, component="o")
        assert [v for _, v in form.query_one("#f-unit", Select)._options] == ["V"]
        assert not form.query_one("#f-index-from", Input).disabled
        form.query_one("#f-name", Input).focus()
        await pilot.press(*"Rack 1 outlet volts")
        await fill_form(pilot, form, **{"index-from": 1, "index-to": 8, "warningAbove-on": True,
                                        "warningAbove": 250, "criticalAbove-on": True,
                                        "criticalAbove": 255, "hysteresis": 1.5, "duration": 10})
        assert str(form.query_one("#f-warningAbove-on", OnOff).label) == "on"
        await pilot.press("ctrl+s")
        await wait_for(lambda: len(frozen.rules.all()) == len(before) + 1)
        await settle(pilot)
        new = next(r for r in frozen.rules.all() if r.id not in before)
        d = new.doc
        assert (d.name, d.scope, d.target, d.quantity, d.component) == (
            "Rack 1 outlet volts", "rack", str(rack.id), "voltage", "o")
        assert (d.indexFrom, d.indexTo, d.unit) == (1, 8, "V")
        assert d.warningAbove.enabled and d.warningAbove.value == 250
        assert d.criticalAbove.value == 255 and not d.warningBelow.enabled
        assert (d.hysteresis, d.minDurationSeconds, d.enabled) == (1.5, 10, True)
        assert not isinstance(app.screen, RuleForm)
        await wait_for(lambda: new.id in [r.key for r in p.table.rows])
        assert p.table.current.key == new.id
        assert p.table.current.cells["scope"] == "rack Hall A / Row 1 / Rack 1"
        assert p.table.current.cells["measure"] == "Voltage · outlets 1–8"


async def test_invalid_rule_gets_the_shells_message_and_saves_nothing(frozen):
    rack = next(e for e in frozen.structure.elements() if e.name == "Rack 2")
    count = len(frozen.rules.all())
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rules(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        await fill_form(pilot, form, scope="rack", target=str(rack.id), quantity="voltage",
                        component="o", name="Rack 2 volts", **{
                            "warningAbove-on": True, "warningAbove": 250,
                            "criticalAbove-on": True, "criticalAbove": 240})
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = str(form.query_one("#form-error").render())
        with pytest.raises(Invalid) as shell:
            await frozen.topics.put(ADMIN, "rules/new", {
                "name": "Rack 2 volts", "scope": "rack", "target": str(rack.id),
                "quantity": "voltage", "component": "o", "warningAbove.enabled": "true",
                "warningAbove.value": "250", "criticalAbove.enabled": "true",
                "criticalAbove.value": "240"})
        assert error == str(shell.value)
        assert error.startswith("rules/new: criticalAbove.value = 240.0 is not allowed")
        assert app.screen is form and len(frozen.rules.all()) == count
        # a value that is not a number: pydantic's words, through the core
        await fill_form(pilot, form, criticalAbove="abc")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert str(form.query_one("#form-error").render()) == (
            "rules/new: criticalAbove.value = 'abc' is not allowed; allowed is a number")
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, RuleForm) and len(frozen.rules.all()) == count


async def test_edit_toggle_and_delete(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_rules(pilot)
        await pilot.press("down", "down", "e")              # rule 3, Residual current
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RuleForm) and form.rule_id == 3
        assert form.query_one("#f-warningAbove", Input).value == "15"
        assert form.query_one("#f-component", Select).value == "t"
        await fill_form(pilot, form, warningAbove=20)
        await pilot.press("ctrl+s")
        await wait_for(lambda: frozen.rules.get(3).doc.warningAbove.value == 20)
        assert frozen.rules.get(3).doc.criticalAbove.value == 30     # the rest kept
        await settle(pilot)
        assert p.table.current.key == 3
        # switch it off and on again
        await pilot.press("t")
        await wait_for(lambda: not frozen.rules.get(3).doc.enabled)
        await wait_for(lambda: str(p.table.row(3).cells["on"]) == "✘")
        await pilot.press("t")
        await wait_for(lambda: frozen.rules.get(3).doc.enabled)
        # delete: "n" keeps, "y" deletes
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert 'Delete rule 3 "Residual current"' in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert 3 in [r.id for r in frozen.rules.all()]
        assert "kept" in str(p.query_one("#message").render())
        await pilot.press("delete")
        await settle(pilot)
        await pilot.press("y")
        await wait_for(lambda: 3 not in [r.id for r in frozen.rules.all()])
        await wait_for(lambda: 3 not in [r.key for r in p.table.rows])
        assert 'Rule 3 "Residual current" deleted' in str(p.query_one("#message").render())
        actions = [(e.action, e.user, e.object) for e in await frozen.audit.query(ADMIN, limit=20)]
        assert ("rule.delete", "admin", "rules/3") in actions
        assert ("rule.change", "admin", "rules/3") in actions


@pytest.mark.parametrize("role", [r.value for r in Role])
async def test_role_matrix_of_the_rule_keys(frozen, role):
    """admin and readwrite see the changing keys; the other roles do not."""
    app = make_app(frozen, role)
    may = role in ("admin", "readwrite")
    async with app.run_test(size=(160, 48)) as pilot:
        p = await open_rules(pilot)
        bar = keybar(app)
        for key in (" n New ", " e Edit ", " t On/off ", " d Delete "):
            assert (key in bar) is may, (role, key, bar)
        assert " r Report " in bar
        assert ("read only" in str(p.query_one("#title").render())) is not may


async def test_readonly_is_refused_by_the_core(frozen):
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_rules(pilot)
        await pilot.press("n", "e", "t", "d")                # hidden keys do nothing
        await settle(pilot)
        assert app.screen is app.main and frozen.rules.get(1).doc.enabled
        # the page's own action reached anyway: the core says no, nothing changes
        await p.action_toggle().wait()
        await settle(pilot)
        msg = str(p.query_one("#message").render())
        assert msg.startswith("Permission denied: user 'readonly' (roles readonly) may not "
                              "edit-rules on rules/1")
        assert frozen.rules.get(1).doc.enabled
        # and the form: it opens, but saving is refused in the core's words
        count = len(frozen.rules.all())
        app.push_screen(RuleForm())
        await settle(pilot)
        form = app.screen
        await fill_form(pilot, form, name="not allowed", **{"warningAbove-on": True,
                                                            "warningAbove": 10})
        await pilot.press("ctrl+s")
        await settle(pilot)
        with pytest.raises(PermissionDenied) as core:
            await frozen.rules.create(READONLY, form.document())
        assert str(form.query_one("#form-error").render()) == str(core.value)
        assert len(frozen.rules.all()) == count


async def test_rule_report_of_a_device(frozen):
    live = frozen.live.ordered()[0]
    hex_id = live.hex_id
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.open_place(Place("rules", hex_id))
        await settle(pilot)
        p = page(app)
        assert p.hex_id == hex_id
        keys = [r.key for r in p.table.rows]
        core = frozen.alarms.report(ADMIN, hex_id)["channels"]
        assert keys == [(c["component"], c["index"], c["quantity"]) for c in core if c["rule"]]
        row = p.table.row(("i", 1, "current"))
        assert row.cells["rule"] == "1 Phase current" and str(row.cells["state"]) == "ok"
        rating = live.info.model.rating_a
        assert row.cells["warningAbove"] == f"{rating * 0.8:g} A"
        assert row.cells["criticalAbove"] == f"{rating * 0.9:g} A"
        title = str(p.query_one("#title").render())
        assert f"Rule report: {live.info.display_name} ({hex_id})" in title
        # filters: governed → watched → every channel
        governed = len(p.table.rows)
        await pilot.press("f")
        await settle(pilot)
        assert p.report_filter == "watched" and len(p.table.rows) <= governed
        await pilot.press("f")
        await settle(pilot)
        assert len(p.table.rows) == len(core)
        await pilot.press("f")
        await settle(pilot)
        # a rule for the highlighted channel (phase L1) from the report governs it at once
        table = p.table
        table.cursor_row = [r.key for r in table.rows].index(("i", 1, "current"))
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RuleForm)
        assert form.query_one("#f-scope", Select).value == "pdu"
        assert form.query_one("#f-target", Select).value == hex_id
        assert form.query_one("#f-component", Select).value == "i"
        assert form.query_one("#f-index-from", Input).value == "1"
        await fill_form(pilot, form, **{"warningAbove-on": True, "warningAbove": 12})
        await pilot.press("ctrl+s")
        await wait_for(lambda: p.table.row(("i", 1, "current")).cells["rule"] != "1 Phase current")
        new = frozen.rules.all()[-1]
        assert new.doc.scope == "pdu" and new.doc.target == hex_id
        assert p.table.row(("i", 1, "current")).cells["rule"] == f"{new.id} {new.name}"[:64]
        assert p.table.row(("i", 2, "current")).cells["rule"] == "1 Phase current"
        # e edits the governing rule of the highlighted channel
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, RuleForm) and app.screen.rule_id == new.id
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert page(app).hex_id is None


async def test_report_key_chooses_a_device(frozen):
    hex_id = frozen.live.ordered()[2].hex_id
    app = make_app(frozen, "readonly")                   # reading the report needs read only
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rules(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press(*hex_id, "enter")
        await settle(pilot)
        await settle(pilot)
        assert page(app).hex_id == hex_id
        await pilot.press("escape")                       # back to the list
        await settle(pilot)
        assert page(app).hex_id is None


async def test_unknown_device_report_is_refused_with_the_cores_words(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_rules(pilot)
        await app.open_place(Place("rules", "zzzzz"))
        await settle(pilot)
        assert page(app) is p
        assert any("PDU 'zzzzz' does not exist" in n.message for n in app._notifications)


async def test_editor_shows_only_the_thresholds_switched_on_and_saves_one(frozen):
    """Issue 14 item 10: a rule with one threshold showed all four switched on, and saving
    it failed with "criticalAbove.value = 0.0 is not allowed"."""
    rule = await frozen.rules.create(ADMIN, {
        "name": "one threshold", "quantity": "current", "component": "t",
        "warningAbove": {"enabled": True, "value": 12}})
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_rules(pilot)
        p.table.cursor_row = [r.key for r in p.table.rows].index(rule.id)
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RuleForm) and form.rule_id == rule.id
        shown = {key: form.query_one(f"#f-{key}-on", OnOff).value
                 for key in ("criticalAbove", "warningAbove", "warningBelow", "criticalBelow")}
        assert shown == {"criticalAbove": False, "warningAbove": True, "warningBelow": False,
                         "criticalBelow": False}
        assert [str(form.query_one(f"#f-{key}-on", OnOff).label) for key in shown] == [
            "off", "on", "off", "off"]
        await fill_form(pilot, form, name="one threshold, renamed")
        await pilot.press("ctrl+s")
        await wait_for(lambda: frozen.rules.get(rule.id).name == "one threshold, renamed")
        doc = frozen.rules.get(rule.id).doc
        assert doc.warningAbove.enabled and doc.warningAbove.value == 12
        assert not (doc.criticalAbove.enabled or doc.warningBelow.enabled
                    or doc.criticalBelow.enabled)
