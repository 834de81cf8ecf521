"""Redfish's EventService: subscriptions pushed Redfish Events, the SSE stream, the
EnerTEG message registry.

Why: Redfish clients learn of alarms and outlet changes without polling. What happens is
turned into Redfish Event documents once, by ``RedfishEvents`` (an ``EventHub`` of the
web server's ``/events``, so the SSE stream has the same ring, ``Last-Event-ID`` resume
and bounded per-stream queue): alarms raised, escalated, acknowledged and cleared; an
outlet switched on or off (seen at the end of the sweep that reports it); a PDU that
goes stale or comes back. Each event goes to the SSE streams whose filter takes it and to
each subscription (``core.subscriptions``: kept in the store, made and deleted through
the core's permission check and audit) whose filter takes it, through that
subscription's ``push.Pusher`` (bounded queue, retries, never waited on).

Every ``MessageId`` is of the ``EnerTEG.1.0`` registry served here
(``/redfish/v1/Registries/EnerTEG``), so a client resolves each one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from typing import Any

from fastapi.responses import Response

from ....core.errors import Invalid
from ....core.model import OutletState
from ....core.permissions import Action, require
from ...http.events import EventHub, _Record
from ...http.events_route import _StreamResponse, session_alive
from .errors import RedfishError
from .push import Pusher, RetryPolicy
from .root import V1, iso
from .tree import Ctx, collection, etag, route

__all__ = ["RedfishEvents", "REGISTRY", "REGISTRY_PREFIX", "events_of", "ensure", "ES"]

log = logging.getLogger(__name__)

ES = f"{V1}/EventService"
SUBS = f"{ES}/Subscriptions"
SSE = f"{ES}/SSE"
REG = f"{V1}/Registries"
PDUS = f"{V1}/PowerEquipment/RackPDUs"
REGISTRY_PREFIX = "EnerTEG"
REGISTRY_VERSION = "1.0.0"
REGISTRY_ID = f"{REGISTRY_PREFIX}.{REGISTRY_VERSION}"
RESOURCE_TYPES = ("PowerDistribution", "Outlet", "PowerEquipment", "EventService")
"""What an event's ``OriginOfCondition`` can be (the ``ResourceTypes`` filter's values)."""
SSE_STREAMS = 8
"""Redfish SSE streams open at once; one more is answered 503."""

REGISTRY: dict[str, dict[str, Any]] = {
    "AlarmRaised": {"Description": "An alarm was raised.", "Message":
                    "Alarm %1 raised on %2: %3.", "MessageSeverity": "Warning",
                    "NumberOfArgs": 3, "ParamTypes": ["string", "string", "string"],
                    "Resolution": "See the alarm's rule and the PDU's readings."},
    "AlarmChanged": {"Description": "An open alarm changed: escalated, de-escalated, a "
                     "new peak, or acknowledged.", "Message": "Alarm %1 on %2 %3: %4.",
                     "MessageSeverity": "Warning", "NumberOfArgs": 4,
                     "ParamTypes": ["string", "string", "string", "string"],
                     "Resolution": "None."},
    "AlarmCleared": {"Description": "An alarm ended.", "Message":
                     "Alarm %1 on %2 cleared: %3.", "MessageSeverity": "OK", "NumberOfArgs": 3,
                     "ParamTypes": ["string", "string", "string"], "Resolution": "None."},
    "OutletPoweredOn": {"Description": "An outlet was switched on.",
                        "Message": "Outlet %1 of PDU %2 is on.", "MessageSeverity": "OK",
                        "NumberOfArgs": 2, "ParamTypes": ["string", "string"],
                        "Resolution": "None."},
    "OutletPoweredOff": {"Description": "An outlet was switched off.",
                         "Message": "Outlet %1 of PDU %2 is off.", "MessageSeverity": "OK",
                         "NumberOfArgs": 2, "ParamTypes": ["string", "string"],
                         "Resolution": "None."},
    "PduStateChanged": {"Description": "A PDU of the ring changed state (found, running, "
                        "stale, forgotten).", "Message": "PDU %1 is %2.",
                        "MessageSeverity": "Warning", "NumberOfArgs": 2,
                        "ParamTypes": ["string", "string"],
                        "Resolution": "A stale PDU does not answer the ring: check its "
                                      "cabling and power."},
    "TestEvent": {"Description": "A test event (EventService.SubmitTestEvent).",
                  "Message": "Test event: %1.", "MessageSeverity": "OK", "NumberOfArgs": 1,
                  "ParamTypes": ["string"], "Resolution": "None."},
}
"""The messages of the EnerTEG registry (``EnerTEG.1.0.<key>``)."""


def _message(key: str, args: list[str]) -> str:
    text = REGISTRY[key]["Message"]
    for i, a in reversed(list(enumerate(args, start=1))):
        text = text.replace(f"%{i}", a)
    return text


def _record(key: str, args: list[str], origin: str, *, severity: str | None = None,
            timestamp: float | None = None) -> dict[str, Any]:
    """One EventRecord of our registry (``EventId`` and ``MemberId`` set when sent)."""
    return {"MessageId": f"{REGISTRY_PREFIX}.1.0.{key}", "Message": _message(key, args),
            "MessageArgs": args, "MessageSeverity": severity or REGISTRY[key]["MessageSeverity"],
            "EventTimestamp": iso(timestamp if timestamp is not None else time.time()),
            "OriginOfCondition": {"@odata.id": origin}}


def _resource_type(origin: str) -> str:
    if "/Outlets/" in origin:
        return "Outlet"
    if origin.startswith(PDUS + "/"):
        return "PowerDistribution"
    if origin.startswith(ES):
        return "EventService"
    return "PowerEquipment"


def _prefix(record: dict[str, Any]) -> str:
    return str(record.get("MessageId", "")).split(".", 1)[0]


def wants(filters: dict[str, list[str]], record: dict[str, Any]) -> bool:
    """Whether a subscription's (or stream's) filters take ``record``."""
    prefixes = filters.get("RegistryPrefixes")
    types = filters.get("ResourceTypes")
    if prefixes and _prefix(record) not in prefixes:
        return False
    origin = record.get("OriginOfCondition", {}).get("@odata.id", "")
    return not types or _resource_type(origin) in types


class RedfishEvents(EventHub):
    """Redfish Events from the bus: to SSE streams (the hub's) and to subscriptions."""

    bus_kinds = frozenset({"alarm", "device"})
    bus_live = True            # outlet states are seen in the device changes of a sweep

    def __init__(self, core: Any) -> None:
        super().__init__(core, max_streams=SSE_STREAMS)
        self.retry = RetryPolicy()
        """DeliveryRetryAttempts and DeliveryRetryIntervalSeconds (read-only)."""
        self.pushers: dict[int, Pusher] = {}
        self.outlets: dict[str, dict[int, OutletState]] = {
            d.hex_id: dict(d.outlet_states) for d in core.live.ordered()}

    async def close(self) -> None:
        for pusher in list(self.pushers.values()):
            await pusher.close()
        self.pushers.clear()
        await super().close()

    # ------------------------------------------------------------------ from the bus
    async def _pump(self) -> None:
        while True:
            batch = await self._sub.get()
            for ev in batch.events:
                try:
                    rec = self._describe_event(ev)
                except Exception:
                    log.exception("Redfish: cannot describe event %r", ev.kind)
                    continue
                if rec is not None:
                    self.emit(rec)
            for hex_id in sorted(batch.devices | set(batch.live)):
                for rec in self._outlet_changes(hex_id):
                    self.emit(rec)

    def _describe_event(self, ev: Any) -> dict[str, Any] | None:
        if ev.kind == "alarm":
            change, alarm = ev.data.change, ev.data.alarm
            origin = (f"{PDUS}/{alarm.device}" if self.core.live.get(alarm.device)
                      else f"{V1}/PowerEquipment")
            where = self._name(alarm.device)
            text = alarm.text or alarm.rule_name
            if change == "raised":
                return _record("AlarmRaised", [str(alarm.id), where, text], origin,
                               severity=alarm.severity)
            if change == "cleared":
                return _record("AlarmCleared", [str(alarm.id), where, text], origin)
            return _record("AlarmChanged", [str(alarm.id), where, change, text], origin,
                           severity=alarm.severity if alarm.active else "OK")
        state = str(ev.data)
        if state in ("found", "running", "stale", "unreachable", "forgotten"):
            return _record("PduStateChanged", [self._name(ev.subject), state],
                           f"{PDUS}/{ev.subject}" if self.core.live.get(ev.subject)
                           else f"{V1}/PowerEquipment",
                           severity="OK" if state in ("found", "running") else "Warning")
        return None

    def _name(self, hex_id: str) -> str:
        live = self.core.live.get(hex_id)
        if live is None:
            return hex_id
        return f"{live.info.display_name} ({hex_id})"

    def _outlet_changes(self, hex_id: str) -> list[dict[str, Any]]:
        """An event per outlet whose reported state differs from the last one seen."""
        live = self.core.live.get(hex_id)
        if live is None:
            self.outlets.pop(hex_id, None)
            return []
        now = dict(live.outlet_states)
        before = self.outlets.get(hex_id)
        self.outlets[hex_id] = now
        if before is None:
            return []
        out = []
        for n, state in sorted(now.items()):
            if before.get(n) is not None and before[n] != state:
                key = "OutletPoweredOn" if state is OutletState.ON else "OutletPoweredOff"
                out.append(_record(key, [str(n), self._name(hex_id)],
                                   f"{PDUS}/{hex_id}/Outlets/{n}"))
        return out

    # ------------------------------------------------------------------ out
    def emit(self, record: dict[str, Any]) -> int:
        """Number ``record``, send it to the SSE streams and the subscriptions that want
        it; returns its event id. Never waits."""
        self.seq += 1
        rec = {"MemberId": "0", "EventId": str(self.seq), **record}
        doc = {"@odata.type": "#Event.v1_13_0.Event", "Id": str(self.seq),
               "Name": "EnerTEG controller event", "Events": [rec],
               "Events@odata.count": 1}
        subject = f"{_resource_type(rec['OriginOfCondition']['@odata.id'])} {_prefix(rec)}"
        frame = (f"id: {self.run}-{self.seq}\ndata: "
                 f"{json.dumps(doc, separators=(',', ':'))}\n\n").encode()
        self.ring.append(_Record(self.seq, subject, frame))
        for stream in list(self.streams):
            if stream.wants(subject):
                stream.offer(frame)
        subs = self.core.subscriptions.all()
        for gone in set(self.pushers) - {sub.id for sub in subs}:   # deleted meanwhile
            self.pushers.pop(gone).task.cancel()
        for sub in subs:
            if sub.protocol != "Redfish" or not wants(sub.filters, rec):
                continue
            pusher = self.pushers.get(sub.id)
            if pusher is None or pusher.destination != sub.destination:
                pusher = self._pusher(sub.id, sub.destination, sub.headers)
            elif pusher.headers != sub.headers:     # changed (PATCH, a restore)
                pusher.headers = dict(sub.headers)
            pusher.offer({**doc, "Context": sub.context})
        return self.seq

    def _pusher(self, sub_id: int, destination: str, headers: dict[str, str]) -> Pusher:
        old = self.pushers.pop(sub_id, None)
        if old is not None:
            old.task.cancel()
        pusher = Pusher(sub_id, destination, lambda: self.retry, self._ssl,
                        on_spent=self._spent, headers=headers)
        self.pushers[sub_id] = pusher
        return pusher

    def _ssl(self) -> Any:
        return self.core.certs.client_context("unrestricted", check_hostname=True)

    async def _spent(self, pusher: Pusher) -> None:
        if self.pushers.get(pusher.sub_id) is pusher:
            del self.pushers[pusher.sub_id]
        try:
            await self.core.subscriptions.terminate(
                pusher.sub_id, f"the listener did not take an event after "
                f"{self.retry.attempts} retries ({pusher.last_error})")
        except Exception:
            log.exception("Redfish: ending subscription %d failed", pusher.sub_id)

    async def forget(self, sub_id: int) -> None:
        """A subscription was deleted: stop its pusher."""
        pusher = self.pushers.pop(sub_id, None)
        if pusher is not None:
            await pusher.close()

    def stream_subjects(self, filters: dict[str, list[str]]) -> Any:
        """The hub filter of an SSE stream: the subjects (type, prefix) it takes."""
        if not filters:
            return None
        types = filters.get("ResourceTypes") or list(RESOURCE_TYPES)
        prefixes = filters.get("RegistryPrefixes") or [REGISTRY_PREFIX]
        allowed = {f"{t} {p}" for t in types for p in prefixes}
        return lambda: allowed


def events_of(ctx: Ctx) -> RedfishEvents:
    """The EventService of the web server answering (made with its ``/events`` hub)."""
    hub = ctx.face.hub() if ctx.face.hub is not None else None
    if hub is None:
        raise RedfishError(503, "ServiceTemporarilyUnavailable",
                           "The event service is not running (the web server is starting "
                           "or stopping)", args=["5"])
    return ensure(hub)


def ensure(hub: EventHub) -> RedfishEvents:
    """The EventService joined to ``hub`` (made on first need)."""
    found = hub.companions.get("redfish")
    if found is None:
        found = hub.companions["redfish"] = RedfishEvents(hub.core)
    return found


# ------------------------------------------------------------------ resources
@route(ES)
async def event_service(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "EventService")
    svc = events_of(ctx)
    return {
        "@odata.id": ES, "@odata.type": "#EventService.v1_12_0.EventService",
        "Id": "EventService", "Name": "Event Service",
        "Status": {"State": "Enabled", "Health": "OK"}, "ServiceEnabled": True,
        "DeliveryRetryAttempts": svc.retry.attempts,
        "DeliveryRetryIntervalSeconds": int(svc.retry.interval_s),
        "EventFormatTypes": ["Event"], "RegistryPrefixes": [REGISTRY_PREFIX],
        "ResourceTypes": list(RESOURCE_TYPES), "ExcludeMessageId": False,
        "ExcludeRegistryPrefix": False, "IncludeOriginOfConditionSupported": False,
        "SubordinateResourcesSupported": False, "ServerSentEventUri": SSE,
        "SSEFilterPropertiesSupported": {
            "EventFormatType": True, "MessageId": False, "MetricReportDefinition": False,
            "OriginResource": False, "RegistryPrefix": True, "ResourceType": True,
            "SubordinateResources": False},
        "Subscriptions": {"@odata.id": SUBS},
        "Actions": {"#EventService.SubmitTestEvent": {
            "target": f"{ES}/Actions/EventService.SubmitTestEvent"}}}


@route(SUBS)
async def subscriptions(ctx: Ctx) -> dict[str, Any]:
    return collection(SUBS, "#EventDestinationCollection.EventDestinationCollection",
                      "Event subscriptions",
                      [f"{SUBS}/{s.id}" for s in ctx.core.subscriptions.visible(ctx.who)])


def _subscription_doc(sub: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@odata.id": f"{SUBS}/{sub.id}",
        "@odata.type": "#EventDestination.v1_16_0.EventDestination",
        "Id": str(sub.id), "Name": f"Event subscription {sub.id}",
        "Destination": sub.destination, "Context": sub.context, "Protocol": sub.protocol,
        "EventFormatType": "Event", "SubscriptionType": "RedfishEvent",
        "DeliveryRetryPolicy": "TerminateAfterRetries",
        "HttpHeaders": [],              # kept and sent, never shown (DSP0268)
        "RegistryPrefixes": sub.filters.get("RegistryPrefixes", []),
        "ResourceTypes": sub.filters.get("ResourceTypes", []),
        "Status": {"State": "Enabled", "Health": "OK"},
        "Description": f"Made by {sub.owner} at {iso(sub.created)}"}
    return doc


_SUB_WRITABLE = {"Destination", "Context", "Protocol", "EventFormatType", "RegistryPrefixes",
                 "ResourceTypes", "SubscriptionType", "DeliveryRetryPolicy", "HttpHeaders"}


def _headers(body: dict[str, Any]) -> dict[str, str]:
    """``HttpHeaders``: an array of objects of header name → value (merged)."""
    value = body.get("HttpHeaders") or []
    out: dict[str, str] = {}
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RedfishError(400, "PropertyValueTypeError", "HttpHeaders must be an array of "
                           "objects such as [{\"Authorization\": \"Bearer …\"}]",
                           args=["(hidden)", "HttpHeaders"])
    for item in value:
        for k, v in item.items():
            if not isinstance(v, str):
                raise RedfishError(400, "PropertyValueTypeError", f"HttpHeaders {k!r} "
                                   "must have a string value", args=["(hidden)", "HttpHeaders"])
            out[k] = v
    return out


def _str_list(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RedfishError(400, "PropertyValueTypeError", f"{key} must be an array of "
                           "strings", args=[json.dumps(value), key])
    for v in value:
        if v not in allowed:
            raise RedfishError(400, "PropertyValueNotInList", f"{key} {v!r} is not "
                               f"supported; allowed: {', '.join(allowed)}", args=[v, key])
    return list(value)


def _fixed(body: dict[str, Any], key: str, allowed: str) -> None:
    value = body.get(key, allowed)
    if value != allowed:
        raise RedfishError(400, "PropertyValueNotInList", f"{key} {value!r} is not "
                           f"supported; allowed: {allowed}", args=[str(value), key])


@route(SUBS, "POST")
async def subscribe(ctx: Ctx) -> Any:
    body = {k: v for k, v in ctx.body.items() if not k.startswith("@odata.")}
    unknown = sorted(set(body) - _SUB_WRITABLE)
    if unknown:
        raise RedfishError(400, "PropertyUnknown", f"{unknown[0]} is not a property a "
                           f"subscription can be made with; allowed: "
                           f"{', '.join(sorted(_SUB_WRITABLE))}", args=[unknown[0]])
    dest = body.get("Destination")
    if not isinstance(dest, str):
        raise RedfishError(400, "PropertyMissing" if dest is None else
                           "PropertyValueTypeError", "Destination (the listener's http:// "
                           "or https:// URL) is needed, as a string", args=["Destination"])
    _fixed(body, "Protocol", "Redfish")
    _fixed(body, "EventFormatType", "Event")
    _fixed(body, "SubscriptionType", "RedfishEvent")
    _fixed(body, "DeliveryRetryPolicy", "TerminateAfterRetries")
    context = body.get("Context", "")
    if not isinstance(context, str):
        raise RedfishError(400, "PropertyValueTypeError", "Context must be a string",
                           args=[json.dumps(context), "Context"])
    filters = {"RegistryPrefixes": _str_list(body, "RegistryPrefixes", (REGISTRY_PREFIX,)),
               "ResourceTypes": _str_list(body, "ResourceTypes", RESOURCE_TYPES)}
    try:
        sub = await ctx.core.subscriptions.add(ctx.who, dest, protocol="Redfish",
                                               context=context, filters=filters,
                                               headers=_headers(body), face="redfish")
    except Invalid as exc:
        prop = exc.thing if exc.thing in ("HttpHeaders", "Context") else "Destination"
        raise RedfishError(400, "PropertyValueFormatError", str(exc),
                           args=["(hidden)" if prop == "HttpHeaders" else dest, prop]) from None
    uri = f"{SUBS}/{sub.id}"
    return 201, _subscription_doc(sub), {"Location": uri}


def _sub_id(ctx: Ctx) -> int:
    raw = ctx.params["id"]
    if not raw.isdigit():
        raise RedfishError(404, "ResourceNotFound", f"There is no subscription {raw!r}; "
                           "Subscriptions lists them", args=["EventDestination", raw])
    return int(raw)


@route(f"{SUBS}/{{id}}")
async def subscription(ctx: Ctx) -> dict[str, Any]:
    return _subscription_doc(ctx.core.subscriptions.get(ctx.who, _sub_id(ctx)))


@route(f"{SUBS}/{{id}}", "PATCH")
async def change_subscription(ctx: Ctx) -> dict[str, Any]:
    """``Context`` and ``HttpHeaders`` (with If-Match); the rest is fixed at creation."""
    sub_id = _sub_id(ctx)
    current = _subscription_doc(ctx.core.subscriptions.get(ctx.who, sub_id))
    wanted = ctx.request.headers.get("if-match")
    if wanted and wanted.strip() != "*" and wanted.strip() != etag(current):
        raise RedfishError(412, "PreconditionFailed",
                           f"If-Match {wanted} is not the current ETag of "
                           f"{current['@odata.id']}; nothing was changed",
                           resolution="GET the subscription again and retry with its ETag")
    body = {k: v for k, v in ctx.body.items() if not k.startswith("@odata.")}
    if not body:
        raise RedfishError(400, "NoOperation", "The PATCH body changes nothing; writable: "
                           "Context, HttpHeaders")
    for key in body:
        if key not in ("Context", "HttpHeaders"):
            raise RedfishError(400, "PropertyNotWritable" if key in current else
                               "PropertyUnknown", f"{key} cannot be changed (make a new "
                               "subscription); writable: Context, HttpHeaders; nothing was "
                               "changed", args=[key])
    context = body.get("Context")
    if "Context" in body and not isinstance(context, str):
        raise RedfishError(400, "PropertyValueTypeError", "Context must be a string",
                           args=[json.dumps(context), "Context"])
    try:
        sub = await ctx.core.subscriptions.update(
            ctx.who, sub_id, context=context,
            headers=_headers(body) if "HttpHeaders" in body else None)
    except Invalid as exc:
        raise RedfishError(400, "PropertyValueFormatError", str(exc),
                           args=["(hidden)", str(exc.thing or "HttpHeaders")]) from None
    with contextlib.suppress(RedfishError):
        pusher = events_of(ctx).pushers.get(sub_id)
        if pusher is not None:
            pusher.headers = dict(sub.headers)     # from the next POST on; queue kept
    return _subscription_doc(sub)


@route(f"{SUBS}/{{id}}", "DELETE")
async def unsubscribe(ctx: Ctx) -> Response:
    sub_id = _sub_id(ctx)
    await ctx.core.subscriptions.delete(ctx.who, sub_id)
    with contextlib.suppress(RedfishError):
        await events_of(ctx).forget(sub_id)
    return Response(status_code=204, headers={"OData-Version": "4.0"})


_TEST_PARAMS = {"MessageId", "Message", "MessageArgs", "Severity", "MessageSeverity",
                "EventId", "EventTimestamp", "OriginOfCondition", "EventType",
                "EventGroupId", "Context"}


@route(f"{ES}/Actions/EventService.SubmitTestEvent", "POST")
async def submit_test_event(ctx: Ctx) -> Response:
    """A test event to every subscriber and stream (who may subscribe may test)."""
    from ....core.subscriptions import SUBSCRIBE_ACTION
    require(ctx.who, SUBSCRIBE_ACTION, "EventService.SubmitTestEvent")
    unknown = sorted(set(ctx.body) - _TEST_PARAMS)
    if unknown:
        raise RedfishError(400, "ActionParameterUnknown", f"SubmitTestEvent has no "
                           f"parameter {unknown[0]!r}; its parameters are "
                           f"{', '.join(sorted(_TEST_PARAMS))}",
                           args=["SubmitTestEvent", unknown[0]])
    message = ctx.body.get("Message", "submitted by " + ctx.who.user)
    if not isinstance(message, str):
        raise RedfishError(400, "ActionParameterValueTypeError", "Message must be a string",
                           args=[json.dumps(message), "Message", "SubmitTestEvent"])
    msg_id = ctx.body.get("MessageId", f"{REGISTRY_PREFIX}.1.0.TestEvent")
    m = re.fullmatch(rf"{REGISTRY_PREFIX}\.1\.0\.(\w+)", str(msg_id))
    if m is None or m.group(1) not in REGISTRY:
        raise RedfishError(400, "ActionParameterValueNotInList", f"MessageId {msg_id!r} "
                           f"is not a message of the {REGISTRY_ID} registry; use "
                           f"{REGISTRY_PREFIX}.1.0.TestEvent",
                           args=[str(msg_id), "MessageId", "SubmitTestEvent"])
    severity = ctx.body.get("MessageSeverity", ctx.body.get("Severity", "OK"))
    if severity not in ("OK", "Warning", "Critical"):
        raise RedfishError(400, "ActionParameterValueNotInList", f"MessageSeverity "
                           f"{severity!r} is not allowed; allowed: OK, Warning, Critical",
                           args=[str(severity), "MessageSeverity", "SubmitTestEvent"])
    rec = _record("TestEvent", [message], ES, severity=severity)
    events_of(ctx).emit(rec)
    return Response(status_code=204, headers={"OData-Version": "4.0"})


_FILTER_TERM = re.compile(r"^\s*(\w+)\s+eq\s+'?([\w.]+)'?\s*$")
_FILTER_KEYS = {"RegistryPrefix": "RegistryPrefixes", "ResourceType": "ResourceTypes",
                "EventFormatType": "EventFormatType"}


def parse_sse_filter(text: str) -> dict[str, list[str]]:
    """``$filter`` of the SSE URI: ``Prop eq 'value'`` terms joined by ``or``/``and``
    (DSP0266 §13.5.2); terms of one property are alternatives."""
    out: dict[str, list[str]] = {}
    for term in re.split(r"\s+(?:and|or)\s+", text.strip()):
        term = term.strip().strip("()")
        m = _FILTER_TERM.match(term)
        if m is None or m.group(1) not in _FILTER_KEYS:
            raise RedfishError(400, "QueryParameterValueFormatError",
                               f"$filter term {term!r} is not supported; supported: "
                               "RegistryPrefix eq <prefix>, ResourceType eq <type>, "
                               "EventFormatType eq Event", args=[term, "$filter"])
        key, value = _FILTER_KEYS[m.group(1)], m.group(2)
        allowed = {"RegistryPrefixes": (REGISTRY_PREFIX,), "ResourceTypes": RESOURCE_TYPES,
                   "EventFormatType": ("Event",)}[key]
        if value not in allowed:
            raise RedfishError(400, "QueryParameterValueError", f"$filter {m.group(1)} "
                               f"{value!r} is not supported; allowed: {', '.join(allowed)}",
                               args=[value, "$filter"])
        out.setdefault(key, []).append(value)
    out.pop("EventFormatType", None)
    return out


@route(SSE, queries=("$filter",))
async def sse(ctx: Ctx) -> Response:
    require(ctx.who, Action.READ, "EventService/SSE")
    svc = events_of(ctx)
    flt = parse_sse_filter(ctx.request.query_params.get("$filter", ""))  \
        if "$filter" in ctx.request.query_params else {}
    if len(svc.streams) >= svc.max_streams:
        raise RedfishError(503, "ServiceTemporarilyUnavailable",
                           f"{svc.max_streams} Redfish event streams are open already; "
                           "close one or retry later", args=["10"],
                           headers={"Retry-After": "10"})
    last = (ctx.request.headers.get("last-event-id") or "").strip()
    stream = svc.open(svc.stream_subjects(flt), last)
    # opened with a session: it ends when the session does (deleted, timed out), as
    # /events does
    return _StreamResponse(stream, session_alive(ctx.core, ctx.signed))


# ------------------------------------------------------------------ the registry
@route(REG)
async def registries(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Registries")
    return collection(REG, "#MessageRegistryFileCollection.MessageRegistryFileCollection",
                      "Message registries", [f"{REG}/{REGISTRY_PREFIX}"])


@route(f"{REG}/{{name}}")
async def registry_file(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Registries")
    _known(ctx.params["name"], REGISTRY_PREFIX)
    return {"@odata.id": f"{REG}/{REGISTRY_PREFIX}",
            "@odata.type": "#MessageRegistryFile.v1_1_5.MessageRegistryFile",
            "Id": REGISTRY_PREFIX, "Name": "EnerTEG message registry file",
            "Description": "The messages of the controller's events",
            "Registry": f"{REGISTRY_PREFIX}.1.0", "Languages": ["en"],
            "Location": [{"Language": "en",
                          "Uri": f"{REG}/{REGISTRY_PREFIX}/{REGISTRY_ID}"}]}


def _known(got: str, want: str) -> None:
    if got != want:
        raise RedfishError(404, "ResourceNotFound", f"There is no registry {got!r}; "
                           f"served: {want}", args=["MessageRegistry", got])


@route(f"{REG}/{{name}}/{{version}}")
async def registry(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Registries")
    _known(ctx.params["name"], REGISTRY_PREFIX)
    _known(ctx.params["version"], REGISTRY_ID)
    return {"@odata.id": f"{REG}/{REGISTRY_PREFIX}/{REGISTRY_ID}",
            "@odata.type": "#MessageRegistry.v1_7_0.MessageRegistry",
            "Id": REGISTRY_ID, "Name": "EnerTEG controller messages",
            "Language": "en", "Description": "The messages of the EnerTEG controller's "
            "Redfish events", "RegistryPrefix": REGISTRY_PREFIX,
            "RegistryVersion": REGISTRY_VERSION, "OwningEntity": "EnerTEG",
            "Messages": REGISTRY}
