"""The role matrix of the management pages: what each role may open and which keys it sees.

For every role of the manual (§5.9) and every management section: a section the role may
not open has no key and is refused when opened anyway (``ConsoleApp.spec_for`` asks the
core's ``require``); on a section it may open, the keys that change something appear
exactly when the role holds the action the core checks for them.
"""

from __future__ import annotations

import pytest

from enerteg_tui.core.permissions import MATRIX, Action, Role
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.sections import SECTIONS
from enerteg_tui.screens.tree import Place

from .conftest import make_app, settle

KEYS: dict[str, dict[str, Action]] = {
    "alarms": {"Acknowledge": Action.ACK_ALARM, "Mark": Action.ACK_ALARM},
    "rules": {"New": Action.EDIT_RULES, "Edit": Action.EDIT_RULES, "Delete": Action.EDIT_RULES,
              "On/off": Action.EDIT_RULES},
    "structure": {"Add": Action.EDIT_STRUCTURE, "Rename": Action.EDIT_STRUCTURE,
                  "Assign": Action.EDIT_STRUCTURE, "Feed": Action.DEVICE_SETUP},
    "users": {"Add user": Action.ADMINISTER, "Roles": Action.ADMINISTER,
              "Delete": Action.ADMINISTER, "My password": Action.READ},
    "settings": {"Back up now": Action.ADMINISTER, "Factory reset": Action.ADMINISTER},
}
"""Key bar words of each page that need an action (the page's ``check_action``)."""


def _bar(app) -> str:
    return str(app.screen.query_one(KeyBar).render())


def _page(app):
    return app.main.query_one("#page").children[0]


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.asyncio
async def test_role_matrix(frozen, role):
    holds = MATRIX[Role(role)]
    app = make_app(frozen, role)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        for sec in SECTIONS:
            may_open = sec.needs in holds
            assert (f"{sec.key} {sec.short}" in _bar(app)) is may_open, (role, sec.title)
            before = _page(app)
            await app.open_place(Place(sec.kind))
            await settle(pilot)
            if not may_open:
                assert _page(app) is before, (role, sec.title)
                continue
            assert type(_page(app)).__name__ == sec.target.rpartition(":")[2]
            bar = _bar(app)
            for word, action in KEYS.get(sec.kind, {}).items():
                assert (f" {word} " in bar + " ") is (action in holds), (role, sec.title, word, bar)
