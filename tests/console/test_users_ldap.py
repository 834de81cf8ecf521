"""The Users page with directory logins on (issue 22): ``t`` asks the directory about a
login name (admin, only while LDAP is on) and shows DN, groups and role below the table;
a directory user sees their own row from the session, with no error."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from enerteg_tui.core.permissions import Principal, Role
from enerteg_tui.screens.keybar import KeyBar
from tests.conftest import ADMIN
from tests.ldap_server import BASE, auth_settings, slapd, trust_ca  # noqa: F401

from .conftest import make_app, settle
from .test_users_page import fill, open_users

pytestmark = pytest.mark.xdist_group("slapd")


def _text(page, wid: str) -> str:
    return str(page.query_one(wid, Static).render())


@pytest.mark.asyncio
async def test_ldap_test_action_shows_groups_and_role(frozen, slapd):
    async with make_app(frozen).run_test(size=(160, 40)) as pilot:
        await open_users(pilot)
        assert "LDAP test" not in str(pilot.app.screen.query_one(KeyBar).render())  # LDAP off
    await trust_ca(frozen, slapd)
    await frozen.config.put(ADMIN, "auth", auth_settings(slapd))
    async with make_app(frozen).run_test(size=(160, 40)) as pilot:
        p = await open_users(pilot)
        assert "t LDAP test" in str(pilot.app.screen.query_one(KeyBar).render())
        await pilot.press("t")
        await settle(pilot)
        await fill(pilot, {"name": "dave"})
        detail = _text(p, "#detail")
        assert f"DN         uid=dave,ou=people,{BASE}" in detail
        assert "Role       readwrite" in detail and "Result     admitted" in detail
        assert "Directory test of dave: admitted" in _text(p, "#message")
        await pilot.press("t")
        await settle(pilot)
        await fill(pilot, {"name": "carol"})
        assert "refused: none of the groups" in _text(p, "#detail")
    async with make_app(frozen, "readonly").run_test(size=(160, 40)) as pilot:
        await open_users(pilot)
        assert "LDAP test" not in str(pilot.app.screen.query_one(KeyBar).render())


@pytest.mark.asyncio
async def test_directory_user_sees_own_row(frozen):
    eve = Principal(user="eve", roles=frozenset({Role.READONLY}), face="test",
                    address="127.0.0.1", source="ldap")
    async with make_app(frozen, eve).run_test(size=(160, 40)) as pilot:
        p = await open_users(pilot)
        assert [r.key for r in p.table.rows] == ["eve"]
        assert "from the directory (ldap)" in str(p.query_one("#title").render())
        assert not _text(p, "#message").strip()
        await pilot.press("w")
        await settle(pilot)
        form = await fill(pilot, {"old": "x", "password": "New-pass-12", "again": "New-pass-12"})
        assert "logs in through the directory" in str(form.query_one("#error", Static).render())
