"""The Certificates page (manual §5.12): the certificate store, for administrators.

Reached from the Settings page (``c``). A table lists every stored certificate (id,
name, usage, subject, valid until, state, whether it has a key); like every list it is
a ``ListTable``: ``>``/``<`` (or a click on a header) sort by a column, ``!`` reverses,
``/`` filters by words in any column, the issuer or the certificate's names. The line
below shows the highlighted one's issuer, names, validity and SHA-256 fingerprint.
``i`` imports a file uploaded over SFTP into ``/upload`` (PEM/CRT/CER, DER, PKCS#12)
with its passphrase, usage and a name; ``u`` changes the usage; ``d`` deletes after a
confirmation. Each is
the same core call the shell makes (``put certs/new file=…``, ``put certs/<id>
usage=…``, ``rm certs/<id>``): the core checks ``administer``, reads the file, refuses
with a message naming what is wrong (shown in the form, nothing stored) and audits.
Private keys and passphrases are never shown.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..core.certstore import CertInfo, CertUsage
from ..core.errors import EnertegError
from ..core.timesync import local_text
from ..core.events import Batch
from .dialogs import ConfirmDialog
from .forms import FormDialog, FormField
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .tree import Place

__all__ = ["COLUMNS", "CertsPage", "PLACE"]

PLACE = Place("certs")
"""Where the page lives (opened from the Settings page with ``c``)."""

COLUMNS = (
    Column("id", "Id", 3),
    Column("name", "Name", 14, "left"),
    Column("until", "Valid until", 10, "left"),
    Column("state", "State", 8, "left"),
    Column("key", "Key", 3, "left"),
    Column("usage", "Usage", 18, "left"),
    Column("subject", "Subject", 28, "left"),
)
"""Certificate table columns."""

USAGE_HINT = ", ".join(u.value for u in CertUsage)
"""The usages a form accepts."""

_STATE_STYLE = {"expired": "bold red", "expiring": "yellow", "not yet valid": "yellow"}
_STATE_SHORT = {"not yet valid": "not yet"}
"""The state as the 8-cell column shows it (the detail line says it in full)."""


def _day(config: Any, t: float) -> str:
    return local_text(config, t, "%Y-%m-%d")


class CertsPage(Page):
    """The stored certificates; import, usage and delete keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "import_file", "Import"),
        Binding("u", "usage", "Usage"),
        Binding("d,delete", "delete", "Delete"),
    ]

    DEFAULT_CSS = """
    CertsPage LiveTable { height: 1fr; }
    CertsPage #detail { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }
    CertsPage #message { height: auto; padding: 0 1; }
    CertsPage #message.-error { color: $error; text-style: bold; }
    """

    LIVE_KINDS = ("certs",)
    LIVE_VALUES = False

    def __init__(self, ref: str | None = None) -> None:
        super().__init__()
        self.place = PLACE
        self.infos: dict[str, CertInfo] = {}

    def compose(self) -> ComposeResult:
        yield PageTitle("Certificates", id="title")
        yield ListTable(COLUMNS, id="certs",
                        placeholder="filter: words in any column, the issuer or the names")
        yield Static("", id="detail")
        yield Static("", id="message")

    def on_mount(self) -> None:
        self.reload()
        self.listen()

    def focus_first(self) -> None:
        self.table.focus(scroll_visible=False)

    @property
    def table(self) -> ListTable:
        """The certificate table."""
        return self.query_one(ListTable)

    def on_live_batch(self, batch: Batch) -> None:
        self.reload()

    def reload(self) -> None:
        """Read the store (the core checks ``administer``)."""
        ctx = self.ctx
        try:
            infos = ctx.core.certs.all(ctx.principal)
        except EnertegError as exc:
            self.say_error(exc)
            infos = []
        now = ctx.core.clock()
        self.infos = {str(c.id): c for c in infos}
        keep = self.table.current.key if self.table.current else None
        rows = []
        for c in infos:
            state = c.state(now)
            rows.append(Row(key=str(c.id), cells={
                "id": str(c.id), "name": c.name, "usage": c.usage.label,
                "subject": c.subject, "until": _day(self.ctx.core.config, c.not_after),
                "state": Text(_STATE_SHORT.get(state, state), style=_STATE_STYLE.get(state, "")),
                "key": "yes" if c.has_key else ""},
                sort={"until": c.not_after}, search=f"{c.issuer} {' '.join(c.sans)}"))
        self.table.set_rows(rows)
        keys = [r.key for r in self.table.rows]
        if keep in keys:
            self.table.cursor_row = keys.index(keep)
        title = Text("Certificates", style="bold")
        title.append(f" · {len(infos)} stored · i: import from /upload")
        self.query_one("#title", PageTitle).update(title)
        self._describe()

    def _current(self) -> CertInfo | None:
        row = self.table.current
        return self.infos.get(str(row.key)) if row is not None else None

    def _describe(self) -> None:
        c = self._current()
        text = Text()
        if c is None:
            text.append("No certificate stored. Upload a file to /upload over SFTP, then "
                        "press i to import it.")
        else:
            state = c.state(self.ctx.core.clock())
            text.append(f"{c.name}: ", style="bold")
            text.append(f"{c.subject}, issued by {c.issuer}"
                        f"{' (CA)' if c.is_ca else ''}; valid "
                        f"{_day(self.ctx.core.config, c.not_before)} to "
                        f"{_day(self.ctx.core.config, c.not_after)} ({state}); "
                        f"usage {c.usage.label}; "
                        f"{'with' if c.has_key else 'no'} private key; chain of "
                        f"{c.chain_length}\n")
            text.append(f"Names: {', '.join(c.sans) or 'none'}\n")
            text.append(f"SHA-256 {c.fingerprint}")
        self.query_one("#detail", Static).update(text)

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        self._describe()

    # ------------------------------------------------------------------ actions
    def action_import_file(self) -> None:
        """Import a file from /upload: path, passphrase, usage, name."""
        ctx = self.ctx

        async def submit(v: dict[str, str]) -> str | None:
            changes = {"file": v["file"].strip(), "passphrase": v["passphrase"],
                       "usage": v["usage"].strip() or "unrestricted", "name": v["name"].strip()}
            try:
                doc = await ctx.core.topics.put(ctx.principal, "certs/new", changes)
            except EnertegError as exc:
                return str(exc)
            self.say(f"Certificate {doc['u']['id']} ({doc['u']['name']}) imported")
            return None

        def done(changed: bool | None) -> None:
            if changed:
                self.reload()

        self.app.push_screen(FormDialog("Import certificate", [
            FormField("file", "File uploaded over SFTP", value="/upload/",
                      placeholder="/upload/server.p12"),
            FormField("passphrase", "Passphrase (PKCS#12 or encrypted key; empty if none)",
                      secret=True),
            FormField("usage", f"Usage ({USAGE_HINT})", value="unrestricted"),
            FormField("name", "Name (empty: the subject's common name)"),
        ], submit, ok="Import"), done)

    def action_usage(self) -> None:
        """Change the highlighted certificate's usage."""
        c, ctx = self._current(), self.ctx
        if c is None:
            self.say("Select a certificate first")
            return

        async def submit(v: dict[str, str]) -> str | None:
            try:
                await ctx.core.certs.set_usage(ctx.principal, c.id, v["usage"].strip())
            except EnertegError as exc:
                return str(exc)
            self.say(f"Certificate {c.id} usage changed")
            return None

        def done(changed: bool | None) -> None:
            if changed:
                self.reload()

        self.app.push_screen(FormDialog(f"Usage of certificate {c.id}", [
            FormField("usage", f"Usage ({USAGE_HINT})", value=c.usage.value)], submit), done)

    def action_delete(self) -> None:
        """Delete the highlighted certificate (and its key) after a confirmation."""
        c, ctx = self._current(), self.ctx
        if c is None:
            self.say("Select a certificate first")
            return

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say(f"Certificate {c.id} kept")
                return
            try:
                await ctx.core.certs.delete(ctx.principal, c.id)
            except EnertegError as exc:
                self.say_error(exc)
                return
            self.say(f"Certificate {c.id} ({c.name}) deleted")
            self.reload()

        self.app.push_screen(ConfirmDialog(
            f"Delete certificate {c.id} ({c.name}, {c.subject})"
            f"{' and its private key' if c.has_key else ''}?", yes="Delete", no="Keep",
            title="Delete certificate"), confirmed)
