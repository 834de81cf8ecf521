"""Rule evaluation: which channels are watched, and each channel's threshold state per sweep.

Owns the compiled *plan* per device (one ``Watch`` per channel whose governing rule has
a threshold switched on, thresholds already converted to absolute values) and the
per-channel state machine: strict thresholds to enter a level, a hysteresis band to
leave it, a minimum duration before a level is raised. Invariant: a plan is rebuilt
only when the rule set, the structure or the device's info changed (``RuleService.
version``, the ``DeviceInfo`` object), so a sweep costs one comparison per watched
channel in the common case. Rooms', rows' and racks' own totals are watched the same
way (``core.element_rules``; their sums come from ``Structure.aggregates`` in one pass per
sweep). Called by ``core.alarms`` at the end of every sweep; it turns the level changes
returned here into alarms. Also builds the rule reports: per PDU, per element's totals,
and per rule (what it governs, where a more specific rule overrides it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .element_rules import (
    aggregate_channel_name,
    aggregate_channels,
    aggregate_label,
    aggregate_rating,
    aggregate_value,
    element_key,
)
from .live import DeviceLive, LiveState
from .model import DeviceInfo, DeviceState, SensorType
from .quantities import (
    BY_KEY,
    COMPONENT_BY_CODE,
    Component,
    ChannelKey,
    channel_name,
    channel_text,
)
from .rules import PERCENT, STATE_QUANTITIES, Rule, RuleService

if TYPE_CHECKING:
    from .structure import Structure

__all__ = ["Watch", "Evaluator", "Change", "LEVEL_WORDS", "channel_key", "device_channels",
           "fmt_num"]

INF = math.inf
LEVEL_WORDS = {0: "ok", 1: "warning", 2: "critical"}
"""Severity word of a level's magnitude."""
AUTO_HYSTERESIS = 0.02
"""Automatic hysteresis: this fraction of the largest enabled threshold."""
RING = "ring"
"""Device field of the ring's channel (the ring belongs to no PDU)."""

channel_key = channel_text
"""The stable text key of a channel (alarms are unique per key while active): the
catalogue's ``channel_text``."""


def fmt_num(value: float, precision: int = 3) -> str:
    """A number as the manual's alarm texts print it: no trailing zeros (``228``, ``230.704``)."""
    text = f"{value:.{max(0, precision)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def device_channels(info: DeviceInfo) -> list[tuple[str, int, tuple[str, ...]]]:
    """(component, index, quantity keys) of every measured component instance of a PDU."""
    m = info.model
    out: list[tuple[str, int, tuple[str, ...]]] = [("t", 0, Component.TOTAL.quantities)]
    out += [("i", n, Component.INPUT.quantities) for n in range(1, m.phases + 1)]
    out += [("b", n, Component.BRANCH.quantities) for n in range(1, m.branches + 1)]
    if m.metered_outlets:
        out += [("o", n, Component.OUTLET.quantities) for n in range(1, m.outlets + 1)]
    for n, st in enumerate(info.sensors, start=1):
        if st is SensorType.TEMPERATURE:
            out.append(("s", n, ("temperature",)))
        elif st is SensorType.HUMIDITY:
            out.append(("s", n, ("humidity",)))
    return out


def _rating(info: DeviceInfo, component: str) -> float | None:
    m = info.model
    if component == "i":
        return m.rating_a
    if component == "b":
        return m.branch_rating_a or None
    if component == "t":
        return m.rating_a * m.phases
    return None


def _part_label(info: DeviceInfo, component: str, index: int, quantity: str) -> str:
    s = info.settings
    if component == "t":
        label = BY_KEY[quantity].label.lower() if quantity in BY_KEY else quantity
        return f"the PDU totals ({label})"
    if component == "i":
        name = s.input_names[index - 1] if index <= len(s.input_names) else f"L{index}"
    elif component == "b":
        name = s.branch_names[index - 1] if index <= len(s.branch_names) else f"BR{index}"
    elif component == "o":
        name = s.outlets[index - 1].name if index <= len(s.outlets) else f"Outlet # {index}"
    else:
        name = s.sensor_names[index - 1] if index <= len(s.sensor_names) else f"Sensor {index}"
    return f'"{name}" ({index}) {COMPONENT_BY_CODE[component].singular}'


