"""SVG snapshots of the rules and DC structure pages (issue 8 parts 3 and 4).

Rule list, the rule form half filled with a validation error, the delete
confirmation, a PDU's rule report, the structure page, a refused delete of a
non-empty rack, and the assign dialog of a rack's dashboard. None of them changes
the shared controller: the invalid rule and the refused delete are refused by the core.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from enerteg_tui.screens.rule_form import OnOff
from enerteg_tui.screens.structure_page import DCNode
from enerteg_tui.screens.tree import Place

from .conftest import SIZES, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest.fixture
def frozen(frozen_shared):
    """The module's shared frozen controller (these snapshots change nothing)."""
    return frozen_shared


def _element(c, name):
    return next(e for e in c.structure.elements() if e.name == name)


async def test_rules_list(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f6")

    assert await snap(make_app(frozen), size, go)


async def test_rule_form_validation_error(frozen, snap, size):
    """Scope, target, measurement and restriction chosen; critical below warning: refused."""
    rack = _element(frozen, "Rack 2")

    async def go(pilot):
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = pilot.app.screen
        for name, value in (("scope", "rack"), ("target", str(rack.id)),
                            ("quantity", "voltage"), ("component", "o")):
            form.query_one(f"#f-{name}", Select).value = value
            await settle(pilot)
        form.query_one("#f-name", Input).value = "Rack 2 outlet volts"
        form.query_one("#f-index-from", Input).value = "1"
        form.query_one("#f-index-to", Input).value = "8"
        form.query_one("#f-warningAbove-on", OnOff).value = True
        form.query_one("#f-warningAbove", Input).value = "250"
        form.query_one("#f-criticalAbove-on", OnOff).value = True
        form.query_one("#f-criticalAbove", Input).value = "240"
        await settle(pilot)
        await pilot.press("ctrl+s")

    assert await snap(make_app(frozen), size, go)


async def test_rule_delete_confirm(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("down", "down", "d")

    assert await snap(make_app(frozen), size, go)


async def test_rule_report(frozen, snap, size):
    hex_id = frozen.live.ordered()[0].hex_id

    async def go(pilot):
        await pilot.app.open_place(Place("rules", hex_id))
        await settle(pilot)
        await pilot.press("down")

    assert await snap(make_app(frozen), size, go)


async def test_structure_page(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f7")

    assert await snap(make_app(frozen), size, go)


async def test_structure_delete_refused(frozen, snap, size):
    rack = _element(frozen, "Rack 1")

    async def go(pilot):
        await pilot.press("f7")
        await settle(pilot)
        page = pilot.app.main.query_one("#page").children[0]
        page.select(DCNode("rack", rack.id))
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")

    assert await snap(make_app(frozen), size, go)


async def test_assign_dialog(frozen, snap, size):
    """``a`` on the dashboard of Rack 2: unassigned PDUs first."""
    rack = _element(frozen, "Rack 2")

    async def go(pilot):
        await pilot.app.open_place(Place("element", rack.id))
        await settle(pilot)
        await pilot.press("a")

    assert await snap(make_app(frozen), size, go)
