"""Pilot tests of the Users page (manual §5.9): every change is checked in the core.

Admins add, edit, reset and delete users; the core's refusals (bad name, last admin,
wrong current password) are shown in its own words; passwords typed twice that differ
are caught by the form without calling the core. A readonly user sees only their own
row, no admin keys, and changes their own password.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, SelectionList, Static

from enerteg_tui.core.errors import Conflict, Invalid
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.users_page import UserForm, UsersPage
from tests.conftest import ADMIN, principal

from .conftest import make_app, settle

OLGA_PW = "Olga-pass-1"


def page(app) -> UsersPage:
    p = app.main.query_one("#page").children[0]
    assert isinstance(p, UsersPage)
    return p


async def open_users(pilot) -> UsersPage:
    await settle(pilot)
    await pilot.press("f10")
    await settle(pilot)
    return page(pilot.app)


async def fill(pilot, values: dict[str, str]) -> UserForm:
    form = pilot.app.screen
    assert isinstance(form, UserForm)
    for key, text in values.items():
        field = form.query_one(f"#f-{key}")
        if isinstance(field, SelectionList):        # roles: ticked in a list, not typed
            field.deselect_all()
            for role in text.split(","):
                field.select(role)
        else:
            field.value = text
    inputs = form.query(Input)
    (inputs.first() if inputs else form.query_one("#ok")).focus()
    await pilot.press("enter")
    for _ in range(50):  # argon2 runs in a thread
        await settle(pilot)
        if not isinstance(pilot.app.screen, UserForm) or str(
                form.query_one("#error", Static).render()).strip():
            break
    return form


def form_error(form: UserForm) -> str:
    return str(form.query_one("#error", Static).render())


@pytest.mark.asyncio
async def test_admin_adds_user(frozen):
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        await pilot.press("n")
        await settle(pilot)
        await fill(pilot, {"name": "carol", "password": "Carol-pass-1", "again": "Carol-pass-1",
                           "roles": "power,readonly"})
        assert not isinstance(pilot.app.screen, UserForm)
        names = {u.name: u for u in await frozen.users.list(ADMIN)}
        assert {r.value for r in names["carol"].roles} == {"power", "readonly"}
        assert "carol" in [r.key for r in p.table.rows]


@pytest.mark.asyncio
async def test_passwords_differ_without_core(frozen):
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        await open_users(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = await fill(pilot, {"name": "dave", "password": "Dave-pass-1", "again": "Dave-pass-2"})
        assert isinstance(pilot.app.screen, UserForm)
        assert "Password" in form_error(form) and "differ" in form_error(form)
        assert "dave" not in {u.name for u in await frozen.users.list(ADMIN)}


@pytest.mark.asyncio
async def test_bad_name_core_message(frozen):
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        await open_users(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = await fill(pilot, {"name": "Bad Name", "password": "Some-pass-1",
                                  "again": "Some-pass-1"})
        with pytest.raises(Invalid) as exc:
            frozen.users.check_name("Bad Name")
        assert form_error(form).strip() == str(exc.value)


@pytest.mark.asyncio
async def test_delete_last_admin_refused(frozen):
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        p.table.cursor_row = [r.key for r in p.table.rows].index("admin")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        text = str(p.query_one("#message", Static).render())
        assert "last admin" in text
        assert "admin" in {u.name for u in await frozen.users.list(ADMIN)}
        with pytest.raises(Conflict):
            await frozen.users.delete(ADMIN, "admin")


@pytest.mark.asyncio
async def test_edit_roles(frozen):
    await frozen.users.add(ADMIN, "olga", OLGA_PW, ["readonly"])
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        p.table.cursor_row = [r.key for r in p.table.rows].index("olga")
        await pilot.press("e")
        await settle(pilot)
        await fill(pilot, {"roles": "power"})
        assert {r.value for r in (await frozen.users.get("olga")).roles} == {"power"}


@pytest.mark.asyncio
async def test_readonly_sees_only_itself(frozen):
    await frozen.users.add(ADMIN, "olga", OLGA_PW, ["readonly"])
    olga = principal("readonly", user="olga")
    async with make_app(frozen, olga).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        assert [r.key for r in p.table.rows] == ["olga"]
        bar = pilot.app.main.query_one(KeyBar)._text.plain
        assert "My password" in bar and "Add user" not in bar and "Delete" not in bar
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, UserForm)


@pytest.mark.asyncio
async def test_readonly_changes_own_password(frozen):
    await frozen.users.add(ADMIN, "olga", OLGA_PW, ["readonly"])
    olga = principal("readonly", user="olga")
    async with make_app(frozen, olga).run_test(size=(120, 40)) as pilot:
        await open_users(pilot)
        await pilot.press("w")
        await settle(pilot)
        await fill(pilot, {"old": OLGA_PW, "password": "Olga-new-2", "again": "Olga-new-2"})
        assert not isinstance(pilot.app.screen, UserForm)
    p = await frozen.users.authenticate("olga", "Olga-new-2", "test", "127.0.0.1")
    assert p.user == "olga"


@pytest.mark.asyncio
async def test_wrong_old_password_refused(frozen):
    await frozen.users.add(ADMIN, "olga", OLGA_PW, ["readonly"])
    olga = principal("readonly", user="olga")
    async with make_app(frozen, olga).run_test(size=(120, 40)) as pilot:
        await open_users(pilot)
        await pilot.press("w")
        await settle(pilot)
        form = await fill(pilot, {"old": "Not-hers-1", "password": "Olga-new-2",
                                  "again": "Olga-new-2"})
        assert "Current password is wrong" in form_error(form)
    assert (await frozen.users.authenticate("olga", OLGA_PW, "test", "127.0.0.1")).user == "olga"


@pytest.mark.asyncio
async def test_admin_adds_and_removes_ssh_key(frozen):
    import asyncssh

    from enerteg_tui.core.users import public_key_fingerprint

    line = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    await frozen.users.add(ADMIN, "olga", OLGA_PW, ["readonly"])
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        p.table.cursor_row = [r.key for r in p.table.rows].index("olga")
        await pilot.press("k")
        await settle(pilot)
        form = await fill(pilot, {"key": "ssh-ed25519 not-a-key"})
        assert "is not valid" in form_error(form)
        await fill(pilot, {"key": line})
        assert (await frozen.users.get("olga")).keys == [line]
        assert public_key_fingerprint(line) in str(p.query_one("#detail", Static).render())
        await pilot.press("K")
        await settle(pilot)
        await fill(pilot, {})
        assert (await frozen.users.get("olga")).keys == []


@pytest.mark.asyncio
async def test_admin_deletes_user_after_confirmation(frozen):
    await frozen.users.add(ADMIN, "olga", OLGA_PW, ["readonly"])
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        p.table.cursor_row = [r.key for r in p.table.rows].index("olga")
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "olga" not in {u.name for u in await frozen.users.list(ADMIN)}
        assert "olga" not in [r.key for r in p.table.rows]
        assert "User olga deleted" in str(p.query_one("#message", Static).render())


@pytest.mark.asyncio
async def test_admin_unlocks_a_locked_out_user(frozen):
    from enerteg_tui.core.users import AuthFailed, LockedOut

    await frozen.users.add(ADMIN, "olga", OLGA_PW, ["readonly"])
    for _ in range(5):
        with pytest.raises(AuthFailed):
            await frozen.users.authenticate("olga", "wrong-guess", "ssh", "10.1.1.1")
    with pytest.raises(LockedOut):
        await frozen.users.authenticate("olga", OLGA_PW, "ssh", "10.1.1.1")
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        p.table.cursor_row = [r.key for r in p.table.rows].index("olga")
        await settle(pilot)
        assert "Locked out after failed logins from 10.1.1.1" in str(
            p.query_one("#detail", Static).render())
        await pilot.press("u")
        await settle(pilot)
        assert "User olga unlocked (1 locked address cleared)" in str(
            p.query_one("#message", Static).render())
        assert "Locked out" not in str(p.query_one("#detail", Static).render())
    assert (await frozen.users.authenticate("olga", OLGA_PW, "ssh", "10.1.1.1")).user == "olga"
    entries = await frozen.audit.query(ADMIN)
    assert any(e.action == "user.unlock" and "olga" in e.message for e in entries)


@pytest.mark.asyncio
async def test_support_account_shows_its_access(frozen):
    """Issue 23 item 7: the support account's row says until when it is open, and that
    it is closed after ``support disable``."""
    await frozen.config.put(ADMIN, "core", {"remoteManagement": True})
    await frozen.core.support.enable(ADMIN, 4, "readwrite")
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_users(pilot)
        keys = [r.key for r in p.table.rows]
        p.table.cursor_row = keys.index("support")
        await settle(pilot)
        detail = str(p.query_one("#detail", Static).render())
        assert "Support access: enabled until " in detail
        assert "(role readwrite, by admin), 0 sessions" in detail
        await frozen.core.support.disable(ADMIN)
        await p.reload()
        await settle(pilot)
        detail = str(p.query_one("#detail", Static).render())
        assert "Support access: disabled (shell: support enable --hours N)" in detail
