"""The rule form (manual §9.2–9.3) and the words the console uses to describe a rule.

Creating a rule follows the manual's order: scope (all PDUs, a PDU type, one PDU, a
room, row or rack) → target (chosen from the PDUs, types and structure elements that
exist) → measurement → restriction (totals, phases, branches, outlets or sensors, with
an optional index range) → name → the four thresholds, each with its toggle, in the
rule's unit, plus hysteresis and minimum duration. Each choice narrows the next one
(only components that measure the chosen quantity, "%" only for currents that have a
rating), but the form decides nothing: the document goes as typed to
``RuleService.create`` or ``update`` (the ``edit-rules`` permission and every check
are there), so a bad value gets the same message as ``put rules/...`` in the shell
and nothing is saved. The describing helpers are shared with the rules page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ..core.errors import EnertegError
from ..core.evaluation import fmt_num
from ..core.quantities import BY_KEY, COMPONENT_BY_CODE, QUANTITIES, Component
from ..core.rules import STATE_QUANTITIES, Rule, RuleDoc, rule_unit
from ..core.structure import Kind
from .context import console_context
from .errors import show_error_line
from .unsaved import EditTracker, ask_to_discard

if TYPE_CHECKING:
    from ..core.services import CoreServices

__all__ = [
    "COMPONENT_WORDS",
    "SCOPE_WORDS",
    "STATE_LABELS",
    "THRESHOLDS",
    "SHORT",
    "OnOff",
    "RuleForm",
    "component_choices",
    "hysteresis_text",
    "quantity_text",
    "restriction_text",
    "rule_cells",
    "rule_detail",
    "scope_text",
    "seconds_text",
    "target_choices",
    "threshold_text",
    "unit_choices",
]

SCOPE_WORDS: dict[str, str] = {
    "all": "All PDUs", "type": "A PDU type", "pdu": "One PDU",
    "room": "A room", "row": "A row", "rack": "A rack",
}
"""The scope choices in the manual's words (§9.2)."""

COMPONENT_WORDS: dict[str, str] = {"": "Any component"} | {c.value: c.label for c in Component}
"""Restriction choices (the rule model's ``component``), labels from the catalogue."""

STATE_LABELS: dict[str, str] = {
    "deviceUnreachable": "PDU unreachable (1/0)",
    "deviceStale": "PDU data stale (1/0)",
    "ringBreaks": "Ring breaks (count)",
}
"""Labels of the state quantities (they are numbers: 1/0, or the number of breaks)."""

THRESHOLDS: tuple[tuple[str, str], ...] = (
    ("criticalAbove", "Critical above"), ("warningAbove", "Warning above"),
    ("warningBelow", "Warning below"), ("criticalBelow", "Critical below"),
)
"""The four thresholds in the manual's order (Figure 42)."""

SHORT: dict[str, str] = {"criticalAbove": "Crit >", "warningAbove": "Warn >",
                         "warningBelow": "Warn <", "criticalBelow": "Crit <"}
"""Short threshold names, as the tables' headers print them."""

DEFAULT_QUANTITY = "current"
"""Measurement a new rule starts with."""


# ---------------------------------------------------------------------- words
DC_SCOPES = ("room", "row", "rack")
"""Scopes whose rules may watch the element's own totals instead of each PDU in it."""

WATCH_WORDS = {"each PDU in it": "pdus", "its own totals (one alarm)": "totals"}
"""The 'Watch' choice of a room/row/rack rule (``elementTotals``)."""


def quantity_text(quantity: str) -> str:
    """``Current``, ``Residual current``, ``PDU unreachable (1/0)``."""
    q = BY_KEY.get(quantity)
    return q.label if q is not None else STATE_LABELS.get(quantity, quantity)


def restriction_text(doc: RuleDoc) -> str:
    """``any``, ``totals``, ``phases``, ``outlets 1–8``, ``phase 2``."""
    comp = doc.component
    if not comp:
        return "any component" if doc.quantity not in STATE_QUANTITIES else "no restriction"
    if comp == "t":
        return "totals"
    component = COMPONENT_BY_CODE[comp]
    if doc.indexFrom is None:
        return component.plural
    if doc.indexFrom == doc.indexTo:
        return f"{component.singular} {doc.indexFrom}"
    return f"{component.plural} {doc.indexFrom}–{doc.indexTo}"


