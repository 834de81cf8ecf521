"""The Redfish resource table: each URI pattern, its methods and who may call them.

Why a table: ``Allow`` on every answer and the 405 of a method a resource does not
have come from the same place that dispatches. A pattern is a tuple of path segments;
``{name}`` matches one segment and is passed to the handler in ``Ctx.params``.
Handlers return a document (200), ``(status, document, headers)``, or a ``Response``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ....core.permissions import Principal

__all__ = ["Ctx", "Route", "ROUTES", "route", "match_route", "collection", "etag"]


@dataclass
class Ctx:
    """One request as a handler sees it."""

    face: Any
    """The ``service.RedfishFace`` answering (its core and token store)."""
    request: Request
    principal: Principal | None
    params: dict[str, str]
    body: dict[str, Any]
    signed: Any = None
    """The sign-in (``signin.SignedIn``) of the request; None on a public method."""

    @property
    def core(self) -> Any:
        return self.face.core

    @property
    def who(self) -> Principal:
        assert self.principal is not None       # the dispatcher admitted it
        return self.principal


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass
class Route:
    """A URI pattern with its handlers by method; ``public`` methods need no login."""

    pattern: tuple[str, ...]
    methods: dict[str, Handler] = field(default_factory=dict)
    public: frozenset[str] = frozenset()
    queries: frozenset[str] = frozenset()
    """Query options this resource takes (every other ``$…`` is 501)."""

    @property
    def allow(self) -> list[str]:
        out = list(self.methods)
        if "GET" in out:
            out.insert(out.index("GET") + 1, "HEAD")
        return out


ROUTES: list[Route] = []


def route(path: str, method: str = "GET", *, public: bool = False,
          queries: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` on ``path`` (``/redfish/v1/Chassis/{id}``)."""
    pattern = tuple(p for p in path.split("/") if p)

    def deco(fn: Handler) -> Handler:
        for r in ROUTES:
            if r.pattern == pattern:
                break
        else:
            r = Route(pattern)
            ROUTES.append(r)
        r.methods[method] = fn
        if public:
            r.public = r.public | {method}
        r.queries = r.queries | frozenset(queries)
        return fn

    return deco


def match_route(path: str) -> tuple[Route, dict[str, str]] | None:
    """The route of ``path`` (a trailing slash is the same resource) and its parameters;
    of several that match, the one with the fewest parameters (``Sessions/Members``
    before ``Sessions/{id}``)."""
    parts = tuple(p for p in path.split("/") if p)
    best: tuple[int, Route, dict[str, str]] | None = None
    for r in ROUTES:
        if len(r.pattern) != len(parts):
            continue
        params: dict[str, str] = {}
        for want, got in zip(r.pattern, parts):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            if best is None or len(params) < best[0]:     # a literal segment wins
                best = (len(params), r, params)
    return None if best is None else (best[1], best[2])


def etag(doc: dict[str, Any]) -> str:
    """The weak ETag of a document: a hash of its JSON without ``@odata.etag`` (the
    ``ETag`` header and ``@odata.etag`` of a GET; what PATCH's ``If-Match`` must name)."""
    blob = json.dumps({k: v for k, v in doc.items() if k != "@odata.etag"}, sort_keys=True,
                      separators=(",", ":")).encode()
    return f'W/"{hashlib.sha256(blob).hexdigest()[:16]}"'


def collection(odata_id: str, odata_type: str, name: str, members: list[str]) -> dict[str, Any]:
    """A Redfish resource collection of the member URIs."""
    return {"@odata.id": odata_id, "@odata.type": odata_type, "Name": name,
            "Members": [{"@odata.id": m} for m in members],
            "Members@odata.count": len(members)}
