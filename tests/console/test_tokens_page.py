"""Pilot tests of the API tokens page (reached from the Users page with ``a``): a token
is made through the core, its text shown once in a dialog and nowhere after; bad input
gets the core's words in the form and makes nothing; revoke asks first; a readonly user
sees and makes only their own tokens. Every change is checked in the core and its audit."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.forms import FormDialog
from enerteg_tui.screens.tokens_page import TokenShownOnce, TokensPage
from tests.conftest import ADMIN, principal

from .conftest import make_app, settle

VIEWER = principal("readonly", user="viewer")


def page(app) -> TokensPage:
    p = app.main.query_one("#page").children[0]
    assert isinstance(p, TokensPage)
    return p


async def open_tokens(pilot) -> TokensPage:
    await settle(pilot)
    await pilot.press("f10")
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)
    return page(pilot.app)


async def submit(pilot, values: dict[str, str]) -> FormDialog:
    form = pilot.app.screen
    assert isinstance(form, FormDialog)
    for key, text in values.items():
        form.query_one(f"#f-{key}", Input).value = text
    form.query_one("#f-name", Input).focus()
    await pilot.press("enter")
    for _ in range(20):
        await settle(pilot)
        if not isinstance(pilot.app.screen, FormDialog) or str(
                form.query_one("#error", Static).render()).strip():
            break
    return form


def screen_text(app) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


async def actions(c) -> list[str]:
    return [e.action for e in await c.audit.query(SYSTEM, limit=100)]


@pytest.mark.asyncio
async def test_admin_makes_a_token_shown_once_and_revokes_it(frozen):
    await frozen.users.add(ADMIN, "viewer", "Viewer-pass-1", ["readonly"])
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_tokens(pilot)
        assert "No API tokens" in str(p.query_one("#detail", Static).render())
        await pilot.press("n")
        await settle(pilot)
        await submit(pilot, {"name": "ansible", "days": "30", "user": "viewer"})
        shown = pilot.app.screen
        assert isinstance(shown, TokenShownOnce)
        text = shown.query_one("#token", Input).value
        assert text.startswith("ent_") and shown.query_one("#token", Input).read_only
        assert "shown only this once" in screen_text(pilot.app)
        who = await frozen.core.tokens.authenticate(text, "rest", "")
        assert who.user == "viewer"
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen is pilot.app.main
        # the table lists it; the secret is nowhere on screen any more
        [info] = await frozen.core.tokens.list(ADMIN)
        assert [r.key for r in p.table.rows] == [info.id]
        assert info.user == "viewer" and info.name == "ansible"
        assert info.expires == info.created + 30 * 86400
        assert text.split("_", 2)[2] not in screen_text(pilot.app)
        assert "ansible" in str(p.query_one("#detail", Static).render())
        # revoke: asked first; "n" keeps it, "y" revokes
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert len(await frozen.core.tokens.list(ADMIN)) == 1
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert await frozen.core.tokens.list(ADMIN) == []
        assert not list(p.table.rows)
    acts = await actions(frozen)
    assert "token.create" in acts and "token.revoke" in acts


@pytest.mark.asyncio
async def test_bad_input_is_refused_in_the_form_and_makes_nothing(frozen):
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        await open_tokens(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = await submit(pilot, {"name": "ci", "days": "forever"})
        err = str(form.query_one("#error", Static).render())
        assert "days" in err and "'forever'" in err and "3650" in err
        form = await submit(pilot, {"name": "bad name!", "days": "5"})
        err = str(form.query_one("#error", Static).render())
        assert "'bad name!'" in err and "letters, digits" in err
        form = await submit(pilot, {"name": "ci", "days": "5", "user": "nobody"})
        assert "nobody" in str(form.query_one("#error", Static).render())
        assert isinstance(pilot.app.screen, FormDialog)
        assert await frozen.core.tokens.list(ADMIN) == []
    assert "token.create" not in await actions(frozen)


@pytest.mark.asyncio
async def test_readonly_user_sees_and_makes_only_their_own(frozen):
    await frozen.users.add(ADMIN, "viewer", "Viewer-pass-1", ["readonly"])
    await frozen.core.tokens.create(ADMIN, "admins-own")
    async with make_app(frozen, VIEWER).run_test(size=(120, 40)) as pilot:
        p = await open_tokens(pilot)
        assert list(p.table.rows) == []
        await pilot.press("n")
        await settle(pilot)
        assert not pilot.app.screen.query("#f-user")          # no owner to choose
        await submit(pilot, {"name": "mine", "days": "0"})
        assert isinstance(pilot.app.screen, TokenShownOnce)
        await pilot.press("escape")
        await settle(pilot)
        assert [(t.user, t.name) for t in await frozen.core.tokens.list(VIEWER)] == [
            ("viewer", "mine")]
        assert [p.infos[str(r.key)].name for r in p.table.rows] == ["mine"]
        assert "never" in str(p.query_one("#detail", Static).render())
