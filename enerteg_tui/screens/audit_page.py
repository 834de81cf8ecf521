"""The audit log page (manual chapter 10): what happened, who did it, and what was done about it.

The manual's view has three parts; at 80×24 they are stacked instead of side by side:

- **filters** (severity, state, user, device, text, from/to time): one line sums up the
  active ones, ``f`` opens a form to change them and ``x`` clears them. A value the
  form cannot read (a time that does not parse, a severity that does not exist) is
  refused with a message naming the field, the value and what is allowed; the list
  keeps its filters meanwhile.
- **the list**, newest first, ``PAGE_SIZE`` entries a page (``n``/``p`` turn pages,
  the title says "entries 1–50 of N · page 1 of M"), each row coloured by its severity.
  New entries appear at once on the first page; on another page the title counts them
  and ``r`` returns to the newest. The line under the list spells out the highlighted
  entry.
- **the detail** (enter or ``v``): the whole entry (time, severity, state, user, face
  and address, device, action and object, message, the changes with secrets already
  masked by the core, the comments), the state buttons Open / Investigating / Done
  (keys ``o``/``i``/``d``) and a comment field (``c``).

Everything goes through ``core.audit`` with the session's principal: reading
needs what the section needs (``administer``: the App refuses the page otherwise),
changing the state and commenting need ``ack-alarm`` (checked by the core; the buttons
and keys are disabled or hidden for roles without it). Live: the page follows the
``audit`` events (new entries) and ``audit-changed`` events (state and comments, also
from other sessions and the topic shell).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..core.audit import MASK, AuditEntry, AuditFilter, AuditState, Severity
from ..core.vocabulary import AUDIT_STATE_MEANING, LEVELS, SEVERITY_WORDS, level, severity_word
from ..core.errors import EnertegError, Invalid
from ..core.events import Batch
from ..core.i18n import _
from ..core.permissions import Action
from ..core.reports import iso, parse_time
from ..core.timesync import local_text, zone
from .context import console_context
from .cells import SEVERITY_STYLE as _WORD_STYLE, table_time, time_heading
from .forms import FormDialog, FormField
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .tree import Place
from .unsaved import ask_to_discard

__all__ = [
    "COLUMNS", "PAGE_SIZE", "SEVERITY_STYLE", "AuditDetail", "AuditPage", "FilterText",
    "change_lines", "describe_filter", "parse_device", "parse_severities",
    "parse_states", "parse_when",
]

PAGE_SIZE = 50
"""Entries per page of the list."""

COLUMNS = (
    Column("time", "Time (UTC)", 14, "left"),
    Column("severity", "Severity", 8, "left"),
    Column("state", "State", 7, "left"),
    Column("user", "User", 8, "left"),
    Column("message", "Message", 72, "left"),
    Column("device", "Device", 20, "left"),
)
"""List columns: the manual's severity, state, text and date, with user and device (which
fit side by side from 160 columns); the message is also spelled out in full under the
list and the device in the detail, so at 80 columns nothing is lost."""

SEVERITY_STYLE: dict[Severity, str] = {sev: _WORD_STYLE.get(severity_word(sev), "")
                                       for sev in Severity}
"""Row colour per severity (the manual: "the entry color will depend on the severity"),
the one colour per word of ``cells.SEVERITY_STYLE``."""

_STATE_SHORT = {AuditState.OPEN: "Open", AuditState.INVESTIGATING: "Invest.",
                AuditState.DONE: "Done"}
_STATE_STYLE = {AuditState.OPEN: "bold", AuditState.INVESTIGATING: "cyan",
                AuditState.DONE: "green"}
_STATE_KEY = {AuditState.OPEN: "o", AuditState.INVESTIGATING: "i", AuditState.DONE: "d"}

SEVERITY_HELP = ", ".join(SEVERITY_WORDS)
STATE_HELP = ", ".join(s.value for s in AuditState)
_RELATIVE = re.compile(r"^(\d{1,5})\s*([mhd])$", re.IGNORECASE)
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}
WHEN_FORMS = ("an ISO 8601 time such as 2026-01-31T18:00:00Z or 2026-01-31 (UTC unless an "
              "offset is given), or a time ago such as 30m, 12h or 7d, or empty for no limit")
"""What the from/to fields accept, in the words of their error message."""
_HEX_ID = re.compile(r"^[0-9a-f]{5}$")


STATE_LEGEND = "State: " + " · ".join(
    f"{state.value} = {AUDIT_STATE_MEANING[state].split(',')[0]}" for state in AuditState)
"""The line under the filters that says what the State column means (issue 18, item 7)."""

# ---------------------------------------------------------------------- filter input
def parse_severities(text: str) -> set[Severity] | None:
    """Severities from ``Warning, Error`` or ``Warning+`` (that one and above); None when empty.

    Raises ``Invalid`` naming the field, the value and the severities.
    """
    out: set[Severity] = set()
    for word in re.split(r"[,\s]+", text.strip()):
        if not word:
            continue
        name, plus = (word[:-1], True) if word.endswith("+") else (word, False)
        try:
            sev: Severity | None = level(name).audit      # "Critical" and the stored "Error"
        except Invalid:
            sev = None
        if sev is None:
            raise Invalid(
                f"Severity {word!r} does not exist; use one or more of {SEVERITY_HELP}, "
                f"or one followed by + for it and above (Warning+)",
                thing="severity", value=word, allowed=f"{SEVERITY_HELP}, or Name+")
        out |= {s for s in Severity if s.rank >= sev.rank} if plus else {sev}
    return out or None


def parse_states(text: str) -> set[AuditState] | None:
    """States from ``Open, Investigating``; None when empty. Raises ``Invalid`` naming a bad one."""
    out: set[AuditState] = set()
    by_name = {s.value.lower(): s for s in AuditState}
    for word in re.split(r"[,\s]+", text.strip()):
        if not word:
            continue
        state = by_name.get(word.lower())
        if state is None:
            raise Invalid(f"State {word!r} does not exist; use one or more of {STATE_HELP}",
                          thing="state", value=word, allowed=STATE_HELP)
        out.add(state)
    return out or None


def parse_when(text: str, field: str, now: float) -> float | None:
    """A from/to time: ISO 8601 (UTC unless an offset is given) or a time ago (``12h``).

    Returns None for an empty field; raises ``Invalid`` naming ``field``, the value and
    the accepted forms.
    """
    raw = text.strip()
    if not raw:
        return None
    rel = _RELATIVE.match(raw)
    if rel:
        return now - int(rel.group(1)) * _UNIT_S[rel.group(2).lower()]
    try:
        return parse_time(raw, field)
    except Invalid:
        raise Invalid(f"{field} {text!r} is not a time; use {WHEN_FORMS}", thing=field,
                      value=text, allowed=WHEN_FORMS) from None


def parse_device(text: str, devices: Iterable[tuple[str, str]]) -> str | None:
    """A PDU's hex id from its name or hex id (``devices``: (hex id, name) pairs); None when empty.

    A hex id of a PDU no longer on the ring is accepted too (its old entries stay in the
    log); anything else raises ``Invalid`` naming the value and what is allowed.
    """
    raw = text.strip()
    if not raw:
        return None
    wanted = raw.lower()
    for hex_id, name in devices:
        if wanted in (hex_id.lower(), name.lower()):
            return hex_id
    if _HEX_ID.match(wanted):
        return wanted
    raise Invalid(f"Device {raw!r} is neither the name nor the hex id of a PDU; use a PDU's "
                  "name or its 5-digit hex id (e.g. 2321d)", thing="device", value=raw,
                  allowed="a PDU's name or hex id")


class FilterText:
    """The filter form's fields as typed (normalised), so reopening the form shows them."""

    KEYS = ("severity", "state", "user", "device", "text", "since", "until")

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = {k: "" for k in self.KEYS} | (values or {})

    def __bool__(self) -> bool:
        return any(v.strip() for v in self.values.values())


