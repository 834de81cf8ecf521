"""The Settings page (manual chapter 5): every ``config/`` topic as a form, plus maintenance.

Without a ref it lists the topics (title, path, the service that applies them, when
they last changed); enter opens one. ``b`` writes a backup now, ``r`` restores one
from ``/upload`` or ``/backups``, ``x`` resets to factory settings after the typed
word, exactly as the shell's ``backup``, ``restore`` and ``factory-reset``.

Built with a topic name (``Place("settings", "syslog")``) it shows that topic's form,
generated from the same pydantic schema the shell's ``put`` uses: a toggle or a choice
becomes a select box, anything else a text field whose text is typed by the schema the
way the shell types ``put key=value`` text (``core.documents.coerce_text``). Apply
(ctrl+s) sends only the changed keys to ``Configuration.put``: the core checks
``administer``, validates, stores and audits, so both faces accept and refuse exactly
the same values with the same messages, and a refused form changes nothing. Discard
(ctrl+r) puts the stored values back. Secrets are never shown: their field is empty
with "set" or "not set" beside it, and an empty secret field keeps the stored value.
A topic that no service of this build applies says so above its form, and so does a
topic applied only at the next start; a topic a face follows (``config/snmp_agent``)
shows the face's own report there (``core.faces``: running on …, or why not), and
Apply waits for it. Topics with an action have a button for it
(ctrl+o): a test e-mail, a history export now, a backup now.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from ..core.backup import FACTORY_RESET_WORD
from ..core.documents import coerce_text
from ..core.i18n import _
from ..core.errors import EnertegError
from ..core.events import Batch
from ..core.settings import SETTINGS_TOPICS, SettingsModel, settings_schema
from ..core.settings._base import SECRET_SHOWN_AS
from ..core.settings.appliers import Appliers
from .cells import time_heading
from .forms import FormDialog, FormField, FormFields
from ..core.timesync import CLOCK_CHANGE_WARNING, local_text, zone_abbr
from ..core.vocabulary import severity_word
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .structure_dialogs import Choice, ChoiceDialog
from .tree import Place

__all__ = ["ACTIONS", "TOPIC_COLUMNS", "FieldSpec", "SettingsPage", "field_specs"]

TOPIC_COLUMNS = (
    Column("title", "Settings", 18, "left"),
    Column("path", "Topic", 22, "left"),
    Column("service", "Applied by", 22, "left"),
    Column("changed", "Last changed (UTC)", 19, "left"),
)
"""Topic list columns."""

ACTIONS: dict[str, str] = {
    "email": "Send test e-mail",
    "sql_export": "Export now",
    "backup": "Back up now",
    "backup_settings": "Back up now",
    "network": "Confirm change",
}
"""The action button (ctrl+o) of the topics that have one."""

TOGGLE_CHOICES = ("enabled", "disabled")

MULTILINE_OVER = 8192
"""Text keys allowed to be longer than this (PEM certificates and keys) get a text area:
their line breaks matter and a one-line field would lose them."""


def _choice_label(key: str, choice: str) -> str:
    """A select box's label: a severity reads as its one word (``core.vocabulary``: the
    stored "Error" shows as "Critical"); other choices as they are stored."""
    return severity_word(choice) if key.lower().endswith("severity") else choice


class FieldSpec:
    """How one key of a topic is edited: a select box (choices) or a text field."""

    def __init__(self, key: str, description: str, *, choices: tuple[str, ...] = (),
                 secret: bool = False, structured: bool = False,
                 multiline: bool = False) -> None:
        self.key = key
        self.description = description
        self.choices = choices
        self.secret = secret
        self.structured = structured
        self.multiline = multiline
        """Long text kept line by line (PEM certificates and keys): a text area."""
        """A list or mapping: shown as text (a list comma-separated, a mapping as JSON)."""


def field_specs(schema: type[SettingsModel]) -> list[FieldSpec]:
    """The form fields of a settings schema, in the schema's (the manual's) key order."""
    secrets = schema.secret_fields()
    out = []
    for key, info in schema.model_fields.items():
        ann = info.annotation
        choices: tuple[str, ...] = ()
        if ann is bool:
            choices = TOGGLE_CHOICES
        elif typing.get_origin(ann) is typing.Literal:
            choices = tuple(str(a) for a in typing.get_args(ann))
        structured = typing.get_origin(ann) in (list, dict)
        longest = max((getattr(m, "max_length", 0) or 0 for m in info.metadata), default=0)
        out.append(FieldSpec(key, info.description or "", choices=choices,
                             secret=key in secrets, structured=structured,
                             multiline=ann is str and longest > MULTILINE_OVER))
    return out


def value_text(value: Any) -> str:
    """A stored value as the form shows it (the text ``put`` would accept back)."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(", ", ": "))
    return "" if value is None else str(value)