def scope_text(core: CoreServices, doc: RuleDoc) -> str:
    """The scope and its target, resolved to names: ``rack Hall A / Row 1 / Rack 1``
    (``totals of rack …`` for a rule on the element's own totals)."""
    s, t = doc.scope, doc.target
    if s == "all":
        return "all PDUs"
    if s == "type":
        return f"type {t}"
    if s == "pdu":
        live = core.live.get(t)
        return f"PDU {live.info.display_name} ({t})" if live else f"PDU {t} (unknown)"
    own = "totals of " if doc.elementTotals else ""
    try:
        return f"{own}{s} {core.structure.path(int(t))}"
    except (EnertegError, ValueError):
        return f"{own}{s} {t} (deleted)"


def threshold_text(doc: RuleDoc, key: str) -> str:
    """A threshold in the rule's unit, or ``—`` when it is switched off."""
    t = getattr(doc, key)
    if not t.enabled:
        return "—"
    return f"{fmt_num(t.value)} {doc.unit}".rstrip()


def target_choices(core: CoreServices, scope: str, current: str = "") -> list[tuple[str, str]]:
    """(label, value) of every target the scope can point at, from what exists now.

    A stored target that no longer exists is kept as a choice (marked) so editing
    such a rule shows what it points at.
    """
    s = core.structure
    out: list[tuple[str, str]] = []
    if scope == "all":
        return [("— (every PDU)", "")]
    if scope == "type":
        types = sorted({d.info.model.type_name for d in core.live.devices.values()})
        out = [(t, t) for t in types]
    elif scope == "pdu":
        out = [(f"{d.info.display_name} ({d.hex_id})", d.hex_id) for d in core.live.ordered()]
    else:
        out = [(s.path(el), str(el.id)) for el in s.elements(Kind(scope))]
    if current and current not in {v for _, v in out}:
        out.insert(0, (f"{current} (does not exist)", current))
    if not out:
        out = [(f"— (no {scope} exists yet)", "")]
    return out


def quantity_choices() -> list[tuple[str, str]]:
    """(label, key) of every measurement a rule can watch."""
    out = [(f"{q.label} ({q.unit})" if q.unit else q.label, q.key) for q in QUANTITIES]
    out += [(label, key) for key, label in STATE_LABELS.items()]
    return out


def component_choices(quantity: str) -> list[tuple[str, str]]:
    """(label, component) of the restrictions that measure ``quantity``."""
    if quantity in STATE_QUANTITIES:
        return [("— (a state of the PDU or ring)", "")]
    return [(COMPONENT_WORDS[""], "")] + [
        (c.label, c.value) for c in Component if quantity in c.quantities]


def unit_choices(quantity: str, component: str) -> list[tuple[str, str]]:
    """(label, unit) the thresholds may be written in: the quantity's unit, or % of rating."""
    native = rule_unit(quantity)
    out = [(native or "(no unit)", native)]
    if quantity in ("current", "currentPeak") and component not in ("o", "s"):
        out.append(("% of rating", "%"))
    return out


def seconds_text(value: float) -> str:
    """``5 s``, ``0.5 s``."""
    return f"{fmt_num(value)} s"


def hysteresis_text(doc: RuleDoc, automatic: str = "auto") -> str:
    """The rule's hysteresis in its unit, or ``automatic`` when it is left empty."""
    return automatic if doc.hysteresis is None else f"{fmt_num(doc.hysteresis)} {doc.unit}".rstrip()


