"""SVG snapshots of issue 19's switching and rules screens: the switch dialog of a rack
(impact stage), the report of one rule (``g``), a rack's rule report of its own totals,
and the rack's dashboard with an alarm on its totals. The shared controller gets one
rule on Rack 1's total current (warning above 10 A, so in alarm) before the first
snapshot; nothing is switched (the dialog is left at the confirmation)."""

from __future__ import annotations

import pytest

from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN

from .conftest import SIZES, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]


def _rack(c):
    return next(e for e in c.structure.elements() if e.name == "Rack 1")


@pytest.fixture
async def frozen(frozen_shared):
    """The module's shared frozen controller with the rack rule in place."""
    c = frozen_shared
    if not any(r.name == "Rack 1 total" for r in c.rules.all()):
        rack = _rack(c)
        await c.rules.create(ADMIN, {
            "name": "Rack 1 total", "scope": "rack", "target": str(rack.id),
            "quantity": "current", "component": "t", "elementTotals": True,
            "minDurationSeconds": 0, "warningAbove": {"enabled": True, "value": 10.0},
            "criticalAbove": {"enabled": True, "value": 40.0}})
        c.alarms.on_sweep()
        await c.alarms.flush()
    return c


async def test_group_switch_impact(frozen, snap, size):
    async def go(pilot):
        await pilot.app.open_place(Place("element", _rack(frozen).id))
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("0")

    assert await snap(make_app(frozen), size, go)


async def test_rule_report_of_one_rule(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("g")                      # rule 1, "Phase current"

    assert await snap(make_app(frozen), size, go)


async def test_rack_totals_rule_report(frozen, snap, size):
    async def go(pilot):
        await pilot.app.open_place(Place("rules", f"dc:{_rack(frozen).id}"))

    assert await snap(make_app(frozen), size, go)


async def test_rack_dashboard_totals_alarm(frozen, snap, size):
    async def go(pilot):
        await pilot.app.open_place(Place("element", _rack(frozen).id))

    assert await snap(make_app(frozen), size, go)
