"""The password policy on the console's Users page (issue 19 item 8): the form shows the
core's refusal naming the rule, and nothing is added until the password meets it."""

from __future__ import annotations

import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.screens.users_page import UserForm
from tests.conftest import ADMIN

from .conftest import make_app, settle
from .test_users_page import fill, form_error, open_users


@pytest.mark.asyncio
async def test_add_user_refused_naming_the_rule(frozen):
    await frozen.config.put(SYSTEM, "auth", {"passwordNeedsSpecial": True,
                                             "passwordNeedsDigit": True})
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        await open_users(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = await fill(pilot, {"name": "erin", "password": "Erinpass1", "again": "Erinpass1",
                                  "roles": "readonly"})
        assert isinstance(pilot.app.screen, UserForm)
        assert "passwordNeedsSpecial" in form_error(form)
        assert "erin" not in {u.name for u in await frozen.users.list(ADMIN)}
        form = await fill(pilot, {"password": "Erin-pass1", "again": "Erin-pass1"})
        assert not isinstance(pilot.app.screen, UserForm)
        assert "erin" in {u.name for u in await frozen.users.list(ADMIN)}