def rule_cells(core: CoreServices, rule: Rule) -> dict[str, str | Text]:
    """The cells of a rule's line in the rule list (keys of ``rules_page.LIST_COLUMNS``)."""
    d = rule.doc
    cells: dict[str, str | Text] = {
        "on": Text("✔", style="green") if d.enabled else Text("✘", style="dim"),
        "id": str(rule.id),
        "name": d.name,
        "scope": scope_text(core, d),
        "measure": quantity_text(d.quantity) if d.quantity in STATE_QUANTITIES
        else f"{quantity_text(d.quantity)} · {restriction_text(d)}",
        "hyst": hysteresis_text(d),
        "dur": seconds_text(d.minDurationSeconds),
    }
    for key, _ in THRESHOLDS:
        cells[key] = threshold_text(d, key)
    return cells


def rule_detail(core: CoreServices, rule: Rule) -> Text:
    """A rule spelled out in four short lines (the rule list's detail)."""
    d = rule.doc
    text = Text()
    text.append(f'Rule {rule.id} "{d.name}"', style="bold")
    text.append(" · on" if d.enabled else " · off (governs nothing)",
                style="green" if d.enabled else "yellow")
    if rule.default:
        text.append(" · default rule")
    scope = scope_text(core, d)
    text.append(f"\n{scope[:1].upper()}{scope[1:]} · {quantity_text(d.quantity)}, "
                f"{restriction_text(d)} · in {d.unit or 'plain numbers'}\n")
    text.append(" · ".join(f"{SHORT[key]} {threshold_text(d, key)}".replace(" —", " off")
                           for key, _ in THRESHOLDS))
    text.append(f"\nHysteresis {hysteresis_text(d, 'automatic')} · minimum duration "
                f"{seconds_text(d.minDurationSeconds)}")
    return text


# ---------------------------------------------------------------------- form
class OnOff(Checkbox):
    """A threshold's toggle that says its state in words, ``[✔] on`` / ``[ ] off``.

    Textual's checkbox shows the same glyph for both states and tells them apart by
    colour only, which a monochrome terminal loses.
    """

    def __init__(self, value: bool, *, id: str) -> None:
        super().__init__("on" if value else "off", value, compact=True, id=id)

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble("[", ("✔" if self.value else " ", style), "]")

    def watch_value(self, value: bool) -> None:
        self.label = "on" if value else "off"


class FormLine(Horizontal):
    """One line of the form: a label and its control(s)."""

    DEFAULT_CSS = """
    FormLine { height: 1; }
    FormLine > Label { width: 17; }
    FormLine > Select { width: 1fr; max-width: 46; }
    FormLine > Input { width: 1fr; max-width: 46; }
    FormLine > Input.num { width: 10; }
    FormLine > Checkbox { width: 8; margin-right: 1; }
    FormLine > .after { width: auto; color: $text-muted; margin-left: 1; }
    """


