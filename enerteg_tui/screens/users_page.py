"""The Users page (manual §5.9): user accounts, their roles, and one's own password.

Admins see every user in a table (name, roles, must-change flag, SSH keys) and manage
them: ``n`` adds a user, ``e`` edits roles, ``p`` resets a password, ``d`` deletes after
a confirmation, ``k``/``K`` add or remove an SSH public key, ``u`` clears a user's
failed-login lockout (the detail line says from which addresses it is locked), ``t``
(while LDAP is on) asks the directory about a login name as a login would and shows its
DN, groups and role below the table (``UserService.test_directory``, as the shell's
``ldap test``). Every role sees its own row (a directory user: from their session)
and ``w`` changes its own password (current one first). Every change goes through the
core ``UserService`` with the session's principal, exactly as the shell's ``user`` and
``passwd`` commands do: the core checks ``administer``, the name and password rules and
the last admin, and its message is shown as is. The only check made here is that a new
password typed twice matches. Passwords and hashes are never shown. ``a`` opens the API
tokens page (``screens/tokens_page.py``), for every role.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..core.directory import report_text
from ..core.errors import EnertegError
from ..core.i18n import _
from ..core.permissions import Action, Role
from ..core.users import UserInfo, public_key_fingerprint
from .dialogs import ConfirmDialog
from .forms import FormDialog, FormField, Submit
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .tree import Place

__all__ = ["COLUMNS", "FormField", "UserForm", "UsersPage"]

UserForm = FormDialog
"""The users page's forms (the generic dialog; the name the tests and callers know)."""

COLUMNS = (
    Column("name", "Login name", 16, "left"),
    Column("roles", "Roles", 20, "left"),
    Column("must", "Change pw", 9, "left"),
    Column("keys", "SSH keys", 8),
)
"""User table columns."""

ROLE_CHOICES = [r.value for r in Role]
"""The roles offered in the user forms: chosen from this list, never typed."""

ROLE_LABEL = "Roles (space ticks, tab moves on)"
"""Label of the roles list in the user forms."""


def _roles(info: UserInfo) -> str:
    return ",".join(sorted(r.value for r in info.roles))


def _twice(values: dict[str, str], first: str, second: str, label: str) -> str | None:
    """The typed-twice check (the only one done here): a message naming the field."""
    if values[first] != values[second]:
        return f"{label}: the two entries differ (type the same password twice)"
    return None