def _severity_words(sevs: set[Severity]) -> str:
    ranks = sorted(s.rank for s in sevs)
    lowest = min(sevs, key=lambda s: s.rank)
    if len(sevs) > 1 and ranks == list(range(lowest.rank, len(Severity))):
        return f"{severity_word(lowest)}+"
    return ",".join(severity_word(s) for s in sorted(sevs, key=lambda s: s.rank))


def describe_filter(flt: AuditFilter, device_label: str = "", zone_name: str = "UTC") -> str:
    """The active filters in one line (``severity Warning+ · state Open · from …``)."""
    parts: list[str] = []
    if flt.severities:
        parts.append(f"severity {_severity_words(flt.severities)}")
    if flt.states:
        parts.append("state " + ",".join(s.value for s in AuditState if s in flt.states))
    if flt.user:
        parts.append(f"user {flt.user}")
    if flt.device:
        parts.append(f"device {device_label or flt.device}")
    if flt.text:
        parts.append(f"text “{flt.text}”")
    if flt.since is not None:
        parts.append(f"from {iso(flt.since, zone_name)}")
    if flt.until is not None:
        parts.append(f"before {iso(flt.until, zone_name)}")
    return " · ".join(parts)


def _comment_time(config: Any, ms: Any) -> str:
    try:
        return local_text(config, float(ms) / 1000, "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError):
        return "?"


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)


