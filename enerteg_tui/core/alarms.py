"""Alarms (manual §9.1): raised, updated, cleared and acknowledged, from rule evaluation.

Owns the alarm lifecycle and its storage (table ``alarm``, migration 3). At the end of
every poller sweep ``on_sweep`` runs the evaluator and turns level changes into alarms:
*raised* (active, start, value, peak, severity, text in the manual's form), *updated*
(escalated, de-escalated, new peak), *cleared* (inactive, end). An acknowledgement by a
user (with a comment) never clears; a cleared alarm that is not acknowledged stays
visible (inactive) until acknowledged. Invariants: at most one active alarm per channel
(a unique index backs it); the poller never waits for the database (changes are
queued and written by a writer task in one transaction per batch, with their audit
entries); alarms survive a restart without duplicates (open alarms are reloaded and
the evaluator resumes them). Announced as ``Event("alarm", id, AlarmChange)``.
Also supplies the worst state per device to ``Structure.health`` and the counters the
console header shows (``counts()``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .alarm_texts import EXCEEDED, FALLEN, RING_BROKEN, RING_OPEN, STALE, UNREACHABLE, compose
from .audit import AuditLog, Severity
from .element_rules import element_key, element_of
from .errors import Conflict, Invalid, NotFound
from .safetext import refuse_control
from .device_ids import CONDITION as DUPLICATE_ID, duplicate_text, duplicates
from .evaluation import RING, Change, Evaluator, Watch, channel_key, fmt_num
from .events import Event, EventBus
from .live import DeviceLive, LiveState
from .model import Health
from .permissions import SYSTEM, Action, Principal, require
from .quantities import COMPONENT_BY_CODE, ChannelKey
from .rules import PERCENT, RuleService
from .store import Store
from .structure import Structure, device_health
from .waiting import cancel_and_wait

__all__ = ["Alarm", "AlarmChange", "AlarmFilter", "AlarmService", "SEVERITIES"]

log = logging.getLogger(__name__)

SEVERITIES = ("Warning", "Critical")
"""Alarm severities, lowest first (the manual's 'warnings' and 'alerts')."""
AUDIT_SEVERITY = {"Warning": Severity.WARNING, "Critical": Severity.ERROR}
"""Audit (and syslog/e-mail) severity of an alarm of each severity."""
RECENT_CLOSED = 500
"""Closed (inactive and acknowledged) alarms kept in memory for ``alarms/<id>``."""
COMMENT_MAX = 2000
"""Longest acknowledgement comment."""
CONDITION_RULE = "controller check"
"""Rule name of a condition alarm (``raise_condition``): raised by the controller itself,
not by a threshold rule."""


@dataclass(slots=True)
class Alarm:
    """One alarm: a channel's excursion beyond a rule's threshold, from start to end."""

    id: int
    channel: str
    """Channel key ``<hexid>/<component>/<index>/<quantity>`` (``ring//0/ringBreaks``)."""
    device: str
    """Hex id of the PDU, or ``ring``."""
    component: str
    index: int
    quantity: str
    rule_id: int | None
    rule_name: str
    severity: str
    """Current severity while active (last one when cleared): Warning or Critical."""
    peak_severity: str
    direction: str
    """``above`` or ``below`` the thresholds."""
    active: bool
    start: float
    end: float | None
    value: float | None
    """Last value seen while active."""
    peak: float | None
    """Highest (above) or lowest (below) value while active."""
    threshold: float | None
    """Absolute threshold of the current severity."""
    text: str
    acked: bool = False
    ack_user: str | None = None
    ack_ts: float | None = None
    ack_comment: str | None = None
    updated: float = 0.0
    device_name: str = ""

    @property
    def state(self) -> str:
        """``active`` or ``inactive``, as the manual's alarm table says."""
        return "active" if self.active else "inactive"

    @property
    def open(self) -> bool:
        """Shown on the open alarms page: active, or inactive but not acknowledged."""
        return self.active or not self.acked

    def to_json(self) -> dict[str, Any]:
        """The ``alarms/<id>/_data`` document (times in ms since the epoch)."""
        ms = (lambda t: None if t is None else int(t * 1000))
        return {
            "ts": ms(self.updated), "id": self.id, "state": self.state,
            "severity": self.severity, "peakSeverity": self.peak_severity, "text": self.text,
            "device": self.device, "deviceName": self.device_name, "channel": self.channel,
            "component": self.component, "index": self.index, "quantity": self.quantity,
            "rule": {"id": self.rule_id, "name": self.rule_name}, "direction": self.direction,
            "start": ms(self.start), "end": ms(self.end), "value": self.value,
            "peak": self.peak, "threshold": self.threshold, "acknowledged": self.acked,
            "ackUser": self.ack_user, "ackTs": ms(self.ack_ts), "ackComment": self.ack_comment,
        }


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """What an ``alarm`` event carries: the change and a snapshot of the alarm."""

    change: str
    """raised, escalated, deescalated, peak, cleared or acknowledged."""
    alarm: Alarm


@dataclass(slots=True)
class AlarmFilter:
    """Filters of the open alarms page and the alarm history; all optional."""

    active: bool | None = None
    """True: active only; False: inactive only."""
    acked: bool | None = None
    """True: acknowledged only; False: unacknowledged only."""
    severities: set[str] | None = None
    device: str | None = None
    element: int | None = None
    """DC element id: alarms of the PDUs in that room, row or rack."""
    since: float | None = None
    """Alarms that started at or after this time (s since the epoch)."""
    until: float | None = None
    """Alarms that started before this time."""
    rule_id: int | None = None


_COLS = ("id, channel, device, component, idx, quantity, rule_id, rule_name, severity, "
         "peak_severity, direction, active, start, end, value, peak, threshold, text, acked, "
         "ack_user, ack_ts, ack_comment, updated")


def _row(a: Alarm) -> tuple[Any, ...]:
    return (a.id, a.channel, a.device, a.component, a.index, a.quantity, a.rule_id,
            a.rule_name, a.severity, a.peak_severity, a.direction, int(a.active), a.start,
            a.end, a.value, a.peak, a.threshold, a.text, int(a.acked), a.ack_user, a.ack_ts,
            a.ack_comment, a.updated)


def _from_row(r: tuple[Any, ...]) -> Alarm:
    return Alarm(id=r[0], channel=r[1], device=r[2], component=r[3], index=r[4], quantity=r[5],
                 rule_id=r[6], rule_name=r[7], severity=r[8], peak_severity=r[9],
                 direction=r[10], active=bool(r[11]), start=r[12], end=r[13], value=r[14],
                 peak=r[15], threshold=r[16], text=r[17], acked=bool(r[18]), ack_user=r[19],
                 ack_ts=r[20], ack_comment=r[21], updated=r[22])


def _audit_device(device: str) -> str | None:
    """The audit entry's device: a PDU's hex id, none for the ring or a DC element."""
    return None if device == RING or element_of(device) is not None else device


def _level(alarm: Alarm) -> int:
    mag = 2 if alarm.severity == "Critical" else 1
    return mag if alarm.direction == "above" else -mag


class AlarmService:
    """Alarm lifecycle, storage, acknowledgement, filters, counters and device health.

    Args:
        store: controller database (table ``alarm``).
        audit: raises, escalations, clears and acks are audited (user ``system`` for
            the automatic ones).
        events: ``alarm`` events, and ``publish_device`` when a device's colour changes.
        live: live state the evaluator reads.
        rules: the rule set.
        structure: device placement (DC element filter) and the ``health`` hook this
            service takes over.
        clock: wall clock (alarm times, minimum durations).
    """

    def __init__(self, store: Store, audit: AuditLog, events: EventBus, live: LiveState,
                 rules: RuleService, structure: Structure,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._audit = audit
        self._events = events
        self._live = live
        self._rules = rules
        self._structure = structure
        self._clock = clock
        self.evaluator = Evaluator(rules, live, level_of=_level, structure=structure)
        self._open: dict[int, Alarm] = {}
        self._recent: deque[Alarm] = deque(maxlen=RECENT_CLOSED)
        self._next_id = 1
        self._dirty: dict[int, Alarm] = {}
        self._pending_audit: list[tuple[str, Alarm, str, Severity]] = []
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._counts = {"critical": 0, "warning": 0}
        self._worst: dict[str, Health] = {}
        self._first = True
        self._shared_ids: dict[int, str] = {}
        self.eval_ms: deque[float] = deque(maxlen=120)
        """Recent evaluation times per sweep, in ms."""
        self.last_eval_ms = 0.0

    # ------------------------------------------------------------------ lifecycle
    async def load(self) -> None:
        """Reload open alarms (active, or inactive and not acknowledged) and recent ones."""
        row = await self._store.fetchone("SELECT MAX(id) FROM alarm")
        self._next_id = int(row[0] or 0) + 1 if row else 1
        for r in await self._store.fetchall(
                f"SELECT {_COLS} FROM alarm WHERE active=1 OR acked=0 ORDER BY id"):
            a = _from_row(r)
            a.device_name = self._name(a.device)
            self._open[a.id] = a
            if a.active:
                self.evaluator.restored[a.channel] = a
        for r in reversed(await self._store.fetchall(
                f"SELECT {_COLS} FROM alarm WHERE active=0 AND acked=1 ORDER BY id DESC LIMIT ?",
                (RECENT_CLOSED,))):
            a = _from_row(r)
            a.device_name = self._name(a.device)
            self._recent.append(a)
        self._recount()

    async def reset(self) -> None:
        """Factory reset of alarms: the table emptied and every alarm held in memory
        (open, recent, queued for writing, remembered by the evaluator) forgotten, so
        none comes back from a rule that no longer exists."""
        async with self._flush_lock:
            self._dirty, self._pending_audit = {}, []
            await self._store.execute("DELETE FROM alarm")
            self._open.clear()
            self._recent.clear()
            self._next_id = 1
            self.evaluator.reset()
            self._first = True
            self._shared_ids = {}
            self._recount()

    async def start(self) -> None:
        """Start the writer and the watcher that marks plans outdated on structure changes."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="alarm-writer")
            self._watcher = asyncio.create_task(self._watch_loop(), name="alarm-watch")

    async def stop(self) -> None:
        """Stop the tasks and write what is still queued."""
        await cancel_and_wait(self._watcher, self._writer)
        self._writer = self._watcher = None
        await self.flush()

    async def _watch_loop(self) -> None:
        with self._events.subscribe(kinds={"structure", "device"}) as sub:
            while True:
                batch = await sub.get()
                if batch.events:
                    self._rules.touch()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the queue; try again at the next change
                log.exception("alarms: writing to the database failed")
                await asyncio.sleep(1.0)
                self._wake.set()

    async def flush(self) -> None:
        """Write queued alarm changes and their audit entries in one transaction.

        Serialised: a caller that flushes before reading waits for a flush in progress.
        """
        async with self._flush_lock:
            await self._flush()

    async def _flush(self) -> None:
        if not self._dirty and not self._pending_audit:
            return
        dirty = [self._dirty[k] for k in sorted(self._dirty)]
        audits = self._pending_audit
        self._dirty, self._pending_audit = {}, []
        entries = []
        try:
            async with self._store.transaction() as tx:
                await tx.executemany(
                    f"INSERT INTO alarm ({_COLS}) VALUES ({','.join('?' * 23)}) ON CONFLICT(id) "
                    "DO UPDATE SET rule_id=excluded.rule_id, rule_name=excluded.rule_name, "
                    "severity=excluded.severity, peak_severity=excluded.peak_severity, "
                    "active=excluded.active, end=excluded.end, value=excluded.value, "
                    "peak=excluded.peak, threshold=excluded.threshold, text=excluded.text, "
                    "acked=excluded.acked, ack_user=excluded.ack_user, ack_ts=excluded.ack_ts, "
                    "ack_comment=excluded.ack_comment, updated=excluded.updated",
                    [_row(a) for a in dirty])
                for action, alarm, message, severity in audits:
                    entries.append(await self._audit.insert(
                        tx, SYSTEM, action, f"alarms/{alarm.id}", message, severity=severity,
                        device=_audit_device(alarm.device),
                        new={"alarm": alarm.id, "severity": alarm.severity,
                             "channel": alarm.channel, "value": alarm.value,
                             "rule": alarm.rule_name}))
        except BaseException:
            for a in dirty:  # put back what was not written (newer changes win)
                self._dirty.setdefault(a.id, a)
            self._pending_audit[:0] = audits
            raise
        for entry in entries:
            self._audit.announce(entry)

    # ------------------------------------------------------------------ sweep
    def on_sweep(self) -> None:
        """Evaluate every watched channel (the poller calls this at the end of a sweep)."""
        t0 = time.perf_counter()
        self._check_device_ids()
        now = self._clock()
        changes, peaks = self.evaluator.evaluate(now)
        if self._first:
            self._first = False
            self._drop_leftovers(now, changes)
        for change in changes:
            self._apply(change, now)
        for w in peaks:
            a = w.alarm
            if a is not None and a.active:
                a.peak, a.value, a.updated = w.peak, w.peak, now
                self._dirty[a.id] = a
                self._publish("peak", a)
        if changes:
            self._recount()
        if self._dirty or self._pending_audit:
            self._wake.set()
        self.last_eval_ms = (time.perf_counter() - t0) * 1000
        self.eval_ms.append(self.last_eval_ms)

    def _drop_leftovers(self, now: float, changes: list[Change]) -> None:
        """Restored active alarms that no rule watches any more are cleared at once."""
        for key, alarm in list(self.evaluator.restored.items()):
            del self.evaluator.restored[key]
            self._clear(alarm, now, None, "the controller restarted; it is raised again while "
                        "the condition persists" if alarm.rule_name == CONDITION_RULE
                        else "no rule watches the channel any more")

    def _apply(self, change: Change, now: float) -> None:
        w, old, value = change
        new = w.level
        alarm: Alarm | None = w.alarm
        if old and (not new or (old > 0) != (new > 0)):
            if alarm is not None:
                self._clear(alarm, now, value)
            w.alarm = None
            alarm = None
            old = 0
        if not new:
            return
        if alarm is None or not old:
            self._raise(w, new, value, now)
            return
        # same direction, other severity
        sev = "Critical" if abs(new) == 2 else "Warning"
        escalated = abs(new) > abs(old)
        alarm.severity = sev
        if escalated:
            alarm.peak_severity = "Critical" if sev == "Critical" else alarm.peak_severity
        alarm.threshold = w.threshold(new)
        alarm.text = self._text(w, new, value)
        alarm.value, alarm.updated = value, now
        alarm.rule_id, alarm.rule_name = w.rule.id, w.rule.name
        self._dirty[alarm.id] = alarm
        if escalated:
            self._pending_audit.append(("alarm.escalate", alarm, alarm.text,
                                        AUDIT_SEVERITY[sev]))
        self._publish("escalated" if escalated else "deescalated", alarm)

    def _raise(self, w: Watch, level: int, value: float | None, now: float) -> None:
        sev = "Critical" if abs(level) == 2 else "Warning"
        alarm = Alarm(
            id=self._next_id, channel=w.key, device=w.device, component=w.component,
            index=w.index, quantity=w.quantity, rule_id=w.rule.id, rule_name=w.rule.name,
            severity=sev, peak_severity=sev, direction="above" if level > 0 else "below",
            active=True, start=now, end=None, value=value, peak=value,
            threshold=w.threshold(level), text=self._text(w, level, value), updated=now,
            device_name=self._name(w.device))
        self._next_id += 1
        w.alarm = alarm
        w.peak = value if value is not None else 0.0
        self._open[alarm.id] = alarm
        self._dirty[alarm.id] = alarm
        self._pending_audit.append(("alarm.raise", alarm, alarm.text, AUDIT_SEVERITY[sev]))
        self._publish("raised", alarm)

    def _clear(self, alarm: Alarm, now: float, value: float | None, why: str = "") -> None:
        alarm.active = False
        alarm.end = alarm.updated = now
        self._dirty[alarm.id] = alarm
        if value is not None:
            alarm.value = value
        reason = why or ("value back within the thresholds" + (
            f" ({fmt_num(value, 3)})" if value is not None and alarm.component else "")
            if value is not None else "no value (device not answering or channel gone)")
        self._pending_audit.append(("alarm.clear", alarm,
                                    f"Alarm {alarm.id} cleared: {reason}. Was: {alarm.text}",
                                    Severity.INFO))
        if alarm.acked:
            self._close(alarm)
        self._publish("cleared", alarm)

    def _close(self, alarm: Alarm) -> None:
        self._open.pop(alarm.id, None)
        self._recent.append(alarm)

    def _publish(self, change: str, alarm: Alarm) -> None:
        self._events.publish(Event("alarm", str(alarm.id), AlarmChange(change, replace(alarm))))

    def _recount(self) -> None:
        crit = warn = 0
        worst: dict[str, Health] = {}
        for a in self._open.values():
            if not a.active:
                continue
            if a.severity == "Critical":
                crit += 1
                h = Health.CRITICAL
            else:
                warn += 1
                h = Health.WARNING
            if worst.get(a.device, Health.OK) < h:
                worst[a.device] = h
        self._counts = {"critical": crit, "warning": warn}
        changed = {d for d in worst.keys() | self._worst.keys()
                   if worst.get(d) != self._worst.get(d)}
        self._worst = worst
        for hx in changed:
            if hx != RING and element_of(hx) is None:
                self._events.publish_device(hx)

    # ------------------------------------------------------------------ conditions
    def raise_condition(self, name: str, text: str, *, index: int = 0,
                        severity: str = "Critical") -> Alarm:
        """Raise an alarm about the controller itself rather than a measured value (a face
        that cannot listen on its port, a Device ID two PDUs share), on channel
        ``ring//<index>/<name>``. Idempotent: while it is active, a second call updates
        its text and severity instead of raising another; ``clear_condition`` ends it.
        Audited (``alarm.raise``) and announced like any alarm."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r}: allowed are {', '.join(SEVERITIES)}")
        now = self._clock()
        channel = channel_key(RING, "", index, name)
        alarm = self._active_on(channel)
        if alarm is not None:
            self.evaluator.restored.pop(channel, None)       # still true after a restart
            if (alarm.text, alarm.severity) != (text, severity):
                alarm.text, alarm.severity, alarm.updated = text, severity, now
                self._dirty[alarm.id] = alarm
                self._publish("escalated" if severity == "Critical" else "deescalated", alarm)
                self._recount()
                self._wake.set()
            return alarm
        alarm = Alarm(
            id=self._next_id, channel=channel, device=RING, component="", index=index,
            quantity=name, rule_id=None, rule_name=CONDITION_RULE, severity=severity,
            peak_severity=severity, direction="above", active=True, start=now, end=None,
            value=None, peak=None, threshold=None, text=text, updated=now,
            device_name=self._name(RING))
        self._next_id += 1
        self._open[alarm.id] = alarm
        self._dirty[alarm.id] = alarm
        self._pending_audit.append(("alarm.raise", alarm, text, AUDIT_SEVERITY[severity]))
        self._publish("raised", alarm)
        self._recount()
        self._wake.set()
        return alarm

    def clear_condition(self, name: str, why: str, *, index: int = 0) -> Alarm | None:
        """Clear the condition alarm ``name`` (``why``: what ended it); None when none is
        active."""
        channel = channel_key(RING, "", index, name)
        alarm = self._active_on(channel)
        if alarm is None:
            return None
        self.evaluator.restored.pop(channel, None)
        self._clear(alarm, self._clock(), None, why)
        self._recount()
        self._wake.set()
        return alarm

    def conditions(self, name: str) -> list[Alarm]:
        """Active condition alarms called ``name`` (every index)."""
        return [a for a in self._open.values()
                if a.active and a.rule_name == CONDITION_RULE and a.quantity == name]

    def _check_device_ids(self) -> None:
        """One ``duplicateDeviceId`` alarm per Device ID the ring reports for two or more
        PDUs, cleared when the ID is unique again (``device_ids``)."""
        shared = {i: duplicate_text(i, ds) for i, ds in duplicates(self._live).items()}
        if not shared and not self._shared_ids:
            return
        for i, text in shared.items():
            if self._shared_ids.get(i) != text:
                self.raise_condition(DUPLICATE_ID, text, index=i)
        for i in self._shared_ids.keys() - shared.keys():
            self.clear_condition(DUPLICATE_ID, f"Device ID {i} is held by one PDU again",
                                 index=i)
        self._shared_ids = shared

    def _active_on(self, channel: str) -> Alarm | None:
        return next((a for a in self._open.values() if a.active and a.channel == channel),
                    None)

    # ------------------------------------------------------------------ texts
    def _name(self, hex_id: str) -> str:
        eid = element_of(hex_id)
        if eid is not None:
            return self._element_name(eid)
        live = self._live.get(hex_id)
        return live.info.display_name if live is not None else hex_id

    def _element_name(self, eid: int) -> str:
        """``rack "Hall A / Row 1 / Rack 1"`` (or ``DC element 7`` once it is deleted)."""
        kind = self._structure.kind_of(eid)
        return f'{kind} "{self._structure.path(eid)}"' if kind else f"DC element {eid}"

    def _text(self, w: Watch, level: int, value: float | None) -> str:
        """The manual's alarm sentence for a watch at a level."""
        sev = "critical" if abs(level) == 2 else "warning"
        rule = w.rule.name
        q = w.quantity
        if q == "ringBreaks":
            breaks = self._live.bus.breaks
            links = ", ".join(str(b) for b in breaks) or "?"
            if len(breaks) > 1:
                return compose(RING_BROKEN, links=links, severity=sev, rule=rule)
            return compose(RING_OPEN, links=links, severity=sev, rule=rule)
        eid = element_of(w.device)
        pdu = self._name(w.device) if eid is not None else f'PDU "{self._name(w.device)}"'
        if q == "deviceUnreachable":
            return compose(UNREACHABLE, pdu=pdu, severity=sev, rule=rule)
        if q == "deviceStale":
            return compose(STALE, pdu=pdu, severity=sev, rule=rule)
        unit = f" {w.unit}" if w.unit else ""
        thr = w.threshold(level)
        thr_text = f"{fmt_num(thr, 3)}{unit}"
        if w.rule.doc.unit == PERCENT and w.rating:
            thr_text = (f"{fmt_num(w.rule_threshold(level), 3)} % of {fmt_num(w.rating, 2)}"
                        f"{unit} ({thr_text})")
        shown = "—" if value is None else fmt_num(value, 3)
        return compose(EXCEEDED if level > 0 else FALLEN, value=f"{shown}{unit}", label=w.label,
                       severity=sev, threshold=thr_text, rule=rule, pdu=pdu)

    # ------------------------------------------------------------------ reading
    def counts(self) -> dict[str, int]:
        """Active alarms by severity: ``{"critical": n, "warning": m}`` (the header's counters)."""
        return self._counts

    def element_own_health(self, element_id: int) -> Health:
        """The worst active alarm on an element's own totals (``Structure.own_health``)."""
        return self._worst.get(element_key(element_id), Health.OK)

    def device_health(self, live: DeviceLive) -> Health:
        """A device's colour: its own state and its worst active alarm (``Structure.health``)."""
        own = device_health(live)
        return max(own, self._worst.get(live.hex_id, Health.OK))

    def watched_channels(self, hex_id: str) -> list[ChannelKey]:
        """The measured channels of a device that a rule with thresholds watches
        (device states such as unreachable/stale belong to no channel and are left out)."""
        out = []
        for w in self.evaluator.watches_of(hex_id).values():
            comp = COMPONENT_BY_CODE.get(w.component)
            if comp is not None:
                out.append(ChannelKey(comp, w.index, w.quantity))
        return out

    def open_alarms(self, flt: AlarmFilter | None = None) -> list[Alarm]:
        """Alarms on the open alarms page (active or unacknowledged), newest first."""
        out = [a for a in self._open.values() if flt is None or self._matches(a, flt)]
        out.sort(key=lambda a: (a.start, a.id), reverse=True)
        return out

    def active(self) -> list[Alarm]:
        """Active alarms, newest first."""
        return self.open_alarms(AlarmFilter(active=True))

    def get(self, alarm_id: int) -> Alarm:
        """An open or recently closed alarm; ``NotFound`` names it."""
        a = self._open.get(alarm_id)
        if a is None:
            a = next((x for x in self._recent if x.id == alarm_id), None)
        if a is None:
            raise NotFound(f"alarm {alarm_id} is neither open nor recent; older alarms are in "
                           "the alarm history (AlarmService.query)", thing="alarm",
                           value=alarm_id, allowed="the id of an open or recent alarm")
        return a

    def _matches(self, a: Alarm, f: AlarmFilter) -> bool:
        if f.active is not None and a.active is not f.active:
            return False
        if f.acked is not None and a.acked is not f.acked:
            return False
        if f.severities and a.severity not in f.severities:
            return False
        if f.device and a.device != f.device:
            return False
        if f.element is not None and a.device not in self._element_subjects(f.element):
            return False
        if f.since is not None and a.start < f.since:
            return False
        if f.until is not None and a.start >= f.until:
            return False
        return f.rule_id is None or a.rule_id == f.rule_id

    def _element_subjects(self, element_id: int) -> set[str]:
        """What an element filter takes in: its PDUs, itself and the elements under it."""
        return set(self._structure.devices_in(element_id)) | {
            element_key(e) for e in self._structure.subtree(element_id)}

    async def query(self, principal: Principal, flt: AlarmFilter | None = None, *,
                    limit: int = 100, offset: int = 0) -> list[Alarm]:
        """Alarms of the whole history matching ``flt``, newest first, paged."""
        require(principal, Action.READ, "alarms")
        await self.flush()
        f = flt or AlarmFilter()
        where: list[str] = []
        params: list[Any] = []
        if f.active is not None:
            where.append("active=?")
            params.append(int(f.active))
        if f.acked is not None:
            where.append("acked=?")
            params.append(int(f.acked))
        if f.severities:
            bad = set(f.severities) - set(SEVERITIES)
            if bad:
                raise Invalid(f"alarm severity {sorted(bad)[0]!r} does not exist",
                              thing="severity", value=sorted(bad)[0], allowed=", ".join(SEVERITIES))
            where.append(f"severity IN ({','.join('?' * len(f.severities))})")
            params += sorted(f.severities)
        devices: list[str] | None = None
        if f.element is not None:
            devices = sorted(self._element_subjects(f.element))
        if f.device:
            devices = [f.device] if devices is None or f.device in devices else []
        if devices is not None:
            where.append(f"device IN ({','.join('?' * len(devices)) or 'NULL'})")
            params += devices
        if f.since is not None:
            where.append("start >= ?")
            params.append(f.since)
        if f.until is not None:
            where.append("start < ?")
            params.append(f.until)
        if f.rule_id is not None:
            where.append("rule_id = ?")
            params.append(f.rule_id)
        sql = f"SELECT {_COLS} FROM alarm"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start DESC, id DESC LIMIT ? OFFSET ?"
        out = [_from_row(r) for r in await self._store.fetchall(sql, (*params, limit, offset))]
        for a in out:
            a.device_name = self._name(a.device)
        return out

    # ------------------------------------------------------------------ acknowledging
    async def acknowledge(self, principal: Principal, alarm_id: int, comment: str = "") -> Alarm:
        """Acknowledge an alarm with an optional comment; it does not clear it.

        Raises:
            PermissionDenied: the principal may not ``ack-alarm``.
            NotFound: no such open or recent alarm.
            Conflict: already acknowledged (the message says by whom and when).
            Invalid: a comment longer than 2000 characters.
        """
        require(principal, Action.ACK_ALARM, f"alarms/{alarm_id}")
        comment = (comment or "").strip()
        refuse_control(f"alarms/{alarm_id}", comment, key="comment", multiline={"comment"})
        if len(comment) > COMMENT_MAX:
            raise Invalid(f"alarms/{alarm_id}: comment of {len(comment)} characters is not allowed;"
                          f" allowed is text of at most {COMMENT_MAX} characters",
                          thing="comment", value=comment[:40], allowed=f"≤ {COMMENT_MAX} characters")
        alarm = self.get(alarm_id)
        if alarm.acked:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(alarm.ack_ts or 0))
            raise Conflict(f"alarm {alarm_id} was already acknowledged by {alarm.ack_user} at "
                           f"{when} UTC", thing="alarm", value=alarm_id,
                           allowed="an unacknowledged alarm")
        await self.flush()
        now = self._clock()
        alarm.acked, alarm.ack_user, alarm.ack_ts = True, principal.user, now
        alarm.ack_comment, alarm.updated = comment, now
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE alarm SET acked=1, ack_user=?, ack_ts=?, ack_comment=?, "
                             "updated=? WHERE id=?", (principal.user, now, comment, now, alarm_id))
            entry = await self._audit.insert(
                tx, principal, "alarm.ack", f"alarms/{alarm_id}",
                f"Alarm {alarm_id} acknowledged" + (f": {comment}" if comment else "")
                + f" ({alarm.text})", severity=Severity.INFO,
                device=_audit_device(alarm.device),
                new={"acknowledged": True, "comment": comment})
        if not alarm.active:
            self._close(alarm)
        self._audit.announce(entry)
        self._publish("acknowledged", alarm)
        return alarm

    async def close_channels(self, principal: Principal, hex_id: str, component: str,
                             index: int, reason: str) -> list[Alarm]:
        """Close the open alarms of one component instance that is gone for good (a
        removed sensor): its watches are reset so no later sweep clears them again, each
        alarm cleared if active and acknowledged with ``reason``, audited."""
        for w in self.evaluator.watches_of(hex_id).values():
            if w.component == component and w.index == index:
                w.level, w.pend, w.alarm = 0, 0, None
        return await self._close_where(
            principal, lambda a: a.device == hex_id and a.component == component
            and a.index == index, reason)

    async def _close_where(self, principal: Principal, match: Callable[[Alarm], bool],
                           reason: str) -> list[Alarm]:
        now = self._clock()
        closed = [a for a in self._open.values() if match(a)]
        for a in closed:
            if a.active:
                a.active, a.end = False, now
            a.acked, a.ack_user, a.ack_ts, a.ack_comment = True, principal.user, now, reason
            a.updated = now
            self._dirty[a.id] = a
            self._pending_audit.append(("alarm.close", a, f"Alarm {a.id} closed: {reason}. "
                                        f"Was: {a.text}", Severity.INFO))
            self._close(a)
            self._publish("cleared", a)
        self._recount()
        await self.flush()
        return closed

    async def close_device(self, principal: Principal, hex_id: str, reason: str) -> list[Alarm]:
        """Close every open alarm of a device that is gone for good (a forgotten PDU):
        cleared if active, acknowledged by ``principal`` with ``reason`` as the comment,
        each audited. The device's watches are dropped first, synchronously, so no sweep
        in between raises them again. Returns the alarms closed."""
        self.evaluator.drop_device(hex_id)
        return await self._close_where(principal, lambda a: a.device == hex_id, reason)

    # ------------------------------------------------------------------ report
    def report(self, principal: Principal, hex_id: str) -> dict[str, Any]:
        """The rule report of one PDU (every channel, its rule, thresholds and state), or
        of a DC element's own totals for ``dc:<id>``."""
        require(principal, Action.READ, f"rules/report/{hex_id}")
        eid = element_of(hex_id)
        if eid is not None:
            return self._element_report(eid)
        live = self._live.get(hex_id)
        if live is None:
            known = ", ".join(d.hex_id for d in self._live.ordered()[:8])
            raise NotFound(f"PDU {hex_id!r} does not exist", thing="device", value=hex_id,
                           allowed=f"the hex id of a known PDU ({known} …)")
        channels = self.evaluator.report(live)
        return {"ts": int(self._clock() * 1000), "hexId": hex_id, "name": live.info.display_name,
                "state": live.state.value, "health": self.device_health(live).name.lower(),
                "watched": sum(1 for c in channels if c.get("thresholds")),
                "channels": channels}

    def _element_report(self, eid: int) -> dict[str, Any]:
        el = self._structure.get(eid)                      # NotFound names it
        rules = self._rules.element_rules().get(eid, [])
        channels = self.evaluator.element_report(eid)
        return {"ts": int(self._clock() * 1000), "element": eid, "kind": el.kind.value,
                "name": self._structure.path(el),
                "health": self.element_own_health(eid).name.lower(),
                "rules": [{"id": r.id, "name": r.name} for r in rules],
                "explanation": (
                    f"These are the {el.kind.value}'s own totals (the sum over its "
                    f"{len(self._structure.devices_in(eid))} PDU(s)). Only rules with "
                    f"elementTotals on scope {el.kind.value}, target {eid} govern them, the most "
                    "specific first (a component restriction, then the narrower phase range, "
                    "then the lower id); rules on each PDU in it never do, and these rules "
                    "never govern a PDU's channels."),
                "watched": sum(1 for c in channels if c.get("thresholds")),
                "channels": channels}

    def rule_report(self, principal: Principal, rule_id: int) -> dict[str, Any]:
        """One rule's report: the channels it governs and those where a more specific rule
        overrides it (``rules/<id>/report``)."""
        require(principal, Action.READ, f"rules/{rule_id}/report")
        return {"ts": int(self._clock() * 1000),
                **self.evaluator.rule_report(self._rules.get(rule_id))}