class UsersPage(Page):
    """User accounts (admins) or one's own account (everyone else)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "add", "Add user"),
        Binding("e", "roles", "Roles"),
        Binding("p", "reset", "Password"),
        Binding("d,delete", "delete", "Delete"),
        Binding("w", "own_password", "My password"),
        Binding("k", "key_add", "Add key"),
        Binding("K", "key_del", "Remove key"),
        Binding("u", "unlock", "Unlock"),
        Binding("t", "ldap_test", "LDAP test"),
        Binding("a", "tokens", "API tokens"),
    ]
    """Keys; the admin ones are hidden for other roles, ``t`` while LDAP is off."""

    DEFAULT_CSS = """
    UsersPage LiveTable { height: 1fr; }
    UsersPage #detail { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }
    UsersPage #message { height: auto; padding: 0 1; }
    UsersPage #message.-error { color: $error; text-style: bold; }
    """

    _ADMIN = ("add", "roles", "reset", "delete", "key_add", "key_del", "unlock")

    def __init__(self) -> None:
        super().__init__()
        self.place = Place("users")
        self.infos: dict[str, UserInfo] = {}

    def compose(self) -> ComposeResult:
        yield PageTitle("Users", id="title")
        yield ListTable(COLUMNS, id="users")
        yield Static("", id="detail")
        yield Static("", id="message")

    async def on_mount(self) -> None:
        await self.reload()

    def focus_first(self) -> None:
        self.table.focus(scroll_visible=False)

    @property
    def table(self) -> LiveTable:
        """The user table."""
        return self.query_one(LiveTable)

    @property
    def admin(self) -> bool:
        """Whether this session may manage users (the core checks again on every call)."""
        return self.ctx.may(Action.ADMINISTER)

    async def reload(self) -> None:
        """Read the users from the core (all as admin, one's own otherwise)."""
        ctx = self.ctx
        users = ctx.core.users
        me = ctx.principal
        try:
            if self.admin:
                infos = await users.list(me)
            elif me.source != "local":     # a directory user: no local account to read
                infos = [UserInfo(me.user, me.roles, False, [], me.since, me.since)]
            else:
                infos = [await users.get(me.user)]
        except EnertegError as exc:
            self.say_error(exc)
            infos = []
        self.infos = {u.name: u for u in infos}
        keep = self.table.current.key if self.table.current else None
        self.table.set_rows([Row(key=u.name, cells={
            "name": u.name, "roles": _roles(u), "must": "yes" if u.must_change else "",
            "keys": str(len(u.keys))}) for u in infos])
        keys = [r.key for r in self.table.rows]
        if keep in keys:
            self.table.cursor_row = keys.index(keep)
        title = Text(_("Users"), style="bold")
        title.append(f" · {len(infos)} user{'' if len(infos) == 1 else 's'}" if self.admin
                     else " · your account (w changes your password)" if me.source == "local"
                     else f" · your account, from the directory ({me.source}): its password "
                          "and role are managed there")
        self.query_one("#title", PageTitle).update(title)
        self._describe()

    def _describe(self) -> None:
        info = self._current()
        text = ""
        if info is not None:
            fps = [public_key_fingerprint(k) for k in info.keys]
            text = f"{info.name}: roles {_roles(info)}" + (
                "; must change password at next login" if info.must_change else "")
            text += "\nSSH keys: " + (", ".join(fps) if fps else "none")
            support = self.ctx.core.support
            if support.is_account(info.name):
                st = support.status()
                text += ("\nSupport access: " + (
                    f"enabled until {st['expires']} (role {st['role']}, by {st['enabledBy']}), "
                    f"{len(st['sessions'])} session{'' if len(st['sessions']) == 1 else 's'}"
                    if st["enabled"] else "disabled (shell: support enable --hours N)"))
            if self.admin:
                locked = self.ctx.core.users.lockout.locked_sources(info.name)
                if locked:
                    text += "\nLocked out after failed logins from " + ", ".join(
                        f"{src} ({int(left // 60) + 1} min)" for src, left in sorted(locked.items())
                    ) + " · u unlocks"
        self.query_one("#detail", Static).update(text)

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        self._describe()


    def _current(self) -> UserInfo | None:
        row = self.table.current
        return self.infos.get(str(row.key)) if row is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the admin keys for roles without ``administer``."""
        if action in self._ADMIN and not self.admin:
            return False
        if action == "ldap_test":
            return self.admin and self.ctx.core.users.directory.enabled
        return True

    def _form(self, title: str, fields: list[FormField], submit: Submit, ok: str = "Save") -> None:
        async def done(changed: bool | None) -> None:
            if changed:
                await self.reload()

        self.app.push_screen(UserForm(title, fields, submit, ok=ok), done)

    async def _core(self, call: Awaitable[object], success: str) -> str | None:
        """Await a core call: its refusal as the form's error, or the success message."""
        try:
            await call
        except EnertegError as exc:
            return str(exc)
        self.say(success)
        return None

    # ------------------------------------------------------------------ actions
    def action_add(self) -> None:
        """Add a user: login name, password twice, roles."""
        ctx = self.ctx

        async def submit(v: dict[str, str]) -> str | None:
            if (err := _twice(v, "password", "again", "Password")) is not None:
                return err
            roles = [r.strip() for r in v["roles"].split(",") if r.strip()]
            return await self._core(
                ctx.core.users.add(ctx.principal, v["name"], v["password"], roles),
                f"User {v['name'].strip()} added")

        self._form("Add user", [
            FormField("name", "Login name"),
            FormField("password", "Password", secret=True),
            FormField("again", "Password again", secret=True),
            FormField("roles", ROLE_LABEL, value="readonly", choices=ROLE_CHOICES, multiple=True),
        ], submit, ok="Add")

    def action_roles(self) -> None:
        """Replace the highlighted user's roles."""
        info, ctx = self._current(), self.ctx
        if info is None:
            self.say("Select a user first")
            return

        async def submit(v: dict[str, str]) -> str | None:
            roles = [r.strip() for r in v["roles"].split(",") if r.strip()]
            return await self._core(ctx.core.users.set_roles(ctx.principal, info.name, roles),
                                    f"Roles of {info.name} changed")

        self._form(f"Roles of {info.name}", [
            FormField("roles", ROLE_LABEL, value=_roles(info), choices=ROLE_CHOICES,
                      multiple=True)], submit)

    def action_reset(self) -> None:
        """Set the highlighted user's password (admin)."""
        info, ctx = self._current(), self.ctx
        if info is None:
            self.say("Select a user first")
            return

        async def submit(v: dict[str, str]) -> str | None:
            if (err := _twice(v, "password", "again", "New password")) is not None:
                return err
            return await self._core(
                ctx.core.users.change_password(ctx.principal, info.name, v["password"]),
                f"Password of {info.name} changed")

        self._form(f"Password of {info.name}", [
            FormField("password", "New password", secret=True),
            FormField("again", "New password again", secret=True)], submit)

    def action_own_password(self) -> None:
        """Change one's own password: current one, then the new one twice."""
        ctx = self.ctx
        me = ctx.principal.user

        async def submit(v: dict[str, str]) -> str | None:
            if (err := _twice(v, "password", "again", "New password")) is not None:
                return err
            return await self._core(
                ctx.core.users.change_password(ctx.principal, me, v["password"],
                                                     old=v["old"]),
                "Your password was changed")

        self._form(f"Your password ({me})", [
            FormField("old", "Current password", secret=True),
            FormField("password", "New password", secret=True),
            FormField("again", "New password again", secret=True)], submit)

    def action_delete(self) -> None:
        """Delete the highlighted user after a confirmation (never the last admin: the core)."""
        info, ctx = self._current(), self.ctx
        if info is None:
            self.say("Select a user first")
            return

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say(f"User {info.name} kept")
                return
            try:
                await ctx.core.users.delete(ctx.principal, info.name)
            except EnertegError as exc:
                self.say_error(exc)
                return
            self.say(f"User {info.name} deleted")
            await self.reload()

        self.app.push_screen(ConfirmDialog(
            f"Delete user {info.name} ({_roles(info)})? Their SSH keys and shell history "
            "are removed too.", yes="Delete", no="Keep",
            title="Delete user"), confirmed)

    async def action_unlock(self) -> None:
        """Clear the highlighted user's failed-login lockout from every address."""
        info, ctx = self._current(), self.ctx
        if info is None:
            self.say("Select a user first")
            return
        try:
            n = await ctx.core.users.unlock(ctx.principal, info.name)
        except EnertegError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"User {info.name} unlocked ({n} locked address{'' if n == 1 else 'es'} cleared)")
        self._describe()

    def action_tokens(self) -> None:
        """Open the API tokens page (``screens/tokens_page.py``): one's own tokens, an
        admin's everyone's."""
        self.app.call_later(self.app.open_place, Place("tokens"))  # type: ignore[attr-defined]

    def action_ldap_test(self) -> None:
        """Ask the directory about a login name (no password, nobody logged in)."""
        ctx = self.ctx

        async def submit(v: dict[str, str]) -> str | None:
            try:
                report = await ctx.core.users.test_directory(ctx.principal, v["name"].strip())
            except EnertegError as exc:
                return str(exc)
            self.query_one("#detail", Static).update(report_text(report))
            self.say(f"Directory test of {report['user']}: {report['result']}",
                     error=report["result"] != "admitted")
            return None

        self.app.push_screen(UserForm("LDAP test", [
            FormField("name", "Directory login name", placeholder="e.g. alice")],
            submit, ok="Test"))

    def action_key_add(self) -> None:
        """Add an SSH public key (one OpenSSH line) to the highlighted user."""
        info, ctx = self._current(), self.ctx
        if info is None:
            self.say("Select a user first")
            return

        async def submit(v: dict[str, str]) -> str | None:
            return await self._core(ctx.core.users.add_key(ctx.principal, info.name, v["key"]),
                                    f"SSH key added to {info.name}")

        self._form(f"SSH key for {info.name}", [
            FormField("key", "Public key (one OpenSSH line)", placeholder="ssh-ed25519 AAAA...")],
            submit, ok="Add")

    def action_key_del(self) -> None:
        """Remove one of the highlighted user's SSH keys by its fingerprint."""
        info, ctx = self._current(), self.ctx
        if info is None:
            self.say("Select a user first")
            return
        fps = [public_key_fingerprint(k) for k in info.keys]
        if not fps:
            self.say(f"User {info.name} has no SSH keys")
            return

        async def submit(v: dict[str, str]) -> str | None:
            return await self._core(
                ctx.core.users.remove_key(ctx.principal, info.name, v["fp"].strip()),
                f"SSH key removed from {info.name}")

        self._form(f"Remove SSH key of {info.name}", [
            FormField("fp", "Fingerprint (see below the table)", value=fps[0])], submit,
            ok="Remove")
