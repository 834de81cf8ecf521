"""Pilot tests: rules on a rack's own totals in the console (dashboard, alarms page,
rule form, the element's rule report) and the report per rule (``g`` on the rules page)."""

from __future__ import annotations

from textual.widgets import Select, Static

from enerteg_tui.screens.alarms_page import AlarmsPage
from enerteg_tui.screens.dashboard import DashboardPage
from enerteg_tui.screens.rule_form import RuleForm
from enerteg_tui.screens.rule_report import RuleReportScreen
from enerteg_tui.screens.rules_page import RulesPage
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle


def _page(app):
    return app.main.query_one("#page").children[0]


async def _rack_rule(c, **kw):
    rack = next(e for e in c.structure.elements() if e.name == "Rack 1")
    doc = {"name": "Rack total", "scope": "rack", "target": str(rack.id), "quantity": "current",
           "component": "t", "elementTotals": True, "minDurationSeconds": 0,
           "warningAbove": {"enabled": True, "value": 10.0},
           "criticalAbove": {"enabled": True, "value": 40.0}}
    doc.update(kw)
    rule = await c.rules.create(ADMIN, doc)
    c.alarms.on_sweep()                      # the frozen controller sweeps no more
    return rack, rule


async def test_dashboard_and_alarms_page_show_the_racks_own_alarm(frozen) -> None:
    rack, rule = await _rack_rule(frozen)
    alarm = next(a for a in frozen.alarms.active() if a.rule_id == rule.id)
    app = make_app(frozen)
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        await app.open_place(Place("element", rack.id))
        await settle(pilot)
        page = _page(app)
        assert isinstance(page, DashboardPage)
        alarms = str(page.query_one("#alarms", Static).render())
        assert 'for rack "Hall A / Row 1 / Rack 1"' in alarms and "at the totals" in alarms
        totals = str(page.query_one("#totals-rules", Static).render())
        assert "total.current" in totals and "warning" in totals
        assert f'rule {rule.id} "Rack total" warn > 10 crit > 40 A' in totals
        agg = {r.key: r for r in page.query_one("#aggregate").rows}
        assert str(agg["current"].cells["total"]).startswith("▲")     # the total in alarm
        assert not str(agg["current"].cells["L1"]).startswith(("▲", "◆"))  # not watched
        # the row above shows it too (alarms of the elements under it)
        row = frozen.structure.get(rack.parent_id)
        await app.open_place(Place("element", row.id))
        await settle(pilot)
        assert "at the totals" in str(_page(app).query_one("#alarms", Static).render())
        # the alarms page names the rack and enter goes to its dashboard
        await app.open_place(Place("alarms"))
        await settle(pilot)
        alarms_page = _page(app)
        assert isinstance(alarms_page, AlarmsPage)
        table = alarms_page.query_one("LiveTable")
        keys = [r.key for r in table.rows]
        table.cursor_row = keys.index(alarm.id)
        table.focus()
        await settle(pilot)
        assert "its own totals" in str(table.rows[keys.index(alarm.id)].cells["device"])
        await pilot.press("enter")
        await wait_for(lambda: isinstance(_page(app), DashboardPage)
                       and _page(app).element_id == rack.id, timeout=5)


async def test_element_report_and_rule_report(frozen) -> None:
    rack, rule = await _rack_rule(frozen)
    app = make_app(frozen)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await app.open_place(Place("rules", f"dc:{rack.id}"))
        await settle(pilot)
        page = _page(app)
        assert isinstance(page, RulesPage) and page.element_id == rack.id
        title = str(page.query_one("#title").render())
        assert "totals of rack Hall A / Row 1 / Rack 1" in title
        rows = {r.cells["channel"]: r for r in page.table.rows}
        assert list(rows) == ["total.current"]            # governed only (filter)
        assert rows["total.current"].cells["rule"] == f"{rule.id} Rack total"
        # the rule list: g opens the report of the highlighted rule
        await app.open_place(Place("rules"))
        await settle(pilot)
        page = _page(app)
        table = page.table
        table.cursor_row = [r.key for r in table.rows].index(1)   # "Phase current"
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RuleReportScreen)
        summary = str(screen.query_one("#summary", Static).render())
        phases = sum(d.info.model.phases for d in frozen.live.ordered())
        assert f"Governs {phases} channel(s)" in summary
        assert len(screen.query_one("LiveTable").rows) == phases
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, RuleReportScreen)


async def test_form_keeps_and_sets_element_totals(frozen) -> None:
    rack, rule = await _rack_rule(frozen)
    app = make_app(frozen)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await app.open_place(Place("rules"))
        await settle(pilot)
        page = _page(app)
        page.table.cursor_row = [r.key for r in page.table.rows].index(rule.id)
        await settle(pilot)
        assert str(page.table.current.cells["scope"]).startswith("totals of rack")
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RuleForm)
        assert form.query_one("#f-watch", Select).value == "totals"
        await pilot.press("ctrl+s")                        # saved unchanged: still totals
        await wait_for(lambda: not isinstance(app.screen, RuleForm), timeout=5)
        assert frozen.rules.get(rule.id).doc.elementTotals
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-watch", Select).value = "pdus"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, RuleForm), timeout=5)
        assert not frozen.rules.get(rule.id).doc.elementTotals
