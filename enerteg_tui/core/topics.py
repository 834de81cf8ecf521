"""Topics: the one address space of the controller (manual §11.1).

Every value an operator can read or set is a folder with one ``_data`` JSON document:
``config/<name>`` (settings), ``sensor/<hexid>/{t,i,b,o,s,status,config,misc,diag}``
(live values and device data, per-index subfolders below ``i``, ``b``, ``o``, ``s``),
``sensor/driver_system`` (bus health), ``rules/`` and ``alarms/`` (through
``core.alarm_topics``), ``dc/`` (the DC structure, through ``core.dc_topics``) and, with the simulated driver only and for admins only,
``sim/`` (fault injection). The shell, REST and restore use this
service; each call names its principal, and ``put`` goes permission → merge →
validate → apply atomically → audit → notify through the owning core service.
The tree is documented in docs/topics.md.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .alarm_topics import RuleAlarmTopics
from .cert_topics import CertTopics
from .dc_topics import DcTopics
from .diagnostics import diag_document
from .audit import AuditLog, Severity
from .configuration import Configuration
from .devices import DeviceService
from .documents import apply_changes, coerce_text, diff_keys, envelope
from .safetext import refuse_control
from .errors import Invalid, NotFound, PermissionDenied, shown
from .faults import FaultInjector
from .live import DeviceLive, LiveState
from .model import DeviceSettings, OutletAction
from .permissions import Action, Principal, allowed, require
from .quantities import BY_KEY, COMPONENT_BY_CODE, COMPONENT_CODES, Component
from .settings import SETTINGS_TOPICS
from .settings._base import Toggle
from .structure import Structure
from .validation import invalid_from_pydantic

__all__ = ["Topics", "TopicNode", "normalize"]

DATA = "_data"
"""The one file in each topic folder."""

_DEVICE_DIRS = (*COMPONENT_CODES, "status", "config", "misc", "diag")
_INDEXED = tuple(c for c in COMPONENT_CODES if c != Component.TOTAL.value)
"""Component folders with numbered instances (all but the totals)."""


class DeviceActions(BaseModel):
    """What ``put`` accepts at ``sensor/<hexid>``: commands to the PDU, not settings."""

    model_config = ConfigDict(extra="forbid")

    resetPeaks: Toggle = False
    """true: reset the PDU's current peaks (``DeviceService.reset_peaks``)."""


@dataclass(slots=True)
class TopicNode:
    """What lives at a path: sub-folders, whether it has ``_data``, and how to change it."""

    path: str
    children: list[str] = field(default_factory=list)
    has_data: bool = True
    writable: bool = False
    schema: type[BaseModel] | None = None
    """Schema of the document's changeable keys (``u`` for settings), for completion."""


def normalize(path: str, cwd: str = "") -> str:
    """Canonical topic path (no leading or trailing slash, ``_data`` dropped).

    Relative paths resolve against ``cwd``; ``..`` and ``.`` are honoured.
    """
    path = path.strip()
    base = [] if path.startswith("/") else [p for p in cwd.split("/") if p]
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if base:
                base.pop()
            continue
        base.append(part)
    if base and base[-1] == DATA:
        base.pop()
    return "/".join(base)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


