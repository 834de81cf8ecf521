"""The Redfish face's request handling: one catch-all route, dispatch, headers, errors.

Why one route and our own dispatch: Redfish wants answers FastAPI's routing does not
give (405 with ``Allow`` naming the methods of *that* resource, every error in the
extended format, ``OData-Version``, ``ETag``/``@odata.etag``, ``Link: rel=describedby``
on every GET, HEAD wherever GET is). ``build_router`` returns a router the web server's
app includes with one line; everything else is the table of ``tree.ROUTES``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ....core.errors import (Conflict, DeviceUnavailable, Invalid, NotFound,
                             PermissionDenied, Unsupported)
from ....core.services import CoreServices
from ..signin import ClearText, sign_out
from .auth import redfish_sign_in, refusal
from ..events import EventHub
from .errors import RedfishError, error_body
from . import power, root  # noqa: F401  (they register their routes)
from . import accounts, certificates, events, groups, manager  # noqa: F401  (likewise)
from . import ethernet, updates  # noqa: F401  (likewise)
from .tree import Ctx, Route, etag, match_route

__all__ = ["build_router", "RedfishFace"]

log = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"
_METHODS = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]


def _link(doc: dict[str, Any]) -> str | None:
    """``<schema URI>; rel=describedby`` from the document's ``@odata.type``."""
    t = doc.get("@odata.type", "")
    if not t.startswith("#"):
        return None
    ns, _, _name = t[1:].rpartition(".")
    return f"<http://redfish.dmtf.org/schemas/v1/{ns}.json>; rel=describedby"


class RedfishFace:
    """Answers ``/redfish`` requests from the route table with the core's services."""

    def __init__(self, core: CoreServices, hub: Callable[[], EventHub | None] | None = None
                 ) -> None:
        self.core = core
        self.hub = hub
        """The web server's ``/events`` hub (the EventService lives and closes with it)."""

    # ------------------------------------------------------------------ answers
    @staticmethod
    def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"OData-Version": "4.0", "Cache-Control": "no-cache"}
        h.update(extra or {})
        return h

    def error(self, err: RedfishError) -> Response:
        body = json.dumps(error_body(err), indent=1).encode()
        return Response(body, status_code=err.status, media_type=JSON,
                        headers=self._headers(err.headers))

    def document(self, doc: dict[str, Any], route: Route, *, status: int = 200,
                 head: bool = False, extra: dict[str, str] | None = None,
                 if_none_match: str | None = None) -> Response:
        if "@odata.id" in doc and status == 200:
            doc = {**doc}
            doc["@odata.etag"] = etag(doc)
        headers = self._headers({"Allow": ", ".join(route.allow), **(extra or {})})
        if "@odata.etag" in doc:
            headers["ETag"] = doc["@odata.etag"]
        link = _link(doc)
        if link:
            headers["Link"] = link
        if (if_none_match and "@odata.etag" in doc
                and doc["@odata.etag"] in (t.strip() for t in if_none_match.split(","))):
            return Response(status_code=304, headers=headers)   # the client's copy is current
        body = json.dumps(doc, indent=1).encode()
        if head:
            headers["Content-Length"] = str(len(body))
            return Response(b"", status_code=status, media_type=JSON, headers=headers)
        return Response(body, status_code=status, media_type=JSON, headers=headers)

    # ------------------------------------------------------------------ who
    @staticmethod
    def require_https(request: Request) -> None:
        if request.url.scheme != "https":
            raise refusal(ClearText("plain HTTP"), str(request.url.path))

    # ------------------------------------------------------------------ dispatch
    async def handle(self, request: Request, path: str) -> Response:
        method = request.method.upper()
        try:
            await self.core.tokens.sessions.expire()
            found = match_route(path)
            if found is None:
                raise RedfishError(404, "ResourceNotFound",
                                   f"There is no resource at {path}",
                                   args=["Resource", path])
            route, params = found
            _check_request(request, route)
            verb = "GET" if method == "HEAD" else method
            handler = route.methods.get(verb)
            if handler is None:
                raise RedfishError(405, "OperationNotAllowed",
                                   f"{method} is not allowed on {path}; allowed: "
                                   f"{', '.join(route.allow)}",
                                   headers={"Allow": ", ".join(route.allow)})
            signed = None
            if verb not in route.public:
                signed = await redfish_sign_in(self.core, request)
            principal = signed.principal if signed is not None else None
            try:
                body: dict[str, Any] = {}
                if verb in ("POST", "PATCH", "PUT") and not request.headers.get(
                        "content-type", "").lower().startswith("multipart/"):
                    body = await _json_body(request)     # a multipart push reads its own
                ctx = Ctx(self, request, principal, params, body, signed)
                result = await handler(ctx)
            finally:
                if signed is not None:
                    await sign_out(self.core, signed)
            if isinstance(result, Response):
                return result
            status, doc, extra = result if isinstance(result, tuple) else (200, result, None)
            return self.document(doc, route, status=status, head=method == "HEAD",
                                 extra=extra,
                                 if_none_match=request.headers.get("if-none-match")
                                 if verb == "GET" else None)
        except RedfishError as err:
            return self.error(err)
        except PermissionDenied as exc:
            return self.error(RedfishError(403, "InsufficientPrivilege", str(exc)))
        except NotFound as exc:
            return self.error(RedfishError(404, "ResourceNotFound", str(exc),
                                           args=["Resource", path]))
        except (Invalid, Unsupported) as exc:
            return self.error(RedfishError(400, "ActionParameterValueError", str(exc)))
        except (DeviceUnavailable, Conflict) as exc:
            return self.error(RedfishError(409, "ResourceInUse", str(exc)))
        except Exception as exc:                        # no traceback reaches a client
            log.exception("Redfish: %s %s failed", method, path)
            return self.error(RedfishError(500, "InternalError",
                                           f"The request failed inside the controller "
                                           f"({type(exc).__name__}); the log has the details"))