def change_lines(old: Any, new: Any) -> list[str]:
    """What an entry changed, one line per key (``rack: Unassigned → Hall A``).

    Values arrive masked by the core (secret keys read ``***``); nothing is unmasked here,
    and a secret key is listed without its value.
    """
    if old is None and new is None:
        return []
    if isinstance(old, dict) or isinstance(new, dict):
        o = old if isinstance(old, dict) else {}
        n = new if isinstance(new, dict) else {}
        lines = []
        for key in [*o, *(k for k in n if k not in o)]:
            if key in o and key in n:
                if o[key] != n[key]:
                    lines.append(f"{key}: {_value(o[key])} → {_value(n[key])}")
                elif o[key] == MASK:
                    lines.append(f"{key}: {MASK} (secret, not shown)")
                else:
                    lines.append(f"{key}: {_value(n[key])} (unchanged)")
            elif key in n:
                lines.append(f"{key}: {_value(n[key])}")
            else:
                lines.append(f"{key}: {_value(o[key])} (removed)")
        return lines
    if old is None:
        return [f"new: {_value(new)}"]
    if new is None:
        return [f"old: {_value(old)}"]
    return [f"{_value(old)} → {_value(new)}"]


# ---------------------------------------------------------------------- the detail
class AuditDetail(ModalScreen[None]):
    """One audit entry in full, with its state buttons and comments (the manual's right part)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("o", "state('Open')", "Open"),
        Binding("i", "state('Investigating')", "Investigating"),
        Binding("d", "state('Done')", "Done"),
        Binding("c", "comment", "Comment"),
        Binding("g", "goto", "Go to device"),
    ]
    """Keys; state and comment keys are hidden for roles without ``ack-alarm``."""

    DEFAULT_CSS = """
    AuditDetail { align: center middle; }
    AuditDetail > Vertical {
        width: 92; max-width: 98%; height: auto; max-height: 98%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    AuditDetail VerticalScroll { height: auto; max-height: 70vh; }
    AuditDetail #message { height: auto; }
    AuditDetail #message.-error { color: $error; text-style: bold; }
    AuditDetail #states { height: 1; margin-top: 0; }
    AuditDetail #states Button { margin: 0 1 0 0; }
    AuditDetail #comment { margin: 0; }
    """

    def __init__(self, entry: AuditEntry, device_label: str = "") -> None:
        super().__init__()
        self.entry = entry
        self.device_label = device_label

    @property
    def may_change(self) -> bool:
        """Whether this session may change the state and comment (the core checks again)."""
        return console_context(self).may(Action.ACK_ALARM)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Audit entry #{self.entry.id}"
            with VerticalScroll(id="body"):
                yield Static(self._body(), id="text")
            yield Static("", id="message")
            with Horizontal(id="states"):
                for state in AuditState:
                    yield Button(f"{state.value} ({_STATE_KEY[state]})", id=f"state-{state.name}",
                                 compact=True)
                yield Button("Close (esc)", id="close", compact=True)
            yield Input(placeholder=("Comment: type, then enter (c)" if self.may_change else
                                     "Commenting needs the ack-alarm action"),
                        id="comment", compact=True, disabled=not self.may_change)

    def on_mount(self) -> None:
        self._buttons()
        self.query_one("#body", VerticalScroll).focus()

    def _buttons(self) -> None:
        for state in AuditState:
            button = self.query_one(f"#state-{state.name}", Button)
            button.disabled = not self.may_change or state is self.entry.state
            button.variant = "primary" if state is self.entry.state else "default"

    def _body(self) -> Text:
        e = self.entry
        text = Text()
        text.append(severity_word(e.severity), style=SEVERITY_STYLE[e.severity] or "bold")
        text.append(" · ")
        text.append(e.state.value, style=_STATE_STYLE[e.state])
        config = console_context(self).core.config
        text.append(f" · {iso(e.ts, zone(config).key)}\n")
        text.append("User: ", style="bold")
        text.append(f"{e.user} via {e.face}" + (f" from {e.address}" if e.address else "") + "\n")
        if e.device:
            text.append("Device: ", style="bold")
            text.append(f"{self.device_label or e.device}\n")
        text.append("Action: ", style="bold")
        text.append(f"{e.action} on {e.object}\n")
        text.append("\n")
        text.append(e.message + "\n")
        changes = change_lines(e.old, e.new)
        if changes:
            text.append("\nChanges (secrets masked):\n", style="bold")
            for line in changes:
                text.append(f"  {line}\n")
        text.append(f"\nComments ({len(e.comments)}):\n", style="bold")
        if not e.comments:
            text.append("  none yet\n", style="dim")
        for c in e.comments:
            text.append(f"  {_comment_time(config, c.get('ts'))} ", style="dim")
            text.append(f"{c.get('user', '?')}: ", style="bold")
            text.append(f"{c.get('text', '')}\n")
        text.rstrip()
        return text

    def show_entry(self, entry: AuditEntry) -> None:
        """Redraw with a newer copy of the entry (changed here or in another session)."""
        if entry.id != self.entry.id:
            return
        self.entry = entry
        self.query_one("#text", Static).update(self._body())
        self._buttons()

    def _say(self, text: str, *, error: bool = False) -> None:
        msg = self.query_one("#message", Static)
        msg.update(text)
        msg.set_class(error, "-error")

    def say_error(self, exc: EnertegError) -> None:
        """A refusal of the core in the dialog's outcome line (``screens/errors.py``)."""
        self._say(str(exc), error=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the state and comment keys without ``ack-alarm``, and the device key without one."""
        if action in ("state", "comment"):
            return self.may_change
        return action != "goto" or bool(self.entry.device)

    async def action_state(self, name: str) -> None:
        """Move the entry to Open, Investigating or Done (noted in its comments by the core)."""
        state = AuditState(name)
        if state is self.entry.state:
            self._say(f"Entry #{self.entry.id} is already {state.value}")
            return
        ctx = console_context(self)
        try:
            entry = await ctx.core.audit.set_state(ctx.principal, self.entry.id, state)
        except EnertegError as exc:
            self.say_error(exc)
            return
        self.show_entry(entry)
        self._say(f"Entry #{entry.id} is now {state.value}")

    def action_comment(self) -> None:
        """Focus the comment field."""
        self.query_one("#comment", Input).focus()

    @on(Input.Submitted, "#comment")
    async def _add_comment(self, event: Input.Submitted) -> None:
        event.stop()
        ctx = console_context(self)
        try:
            entry = await ctx.core.audit.comment(ctx.principal, self.entry.id, event.value)
        except EnertegError as exc:
            self.say_error(exc)   # the typed text stays for correction
            return
        event.input.value = ""
        self.show_entry(entry)
        self.query_one("#body", VerticalScroll).scroll_end(animate=False)
        self._say(f"Comment added to entry #{entry.id}")

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        if bid == "close":
            self.dismiss(None)
        elif bid.startswith("state-"):
            await self.action_state(AuditState[bid.removeprefix("state-")].value)

    def action_close(self) -> None:
        """Close the detail (escape); a typed comment not yet added is asked about first."""
        typed = self.query_one("#comment", Input).value.strip()
        ask_to_discard(self, f"Comment on audit entry #{self.entry.id}", 1 if typed else 0,
                       lambda: self.dismiss(None))

    def action_goto(self) -> None:
        """Open the entry's PDU in the device view."""
        device = self.entry.device
        if not device:
            return
        if console_context(self).core.live.get(device) is None:
            self._say(f"PDU {device} is no longer on the ring", error=True)
            return
        self.dismiss(None)
        self.app.call_later(self.app.open_place, Place("device", device))  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- the page
class AuditPage(Page):
    """The audit log: filters, the paged list coloured by severity, the detail of one entry."""

    LIVE_KINDS = ("audit", "audit-changed")
    LIVE_VALUES = False
    """New entries and changes of state or comments; live values do not matter here."""

    TERMS: ClassVar[tuple[tuple[str, str], ...]] = (
        *((f"State {s.value}", AUDIT_STATE_MEANING[s]) for s in AuditState),
        *((f"Severity {lv.word}", lv.meaning) for lv in LEVELS),
    )
    """What the State and Severity columns say, for the help screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "view", "Details"),
        Binding("f", "filter", "Filter"),
        Binding("n", "next_page", "Older"),
        Binding("p", "prev_page", "Newer"),
        Binding("r", "newest", "Newest"),
        Binding("x", "clear", "Clear"),
        Binding("g", "goto", "Device"),
    ]
    """Keys (enter opens the detail too)."""

    NOTIFY_TITLE = "Audit log"

    DEFAULT_CSS = """
    AuditPage LiveTable { height: 1fr; }
    AuditPage #filters { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    AuditPage #detail { height: auto; max-height: 4; padding: 0 1;
                        border-top: hkey $panel-lighten-2; }
    AuditPage #message { height: auto; padding: 0 1; }
    AuditPage #message.-error { color: $error; text-style: bold; }
    """

    def __init__(self, ref: str | None = None) -> None:
        super().__init__()
        self.place = Place("audit")
        self.filter = AuditFilter()
        self.filter_text = FilterText()
        self.page_index = 0
        """0 for the newest entries."""
        self.total = 0
        """Entries matching the filters when the page was last read."""
        self.unseen = 0
        """Entries that arrived while a later page was shown."""
        self.entries: dict[int, AuditEntry] = {}

    def compose(self) -> ComposeResult:
        yield PageTitle("Audit log", id="title")
        yield Static("", id="filters")
        yield ListTable(COLUMNS, id="entries", descending=("time",),
                        placeholder="words to find in this page's entries (f: filter the whole log)")
        yield Static("", id="detail")
        yield Static("", id="message")

    async def on_mount(self) -> None:
        self.listen()       # first, so that no entry slips between the read and the news
        await self.reload()

    def focus_first(self) -> None:
        self.table.focus(scroll_visible=False)

    @property
    def table(self) -> LiveTable:
        """The entry list."""
        return self.query_one("#entries", LiveTable)

    @property
    def pages(self) -> int:
        """Number of pages for the current filters (at least 1)."""
        return max(1, -(-self.total // PAGE_SIZE))

    # ------------------------------------------------------------------ reading
    def device_label(self, hex_id: str | None) -> str:
        """A PDU as ``name (hexid)`` while it is on the ring, else its hex id."""
        if not hex_id:
            return ""
        live = self.ctx.core.live.get(hex_id)
        return f"{live.info.display_name} ({hex_id})" if live is not None else hex_id

    async def reload(self) -> None:
        """Read the count and the current page from the core, keeping the cursor's entry."""
        ctx = self.ctx
        audit = ctx.core.audit
        try:
            self.total = await audit.count(ctx.principal, self.filter)
            self.page_index = min(self.page_index, self.pages - 1)
            entries = await audit.query(ctx.principal, self.filter, limit=PAGE_SIZE,
                                        offset=self.page_index * PAGE_SIZE)
        except EnertegError as exc:
            self.say_error(exc)
            return
        if self.page_index == 0:
            self.unseen = 0
        self.entries = {e.id: e for e in entries}
        time_heading(self.table, ctx.core.config)
        self.table.set_rows([self._row(e) for e in entries])
        self._headline()

    def _row(self, e: AuditEntry) -> Row:
        style = SEVERITY_STYLE[e.severity]
        return Row(key=e.id, cells={
            "time": table_time(self.ctx.core.config, e.ts),
            "severity": Text(severity_word(e.severity), style=style or "bold"),
            "state": Text(_STATE_SHORT[e.state], style=_STATE_STYLE[e.state]),
            "user": e.user,
            "message": e.message,
            "device": self._device_cell(e.device),
        }, style=style)

    def _device_cell(self, hex_id: str | None) -> str:
        """The list's device cell: hex id first (it stays readable when the name is cut)."""
        if not hex_id:
            return ""
        live = self.ctx.core.live.get(hex_id)
        return f"{hex_id} {live.info.display_name}" if live is not None else hex_id

    def _headline(self) -> None:
        title = Text(_("Audit log"), style="bold")
        if self.total:
            first = self.page_index * PAGE_SIZE + 1
            last = min(self.total, first + len(self.entries) - 1)
            title.append(f" · entries {first}–{last} of {self.total}"
                         f" · page {self.page_index + 1} of {self.pages}")
        else:
            title.append(" · no entries match" if self.filter_text else " · empty")
        if self.unseen:
            title.append(f" · {self.unseen} new (r)", style="bold yellow")
        self.query_one("#title", PageTitle).update(title)
        active = describe_filter(self.filter, self.device_label(self.filter.device),
                                 zone(self.ctx.core.config).key)
        self.query_one("#filters", Static).update(
            (f"Filters: {active} (f change, x clear)" if active
             else "All entries, newest first · f filters · enter details") + "\n" + STATE_LEGEND)
        self._describe()

    def _describe(self) -> None:
        detail = self.query_one("#detail", Static)
        e = self._current()
        if e is None:
            detail.update("No entries match these filters: x clears them" if self.filter_text
                          else "The audit log is empty")
            return
        text = Text()
        text.append(f"#{e.id} ", style="bold")
        text.append(severity_word(e.severity), style=SEVERITY_STYLE[e.severity] or "bold")
        text.append(f" · {e.state.value} · {e.user} via {e.face}")
        if e.device:
            text.append(f" · {self.device_label(e.device)}")
        if e.comments:
            text.append(f" · {len(e.comments)} comment{'' if len(e.comments) == 1 else 's'}")
        text.append(f"\n{e.message}")
        detail.update(text)

    def _current(self) -> AuditEntry | None:
        row = self.table.current
        return self.entries.get(int(str(row.key))) if row is not None else None


    # ------------------------------------------------------------------ live
    def on_live_batch(self, batch: Batch) -> None:
        new = [ev for ev in batch.events if ev.kind == "audit"]
        changed = [ev.data for ev in batch.events
                   if ev.kind == "audit-changed" and isinstance(ev.data, AuditEntry)]
        for entry in changed:
            self._changed(entry)
        if new:
            if self.page_index == 0:
                self.call_later(self.reload)
            else:
                self.unseen += len(new)
                self._headline()

    def _changed(self, entry: AuditEntry) -> None:
        if entry.id in self.entries:
            self.entries[entry.id] = entry
            self.table.update_row(self._row(entry))
            self._describe()
        screen = self.app.screen
        if isinstance(screen, AuditDetail):
            screen.show_entry(entry)

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        self._describe()

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        self.action_view()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out page keys that would do nothing now (first/last page, no filters)."""
        if action == "prev_page" and self.page_index == 0:
            return None
        if action == "next_page" and self.page_index >= self.pages - 1:
            return None
        if action == "clear" and not self.filter_text:
            return None
        return True

    # ------------------------------------------------------------------ actions
    def action_view(self) -> None:
        """Open the highlighted entry in full, with its state buttons and comments."""
        entry = self._current()
        if entry is None:
            self.say("Select an entry first")
            return
        self.app.push_screen(AuditDetail(entry, self.device_label(entry.device)))

    async def _turn(self, page_index: int) -> None:
        self.page_index = page_index
        self.table.cursor_row = 0
        await self.reload()
        self.refresh_bindings()

    async def action_next_page(self) -> None:
        """Older entries."""
        if self.page_index < self.pages - 1:
            await self._turn(self.page_index + 1)

    async def action_prev_page(self) -> None:
        """Newer entries."""
        if self.page_index > 0:
            await self._turn(self.page_index - 1)

    async def action_newest(self) -> None:
        """Back to the first page (the newest entries), read again."""
        await self._turn(0)
        self.say("Newest entries")

    async def action_clear(self) -> None:
        """Drop every filter."""
        self.filter, self.filter_text = AuditFilter(), FilterText()
        await self._turn(0)
        self.say("Filters cleared")

    def action_filter(self) -> None:
        """Open the filter form; a value it cannot read is refused there and changes nothing."""
        ctx = self.ctx
        v = self.filter_text.values

        async def submit(values: dict[str, str]) -> str | None:
            now = ctx.clock()
            devices = [(d.hex_id, d.info.display_name) for d in ctx.core.live.ordered()]
            try:
                severities = parse_severities(values["severity"])
                states = parse_states(values["state"])
                device = parse_device(values["device"], devices)
                since = parse_when(values["since"], "From", now)
                until = parse_when(values["until"], "To", now)
            except EnertegError as exc:
                return str(exc)
            if since is not None and until is not None and since >= until:
                return (f"From {iso(since)} is not before To {iso(until)}; the period must "
                        "start before it ends")
            flt = AuditFilter(severities=severities, states=states,
                              user=values["user"].strip() or None, device=device,
                              text=values["text"].strip() or None, since=since, until=until)
            self.filter = flt
            self.filter_text = FilterText({
                "severity": _severity_words(severities) if severities else "",
                "state": ",".join(s.value for s in AuditState if states and s in states),
                "user": flt.user or "", "device": values["device"].strip(),
                "text": flt.text or "", "since": iso(since), "until": iso(until)})
            self.page_index = 0
            self.table.cursor_row = 0
            await self.reload()
            self.refresh_bindings()
            self.say("Filters applied" if self.filter_text else "Showing every entry")
            return None

        self.app.push_screen(FormDialog("Filter the audit log", [
            FormField("severity", f"Severity ({' '.join(SEVERITY_WORDS)}, or Warning+)",
                      value=v["severity"]),
            FormField("state", f"State ({STATE_HELP})", value=v["state"]),
            FormField("user", "User (login name, exact)", value=v["user"]),
            FormField("device", "Device (PDU name or hex id)", value=v["device"]),
            FormField("text", "Text in the message or object", value=v["text"]),
            FormField("since", "From (ISO time UTC, or 30m / 12h / 7d ago)", value=v["since"]),
            FormField("until", "To, before (same forms)", value=v["until"]),
        ], submit, ok="Apply", intro="Empty fields do not filter; comma lists allowed"))

    def action_goto(self) -> None:
        """Open the highlighted entry's PDU."""
        entry = self._current()
        if entry is None or not entry.device:
            self.say("This entry is about no PDU" if entry is not None else "Select an entry first")
            return
        if self.ctx.core.live.get(entry.device) is None:
            self.say(f"PDU {entry.device} is no longer on the ring", error=True)
            return
        self.app.call_later(self.app.open_place, Place("device", entry.device))  # type: ignore[attr-defined]
