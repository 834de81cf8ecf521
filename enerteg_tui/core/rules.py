"""Rules (manual §9.2–9.3): what is too much, for which channels, and which rule wins.

Owns the rule set: its schema (``RuleDoc``, the ``u`` of ``rules/<id>/_data``), the
default rules shipped with the controller, storage in table ``rule`` (migration 3),
audited and permission-checked changes, and the resolution of the one rule that
governs a channel. Invariant: for every channel at most one enabled rule governs it,
chosen by ``specificity`` (PDU > rack > row > room > type > all; ties: a rule
restricted to a component beats an unrestricted one, a narrower index range beats a
wider one, then the lower id). A rule with ``elementTotals`` (scope room/row/rack)
governs only its element's own totals (``core.element_rules``), never a PDU's channel,
and a PDU's rules never govern those totals. Called by ``core.evaluation`` (compiling what to watch),
``core.topics`` (``rules/``) and the console. Documented in docs/rules.md.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from .audit import AuditLog, Severity
from .documents import apply_changes, diff_keys
from .element_rules import AGGREGATE_QUANTITIES
from .safetext import refuse_control
from .errors import Invalid, NotFound, shown
from .events import Event, EventBus
from .live import DeviceLive, LiveState
from .permissions import SYSTEM, Action, Principal, require
from .quantities import BY_KEY, COMPONENT_BY_CODE
from .settings._base import Toggle
from .store import Store
from .validation import invalid_from_pydantic

__all__ = [
    "STATE_QUANTITIES",
    "SCOPE_RANK",
    "Threshold",
    "RuleDoc",
    "Rule",
    "RuleService",
    "DEFAULT_RULES",
    "component_quantities",
    "rule_unit",
]

log = logging.getLogger(__name__)

STATE_QUANTITIES: dict[str, str] = {
    "deviceUnreachable": "1 while the PDU is unreachable (cut off, removed or silent), else 0",
    "deviceStale": "1 while the PDU's data is stale (it answers discovery but not polls), else 0",
    "ringBreaks": "number of breaks in the databus ring (0 closed, 1 open, 2+ broken)",
}
"""Quantities that are states of a device or the ring rather than measurements."""

SCOPE_RANK: dict[str, int] = {"pdu": 5, "rack": 4, "row": 3, "room": 2, "type": 1, "all": 0}
"""How specific each scope is; the most specific matching rule governs a channel."""

PERCENT = "%"
"""Rule unit meaning 'percent of the component's rated current'."""

def component_quantities(component: str) -> tuple[str, ...]:
    """Quantity keys a component (``t``, ``i``, ``b``, ``o``, ``s``) measures."""
    return COMPONENT_BY_CODE[component].quantities


def rule_unit(quantity: str) -> str:
    """The unit thresholds of ``quantity`` are written in (empty for states)."""
    q = BY_KEY.get(quantity)
    return q.unit if q is not None else ""


RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Threshold(BaseModel):
    """One of the manual's four thresholds: an on/off toggle and a value (§9.3)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: Toggle = False
    """Whether this threshold is checked."""
    value: float = 0.0
    """The limit, in the rule's unit."""


def _off() -> Threshold:
    return Threshold()