def _changed(config: Any, ts_ms: int) -> str:
    return local_text(config, ts_ms / 1000, "%Y-%m-%d %H:%M:%S")


def _service_text(schema: type[SettingsModel], appliers: Appliers) -> Text:
    """The list's "Applied by" cell: the services that registered for the topic."""
    names = appliers.applied_by(schema.TOPIC)
    if not names:
        return Text("none yet", style="yellow")
    text = Text(", ".join(names))
    if schema.SERVICE_NOTE or schema.INACTIVE_KEYS:
        text.append(" (see note)", style="yellow")
    return text


class SettingsPage(Page):
    """The list of settings topics, or (with a topic name) that topic's form."""

    LIVE_KINDS = ("settings",)
    LIVE_VALUES = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "Apply"),
        Binding("ctrl+r", "discard", "Discard"),
        Binding("ctrl+o", "topic_action", "Action"),
        Binding("b", "backup", "Back up now"),
        Binding("r", "restore", "Restore"),
        Binding("x", "factory_reset", "Factory reset"),
        Binding("c", "certificates", "Certificates"),
        Binding("f", "firmware", "PDU firmware"),
    ]
    """Form keys (apply, discard, the topic's action) and list keys (maintenance)."""

    NOTIFY_TITLE = "Settings"

    DEFAULT_CSS = """
    SettingsPage LiveTable { height: 1fr; }
    SettingsPage #service { height: auto; padding: 0 1; }
    SettingsPage #service.-none { color: $warning; }
    SettingsPage #buttons { height: auto; padding: 0 1; }
    SettingsPage #buttons Button { margin: 0 1 0 0; }
    SettingsPage #fields { height: 1fr; padding: 0 1; }
    SettingsPage .field { height: auto; }
    SettingsPage .field Label { width: 24; padding: 0 1 0 0; }
    SettingsPage .field Input, SettingsPage .field Select { width: 1fr; }
    SettingsPage .field TextArea { width: 1fr; height: 6; }
    SettingsPage .secret-state { width: 9; padding: 0 0 0 1; color: $text-muted; }
    SettingsPage .help { color: $text-muted; padding: 0 0 0 24; height: auto; }
    SettingsPage .changed Label { text-style: bold; color: $accent; }
    SettingsPage #message { height: auto; padding: 0 1; }
    SettingsPage #message.-error { color: $error; text-style: bold; }
    """

    def __init__(self, ref: str | None = None) -> None:
        super().__init__()
        self.topic = str(ref) if ref is not None else None
        self.schema: type[SettingsModel] | None = None
        self.specs: list[FieldSpec] = []
        self.initial: dict[str, str] = {}
        """The text each field started from (the stored values when last loaded)."""
        self._service_shown = ""
        """The service line's text as shown (the network form redraws it when it ages)."""
        if self.topic is not None:
            self.schema = settings_schema(self.topic)  # NotFound names the topics
            self.specs = field_specs(self.schema)
            self.place = Place("settings", self.topic)
        else:
            self.place = Place("settings")

    # ------------------------------------------------------------------ building
    def compose(self) -> ComposeResult:
        yield PageTitle("", id="title")
        if self.topic is None:
            yield ListTable(TOPIC_COLUMNS, id="topics")
            yield Static("", id="service")
        else:
            assert self.schema is not None
            yield Static("", id="service")
            with Horizontal(id="buttons"):
                yield Button("Apply (^s)", id="apply", variant="primary", compact=True)
                yield Button("Discard (^r)", id="discard", compact=True)
                if self.topic in ACTIONS:
                    yield Button(f"{ACTIONS[self.topic]} (^o)", id="action", compact=True)
            with FormFields(id="fields"):
                for spec in self.specs:
                    yield from self._field(spec)
        yield Static("", id="message")

    def _field(self, spec: FieldSpec) -> ComposeResult:
        with Horizontal(classes="field", id=f"row-{spec.key}"):
            yield Label(spec.key)
            if spec.choices:
                yield Select([(_choice_label(spec.key, c), c) for c in spec.choices],
                             allow_blank=False,
                             value=spec.choices[0], id=f"f-{spec.key}", compact=True)
            elif spec.multiline:
                yield TextArea("", id=f"f-{spec.key}", soft_wrap=False, compact=True,
                               classes="pem")
            else:
                yield Input("", id=f"f-{spec.key}", password=spec.secret, compact=True,
                            placeholder="(empty)" if not spec.secret else "type to change")
            if spec.secret:
                yield Static("", classes="secret-state", id=f"s-{spec.key}")
        yield Static(_(spec.description), classes="help")

    def on_mount(self) -> None:
        if self.topic is None:
            self._fill_list()
        else:
            self._load()
            if self.topic == "network":
                self.set_interval(1.0, self._tick_network)
        self.listen()

    def focus_first(self) -> None:
        if self.topic is None:
            self.query_one("#topics", LiveTable).focus(scroll_visible=False)
        elif self.specs:
            self.query_one(f"#f-{self.specs[0].key}").focus(scroll_visible=False)

    # ------------------------------------------------------------------ the list
    def _fill_list(self) -> None:
        config = self.ctx.core.config
        rows = []
        for name, schema in SETTINGS_TOPICS.items():
            rows.append(Row(key=name, cells={
                "title": _(schema.TITLE), "path": f"config/{name}",
                "service": _service_text(schema, config.appliers),
                "changed": _changed(config, config.ts_ms(name))}))
        table = self.query_one("#topics", LiveTable)
        time_heading(table, config, "changed", "Last changed")
        table.sync(rows, flash=False)
        self.query_one("#title", PageTitle).update(Text.assemble(
            (_("Settings"), "bold"), " · " + _("{count} topics · enter: edit · b: back up now · "
                                              "r: restore · x: factory reset · c: certificates")
            .format(count=len(rows))))
        self._describe_topic()

    def _describe_topic(self) -> None:
        table = self.query_one("#topics", LiveTable)
        row = table.current
        note = self.query_one("#service", Static)
        if row is None:
            note.update("")
            return
        schema = SETTINGS_TOPICS[str(row.key)]
        doc = (schema.__doc__ or "").strip().splitlines()[0] if schema.__doc__ else ""
        text = Text(f"{_(schema.TITLE)}: ", style="bold")
        text.append(doc)
        text.append("\n")
        text.append_text(self._service_line(schema))
        note.update(text)

    def _service_line(self, schema: type[SettingsModel]) -> Text:
        """Who applies the topic in this controller, or that it is not active here."""
        appliers = self.ctx.core.config.appliers
        names = appliers.applied_by(schema.TOPIC)
        if not names:
            return Text(_("Not active in this build: no service applies these settings; they "
                          "are stored, checked and backed up, and take effect when the service "
                          "exists."), style="yellow")
        text = Text(_("Applied by: {services}.").format(services=', '.join(names)))
        if schema.SERVICE_NOTE:
            text.append(" " + _(schema.SERVICE_NOTE), style="yellow")
        off = appliers.inactive(schema.TOPIC) if schema.INACTIVE_KEYS else []
        if off:
            text.append(" " + _("Stored but not active in this build: {keys}.").format(
                keys=_(schema.INACTIVE_NOTE) if schema.INACTIVE_NOTE else ', '.join(off)),
                style="yellow")
        return text

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        if self.topic is None:
            self._describe_topic()

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        self.app.call_later(self.app.open_place,  # type: ignore[attr-defined]
                            Place("settings", str(event.row.key)))

    # ------------------------------------------------------------------ the form
    def _widget(self, key: str) -> Input | Select[str] | TextArea:
        w: Widget = self.query_one(f"#f-{key}")
        assert isinstance(w, (Input, Select, TextArea))
        return w

    def _set(self, key: str, text: str) -> None:
        widget = self._widget(key)
        if isinstance(widget, TextArea):
            widget.load_text(text)
        else:
            widget.value = text

    def _load(self) -> None:
        """Fill the form from the stored values (secrets: state only)."""
        assert self.topic is not None and self.schema is not None
        public = self.ctx.core.config.public(self.topic)
        self.initial = {}
        for spec in self.specs:
            value = public.get(spec.key)
            if spec.secret:
                self.initial[spec.key] = ""
                self.query_one(f"#s-{spec.key}", Static).update(
                    "set" if value == SECRET_SHOWN_AS else "not set")
                self._set(spec.key, "")
            else:
                text = value_text(value)
                self.initial[spec.key] = text
                self._set(spec.key, text)
        self._show_service()
        self.query_one("#service", Static).set_class(self.schema.SERVICE is None, "-none")
        self._mark_changed()

    def _show_service(self) -> None:
        """The service line: who applies the topic and what it says now (the network's
        pending change with the seconds left, live: ``core.network.status``)."""
        assert self.topic is not None and self.schema is not None
        line = self._service_line(self.schema)
        if self.topic == "network":
            report: str | None = self.ctx.core.network.status()["text"]
        else:
            report = self.ctx.core.faces.text(self.topic)
        if report:
            line.append(f" Now: {report}.",
                        style="bold yellow" if "waits for confirmation" in report else "")
        if self.topic == "time":        # the manual's warning (§4.2): servers that step
            line.append(f" {self.ctx.core.timesync.host_text}. {CLOCK_CHANGE_WARNING}",
                        style="yellow")       # the clock leave a gap in the history
        self._service_shown = line.plain
        self.query_one("#service", Static).update(line)

    def _tick_network(self) -> None:
        """Once a second on the network form: the seconds left of a pending change."""
        if f"Now: {self.ctx.core.network.status()['text']}." not in self._service_shown:
            self._show_service()

    def _text(self, key: str) -> str:
        widget = self._widget(key)
        if isinstance(widget, TextArea):
            return widget.text
        value = widget.value
        return "" if value is Select.BLANK else str(value)

    def edits(self) -> dict[str, str]:
        """Field texts that differ from the stored values (a typed secret counts)."""
        return {s.key: self._text(s.key) for s in self.specs
                if self._text(s.key) != self.initial.get(s.key, "")}

    def _mark_changed(self) -> None:
        edits = self.edits()
        for spec in self.specs:
            self.query_one(f"#row-{spec.key}").set_class(spec.key in edits, "changed")
        if self.topic is not None and self.schema is not None:
            title = Text(_(self.schema.TITLE), style="bold")
            title.append(f" · config/{self.topic}")
            if edits:
                title.append(f" · {len(edits)} unsaved change{'' if len(edits) == 1 else 's'}",
                             style="yellow")
            self.query_one("#title", PageTitle).update(title)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed | TextArea.Changed) -> None:
        if self.topic is not None and self.initial:
            self._mark_changed()

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_apply()

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "apply":
            await self.action_apply()
        elif event.button.id == "discard":
            self.action_discard()
        elif event.button.id == "action":
            self.action_topic_action()

    async def action_apply(self) -> None:
        """Send the changed keys to the core; show its refusal, or what was saved."""
        if self.topic is None or self.schema is None:
            return
        edits = self.edits()
        if not edits:
            self.say("Nothing to apply: no field differs from the stored settings")
            return
        changes = {k: coerce_text(self.schema, k, v) for k, v in edits.items()}
        ctx = self.ctx
        faces = ctx.core.faces
        report = faces.next_report(self.topic)
        try:
            await ctx.core.config.put(ctx.principal, self.topic, changes)
        except EnertegError as exc:
            self.say_error(exc)
            return
        note = ctx.core.config.appliers.effect(self.topic, edits)
        saved = f"Saved config/{self.topic}: {', '.join(sorted(edits))}" + (
            f"; {note}" if note else "")
        if report is not None:
            # the face (SNMP agent) applies the change itself: say how that went
            saved += f". {self.schema.TITLE}: {await faces.wait(self.topic, report)}"
        self._load()
        self.say(saved)

    def unsaved_edits(self) -> tuple[str, int]:
        """Edited, unapplied fields of the topic's form (escape asks before leaving)."""
        if self.topic is None:
            return "", 0
        return f"config/{self.topic}", len(self.edits())

    def action_discard(self) -> None:
        """Put the stored values back into the form."""
        if self.topic is None:
            return
        had = len(self.edits())
        self._load()
        self.say(f"Discarded {had} unsaved change{'' if had == 1 else 's'}" if had
                  else "No unsaved changes")

    def on_live_batch(self, batch: Batch) -> None:
        names = {ev.subject for ev in batch.events if ev.kind == "settings"}
        if self.topic is None:
            if names:
                self._fill_list()
        elif self.topic in names:
            if self.edits():
                self.say(f"config/{self.topic} was changed elsewhere; ctrl+r shows the new "
                          "values (your unsaved changes are kept until then)")
            else:
                self._load()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Form keys on a topic's form, maintenance keys on the list."""
        if action in ("apply", "discard"):
            return self.topic is not None
        if action == "topic_action":
            return self.topic in ACTIONS
        if action in ("backup", "restore", "factory_reset", "certificates", "firmware"):
            return self.topic is None
        return True

    def action_certificates(self) -> None:
        """Open the certificate store's page (``screens/certs_page.py``)."""
        self.app.call_later(self.app.open_place, Place("certs"))  # type: ignore[attr-defined]

    def action_firmware(self) -> None:
        """Open the PDU firmware page (``screens/firmware_page.py``)."""
        self.app.call_later(self.app.open_place, Place("firmware"))  # type: ignore[attr-defined]


    def action_topic_action(self) -> None:
        """The topic's action: test e-mail, export now, back up now, or confirm the
        applied network change (``core/network.py``)."""
        if self.topic == "email":
            self._run("Test e-mail", self._test_mail)
        elif self.topic == "sql_export":
            self._run("Export", self._export_now)
        elif self.topic in ("backup", "backup_settings"):
            self.action_backup()
        elif self.topic == "network":
            ctx = self.ctx
            self._run("Network", lambda: ctx.core.network.confirm(ctx.principal))

    def _run(self, what: str, job: Callable[[], Awaitable[str]]) -> None:
        if self.edits():
            self.say(f"{what}: apply or discard your changes first; the action uses the "
                      "stored settings", error=True)
            return
        self.say(f"{what}: running…")
        self._run_job(what, job)

    @work(exclusive=True, group="settings-action")
    async def _run_job(self, what: str, job: Callable[[], Awaitable[str]]) -> None:
        try:
            result = await job()
        except EnertegError as exc:
            self.say_error(exc)
            return
        self.say(f"{what}: {result}")

    async def _test_mail(self) -> str:
        ctx = self.ctx
        return await ctx.core.notifications.send_test(ctx.principal, "email")

    async def _export_now(self) -> str:
        ctx = self.ctx
        status = await ctx.core.export.run_now(ctx.principal)
        if status.last_error:
            return f"failed, {status.last_error}"
        return (f"{status.last_rows} rows to {status.destination} "
                f"({status.rows} since the controller started)")

    def action_backup(self) -> None:
        """Write a backup file into /backups now."""
        async def job() -> str:
            ctx = self.ctx
            path = await ctx.core.backup.create(ctx.principal)
            return f"written /backups/{path.name} ({path.stat().st_size:,} bytes)"
        self.say("Backup: running…")
        self._run_job("Backup", job)

    def action_restore(self) -> None:
        """Choose a backup file from /upload or /backups and restore it, all or nothing."""
        c = self.ctx.core
        files = []
        for folder in ("upload", "backups"):
            base = c.paths.root / folder
            if base.is_dir():
                files += [p for p in sorted(base.iterdir()) if p.is_file()]
        if not files:
            self.say("No backup files: put one into /upload with sftp, or back up now (b)")
            return
        choices = [Choice(f"/{p.parent.name}/{p.name}", {
            "path": f"/{p.parent.name}/{p.name}", "size": f"{p.stat().st_size:,}",
            "when": _changed(c.config, int(p.stat().st_mtime * 1000))},
            f"{p.parent.name}/{p.name}".lower()) for p in files]
        columns = (Column("path", "File", 48, "left"), Column("size", "Bytes", 10),
                   Column("when", f"Written ({zone_abbr(c.config)})", 19, "left"))

        def chosen(shown: str | None) -> None:
            if shown:
                self._confirm_restore(shown)

        self.app.push_screen(ChoiceDialog(
            "Restore", "Which backup? Every part is checked first; then all of it is applied, "
            "or nothing.", columns, choices), chosen)

    def _confirm_restore(self, shown: str) -> None:
        from .dialogs import ConfirmDialog

        c = self.ctx.core
        path = c.paths.root / shown.strip("/")

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say(f"{shown} not restored")
                return

            async def job() -> str:
                ctx = self.ctx
                counts = await c.backup.restore(ctx.principal, path)
                return "restored " + ", ".join(f"{v} {k}" for k, v in counts.items())
            self.say("Restore: running…")
            self._run_job("Restore", job)

        self.app.push_screen(ConfirmDialog(
            f"Restore {shown}? It replaces the settings, users, DC structure, rules and "
            "device settings of this controller.", yes="Restore", no="Cancel",
            title="Restore"), confirmed)

    def action_factory_reset(self) -> None:
        """Reset to factory settings after the typed confirmation word."""
        ctx = self.ctx

        async def submit(values: dict[str, str]) -> str | None:
            try:
                await ctx.core.backup.factory_reset(ctx.principal,
                                                          values["confirm"].strip())
            except EnertegError as exc:
                return str(exc)
            return None

        def done(ok: bool | None) -> None:
            if ok:
                self.say("Factory reset done: admin/admin is back, everything else is at its "
                          "defaults")
                self._fill_list()

        self.app.push_screen(FormDialog(
            "Factory reset", [FormField("confirm", f"Type {FACTORY_RESET_WORD} to confirm")],
            submit, ok="Reset", intro="This deletes every setting, user, rule, alarm, the DC "
            "structure, the audit log and the history. The PDUs keep their own configuration. "
            "It cannot be undone."), done)