class RuleForm(ModalScreen[int | None]):
    """Create or change a rule; ctrl+s saves through the rule service, escape cancels.

    Args:
        rule_id: the rule to change, or None for a new rule.
        preset: starting values of a new rule (e.g. scope, target, quantity and
            restriction of a channel chosen in the rule report).

    Dismisses with the saved rule's id, or None when cancelled.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    RuleForm { align: center middle; }
    RuleForm #box {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    RuleForm #fields { height: auto; max-height: 16; }
    RuleForm #form-error { color: $error; text-style: bold; height: auto; }
    RuleForm #buttons { height: 1; }
    RuleForm #buttons Button { margin-right: 2; }
    """

    def __init__(self, rule_id: int | None = None, *, preset: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.rule_id = rule_id
        self.preset = preset or {}
        self._edits = EditTracker(self)

    def _start(self) -> dict[str, Any]:
        """The document the form starts from."""
        c = console_context(self).core
        if self.rule_id is not None:
            rule = c.rules.get(self.rule_id).doc
            doc = rule.model_dump(mode="python")
            # on/off keys dump as the manual's words ("enabled"/"disabled"), and
            # bool("disabled") is True: the switches take the model's own booleans
            doc["enabled"] = rule.enabled
            doc["elementTotals"] = rule.elementTotals
            for key, _ in THRESHOLDS:
                doc[key] = {"enabled": getattr(rule, key).enabled,
                            "value": getattr(rule, key).value}
            return doc
        doc: dict[str, Any] = {
            "name": "", "enabled": True, "scope": "all", "target": "", "elementTotals": False,
            "quantity": DEFAULT_QUANTITY, "component": "", "indexFrom": None, "indexTo": None,
            "unit": rule_unit(DEFAULT_QUANTITY), "hysteresis": None, "minDurationSeconds": 5.0,
            **{k: {"enabled": False, "value": 0.0} for k, _ in THRESHOLDS},
        }
        doc.update(self.preset)
        if "unit" not in self.preset:
            doc["unit"] = rule_unit(doc["quantity"])
        return doc

    def compose(self) -> ComposeResult:
        c = console_context(self).core
        d = self._start()
        q, comp = d["quantity"], d["component"] or ""

        def num(v: Any) -> str:
            return "" if v is None else fmt_num(float(v), 6)

        title = (f'Rule {self.rule_id} "{d["name"]}"' if self.rule_id is not None else "New rule")
        with Vertical(id="box") as box:
            box.border_title = title
            with VerticalScroll(id="fields"):
                with FormLine():
                    yield Label("1 Scope")
                    yield Select([(w, k) for k, w in SCOPE_WORDS.items()], value=d["scope"],
                                 allow_blank=False, compact=True, id="f-scope")
                with FormLine():
                    yield Label("2 Target")
                    yield Select(target_choices(c, d["scope"], d["target"]), value=d["target"],
                                 allow_blank=False, compact=True, id="f-target",
                                 disabled=d["scope"] == "all")
                with FormLine():
                    yield Label("  Watch")
                    yield Select(list(WATCH_WORDS.items()),
                                 value="totals" if d.get("elementTotals") else "pdus",
                                 allow_blank=False, compact=True, id="f-watch",
                                 disabled=d["scope"] not in DC_SCOPES)
                with FormLine():
                    yield Label("3 Measurement")
                    yield Select(quantity_choices(), value=q, allow_blank=False, compact=True,
                                 id="f-quantity")
                with FormLine():
                    yield Label("4 Restriction")
                    yield Select(component_choices(q), value=comp, allow_blank=False,
                                 compact=True, id="f-component",
                                 disabled=q in STATE_QUANTITIES)
                with FormLine():
                    yield Label("  Index from, to")
                    yield Input(num(d["indexFrom"]), compact=True, classes="num", id="f-index-from")
                    yield Input(num(d["indexTo"]), compact=True, classes="num", id="f-index-to")
                    yield Label("empty = every one", classes="after")
                with FormLine():
                    yield Label("5 Name")
                    yield Input(d["name"], placeholder="shown in alarm texts", compact=True,
                                id="f-name")
                with FormLine():
                    yield Label("6 Thresholds in")
                    yield Select(unit_choices(q, comp), value=d["unit"], allow_blank=False,
                                 compact=True, id="f-unit")
                for key, label in THRESHOLDS:
                    t = d[key]
                    with FormLine():
                        yield Label(f"  {label}")
                        yield OnOff(bool(t["enabled"]), id=f"f-{key}-on")
                        yield Input(num(t["value"]), compact=True, classes="num", id=f"f-{key}")
                        yield Label(d["unit"], classes="after unit")
                with FormLine():
                    yield Label("  Hysteresis")
                    yield Input(num(d["hysteresis"]), compact=True, classes="num",
                                id="f-hysteresis")
                    yield Label("", classes="after unit", id="hyst-unit")
                with FormLine():
                    yield Label("  Min. duration")
                    yield Input(num(d["minDurationSeconds"]), compact=True, classes="num",
                                id="f-duration")
                    yield Label("s before an alarm (0–3600)", classes="after")
                with FormLine():
                    yield Label("  Enabled")
                    yield OnOff(bool(d["enabled"]), id="f-enabled")
            yield Static("", id="form-error")
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#form-error", Static).display = False
        self._sync_units()
        self._sync_index()
        self.query_one("#f-scope", Select).focus()
        self.call_after_refresh(self._edits.mark_clean)

    # ------------------------------------------------------------------ cascade
    def _sel(self, name: str) -> str:
        value = self.query_one(f"#f-{name}", Select).value
        return "" if value is Select.BLANK else str(value)

    def _reoption(self, name: str, options: list[tuple[str, str]], *, disabled: bool) -> None:
        """New options for a select, keeping its value when it is still one of them."""
        select = self.query_one(f"#f-{name}", Select)
        keep = self._sel(name)
        select.set_options(options)
        if keep in {v for _, v in options}:
            select.value = keep
        select.disabled = disabled

    def _sync_units(self) -> None:
        unit = self._sel("unit")
        for label in self.query(".unit").results(Label):
            label.update(unit)
        hyst = self.query_one("#hyst-unit", Label)
        hyst.update(f"{unit}  empty = automatic".lstrip())

    def _sync_index(self) -> None:
        ranged = self._sel("component") in ("i", "b", "o", "s")
        for name in ("index-from", "index-to"):
            self.query_one(f"#f-{name}", Input).disabled = not ranged

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        name = (event.select.id or "")[2:]
        c = console_context(self).core
        if name == "scope":
            scope = self._sel("scope")
            self._reoption("target", target_choices(c, scope), disabled=scope == "all")
            self.query_one("#f-watch", Select).disabled = scope not in DC_SCOPES
        elif name == "quantity":
            q = self._sel("quantity")
            self._reoption("component", component_choices(q), disabled=q in STATE_QUANTITIES)
            self._reoption("unit", unit_choices(q, self._sel("component")), disabled=False)
        elif name == "component":
            self._reoption("unit", unit_choices(self._sel("quantity"), self._sel("component")),
                           disabled=False)
            self._sync_index()
        elif name == "unit":
            self._sync_units()

    # ------------------------------------------------------------------ saving
    def document(self) -> dict[str, Any]:
        """The rule as typed (numbers as text; the core parses and checks them)."""
        def text(name: str) -> str:
            return self.query_one(f"#f-{name}", Input).value.strip()

        def on(name: str) -> bool:
            return self.query_one(f"#f-{name}", Checkbox).value

        ranged = self._sel("component") in ("i", "b", "o", "s")
        doc: dict[str, Any] = {
            "name": self.query_one("#f-name", Input).value,
            "enabled": on("enabled"),
            "scope": self._sel("scope"),
            "target": self._sel("target"),
            "elementTotals": self._sel("scope") in DC_SCOPES and self._sel("watch") == "totals",
            "quantity": self._sel("quantity"),
            "component": self._sel("component"),
            "indexFrom": (text("index-from") or None) if ranged else None,
            "indexTo": (text("index-to") or None) if ranged else None,
            "unit": self._sel("unit"),
            "hysteresis": text("hysteresis") or None,
            "minDurationSeconds": text("duration"),
        }
        for key, _ in THRESHOLDS:
            enabled = on(f"{key}-on")
            value = text(key)
            doc[key] = {"enabled": enabled, "value": value if value or enabled else "0"}
        return doc

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    @work(exclusive=True, group="rule-save")
    async def action_save(self) -> None:
        ctx = console_context(self)
        rules = ctx.core.rules
        error = self.query_one("#form-error", Static)
        try:
            if self.rule_id is None:
                rule: Rule = await rules.create(ctx.principal, self.document())
                message = f'Rule {rule.id} "{rule.name}" created'
            else:
                rule = await rules.update(ctx.principal, self.rule_id, self.document(),
                                          replace=True)
                message = f'Rule {rule.id} "{rule.name}" saved'
        except EnertegError as exc:
            show_error_line(error, exc)
            return
        self.app.notify(message, title="Rules")
        self.dismiss(rule.id)

    def action_cancel(self) -> None:
        """Close without saving (escape, Cancel): asks first when a field was edited."""
        what = "New rule" if self.rule_id is None else f"Rule {self.rule_id}"
        ask_to_discard(self, what, len(self._edits.changed()), lambda: self.dismiss(None))