class Topics:
    """List, read and change topics on behalf of a principal.

    Args:
        config: settings service (``config/``).
        devices: device registry and commands (``sensor/<hex>/config``, outlets).
        live: live state (``sensor/``).
        structure: for device locations.
        audit: fault injection changes are audited here.
        faults: the simulated ring's fault injector, or None (no ``sim/``).
        rules, alarms: the rule and alarm services (``rules/``, ``alarms/``), or None.
    """

    def __init__(
        self, config: Configuration, devices: DeviceService, live: LiveState,
        structure: Structure, audit: AuditLog, faults: FaultInjector | None = None,
        clock: Callable[[], float] = time.time, rules: Any = None, alarms: Any = None,
        certs: CertTopics | None = None,
    ) -> None:
        self._config = config
        self._devices = devices
        self._live = live
        self._structure = structure
        self._audit = audit
        self._faults = faults
        self._clock = clock
        self._ra = (RuleAlarmTopics(rules, alarms, live, structure, clock)
                    if rules is not None and alarms is not None else None)
        self._dc = DcTopics(structure, devices, live, clock)
        self._certs = certs

    def _roots(self, principal: Principal | None) -> list[str]:
        kids = (["alarms", "config", "dc", "rules", "sensor"] if self._ra is not None
                else ["config", "dc", "sensor"])
        if self._faults is not None and (principal is None or allowed(principal, Action.SIMULATE)):
            kids.append("sim")
        if self._certs is not None and (principal is None or allowed(principal,
                                                                     Action.ADMINISTER)):
            kids.insert(kids.index("config"), "certs")
        return kids

    # ------------------------------------------------------------------ tree
    def node(self, principal: Principal, path: str) -> TopicNode:
        """Resolve a canonical path; ``NotFound`` names it and says what exists."""
        parts = [p for p in path.split("/") if p]
        require(principal, Action.READ, path or "/")
        if not parts:
            return TopicNode("", self._roots(principal), has_data=False)
        head = parts[0]
        if head in ("rules", "alarms") and self._ra is not None:
            kids, has_data, writable, schema = self._ra.node(path, parts, self._missing)
            return TopicNode(path, kids, has_data=has_data, writable=writable, schema=schema)
        if head == "dc":
            kids, writable, schema = self._dc.node(path, parts)
            return TopicNode(path, kids, writable=writable, schema=schema)
        if head == "certs" and self._certs is not None:
            kids, writable, schema = self._certs.node(principal, path, parts, self._missing)
            return TopicNode(path, kids, writable=writable, schema=schema)
        if head == "config":
            if len(parts) == 1:
                return TopicNode("config", list(SETTINGS_TOPICS), has_data=False)
            if len(parts) == 2 and parts[1] in SETTINGS_TOPICS:
                return TopicNode(path, [], writable=True, schema=SETTINGS_TOPICS[parts[1]])
            return self._missing(path, "config", list(SETTINGS_TOPICS))
        if head == "sensor":
            return self._sensor_node(path, parts[1:])
        if head == "sim" and self._faults is not None:
            require(principal, Action.SIMULATE, path)
            if len(parts) == 1:
                return TopicNode("sim", self._faults.device_ids(), writable=True,
                                 schema=self._faults.ring_schema())
            if len(parts) == 2 and parts[1] in self._faults.device_ids():
                return TopicNode(path, [], writable=True, schema=self._faults.device_schema())
            return self._missing(path, "sim", self._faults.device_ids())
        return self._missing(path, "", self._roots(principal))

    @staticmethod
    def _missing(path: str, parent: str, names: list[str]) -> TopicNode:
        last = path.rsplit("/", 1)[-1]
        close = difflib.get_close_matches(last, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        holds = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
        raise NotFound(f"topic {shown(path)} does not exist.{hint} /{parent} holds: "
                       f"{holds or 'nothing'}", thing="topic", value=path, allowed=holds)

    def _sensor_node(self, path: str, rest: list[str]) -> TopicNode:
        hexes = [d.hex_id for d in self._live.ordered()]
        if not rest:
            return TopicNode("sensor", [*hexes, "driver_system"])
        if rest[0] == "driver_system" and len(rest) == 1:
            return TopicNode(path)
        live = self._live.get(rest[0])
        if live is None:
            return self._missing(path, "sensor", [*hexes, "driver_system"])
        dirs = self._device_dirs(live)
        if len(rest) == 1:
            return TopicNode(path, dirs, writable=True, schema=DeviceActions)
        sub = rest[1]
        if sub not in dirs:
            return self._missing(path, f"sensor/{rest[0]}", dirs)
        if len(rest) == 2:
            if sub == "config":
                return TopicNode(path, [], writable=True, schema=DeviceSettings)
            if sub in _INDEXED:
                return TopicNode(path, [str(n) for n in self._indices(live, sub)])
            return TopicNode(path)
        if len(rest) == 3 and sub in _INDEXED:
            idx = [str(n) for n in self._indices(live, sub)]
            if rest[2] in idx:
                return TopicNode(path, [], writable=sub == "o", schema=None)
            return self._missing(path, f"sensor/{rest[0]}/{sub}", idx)
        return self._missing(path, f"sensor/{rest[0]}/{sub}", [])

    @staticmethod
    def _indices(live: DeviceLive, sub: str) -> list[int]:
        m = live.info.model
        if sub == "i":
            return list(range(1, m.phases + 1))
        if sub == "b":
            return list(range(1, m.branches + 1))
        if sub == "o":
            return list(range(1, m.outlets + 1))
        return list(range(1, len(live.info.sensors) + 1))

    def _device_dirs(self, live: DeviceLive) -> list[str]:
        m = live.info.model
        present = {"t": True, "i": True, "b": m.branches > 0, "o": m.outlets > 0,
                   "s": bool(live.info.sensors), "status": True, "config": True, "misc": True,
                   "diag": True}
        return [d for d in _DEVICE_DIRS if present[d]]

    def list(self, principal: Principal, path: str) -> list[str]:
        """Entries of a folder as the shell prints them: ``_data`` then ``name/``."""
        node = self.node(principal, normalize(path))
        return ([DATA] if node.has_data else []) + [f"{c}/" for c in node.children]

    def schema_for(self, principal: Principal, path: str) -> type[BaseModel] | None:
        """Schema of a writable topic's keys, or None."""
        node = self.node(principal, normalize(path))
        return node.schema if node.writable else None

    def coerce(self, principal: Principal, path: str, key: str, text: str) -> Any:
        """Typed value for ``put key=text`` according to the topic's schema."""
        return coerce_text(self.schema_for(principal, path), key, text)

    # ------------------------------------------------------------------ reading
    def get(self, principal: Principal, path: str) -> dict[str, Any]:
        """The ``_data`` document at ``path``."""
        path = normalize(path)
        node = self.node(principal, path)
        if not node.has_data:
            raise NotFound(f"topic {shown(path or '/')} is a folder without _data; it holds: "
                           f"{', '.join(node.children)}", thing="topic", value=path,
                           allowed="a folder listed by ls that shows _data")
        parts = path.split("/")
        if parts[0] == "config":
            return envelope(self._config.ts_ms(parts[1]), self._config.public(parts[1]))
        if parts[0] in ("rules", "alarms"):
            assert self._ra is not None
            return self._ra.get(principal, parts)
        if parts[0] == "dc":
            return self._dc.get(parts)
        if parts[0] == "certs":
            assert self._certs is not None
            return self._certs.get(principal, parts)
        if parts[0] == "sim":
            assert self._faults is not None
            doc = (self._faults.ring_document() if len(parts) == 1
                   else self._faults.device_document(parts[1]))
            return envelope(int(self._clock() * 1000), doc.model_dump(mode="json", by_alias=True))
        return self._sensor_doc(parts[1:])

    def _sensor_doc(self, rest: list[str]) -> dict[str, Any]:
        now_ms = int(self._clock() * 1000)
        if not rest:
            return {"ts": now_ms, "devices": [self._summary(d) for d in self._live.ordered()]}
        if rest[0] == "driver_system":
            return self._bus_doc(now_ms)
        live = self._live.devices[rest[0]]
        if len(rest) == 1:
            return self._device_doc(live)
        sub = rest[1]
        if sub == "config":
            return envelope(now_ms, live.info.settings.model_dump(mode="json", by_alias=True))
        if sub == "status":
            return self._status_doc(live)
        if sub == "misc":
            return self._misc_doc(live)
        if sub == "diag":
            return diag_document(live, self._clock())
        comp = COMPONENT_BY_CODE[sub]
        if sub == "t":
            return self._group_doc(live, comp, 0)
        if len(rest) == 2:
            return {"ts": _ms(live.last_ok_at), "items": [
                self._group_doc(live, comp, n) for n in self._indices(live, sub)]}
        return self._group_doc(live, comp, int(rest[2]))

    def _summary(self, d: DeviceLive) -> dict[str, Any]:
        tot = d.groups.get((Component.TOTAL, 0), {})
        return {"hexId": d.hex_id, "name": d.info.display_name, "state": d.state.value,
                "position": d.info.position, "type": d.info.model.type_name,
                "a": tot.get("current"), "w": tot.get("activePower"),
                "location": self._structure.location_of(d.hex_id)}

    def _device_doc(self, d: DeviceLive) -> dict[str, Any]:
        m, s = d.info.model, d.info.settings
        tot = d.groups.get((Component.TOTAL, 0), {})
        return {
            "ts": _ms(d.last_ok_at), "name": d.info.display_name, "rating": m.rating_a,
            "phases": m.phases, "state": d.state.value, "type": "PDU", "model": m.type_name,
            "location": s.location, "rack": self._structure.location_of(d.hex_id),
            "feed": s.feed.value, "tpl": "SpPdu5", "vendor": "CONTEG",
            "serial": d.info.identification.serial, "hexId": d.hex_id,
            "connection": "Gateway" if d.info.controller else "Databus",
            "position": d.info.position, "id": s.device_id, "unit": "AMPERE",
            "max": m.rating_a * m.phases, "a": tot.get("current"), "w": tot.get("activePower"),
            "stale": d.stale,
        }

    def _group_doc(self, d: DeviceLive, comp: Component, index: int) -> dict[str, Any]:
        key = (comp, index)
        doc: dict[str, Any] = {"ts": _ms(d.group_ts.get(key)), "index": index}
        s, m = d.info.settings, d.info.model
        if comp is Component.INPUT:
            doc["name"] = _nth(s.input_names, index, f"L{index}")
        elif comp is Component.BRANCH:
            doc["name"] = _nth(s.branch_names, index, f"BR{index}")
            doc["ratingA"] = m.branch_rating_a
            doc["phase"] = f"L{m.branch_phase[index - 1]}" if index <= len(m.branch_phase) else None
            doc["tripped"] = d.branch_tripped.get(index, False)
        elif comp is Component.OUTLET:
            o = s.outlets[index - 1] if index <= len(s.outlets) else None
            doc["name"] = o.name if o else f"Outlet # {index}"
            doc["switchable"] = m.switchable
            st = d.outlet_states.get(index)
            doc["state"] = st.value if st else None
            pend = d.pending_outlets.get(index)
            doc["pending"] = pend.value if pend else None
            doc["branch"] = m.outlet_branch[index - 1] if index <= len(m.outlet_branch) else 0
            doc["phase"] = f"L{m.outlet_phase[index - 1]}" if index <= len(m.outlet_phase) else None
            if o:
                doc["delay"] = o.delay
                doc["powerCycleDelay"] = o.power_cycle_delay
        elif comp is Component.SENSOR:
            doc["name"] = _nth(s.sensor_names, index, f"Sensor {index}")
            doc["type"] = d.info.sensors[index - 1].value if index <= len(d.info.sensors) else "unknown"
        values = d.groups.get(key, {})
        doc.update(values)
        if comp is Component.SENSOR and values:
            qk = next(iter(values))
            doc["value"], doc["unit"] = values[qk], BY_KEY[qk].unit if qk in BY_KEY else ""
        doc["stale"] = d.stale
        return doc

    def _status_doc(self, d: DeviceLive) -> dict[str, Any]:
        return {
            "ts": _ms(d.last_ok_at), "state": d.state.value, "stale": d.stale,
            "lastOkAt": _ms(d.last_ok_at), "missedSweeps": d.missed, "errors": d.errors,
            "lastError": d.last_error, "latencyMs": round(d.latency_ms, 2), "polls": d.polls,
            "ringPosition": d.info.position,
            "outlets": {str(k): v.value for k, v in sorted(d.outlet_states.items())},
            "pendingOutlets": {str(k): v.value for k, v in sorted(d.pending_outlets.items())},
            "branchesTripped": [k for k, v in sorted(d.branch_tripped.items()) if v],
        }

    def _misc_doc(self, d: DeviceLive) -> dict[str, Any]:
        m = d.info.model
        return {
            "ts": _ms(d.last_ok_at),
            "identification": d.info.identification.model_dump(mode="json", by_alias=True),
            "model": {"type": m.type_name, "phases": m.phases, "ratingA": m.rating_a,
                      "outlets": m.outlets, "switchable": m.switchable,
                      "meteredOutlets": m.metered_outlets, "branches": m.branches,
                      "branchRatingA": m.branch_rating_a},
            "sensors": [s.value for s in d.info.sensors], "controller": d.info.controller,
        }

    def _bus_doc(self, now_ms: int) -> dict[str, Any]:
        b = self._live.bus
        devs = self._live.ordered()
        return {
            "ts": now_ms, "driver": b.driver, "driverState": b.driver_state,
            "ringState": b.ring_state.value, "ringBreaks": b.breaks, "intervalS": b.interval_s,
            "sweeps": b.sweeps, "overruns": b.overruns, "lastSweepAt": _ms(b.last_sweep_at),
            "lastSweepMs": round(b.last_sweep_ms, 2),
            "sweepMsP50": round(b.sweep_percentile(50), 2),
            "sweepMsP99": round(b.sweep_percentile(99), 2),
            "discoveryErrors": b.discovery_errors, "devices": len(devs),
            "devicesRunning": sum(1 for d in devs if not d.stale),
            "latencyMs": {d.hex_id: round(d.latency_ms, 2) for d in devs},
            "errors": {d.hex_id: d.errors for d in devs if d.errors},
        }

    # ------------------------------------------------------------------ changing
    async def put(
        self, principal: Principal, path: str, changes: dict[str, Any], *, replace: bool = False
    ) -> dict[str, Any]:
        """Change keys of the document at ``path`` (all of ``u`` with ``replace``).

        Values may be text (from the shell): they are typed by the schema first.

        Returns:
            The new document.

        Raises:
            PermissionDenied, NotFound, Invalid, DeviceUnavailable, Unsupported: nothing changed.
        """
        path = normalize(path)
        node = self.node(principal, path)
        if not node.writable:
            raise PermissionDenied(
                f"topic {shown(path or '/')} is read-only", thing="topic", value=path,
                allowed="config/<name>, sensor/<hexid>, sensor/<hexid>/config, sensor/<hexid>/o/<n>, "
                        "rules/new, rules/<id>, alarms/<id>, dc/<room>[/<row>[/<rack>]], dc/…/new, sim/, "
                        "certs/new, certs/<id>")
        if not changes:
            raise Invalid(f"{path}: nothing to change", thing="put", value="",
                          allowed='key=value pairs, e.g. put enabled="enabled"')
        text_keys = {"name", "state"} if parts_is_outlet(path) else set()
        typed = {k: (coerce_text(node.schema, k, v, path) if isinstance(v, str)
                     and k not in text_keys
                     else v) for k, v in changes.items()}
        parts = path.split("/")
        if parts[0] in ("rules", "alarms") and self._ra is not None:
            result_path = await self._ra.put(principal, parts, typed, replace)
            return self.get(principal, "/".join(result_path))
        if parts[0] == "dc":
            return self.get(principal, "/".join(await self._dc.put(principal, parts, typed)))
        if parts[0] == "certs":
            assert self._certs is not None
            return self.get(principal, "/".join(await self._certs.put(principal, parts, typed)))
        if parts[0] == "config":
            await self._config.put(principal, parts[1], typed, replace=replace)
        elif parts[0] == "sim":
            await self._put_sim(principal, parts, typed, replace)
        elif len(parts) == 2:
            await self._put_device(principal, parts[1], typed)
        elif parts[2] == "config":
            await self._devices.update_settings(principal, parts[1], typed, replace=replace)
        else:
            await self._put_outlet(principal, parts[1], int(parts[3]), typed)
        return self.get(principal, path)

    async def _put_sim(self, principal: Principal, parts: list[str], changes: dict[str, Any],
                       replace: bool) -> None:
        faults = self._faults
        assert faults is not None
        what = "/".join(parts)
        require(principal, Action.SIMULATE, what)
        if len(parts) == 1:
            schema, current = faults.ring_schema(), faults.ring_document()
        else:
            schema, current = faults.device_schema(), faults.device_document(parts[1])
        cur = current.model_dump(mode="json", by_alias=True)
        refuse_control(what, changes)
        merged = changes if replace else apply_changes(cur, changes, what)
        try:
            doc = schema.model_validate(merged)
        except ValidationError as exc:
            raise invalid_from_pydantic(what, exc, schema) from None
        if len(parts) == 1:
            faults.apply_ring(doc)
        else:
            faults.apply_device(parts[1], doc)
        old, new = diff_keys(cur, doc.model_dump(mode="json", by_alias=True))
        await self._audit.record(principal, "sim.change", what,
                                 f"Simulator {what} changed: {', '.join(new) or 'no change'}",
                                 severity=Severity.WARNING, old=old, new=new,
                                 device=parts[1] if len(parts) > 1 else None)

    async def _put_device(self, principal: Principal, hex_id: str,
                          changes: dict[str, Any]) -> None:
        what = f"sensor/{hex_id}"
        try:
            doc = DeviceActions.model_validate(changes)
        except ValidationError as exc:
            raise invalid_from_pydantic(what, exc, DeviceActions) from None
        if doc.resetPeaks:
            await self._devices.reset_peaks(principal, hex_id)

    async def _put_outlet(self, principal: Principal, hex_id: str, n: int,
                          changes: dict[str, Any]) -> None:
        what = f"sensor/{hex_id}/o/{n}"
        allowed_keys = {"state", "name", "delay", "powerCycleDelay"}
        bad = [k for k in changes if k not in allowed_keys]
        if bad:
            raise Invalid(f"{what}: unknown key {bad[0]} (value {shown(changes[bad[0]])}); allowed are "
                          "state, name, delay, powerCycleDelay", thing=bad[0],
                          value=changes[bad[0]], allowed=", ".join(sorted(allowed_keys)))
        settings_changes = {k: v for k, v in changes.items() if k != "state"}
        action = None
        if "state" in changes:
            text = str(changes["state"]).strip().lower()
            try:
                action = OutletAction(text)
            except ValueError:
                raise Invalid(f"{what}: state = {shown(changes['state'])} is not allowed; allowed is "
                              "one of on, off, cycle", thing="state", value=changes["state"],
                              allowed="on, off, cycle") from None
        if settings_changes:
            live = self._devices.get(hex_id)
            outlets = [o.model_dump(mode="json", by_alias=True) for o in live.info.settings.outlets]
            if not 1 <= n <= len(outlets):
                raise Invalid(f"{what}: outlet {n} has no settings", thing="outlet", value=n,
                              allowed=f"1 to {len(outlets)}")
            outlets[n - 1].update(settings_changes)
            await self._devices.update_settings(principal, hex_id, {"outlets": outlets})
        if action is not None:
            await self._devices.switch(principal, hex_id, n, action)


def parts_is_outlet(path: str) -> bool:
    """Whether a canonical path is ``sensor/<hex>/o/<n>``."""
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == "sensor" and parts[2] == "o"


def _nth(names: list[str], index: int, default: str) -> str:
    return names[index - 1] if 1 <= index <= len(names) else default