class RuleDoc(BaseModel):
    """A rule as scripts and forms write it (the ``u`` of ``rules/<id>/_data``).

    Keys are camelCase like every topic document; validation words errors through
    ``core.validation`` so every face shows the same message.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    name: RuleName
    """Name shown in alarm texts ("via rule ...")."""
    enabled: Toggle = True
    """A switched-off rule governs nothing (the next most specific rule applies)."""
    scope: Literal["all", "type", "pdu", "room", "row", "rack"] = "all"
    """Which PDUs: all, a PDU type, one PDU, or those in a room, row or rack."""
    target: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    """Type name (scope type), hex id (pdu) or DC element id (room/row/rack); empty for all."""
    quantity: str
    """Catalogue key (``current``, ``voltage``, ...) or a state (``deviceUnreachable``,
    ``deviceStale``, ``ringBreaks``)."""
    elementTotals: Toggle = False
    """Scope room/row/rack only: watch the element's own totals (per phase and total
    current and power, residual and neutral current) instead of each PDU in it; one
    alarm for the element."""
    component: Literal["", "t", "i", "b", "o", "s"] = ""
    """Restrict to totals, input phases, branches, outlets or sensors; empty = any."""
    indexFrom: Annotated[int, Field(ge=1, le=1000)] | None = None
    """First index of the restriction (phase, branch, outlet or sensor number)."""
    indexTo: Annotated[int, Field(ge=1, le=1000)] | None = None
    """Last index of the restriction (inclusive); empty = same as indexFrom."""
    unit: str = ""
    """Unit of the thresholds: the quantity's unit, or "%" of the rated current
    (current quantities of phases, branches and totals); empty = the quantity's unit."""
    criticalAbove: Threshold = Field(default_factory=_off)
    warningAbove: Threshold = Field(default_factory=_off)
    warningBelow: Threshold = Field(default_factory=_off)
    criticalBelow: Threshold = Field(default_factory=_off)
    hysteresis: Annotated[float, Field(ge=0, le=1e6)] | None = None
    """Band (in the rule's unit) a value must move back inside a threshold before the
    alarm clears or de-escalates; empty = automatic: 2 % of the largest enabled
    threshold (0 for states)."""
    minDurationSeconds: Annotated[float, Field(ge=0, le=3600)] = 5.0
    """Seconds a threshold must stay exceeded before an alarm is raised or escalated."""

    @model_validator(mode="after")
    def _consistent(self) -> RuleDoc:
        from .settings._common import fail

        q = self.quantity
        if q not in BY_KEY and q not in STATE_QUANTITIES:
            raise fail("quantity", q, "a quantity key: " + ", ".join([*BY_KEY, *STATE_QUANTITIES]))
        if q in STATE_QUANTITIES:
            if self.component or self.indexFrom is not None or self.indexTo is not None:
                raise fail("component", self.component,
                           f"no component or index restriction for the state {q}")
            if q == "ringBreaks" and self.scope != "all":
                raise fail("scope", self.scope, "all (the ring is one for all PDUs)")
        elif self.elementTotals:
            _check_element_totals(self, fail)
        elif self.component and q not in component_quantities(self.component):
            comp = COMPONENT_BY_CODE[self.component]
            raise fail("component", comp.value,
                       f"a component that measures {q}; {comp.label.lower()} ({comp.value}) measure "
                       + ", ".join(comp.quantities))
        if self.elementTotals and q in STATE_QUANTITIES:
            raise fail("elementTotals", "enabled",
                       f"disabled for the state {q} (an element has no state of its own)")
        if (self.indexFrom is not None or self.indexTo is not None) and self.component in ("", "t"):
            raise fail("indexFrom", self.indexFrom,
                       "an index range only with component i, b, o or s")
        if self.indexTo is not None and self.indexFrom is None:
            self.indexFrom = 1
        if self.indexFrom is not None and self.indexTo is None:
            self.indexTo = self.indexFrom
        if self.indexFrom is not None and self.indexTo is not None and self.indexTo < self.indexFrom:
            raise fail("indexTo", self.indexTo, f"a number ≥ indexFrom ({self.indexFrom})")
        native = rule_unit(q)
        if self.unit in ("", native):
            self.unit = native
        elif self.unit == PERCENT:
            if q not in ("current", "currentPeak") or self.component in ("o", "s"):
                raise fail("unit", self.unit,
                           f"{native or 'no unit'} ({q} has no rating to take a percentage of); "
                           '"%" only for current of phases, branches or totals')
        else:
            raise fail("unit", self.unit, f'"{native}" or "%" of the rating' if q in (
                "current", "currentPeak") else f'"{native}" (the unit of {q})')
        for t in ("criticalAbove", "warningAbove", "warningBelow", "criticalBelow"):
            if not math.isfinite(getattr(self, t).value):
                raise fail((t, "value"), getattr(self, t).value, "a finite number")
        ca, wa, wb, cb = self.criticalAbove, self.warningAbove, self.warningBelow, self.criticalBelow
        if ca.enabled and wa.enabled and ca.value < wa.value:
            raise fail(("criticalAbove", "value"), ca.value,
                       f"a number ≥ warningAbove ({wa.value:g})")
        if cb.enabled and wb.enabled and cb.value > wb.value:
            raise fail(("criticalBelow", "value"), cb.value,
                       f"a number ≤ warningBelow ({wb.value:g})")
        highs = [t.value for t in (ca, wa) if t.enabled]
        lows = [t.value for t in (wb, cb) if t.enabled]
        if highs and lows and min(highs) <= max(lows):
            raise fail(("warningBelow" if wb.enabled else "criticalBelow", "value"), max(lows),
                       f"a number below the lowest 'above' threshold ({min(highs):g})")
        return self

    def thresholds_on(self) -> bool:
        """Whether any threshold is switched on."""
        return any(t.enabled for t in (self.criticalAbove, self.warningAbove,
                                       self.warningBelow, self.criticalBelow))


