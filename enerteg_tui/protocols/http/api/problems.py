"""The REST API's error table: the core's error tree as RFC 9457 problem documents.

One place maps ``core.errors`` classes to HTTP statuses (``core.errors.per_class``, as
the shell's ``protocols/shell/errors.py`` maps them to exit codes). Every error answer
is ``application/problem+json``::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "config/syslog: port = 70000 is not allowed; allowed is 1 to 65535",
     "errorType": "Invalid", "field": "port", "value": 70000, "allowed": "1 to 65535"}

``detail`` is the sentence the shell prints after ``Error:``; ``field``, ``value`` and
``allowed`` are the error's ``thing``, ``value`` (cut to 40 characters, secrets masked)
and ``allowed``. Request bodies and parameters that FastAPI's own validation refuses
go through ``core.validation.invalid_from_pydantic``, so they read as the shell's do.
An unexpected failure is a 500 with no exception text (the log has the traceback).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ....core.errors import (Conflict, DeviceUnavailable, DriverTimeout, EnertegError, Invalid,
                             NotFound, PermissionDenied, Unsupported, per_class, shown)
from ....core.masking import MASK, is_secret_key
from ....core.users import AuthFailed, LockedOut
from ....core.validation import invalid_from_pydantic

__all__ = ["REST_ERRORS", "PROBLEM_TYPE", "Problem", "ProblemError", "problem_response",
           "install_handlers", "install_outer", "PROBLEM_RESPONSES"]

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"

REST_ERRORS: dict[type[EnertegError], int] = {
    EnertegError: 400,
    Invalid: 422,
    NotFound: 404,
    PermissionDenied: 403,
    AuthFailed: 401,
    LockedOut: 401,
    Conflict: 409,
    Unsupported: 422,
    DeviceUnavailable: 503,
    DriverTimeout: 504,
}
"""HTTP status of each core error class (the nearest base class's when not listed)."""


class Problem(BaseModel):
    """An RFC 9457 problem document with the core error's parts."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errorType: str | None = None
    field: str | None = None
    value: Any = None
    allowed: str | None = None


class ProblemError(Exception):
    """An HTTP-only refusal (412 precondition failed, 428, 405) with the same parts."""

    def __init__(self, status: int, detail: str, *, field: str | None = None,
                 value: Any = None, allowed: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field, self.value, self.allowed = (
            status, detail, field, value, allowed)
        self.headers = headers or {}


_REST_SECRETS = ("password", "token", "authorization", "confirm")
"""Request fields that hold a credential besides the settings' secrets (``newPassword``,
API and session tokens, confirm tokens): a problem document never repeats them."""


def _secret(field: str) -> bool:
    last = field.rsplit(".", 1)[-1]
    return is_secret_key(last) or last.lower().endswith(_REST_SECRETS)


def _plain(field: str | None, value: Any) -> Any:
    if field and _secret(field) and value not in (None, ""):
        return MASK
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else str(value)
    return shown(text) if len(text) > 40 else text


def problem_response(status: int, detail: str, *, error_type: str | None = None,
                     field: str | None = None, value: Any = None, allowed: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem+json answer."""
    doc = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail,
                  errorType=error_type, field=field, value=_plain(field, value),
                  allowed=allowed)
    return JSONResponse(doc.model_dump(), status_code=status, media_type=PROBLEM_TYPE,
                        headers=headers)


def _of_core(exc: EnertegError) -> JSONResponse:
    status = per_class(REST_ERRORS, exc)
    headers = {"WWW-Authenticate": 'Bearer realm="enerteg", Basic realm="enerteg"'} \
        if status == 401 else None
    return problem_response(status, exc.message, error_type=type(exc).__name__,
                            field=exc.thing, value=exc.value, allowed=exc.allowed,
                            headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    """``body``/``query``/``path`` first in FastAPI's locations: the request part."""
    return {"body": "request body", "query": "query", "path": "path",
            "header": "header"}.get(str(loc[0]) if loc else "", "request")


def install_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document."""

    @app.exception_handler(EnertegError)
    async def core_error(request: Request, exc: EnertegError) -> JSONResponse:
        return _of_core(exc)

    @app.exception_handler(ProblemError)
    async def http_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, field=exc.field, value=exc.value,
                                allowed=exc.allowed, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        where = _where(tuple(errors[0].get("loc", ()))) if errors else "request"
        trimmed = [{**e, "loc": tuple(e.get("loc", ()))[1:]} for e in errors]
        for e in trimmed:                       # a credential is never quoted back
            names = [str(p) for p in e["loc"] if isinstance(p, str)]
            if names and _secret(names[-1]):
                e["input"] = MASK
        try:
            invalid = invalid_from_pydantic(where, ValidationError.from_exception_data(
                "request", [{"type": e["type"], "loc": e["loc"], "input": e.get("input"),
                             "ctx": e.get("ctx") or {}} for e in trimmed]))
        except Exception:                      # an error type pydantic cannot rebuild
            first = trimmed[0] if trimmed else {}
            key = ".".join(str(p) for p in first.get("loc", ())) or where
            invalid = Invalid(f"{where}: {key} = {shown(first.get('input'))} is not allowed; "
                              f"{first.get('msg', 'not valid')}", thing=key,
                              value=first.get("input"), allowed=str(first.get("msg", "")))
        return _of_core(invalid)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404:
            detail = (f"no resource at {shown(request.url.path)}; the resources are listed in "
                      "/api/v1/openapi.json")
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {shown(request.url.path)}"
        return problem_response(exc.status_code, detail, field="path",
                                value=request.url.path, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("REST %s %s failed", request.method, request.url.path, exc_info=exc)
        return problem_response(500, f"internal error while answering {request.method} "
                                     f"{shown(request.url.path)} (the controller's log has "
                                     "the details)")


def install_outer(app: FastAPI, prefix: str = "/api/") -> None:
    """Errors the outer application answers for the API's paths (a path its mount does
    not match, e.g. one holding a newline) as problem documents too."""
    from fastapi.exception_handlers import http_exception_handler

    @app.exception_handler(StarletteHTTPException)
    async def outer_http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if not request.url.path.startswith(prefix):
            return await http_exception_handler(request, exc)
        detail = (f"no resource at {shown(request.url.path)}; the resources are listed in "
                  "/api/v1/openapi.json") if exc.status_code == 404 else str(exc.detail)
        return problem_response(exc.status_code, detail, field="path",
                                value=request.url.path)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": what,
           "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for code, what in ((401, "no or wrong credentials"),
                       (403, "the user's roles do not allow it"),
                       (404, "no such resource"),
                       (409, "clashes with the current state (a used or expired confirm "
                             "token, a duplicate name)"),
                       (412, "If-Match does not match the resource's ETag: nothing changed"),
                       (422, "a value is not allowed (field, value and what is allowed)"),
                       (429, "too many failed logins from this address (Retry-After)"),
                       (503, "a PDU did not answer on the bus"))
}
"""The error answers every resource may give, for the OpenAPI document."""