def _check_request(request: Request, route: Route) -> None:
    """What DSP0266 asks be refused before anything else: an OData version other than
    4.0 (412), query options the resource does not take (501; most take none)."""
    version = request.headers.get("odata-version")
    if version is not None and version.strip() != "4.0":
        raise RedfishError(412, "PreconditionFailed",
                           f"OData-Version {version} is not supported; this service speaks 4.0",
                           resolution="Send OData-Version: 4.0 or no OData-Version header")
    for key in request.query_params:
        if (key.startswith("$") or key in ("only", "excerpt")) and key not in route.queries:
            raise RedfishError(501, "QueryNotSupported",
                               f"The query option {key} is not supported here; this "
                               "service supports no query options in general "
                               "(ProtocolFeaturesSupported)",
                               args=[key])



async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RedfishError(400, "MalformedJSON", "The request body is not valid JSON",
                           resolution="Send a JSON object") from None
    if not isinstance(data, dict):
        raise RedfishError(400, "MalformedJSON",
                           f"The request body is a JSON {type(data).__name__}; a JSON "
                           "object is needed")
    return data


def build_router(core: CoreServices, hub: Callable[[], EventHub | None] | None = None
                 ) -> APIRouter:
    """The router that serves ``/redfish`` and everything under it; ``hub`` gives the web
    server's event hub, which the EventService joins (it pushes from then on)."""
    face = RedfishFace(core, hub)
    if hub is not None and hub() is not None:
        events.ensure(hub())
    router = APIRouter()

    async def redfish(request: Request, rest: str = "") -> Response:
        return await face.handle(request, request.url.path)

    router.add_api_route("/redfish", redfish, methods=_METHODS, include_in_schema=False)
    router.add_api_route("/redfish/{rest:path}", redfish, methods=_METHODS,
                         include_in_schema=False)
    router.redfish_face = face          # type: ignore[attr-defined]  (tests reach the tokens)
    return router