def _check_element_totals(doc: RuleDoc, fail: Callable[..., Exception]) -> None:
    """What a rule on an element's totals may say: a DC scope, an aggregate quantity."""
    if doc.scope not in ("room", "row", "rack"):
        raise fail("elementTotals", "enabled",
                   f"disabled for scope {doc.scope}; a room, row or rack has totals")
    comps = [doc.component] if doc.component else list(AGGREGATE_QUANTITIES)
    if doc.component not in ("", *AGGREGATE_QUANTITIES):
        raise fail("component", doc.component,
                   "i (per phase), t (totals) or empty (both) for an element's totals")
    if not any(doc.quantity in AGGREGATE_QUANTITIES[c] for c in comps):
        have = sorted({q for c in comps for q in AGGREGATE_QUANTITIES[c]})
        raise fail("quantity", doc.quantity,
                   "a quantity an element's totals have: " + ", ".join(have))
    if doc.indexTo is not None and doc.indexTo > 3:
        raise fail("indexTo", doc.indexTo, "a phase number from 1 to 3")


@dataclass(slots=True)
class Rule:
    """A stored rule: its id, document and bookkeeping."""

    id: int
    doc: RuleDoc
    default: bool = False
    """Shipped with the controller (may still be changed, switched off or deleted)."""
    created: float = 0.0
    updated: float = 0.0

    @property
    def name(self) -> str:
        """The rule's name."""
        return self.doc.name

    def specificity(self) -> tuple[int, int, int, int]:
        """Sort key: lower sorts first = wins (see module docstring for the tie rules)."""
        d = self.doc
        width = (d.indexTo - d.indexFrom + 1) if d.indexFrom is not None and d.indexTo is not None else 10_000
        return (-SCOPE_RANK[d.scope], 0 if d.component else 1, width, self.id)

    def matches_channel(self, component: str, index: int, quantity: str) -> bool:
        """Whether the rule's quantity and restriction cover this channel (scope aside)."""
        d = self.doc
        if d.quantity != quantity:
            return False
        if d.component and d.component != component:
            return False
        if d.indexFrom is not None and not (d.indexFrom <= index <= (d.indexTo or d.indexFrom)):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        """The rule's ``_data`` document: the manual's envelope plus id and origin."""
        return {"ts": int(self.updated * 1000), "id": self.id, "default": self.default,
                "u": self.doc.model_dump(mode="json"), "new": None}


def _t(value: float) -> dict[str, Any]:
    return {"enabled": True, "value": value}


DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"name": "Phase current", "quantity": "current", "component": "i", "unit": PERCENT,
     "warningAbove": _t(80), "criticalAbove": _t(90), "minDurationSeconds": 5},
    {"name": "Branch current", "quantity": "current", "component": "b", "unit": PERCENT,
     "warningAbove": _t(80), "criticalAbove": _t(90), "minDurationSeconds": 5},
    {"name": "Residual current", "quantity": "residualCurrent", "component": "t",
     "warningAbove": _t(15), "criticalAbove": _t(30), "minDurationSeconds": 2},
    {"name": "Device unreachable", "quantity": "deviceUnreachable",
     "criticalAbove": _t(0.5), "minDurationSeconds": 0},
    {"name": "Stale data", "quantity": "deviceStale", "warningAbove": _t(0.5),
     "minDurationSeconds": 0},
    {"name": "Ring open", "quantity": "ringBreaks", "warningAbove": _t(0.5),
     "criticalAbove": _t(1.5), "minDurationSeconds": 0},
)
"""Rules a fresh controller starts with (docs/rules.md explains each)."""

_SEED_KEY = "rules.seeded"


class RuleService:
    """The rule set: create, change, delete (audited, permission-checked) and resolve.

    Args:
        store: controller database (tables ``rule`` and ``meta``).
        audit: each change writes an entry in the same transaction.
        events: changes are announced as ``Event("rules", id, change)``.
        live: to check PDU and type targets.
        racks: ``structure`` lookups: element kind by id (None if absent) and the
            rack/row/room ids a device sits in.
    """

    def __init__(
        self, store: Store, audit: AuditLog, events: EventBus, live: LiveState,
        element_kind: Callable[[int], str | None], device_places: Callable[[str], dict[str, int]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._audit = audit
        self._events = events
        self._live = live
        self._element_kind = element_kind
        self._device_places = device_places
        self._clock = clock
        self._rules: dict[int, Rule] = {}
        self.version = 0
        """Bumped on every change, so compiled plans know when to recompile."""

    async def backup_state(self) -> list[dict[str, Any]]:
        """Every rule with its id (scripts name ``rules/<id>``) for a backup."""
        return [{"id": rid, "data": json.loads(d), "isDefault": bool(dflt)} for rid, d, dflt in
                await self._store.fetchall("SELECT id, data, is_default FROM rule ORDER BY id")]

    async def restore_state(self, tx: Any, rules: list[dict[str, Any]]) -> None:
        """Replace the rules inside the restore's transaction ``tx``, keeping their ids
        (a backup from before ids were kept gets new ones)."""
        await tx.execute("DELETE FROM rule")
        now = self._clock()
        for r in rules:
            await tx.execute("INSERT INTO rule (id, data, is_default, created, updated) VALUES "
                             "(?,?,?,?,?)", (r.get("id"), json.dumps(r["data"]),
                                             int(r["isDefault"]), now, now))

    async def reset(self) -> None:
        """Factory reset of rules: every rule deleted, the default rules stored again."""
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM rule")
            await tx.execute("DELETE FROM meta WHERE key=?", (_SEED_KEY,))
            await tx.execute("DELETE FROM sqlite_sequence WHERE name='rule'")
        await self.load()

    async def load(self) -> None:
        """Read the rules; on a fresh database, store the default rules once."""
        seeded = await self._store.fetchone("SELECT value FROM meta WHERE key=?", (_SEED_KEY,))
        if seeded is None:
            now = self._clock()
            async with self._store.transaction() as tx:
                for doc in DEFAULT_RULES:
                    model = RuleDoc.model_validate(doc)
                    await tx.execute(
                        "INSERT INTO rule (data, is_default, created, updated) VALUES (?,?,?,?)",
                        (json.dumps(model.model_dump(mode="json")), 1, now, now))
                await tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (_SEED_KEY, "1"))
        self._rules = {}
        for rid, data, is_default, created, updated in await self._store.fetchall(
                "SELECT id, data, is_default, created, updated FROM rule ORDER BY id"):
            try:
                doc = RuleDoc.model_validate(json.loads(data))
            except (ValueError, ValidationError) as exc:
                log.error("rule %s in the database does not validate; ignored (%s)", rid,
                          str(exc).splitlines()[0])
                continue
            self._rules[rid] = Rule(rid, doc, bool(is_default), created, updated)
        self.version += 1

    # ------------------------------------------------------------------ reading
    def all(self) -> list[Rule]:
        """Every rule, by id."""
        return [self._rules[k] for k in sorted(self._rules)]

    def get(self, rule_id: int) -> Rule:
        """A rule by id; ``NotFound`` names it."""
        rule = self._rules.get(rule_id)
        if rule is None:
            ids = ", ".join(str(k) for k in sorted(self._rules)) or "none"
            raise NotFound(f"rule {rule_id} does not exist; rules are {ids}", thing="rule",
                           value=rule_id, allowed=f"the id of an existing rule ({ids})")
        return rule

    def candidates(self, live: DeviceLive) -> list[Rule]:
        """Enabled rules whose scope covers a device, most specific first."""
        places = self._device_places(live.hex_id)
        out = []
        for rule in self._rules.values():
            d = rule.doc
            if not d.enabled or d.elementTotals:
                continue
            s = d.scope
            if s == "all" or (s == "pdu" and d.target == live.hex_id) or (
                    s == "type" and d.target == live.info.model.type_name) or (
                    s in ("rack", "row", "room") and places.get(s) == _int(d.target)):
                out.append(rule)
        out.sort(key=Rule.specificity)
        return out

    def element_rules(self) -> dict[int, list[Rule]]:
        """Enabled rules on elements' own totals, by element id, most specific first
        (a rule whose element is gone or of another kind matches nothing)."""
        out: dict[int, list[Rule]] = {}
        for rule in self._rules.values():
            d = rule.doc
            eid = _int(d.target)
            if d.enabled and d.elementTotals and eid is not None and \
                    self._element_kind(eid) == d.scope:
                out.setdefault(eid, []).append(rule)
        for rules in out.values():
            rules.sort(key=Rule.specificity)
        return out

    def covers(self, rule: Rule, live: DeviceLive) -> bool:
        """Whether a rule's scope takes in a PDU (enabled or not; never for element totals)."""
        d = rule.doc
        if d.elementTotals:
            return False
        s = d.scope
        return s == "all" or (s == "pdu" and d.target == live.hex_id) or (
            s == "type" and d.target == live.info.model.type_name) or (
            s in ("rack", "row", "room") and self._device_places(live.hex_id).get(s) == _int(d.target))

    def ring_rule(self) -> Rule | None:
        """The enabled rule governing the ring's break count, if any."""
        rules = [r for r in self._rules.values() if r.doc.enabled and r.doc.quantity == "ringBreaks"]
        return min(rules, key=Rule.specificity) if rules else None

    @staticmethod
    def governing(candidates: list[Rule], component: str, index: int, quantity: str) -> Rule | None:
        """The first (most specific) candidate covering the channel."""
        for rule in candidates:
            if rule.matches_channel(component, index, quantity):
                return rule
        return None

    # ------------------------------------------------------------------ changing
    def _check_target(self, doc: RuleDoc, what: str) -> RuleDoc:
        s, target = doc.scope, doc.target
        if s == "all":
            if target:
                raise Invalid(f"{what}: target = {shown(target)} is not allowed; allowed is an empty "
                              "target for scope all", thing="target", value=target, allowed="empty")
            return doc
        if s == "pdu":
            known = [d.hex_id for d in self._live.ordered()]
            t = target.lower()
            if t not in known:
                raise Invalid(f"{what}: target = {shown(target)} is not allowed; allowed is the hex id "
                              f"of a known PDU ({', '.join(known[:8])}{' …' if len(known) > 8 else ''})",
                              thing="target", value=target, allowed="hex id of a known PDU")
            doc.target = t
            return doc
        if s == "type":
            types = sorted({d.info.model.type_name for d in self._live.devices.values()})
            match = next((x for x in types if x.lower() == target.lower()), None)
            if match is None:
                raise Invalid(f"{what}: target = {shown(target)} is not allowed; allowed is a PDU type "
                              f"on the ring: {', '.join(types) or 'none yet'}", thing="target",
                              value=target, allowed=", ".join(types))
            doc.target = match
            return doc
        eid = _int(target)
        kind = self._element_kind(eid) if eid is not None else None
        if kind != s:
            raise Invalid(f"{what}: target = {shown(target)} is not allowed; allowed is the id of a "
                          f"{s} (see the structure)", thing="target", value=target,
                          allowed=f"id of an existing {s}")
        doc.target = str(eid)
        return doc

    def validate(self, data: dict[str, Any], what: str = "rule") -> RuleDoc:
        """A ``RuleDoc`` from a whole document, checked against the ring and structure."""
        refuse_control(what, data)
        try:
            doc = RuleDoc.model_validate(data)
        except ValidationError as exc:
            raise invalid_from_pydantic(what, exc, RuleDoc) from None
        return self._check_target(doc, what)

    async def create(self, principal: Principal, data: dict[str, Any]) -> Rule:
        """Create a rule from a document (``name`` and ``quantity`` are required)."""
        require(principal, Action.EDIT_RULES, "rules")
        doc = self.validate(data, "rules/new")
        now = self._clock()
        dumped = doc.model_dump(mode="json")
        async with self._store.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO rule (data, is_default, created, updated) VALUES (?,?,?,?)",
                (json.dumps(dumped), 0, now, now))
            rule = Rule(int(cur.lastrowid or 0), doc, False, now, now)
            entry = await self._audit.insert(tx, principal, "rule.create", f"rules/{rule.id}",
                                             f'Rule "{doc.name}" ({rule.id}) created',
                                             new=dumped, severity=Severity.INFO)
        self._rules[rule.id] = rule
        self._changed(rule.id, "created")
        self._audit.announce(entry)
        return rule

    async def update(self, principal: Principal, rule_id: int, changes: dict[str, Any], *,
                     replace: bool = False) -> Rule:
        """Change keys of a rule (dotted keys allowed: ``warningAbove.value``)."""
        what = f"rules/{rule_id}"
        require(principal, Action.EDIT_RULES, what)
        rule = self.get(rule_id)
        current = rule.doc.model_dump(mode="json")
        merged = changes if replace else apply_changes(current, changes, what)
        doc = self.validate(merged, what)
        new = doc.model_dump(mode="json")
        old_d, new_d = diff_keys(current, new)
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE rule SET data=?, updated=? WHERE id=?",
                             (json.dumps(new), now, rule_id))
            entry = await self._audit.insert(
                tx, principal, "rule.change", what,
                f'Rule "{doc.name}" ({rule_id}) changed: {", ".join(new_d) or "no change"}',
                old=old_d, new=new_d, severity=Severity.INFO)
        rule.doc, rule.updated = doc, now
        self._changed(rule_id, "changed")
        self._audit.announce(entry)
        return rule

    async def delete(self, principal: Principal, rule_id: int) -> None:
        """Delete a rule (a default rule too; switching it off keeps it for later)."""
        what = f"rules/{rule_id}"
        require(principal, Action.EDIT_RULES, what)
        rule = self.get(rule_id)
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM rule WHERE id=?", (rule_id,))
            entry = await self._audit.insert(tx, principal, "rule.delete", what,
                                             f'Rule "{rule.name}" ({rule_id}) deleted',
                                             old=rule.doc.model_dump(mode="json"),
                                             severity=Severity.INFO)
        del self._rules[rule_id]
        self._changed(rule_id, "deleted")
        self._audit.announce(entry)

    def _changed(self, rule_id: int, change: str) -> None:
        self.version += 1
        self._events.publish(Event("rules", str(rule_id), change))

    def touch(self) -> None:
        """Mark compiled plans outdated (structure or device placement changed)."""
        self.version += 1


def _int(text: str) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


SYSTEM_PRINCIPAL = SYSTEM
"""Re-exported for services that seed or repair rules at start-up."""