class Watch:
    """One watched channel: absolute thresholds, committed level and pending excursion.

    ``level`` is signed: +1/+2 warning/critical above, −1/−2 below, 0 within limits.
    """

    __slots__ = ("key", "device", "component", "index", "quantity", "gk", "rule", "ca", "wa",
                 "wb", "cb", "h", "dur", "lo_ok", "hi_ok", "level", "pend", "s1", "s2",
                 "alarm", "peak", "rating", "label", "precision", "unit")

    def __init__(self, key: str, device: str, component: str, index: int, quantity: str,
                 rule: Rule, rating: float | None, label: str) -> None:
        self.key = key
        self.device = device
        self.component = component
        self.index = index
        self.quantity = quantity
        self.gk = (COMPONENT_BY_CODE[component], index) if component in COMPONENT_BY_CODE else None
        self.level = 0
        self.pend = 0
        self.s1: float | None = None
        self.s2: float | None = None
        self.alarm: Any = None
        """The open alarm of this channel (set by the alarm service)."""
        self.peak = 0.0
        self.rating = rating
        self.label = label
        q = BY_KEY.get(quantity)
        self.precision = q.precision if q is not None else 0
        self.unit = q.unit if q is not None else ""
        self.set_rule(rule)

    def set_rule(self, rule: Rule) -> None:
        """(Re)compile the thresholds of ``rule`` to absolute values for this channel."""
        d = rule.doc
        self.rule = rule
        scale = (self.rating or 0.0) / 100.0 if d.unit == PERCENT else 1.0

        def v(t: Any, off: float) -> float:
            return t.value * scale if t.enabled else off

        self.ca, self.wa = v(d.criticalAbove, INF), v(d.warningAbove, INF)
        self.wb, self.cb = v(d.warningBelow, -INF), v(d.criticalBelow, -INF)
        if d.hysteresis is not None:
            self.h = d.hysteresis * scale
        elif d.quantity in STATE_QUANTITIES:
            self.h = 0.0
        else:
            finite = [abs(x) for x in (self.ca, self.wa, self.wb, self.cb) if math.isfinite(x)]
            self.h = max(AUTO_HYSTERESIS * max(finite, default=0.0), 10.0 ** -self.precision)
        self.dur = d.minDurationSeconds
        self.lo_ok = max(self.wb, self.cb)
        self.hi_ok = min(self.wa, self.ca)

    def threshold(self, level: int) -> float:
        """The absolute threshold behind a signed level."""
        return {2: self.ca, 1: self.wa, -1: self.wb, -2: self.cb}[level]

    def rule_threshold(self, level: int) -> float:
        """The threshold behind a level in the rule's own unit (e.g. percent)."""
        d = self.rule.doc
        return {2: d.criticalAbove, 1: d.warningAbove, -1: d.warningBelow,
                -2: d.criticalBelow}[level].value

    def target(self, v: float | None) -> int:
        """The level a value calls for, with hysteresis on the levels already held."""
        if v is None:
            return 0
        lv, h = self.level, self.h
        if v > (self.ca - h if lv >= 2 else self.ca):
            return 2
        if v > (self.wa - h if lv >= 1 else self.wa):
            return 1
        if v < (self.cb + h if lv <= -2 else self.cb):
            return -2
        if v < (self.wb + h if lv <= -1 else self.wb):
            return -1
        return 0

    def step(self, v: float | None, now: float) -> bool:
        """Advance the state machine with a new value; True when ``level`` changed."""
        t = self.target(v)
        old = self.level
        if t == 0:
            self.pend = 0
            self.s1 = self.s2 = None
            if old:
                self.level = 0
                return True
            return False
        s = 1 if t > 0 else -1
        a = t * s
        if self.pend != s:
            self.pend, self.s1, self.s2 = s, now, None
        if a >= 2:
            if self.s2 is None:
                self.s2 = now
        else:
            self.s2 = None
        new = old if old * s > 0 else 0
        if a >= 2 and now - (self.s2 or now) >= self.dur:
            new = 2 * s
        elif new == 0 and now - (self.s1 or now) >= self.dur:
            new = s if math.isfinite(self.wa if s > 0 else self.wb) else 0
        if abs(new) > a:
            new = t  # below the held level (hysteresis already applied): de-escalate now
        if new != old:
            self.level = new
            return True
        return False


