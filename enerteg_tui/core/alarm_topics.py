"""The ``rules/`` and ``alarms/`` topic folders: what scripts use to do what the console does.

Owns the mapping of these paths onto ``RuleService`` and ``AlarmService`` (the tree is
in docs/topics.md): ``rules/_data`` (every rule), ``rules/new`` (a template; a ``put``
there creates a rule), ``rules/<id>`` (change with ``put``/``edit``, delete with
``put delete=true``), ``rules/<id>/report`` (what the rule governs and where a more
specific rule overrides it), ``rules/report/<hexid>`` (a PDU's rule report),
``rules/report/dc:<id>`` (a DC element's own totals), ``alarms/_data``
(the open alarms page with counters), ``alarms/active``, ``alarms/inactive``
(cleared, not acknowledged) and ``alarms/<id>`` (acknowledge with ``put ack=true
comment="..."``). Invariant: every change goes through the services, so the schemas,
permission checks and audit entries are the same for every face. Called only by
``core.topics``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .alarms import AlarmFilter, AlarmService
from .documents import apply_changes, envelope
from .errors import Invalid, shown
from .element_rules import element_key
from .live import LiveState
from .permissions import Action, Principal, require
from .rules import RuleDoc, RuleService
from .settings._base import Toggle
from .structure import Structure

__all__ = ["AckDoc", "RuleAlarmTopics", "RULE_TEMPLATE"]

RULE_TEMPLATE: dict[str, Any] = {
    "name": "", "enabled": "enabled", "scope": "all", "target": "", "quantity": "",
    "elementTotals": "disabled", "component": "", "indexFrom": None, "indexTo": None, "unit": "",
    "criticalAbove": {"enabled": "disabled", "value": 0.0},
    "warningAbove": {"enabled": "disabled", "value": 0.0},
    "warningBelow": {"enabled": "disabled", "value": 0.0},
    "criticalBelow": {"enabled": "disabled", "value": 0.0},
    "hysteresis": None, "minDurationSeconds": 5.0,
}
"""What ``rules/new/_data`` shows: a rule with every key at its default."""


class AckDoc(BaseModel):
    """What ``put`` accepts at ``alarms/<id>``: ``ack=true`` and an optional comment."""

    model_config = ConfigDict(extra="forbid")

    ack: Toggle = True
    """Acknowledge the alarm (only true is meaningful; an ack cannot be taken back)."""
    comment: str = Field(default="", max_length=2000)
    """Why, or who is on it."""


class _DeleteDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delete: Toggle = False


class RuleAlarmTopics:
    """Resolve, read and change the ``rules/`` and ``alarms/`` topics.

    Args:
        rules: the rule set.
        alarms: the alarm service.
        live: for the list of PDUs under ``rules/report``.
        structure: for the DC elements under ``rules/report`` (``dc:<id>``: their totals).
    """

    def __init__(self, rules: RuleService, alarms: AlarmService, live: LiveState,
                 structure: Structure, clock: Callable[[], float] = time.time) -> None:
        self._rules = rules
        self._alarms = alarms
        self._live = live
        self._structure = structure
        self._clock = clock

    # ------------------------------------------------------------------ tree
    def node(self, path: str, parts: list[str],
             missing: Callable[[str, str, list[str]], Any]) -> tuple[list[str], bool, bool, Any]:
        """(children, has_data, writable, schema) of a path under ``rules`` or ``alarms``."""
        head = parts[0]
        if head == "rules":
            ids = [str(r.id) for r in self._rules.all()]
            if len(parts) == 1:
                return ["new", "report", *ids], True, False, None
            sub = parts[1]
            if len(parts) == 2 and sub == "new":
                return [], True, True, RuleDoc
            if len(parts) == 2 and sub in ids:
                return ["report"], True, True, RuleDoc
            if len(parts) == 3 and sub in ids and parts[2] == "report":
                return [], True, False, None
            if sub in ids:
                return missing(path, f"rules/{sub}", ["report"])
            if sub == "report":
                hexes = [d.hex_id for d in self._live.ordered()] + [
                    element_key(e.id) for e in self._structure.elements()]
                if len(parts) == 2:
                    return hexes, True, False, None
                if len(parts) == 3 and parts[2] in hexes:
                    return [], True, False, None
                return missing(path, "rules/report", hexes)
            return missing(path, "rules", ["new", "report", *ids])
        open_ids = [str(a.id) for a in self._alarms.open_alarms()]
        if len(parts) == 1:
            return ["active", "inactive", *open_ids], True, False, None
        sub = parts[1]
        if len(parts) == 2 and sub in ("active", "inactive"):
            return [], True, False, None
        if len(parts) == 2 and sub.isdigit():
            self._alarms.get(int(sub))  # NotFound for an unknown id
            return [], True, True, AckDoc
        return missing(path, "alarms", ["active", "inactive", *open_ids])

    # ------------------------------------------------------------------ reading
    def get(self, principal: Principal, parts: list[str]) -> dict[str, Any]:
        """The ``_data`` document of a path under ``rules`` or ``alarms``."""
        now_ms = int(self._clock() * 1000)
        if parts[0] == "rules":
            if len(parts) == 1:
                return {"ts": now_ms, "rules": [
                    {"id": r.id, "default": r.default, **r.doc.model_dump(mode="json")}
                    for r in self._rules.all()]}
            if parts[1] == "new":
                return {**envelope(now_ms, dict(RULE_TEMPLATE)), "id": None}
            if parts[1] == "report":
                if len(parts) == 2:
                    return {"ts": now_ms, "devices": [
                        {"hexId": d.hex_id, "name": d.info.display_name,
                         "health": self._alarms.device_health(d).name.lower(),
                         "watched": len(self._alarms.evaluator.watches_of(d.hex_id))}
                        for d in self._live.ordered()],
                        "elements": [
                        {"element": element_key(e.id), "kind": e.kind.value,
                         "name": self._structure.path(e),
                         "health": self._alarms.element_own_health(e.id).name.lower(),
                         "watched": len(self._alarms.evaluator.element_watches(e.id))}
                        for e in self._structure.elements()]}
                return self._alarms.report(principal, parts[2])
            if len(parts) == 3:
                return self._alarms.rule_report(principal, int(parts[1]))
            return self._rules.get(int(parts[1])).to_json()
        if len(parts) == 1:
            return {"ts": now_ms, "counts": dict(self._alarms.counts()),
                    "alarms": [a.to_json() for a in self._alarms.open_alarms()]}
        if parts[1] == "active":
            return {"ts": now_ms, "alarms": [a.to_json() for a in self._alarms.active()]}
        if parts[1] == "inactive":
            flt = AlarmFilter(active=False, acked=False)
            return {"ts": now_ms, "alarms": [a.to_json() for a in self._alarms.open_alarms(flt)]}
        return self._alarms.get(int(parts[1])).to_json()

    # ------------------------------------------------------------------ changing
    async def put(self, principal: Principal, parts: list[str], changes: dict[str, Any],
                  replace: bool) -> list[str]:
        """Apply a ``put``; returns the path whose document the caller shows afterwards."""
        if parts[0] == "rules":
            if parts[1] == "new":
                require(principal, Action.EDIT_RULES, "rules")
                data = changes if replace else apply_changes(
                    {k: v for k, v in RULE_TEMPLATE.items() if k not in ("name", "quantity")},
                    changes, "rules/new")
                rule = await self._rules.create(principal, data)
                return ["rules", str(rule.id)]
            rule_id = int(parts[1])
            if "delete" in changes:
                require(principal, Action.EDIT_RULES, f"rules/{rule_id}")
                if len(changes) > 1:
                    raise Invalid(f"rules/{rule_id}: delete goes alone; other keys "
                                  f"({', '.join(k for k in changes if k != 'delete')}) are not "
                                  "allowed with it", thing="delete", value=changes["delete"],
                                  allowed="put delete=true")
                doc = _DeleteDoc.model_validate({"delete": changes["delete"]})
                if doc.delete:
                    await self._rules.delete(principal, rule_id)
                    return ["rules"]
                return parts
            await self._rules.update(principal, rule_id, changes, replace=replace)
            return parts
        alarm_id = int(parts[1])
        require(principal, Action.ACK_ALARM, f"alarms/{alarm_id}")
        bad = [k for k in changes if k not in ("ack", "comment")]
        if bad:
            raise Invalid(f"alarms/{alarm_id}: unknown key {bad[0]} (value {shown(changes[bad[0]])}); "
                          "allowed are ack, comment", thing=bad[0], value=changes[bad[0]],
                          allowed="ack, comment")
        try:
            doc = AckDoc.model_validate({"ack": changes.get("ack", True),
                                         "comment": str(changes.get("comment", ""))})
        except Exception as exc:  # pydantic's message, worded like every other topic
            from pydantic import ValidationError

            from .validation import invalid_from_pydantic
            if isinstance(exc, ValidationError):
                raise invalid_from_pydantic(f"alarms/{alarm_id}", exc, AckDoc) from None
            raise
        if not doc.ack:
            raise Invalid(f"alarms/{alarm_id}: ack = false is not allowed; an acknowledgement "
                          "cannot be taken back; allowed is true", thing="ack", value=False,
                          allowed="true")
        await self._alarms.acknowledge(principal, alarm_id, doc.comment)
        return parts
