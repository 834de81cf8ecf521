"""The API tokens page: one's own API tokens (an admin's: everyone's), made and revoked.

Why a console page: automation (Ansible, DCIM sync, a Prometheus ``/events`` reader)
signs in to the REST API, Redfish and ``/events`` with an API token (docs/rest.md),
and an operator should not need the shell to make or revoke one. Reached from the Users
page (``a``). The table lists name, owner, created, expiry and last use (UTC days; the
line below: the id and the times to the minute) of every token the session may see; ``n`` makes one (name, days, and for an admin the owner)
and shows its text once, in a dialog, never again (the core keeps only its hash); ``d``
revokes the highlighted one after a confirmation. Each is the core call the shell's
``token`` command and ``/api/v1/tokens`` make (``core.api_tokens``): the core checks
who may manage whose tokens, the name and the days, words the refusal (shown in the
form, nothing made) and audits ``token.create`` / ``token.revoke``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..core.api_tokens import MAX_DAYS, TokenInfo
from ..core.errors import EnertegError
from ..core.permissions import Action
from ..core.timesync import local_text, zone_abbr
from .dialogs import ConfirmDialog, ShownOnce
from .forms import FormDialog, FormField
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .tree import Place

__all__ = ["COLUMNS", "PLACE", "TokensPage", "TokenShownOnce"]

PLACE = Place("tokens")
"""Where the page lives (opened from the Users page with ``a``)."""

COLUMNS = (
    Column("name", "Name", 14, "left"),
    Column("user", "Owner", 10, "left"),
    Column("created", "Created", 10, "left"),
    Column("expires", "Expires", 10, "left"),
    Column("used", "Last used", 10, "left"),
)
"""Token table columns: days (in the zone of config/time), so that the table fits 80
columns beside the tree; the line below names the highlighted token's id and its times
to the minute."""

DAYS_HINT = f"0 = never expires, at most {MAX_DAYS}"


def _when(config: Any, ts: float | None, none: str) -> str:
    if ts is None:
        return none
    return local_text(config, ts, "%Y-%m-%d %H:%M")


def _day(config: Any, ts: float | None, none: str) -> str:
    return none if ts is None else _when(config, ts, "")[:10]


def _days(text: str) -> int | str:
    """The days typed, as a number when it is one (the core words any refusal)."""
    text = text.strip()
    return int(text) if text.isdigit() else text


class TokenShownOnce(ShownOnce):
    """The text of a new token, shown this once: copy it now."""

    def __init__(self, info: TokenInfo, text: str, config: Any) -> None:
        super().__init__(f"API token {info.id} ({info.name})",
                         f"Made for {info.user}; expires "
                         f"{_when(config, info.expires, 'never')} ({zone_abbr(config)}). "
                         "Send it as Authorization: Bearer <token>.", text)
        self.info = info


class TokensPage(Page):
    """API tokens of the session's user (an admin: everyone's)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "create", "New token"),
        Binding("d,delete", "revoke", "Revoke"),
    ]

    DEFAULT_CSS = """
    TokensPage LiveTable { height: 1fr; }
    TokensPage #detail { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }
    TokensPage #message { height: auto; padding: 0 1; }
    TokensPage #message.-error { color: $error; text-style: bold; }
    """

    def __init__(self, ref: str | None = None) -> None:
        super().__init__()
        self.place = PLACE
        self.infos: dict[str, TokenInfo] = {}

    def compose(self) -> ComposeResult:
        yield PageTitle("API tokens", id="title")
        yield LiveTable(COLUMNS, id="tokens")
        yield Static("", id="detail")
        yield Static("", id="message")

    async def on_mount(self) -> None:
        await self.reload()

    def focus_first(self) -> None:
        self.table.focus(scroll_visible=False)

    @property
    def table(self) -> LiveTable:
        """The token table."""
        return self.query_one(LiveTable)

    @property
    def admin(self) -> bool:
        """Whether the list holds everyone's tokens (the core decides again)."""
        return self.ctx.may(Action.ADMINISTER)

    async def reload(self) -> None:
        """Read the tokens the session may see from the core."""
        ctx = self.ctx
        try:
            infos = await ctx.core.tokens.list(ctx.principal)
        except EnertegError as exc:
            self.say_error(exc)
            infos = []
        now = ctx.core.clock()
        self.infos = {t.id: t for t in infos}
        keep = self.table.current.key if self.table.current else None
        self.table.set_rows([Row(key=t.id, cells={
            "name": t.name, "user": t.user, "created": _day(ctx.core.config, t.created, ""),
            "expires": Text(_day(ctx.core.config, t.expires, "never"),
                            style="bold red" if t.expired(now) else ""),
            "used": _day(ctx.core.config, t.last_used, "never")}) for t in infos])
        keys = [r.key for r in self.table.rows]
        if keep in keys:
            self.table.cursor_row = keys.index(keep)
        title = Text("API tokens", style="bold")
        title.append(f" · {len(infos)} token{'' if len(infos) == 1 else 's'}"
                     + (" of every user" if self.admin else f" of {ctx.principal.user}")
                     + " · n: new")
        self.query_one("#title", PageTitle).update(title)
        self._describe()

    def _current(self) -> TokenInfo | None:
        row = self.table.current
        return self.infos.get(str(row.key)) if row is not None else None

    def _describe(self) -> None:
        t = self._current()
        text = Text()
        if t is None:
            text.append("No API tokens. n makes one for scripts and integrations (REST API, "
                        "Redfish, /events); its text is shown once.")
        else:
            expired = t.expired(self.ctx.core.clock())
            config = self.ctx.core.config
            text.append(f"{t.name} ", style="bold")
            text.append(f"(id {t.id}) of {t.user}: made {_when(config, t.created, '')} "
                        f"{zone_abbr(config, t.created)}, "
                        + (f"expired {_when(config, t.expires, '')}" if expired else
                           f"expires {_when(config, t.expires, 'never')}")
                        + f", last used {_when(config, t.last_used, 'never')}.\n")
            text.append("Acts with the roles its owner has at each request · d revokes it")
        self.query_one("#detail", Static).update(text)

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        self._describe()

    # ------------------------------------------------------------------ actions
    def action_create(self) -> None:
        """Make a token: name, days (and the owner, for an admin); then show it once."""
        ctx = self.ctx
        made: list[tuple[TokenInfo, str]] = []

        async def submit(v: dict[str, str]) -> str | None:
            owner = v.get("user", "").strip() or None
            try:
                made.append(await ctx.core.tokens.create(
                    ctx.principal, v["name"].strip(), days=_days(v["days"]),  # type: ignore[arg-type]
                    user=owner))
            except EnertegError as exc:
                return str(exc)
            return None

        async def done(ok: bool | None) -> None:
            if not ok or not made:
                return
            info, text = made.pop()
            await self.reload()
            keys = [r.key for r in self.table.rows]
            if info.id in keys:                     # the new token highlighted
                self.table.cursor_row = keys.index(info.id)
                self._describe()
            self.say(f"API token {info.id} ({info.name}) made for {info.user}")
            self.app.push_screen(TokenShownOnce(info, text, self.ctx.core.config))

        fields = [FormField("name", "Name (letters, digits, _ . : @ -)",
                            placeholder="e.g. ansible"),
                  FormField("days", f"Valid for days ({DAYS_HINT})", value="90")]
        if self.admin:
            fields.append(FormField("user", "Owner (a user name)", value=ctx.principal.user))
        self.app.push_screen(FormDialog("New API token", fields, submit, ok="Make"), done)

    def action_revoke(self) -> None:
        """Revoke the highlighted token after a confirmation."""
        t, ctx = self._current(), self.ctx
        if t is None:
            self.say("Select a token first")
            return

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say(f"API token {t.id} kept")
                return
            try:
                await ctx.core.tokens.revoke(ctx.principal, t.id)
            except EnertegError as exc:
                self.say_error(exc)
                return
            self.say(f"API token {t.id} ({t.name}) of {t.user} revoked")
            await self.reload()

        self.app.push_screen(ConfirmDialog(
            f"Revoke API token {t.id} ({t.name}) of {t.user}? Requests with it are refused "
            "from now on.", yes="Revoke", no="Keep", title="Revoke API token"), confirmed)