def _rounded(value: float | None, quantity: str) -> float | None:
    """A sum at its quantity's precision (float sums leave 7.960000000000001)."""
    return None if value is None else round(value, BY_KEY[quantity].precision + 2)


@dataclass(slots=True)
class _Plan:
    version: int
    info: DeviceInfo
    values: list[Watch] = field(default_factory=list)
    states: list[Watch] = field(default_factory=list)


Change = tuple[Watch, int, float | None]
"""A level change: the watch (already at its new level), the old level, the value."""


class Evaluator:
    """Compiles plans from the rules and steps every watched channel once per sweep.

    Args:
        rules: the rule set (its ``version`` invalidates plans).
        live: live state of the ring.
        restored: channel key → open alarm loaded from the database; a watch compiled
            for such a channel resumes at the alarm's level, so a restart continues
            alarms instead of raising duplicates.
        level_of: signed level of a restored alarm.
        structure: the DC structure, for rules on an element's own totals (None: no such
            rules are evaluated).
    """

    def __init__(self, rules: RuleService, live: LiveState,
                 level_of: Callable[[Any], int] = lambda a: 0,
                 structure: Structure | None = None) -> None:
        self._rules = rules
        self._live = live
        self._structure = structure
        self._plans: dict[str, _Plan] = {}
        self._elements: dict[int, list[Watch]] = {}
        """Watches on elements' own totals, by element id."""
        self._elements_version = -1
        self._ring: Watch | None = None
        self._ring_version = -1
        self.restored: dict[str, Any] = {}
        self._level_of = level_of

    def reset(self) -> None:
        """Forget every compiled plan, watch state and restored alarm (factory reset)."""
        self._plans.clear()
        self._elements.clear()
        self._elements_version = -1
        self._ring = None
        self._ring_version = -1
        self.restored.clear()

    # ------------------------------------------------------------------ plans
    def _resume(self, w: Watch, old: dict[str, Watch]) -> Watch:
        prev = old.pop(w.key, None)
        if prev is not None:
            w.level, w.pend, w.s1, w.s2 = prev.level, prev.pend, prev.s1, prev.s2
            w.alarm, w.peak = prev.alarm, prev.peak
        else:
            alarm = self.restored.pop(w.key, None)
            if alarm is not None:
                w.level = self._level_of(alarm)
                w.pend = 1 if w.level > 0 else -1
                w.alarm, w.peak = alarm, alarm.peak if alarm.peak is not None else 0.0
        return w

    def _compile(self, live: DeviceLive, prev: _Plan | None, out: list[Change]) -> _Plan:
        info = live.info
        old = {w.key: w for w in (prev.values + prev.states)} if prev else {}
        plan = _Plan(self._rules.version, info)
        cands = self._rules.candidates(live)
        hx = live.hex_id
        if cands:
            wanted = {r.doc.quantity for r in cands}
            for comp, idx, quantities in device_channels(info):
                for q in quantities:
                    if q not in wanted:
                        continue
                    rule = RuleService.governing(cands, comp, idx, q)
                    if rule is None or not rule.doc.thresholds_on():
                        continue
                    rating = _rating(info, comp)
                    if rule.doc.unit == PERCENT and not rating:
                        continue
                    w = Watch(channel_key(hx, comp, idx, q), hx, comp, idx, q, rule, rating,
                              _part_label(info, comp, idx, q))
                    plan.values.append(self._resume(w, old))
            for q in ("deviceUnreachable", "deviceStale"):
                if q in wanted:
                    rule = RuleService.governing(cands, "", 0, q)
                    if rule is not None and rule.doc.thresholds_on():
                        w = Watch(channel_key(hx, "", 0, q), hx, "", 0, q, rule, None, "")
                        plan.states.append(self._resume(w, old))
        for w in old.values():  # channels no rule governs any more
            if w.level:
                level = w.level
                w.level = 0
                out.append((w, level, None))
        return plan

    # ------------------------------------------------------------------ sweep
    def evaluate(self, now: float) -> tuple[list[Change], list[Watch]]:
        """Step every watched channel; returns (level changes, watches with a new peak)."""
        changes: list[Change] = []
        peaks: list[Watch] = []
        version = self._rules.version
        plans = self._plans
        running, unreachable, stale = DeviceState.RUNNING, DeviceState.UNREACHABLE, DeviceState.STALE
        for hx, live in self._live.devices.items():
            plan = plans.get(hx)
            if plan is None or plan.version != version or plan.info is not live.info:
                plan = plans[hx] = self._compile(live, plan, changes)
            state = live.state
            if state is running:
                groups = live.groups
                for w in plan.values:
                    g = groups.get(w.gk)
                    v = g.get(w.quantity) if g is not None else None
                    if w.level == 0 and w.pend == 0 and v is not None and w.lo_ok <= v <= w.hi_ok:
                        continue
                    old = w.level
                    if w.step(v, now):
                        changes.append((w, old, v))
                    elif old and v is not None and (v > w.peak if old > 0 else v < w.peak):
                        w.peak = v
                        peaks.append(w)
            elif state is unreachable:
                for w in plan.values:
                    if w.level or w.pend:
                        old = w.level
                        if w.step(None, now):
                            changes.append((w, old, None))
            for w in plan.states:
                v = 1.0 if state is (unreachable if w.quantity == "deviceUnreachable" else stale) else 0.0
                old = w.level
                if w.step(v, now):
                    changes.append((w, old, v))
        if len(plans) != len(self._live.devices):
            for hx in [h for h in plans if h not in self._live.devices]:
                self._compile_gone(plans.pop(hx), changes)
        self._ring_step(now, version, changes, peaks)
        if self._structure is not None:
            self._element_step(now, version, changes, peaks)
        return changes, peaks

    # ------------------------------------------------------------------ element totals
    def _compile_elements(self, out: list[Change]) -> None:
        assert self._structure is not None
        old = {w.key: w for ws in self._elements.values() for w in ws}
        plans: dict[int, list[Watch]] = {}
        for eid, rules in self._rules.element_rules().items():
            agg = self._structure.aggregate(eid)
            key = element_key(eid)
            for comp, idx, q in aggregate_channels(agg):
                rule = RuleService.governing(rules, comp, idx, q)
                if rule is None or not rule.doc.thresholds_on():
                    continue
                rating = aggregate_rating(agg, comp, idx)
                if rule.doc.unit == PERCENT and not rating:
                    continue
                w = Watch(channel_key(key, comp, idx, q), key, comp, idx, q, rule, rating,
                          aggregate_label(comp, idx, q))
                plans.setdefault(eid, []).append(self._resume(w, old))
        for w in old.values():          # element or rule gone: its alarm clears
            if w.level:
                level, w.level = w.level, 0
                out.append((w, level, None))
        self._elements = plans

    def _element_step(self, now: float, version: int, out: list[Change],
                      peaks: list[Watch]) -> None:
        if self._elements_version != version:
            self._elements_version = version
            self._compile_elements(out)
        assert self._structure is not None
        if not self._elements:
            return
        aggs = self._structure.aggregates(set(self._elements))
        for eid, watches in self._elements.items():
            agg = aggs.get(eid)
            if agg is None:
                continue
            for w in watches:
                v = aggregate_value(agg, w.component, w.index, w.quantity)
                old = w.level
                if w.step(v, now):
                    out.append((w, old, v))
                elif old and v is not None and (v > w.peak if old > 0 else v < w.peak):
                    w.peak = v
                    peaks.append(w)

    def element_report(self, element_id: int) -> list[dict[str, Any]]:
        """Every aggregate channel of an element with the rule on its totals that governs
        it (rules on each PDU in it never do), thresholds, value and state."""
        assert self._structure is not None
        agg = self._structure.aggregate(element_id)
        rules = self._rules.element_rules().get(element_id, [])
        watches = {w.key: w for w in self._elements.get(element_id, [])}
        key = element_key(element_id)
        rows = []
        for comp, idx, q in aggregate_channels(agg):
            rule = RuleService.governing(rules, comp, idx, q)
            row = {"channel": aggregate_channel_name(comp, idx, q), "component": comp,
                   "index": idx, "quantity": q, "value": _rounded(aggregate_value(agg, comp, idx, q), q),
                   "unit": BY_KEY[q].unit}
            self._report_rule(row, rule, watches.get(channel_key(key, comp, idx, q)))
            rows.append(row)
        return rows

    def rule_report(self, rule: Rule) -> dict[str, Any]:
        """For one rule: every channel it governs and every channel it covers where a more
        specific rule governs instead (manual §7.1.2), grouped by PDU (or by element for a
        rule on an element's totals, or the ring). A switched-off rule is reported as if
        it were on (what it would govern) with ``enabled`` false."""
        d = rule.doc
        subjects: list[dict[str, Any]] = []

        def add(subject: str, name: str, chans: list[tuple[str, str, int, str]],
                cands: list[Rule]) -> None:
            if not rule.doc.enabled:
                cands = sorted([*cands, rule], key=Rule.specificity)
            governs: list[str] = []
            over: list[dict[str, Any]] = []
            for label, comp, idx, q in chans:
                if not rule.matches_channel(comp, idx, q):
                    continue
                winner = RuleService.governing(cands, comp, idx, q)
                if winner is None:
                    continue
                if winner.id == rule.id:
                    governs.append(label)
                else:
                    over.append({"channel": label, "rule": {
                        "id": winner.id, "name": winner.name, "scope": winner.doc.scope,
                        "target": winner.doc.target, "elementTotals": winner.doc.elementTotals}})
            if governs or over:
                subjects.append({"device": subject, "name": name, "governs": governs,
                                 "overriddenBy": over})

        if d.quantity == "ringBreaks":
            ring = self._rules.ring_rule()
            add(RING, "databus ring", [("ring.breaks", "", 0, "ringBreaks")],
                [ring] if ring is not None else [])
        elif d.elementTotals:
            eid = int(d.target) if d.target.isdigit() else None
            st = self._structure
            if st is not None and eid is not None and st.kind_of(eid) == d.scope:
                agg = st.aggregate(eid)
                chans = [(aggregate_channel_name(c, i, q), c, i, q)
                         for c, i, q in aggregate_channels(agg)]
                add(element_key(eid), f'{d.scope} "{st.path(eid)}"', chans,
                    self._rules.element_rules().get(eid, []))
        else:
            for live in self._live.ordered():
                if not self._rules.covers(rule, live):
                    continue
                chans = [(channel_name(ChannelKey(COMPONENT_BY_CODE[c], i, q)), c, i, q)
                         for c, i, qs in device_channels(live.info) for q in qs
                         if q == d.quantity]
                if d.quantity in ("deviceUnreachable", "deviceStale"):
                    chans = [(f"device.{d.quantity[6:].lower()}", "", 0, d.quantity)]
                add(live.hex_id, live.info.display_name, chans, self._rules.candidates(live))
        governed = sum(len(x["governs"]) for x in subjects)
        overridden = sum(len(x["overriddenBy"]) for x in subjects)
        return {"id": rule.id, "name": rule.name, "enabled": d.enabled, "scope": d.scope,
                "target": d.target, "elementTotals": d.elementTotals, "quantity": d.quantity,
                "governed": governed, "overridden": overridden, "subjects": subjects}

    @staticmethod
    def _report_rule(row: dict[str, Any], rule: Rule | None, w: Watch | None) -> None:
        """The rule, thresholds and state columns of a report row."""
        if rule is None:
            row.update(rule=None, thresholds=None, state="no rule")
            return
        row["rule"] = {"id": rule.id, "name": rule.name, "scope": rule.doc.scope,
                       "target": rule.doc.target}
        if w is None:
            row["thresholds"] = None
            row["state"] = ("off" if not rule.doc.thresholds_on() or not rule.doc.enabled
                            else "no rating")
            return
        row["thresholds"] = {
            k: (None if not math.isfinite(x) else round(x, 6))
            for k, x in (("criticalAbove", w.ca), ("warningAbove", w.wa),
                         ("warningBelow", w.wb), ("criticalBelow", w.cb))}
        row["hysteresis"] = round(w.h, 6)
        row["minDurationSeconds"] = w.dur
        state = LEVEL_WORDS[abs(w.level)]
        if w.level == 0 and w.pend:
            state = "pending"
        row["state"] = state
        row["alarm"] = w.alarm.id if w.alarm is not None else None

    def _compile_gone(self, plan: _Plan, out: list[Change]) -> None:
        for w in plan.values + plan.states:
            if w.level:
                old, w.level = w.level, 0
                out.append((w, old, None))

    def _ring_step(self, now: float, version: int, out: list[Change], peaks: list[Watch]) -> None:
        if self._ring_version != version:
            self._ring_version = version
            rule = self._rules.ring_rule()
            prev = self._ring
            if rule is None or not rule.doc.thresholds_on():
                self._ring = None
                if prev is not None and prev.level:
                    old, prev.level = prev.level, 0
                    out.append((prev, old, None))
                return
            w = Watch(channel_key(RING, "", 0, "ringBreaks"), RING, "", 0, "ringBreaks", rule,
                      None, "")
            self._ring = self._resume(w, {prev.key: prev} if prev else {})
        w = self._ring
        if w is None:
            return
        v = float(len(self._live.bus.breaks))
        old = w.level
        if w.step(v, now):
            out.append((w, old, v))
        elif old and v > w.peak:
            w.peak = v
            peaks.append(w)

    def drop_device(self, hex_id: str) -> None:
        """Forget a device's watches without clearing anything (its alarms are closed by
        ``AlarmService.close_device``); a device found again is compiled afresh."""
        self._plans.pop(hex_id, None)

    def watched(self) -> int:
        """Number of channels currently watched (PDUs' and elements' totals)."""
        return sum(len(p.values) + len(p.states) for p in self._plans.values()) + sum(
            len(ws) for ws in self._elements.values())

    def watches_of(self, hex_id: str) -> dict[str, Watch]:
        """The compiled watches of a device, by channel key."""
        plan = self._plans.get(hex_id)
        return {w.key: w for w in (plan.values + plan.states)} if plan else {}

    def element_watches(self, element_id: int) -> list[Watch]:
        """The compiled watches on an element's own totals."""
        return list(self._elements.get(element_id, []))

    # ------------------------------------------------------------------ report
    def report(self, live: DeviceLive) -> list[dict[str, Any]]:
        """Every channel of a PDU with its governing rule, thresholds, value and state."""
        cands = self._rules.candidates(live)
        watches = self.watches_of(live.hex_id)
        info = live.info
        rows: list[dict[str, Any]] = []
        chans: list[tuple[str, int, str]] = [
            (c, i, q) for c, i, qs in device_channels(info) for q in qs]
        chans += [("", 0, "deviceUnreachable"), ("", 0, "deviceStale")]
        for comp, idx, q in chans:
            rule = RuleService.governing(cands, comp, idx, q)
            key = channel_key(live.hex_id, comp, idx, q)
            w = watches.get(key)
            if comp:
                g = live.groups.get((COMPONENT_BY_CODE[comp], idx))
                value = g.get(q) if g else None
                name = channel_name(ChannelKey(COMPONENT_BY_CODE[comp], idx, q))
            else:
                value = 1.0 if live.state.value.lower() == q[6:].lower() else 0.0
                name = f"device.{q[6:].lower()}"
            row: dict[str, Any] = {"channel": name, "component": comp, "index": idx,
                                   "quantity": q, "value": value,
                                   "unit": BY_KEY[q].unit if q in BY_KEY else ""}
            self._report_rule(row, rule, w)
            rows.append(row)
        return rows
