"""Helpers for the JSON documents behind topics: dotted-key changes and text coercion.

The shell hands over ``put key="value" nested.key=3`` as text; these helpers apply
such changes to a copy of a document and turn text into JSON values where the
schema wants something other than text.

JSON from a person (a ``put`` value, the ``_data`` editor, a restored backup) is read
by ``loads``: no document of ours nests deeper than a few levels, and a value nested
a thousand levels deep would only meet Python's recursion limit somewhere inside
(``RecursionError``), so anything deeper than ``MAX_DEPTH`` is refused up front with
a message saying the limit.
"""

from __future__ import annotations

import copy
import json
import re
import typing
from typing import Any

from pydantic import BaseModel

from .errors import Invalid, shown

__all__ = ["apply_changes", "coerce_text", "envelope", "diff_keys", "loads", "json_depth",
           "MAX_DEPTH"]

MAX_DEPTH = 32
"""Deepest nesting of objects and lists (and parts of a dotted key) taken from a person."""

_NESTING = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


def json_depth(text: str, stop: int = MAX_DEPTH) -> int:
    """How deep objects and lists nest in JSON ``text`` (strings skipped), in one linear
    pass; counting stops just above ``stop``."""
    depth = deepest = 0
    for match in _NESTING.finditer(text):
        ch = match.group()
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def loads(text: str, what: str) -> Any:
    """``json.loads`` for text from a person, refusing nesting deeper than ``MAX_DEPTH``.

    Raises:
        Invalid: ``text`` nests deeper than the limit.
        ValueError: ``text`` is not JSON (as ``json.loads``).
    """
    if json_depth(text) > MAX_DEPTH:
        raise Invalid(f"{what}: the JSON value {shown(text)} nests deeper than {MAX_DEPTH} levels "
                      f"of objects and lists, the limit", thing=what, value=shown(text),
                      allowed=f"JSON nested at most {MAX_DEPTH} levels deep")
    return json.loads(text)


def envelope(ts_ms: int, data: dict[str, Any]) -> dict[str, Any]:
    """The manual's settings document: ``{"ts": ms, "u": {...}, "new": null}``."""
    return {"ts": ts_ms, "u": data, "new": None}


def apply_changes(doc: dict[str, Any], changes: dict[str, Any], what: str) -> dict[str, Any]:
    """A deep copy of ``doc`` with ``changes`` applied; keys may be dotted (``a.b.c``).

    Raises:
        Invalid: a dotted key walks through a value that is not an object.
    """
    out = copy.deepcopy(doc)
    for key, value in changes.items():
        parts = key.split(".")
        if any(not p for p in parts):
            raise Invalid(f"{what}: key {shown(key)} is not allowed; keys are names separated "
                          "by dots", thing=key, value=value, allowed="name or name.sub.key")
        if len(parts) > MAX_DEPTH:
            raise Invalid(f"{what}: key {shown(key)} has {len(parts):,} parts; the limit is "
                          f"{MAX_DEPTH}", thing=key, value=value,
                          allowed=f"name.sub.key with at most {MAX_DEPTH} parts")
        node = out
        for depth, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                walked = ".".join(parts[: depth + 1])
                raise Invalid(
                    f"{what}: key {shown(key)} is not allowed; {walked} holds a value, not an "
                    "object",
                    thing=key, value=value, allowed=f"{walked}=VALUE",
                )
            node = nxt
        node[parts[-1]] = value
    return out


def _wants_text(schema: type[BaseModel] | None, key: str) -> bool:
    if schema is None or "." in key:
        return False
    fields = schema.model_fields
    info = fields.get(key)
    if info is None:
        info = next((f for f in fields.values() if f.alias == key), None)
    if info is None:
        return False
    ann = info.annotation
    if ann is str:
        return True
    args = typing.get_args(ann)
    return bool(args) and all(a is str or a is type(None) for a in args) and str in args


def coerce_text(schema: type[BaseModel] | None, key: str, text: str, what: str = "") -> Any:
    """Value for ``key`` from shell text: kept as text where the schema wants text,
    otherwise parsed as JSON when it parses (``3`` → 3, ``true`` → True, ``[1,2]``).

    Raises:
        Invalid: the text is JSON nested deeper than ``MAX_DEPTH``.
    """
    if _wants_text(schema, key):
        return text
    try:
        return loads(text, f"{what}: {key}" if what else f"value of {shown(key)}")
    except (ValueError, TypeError):
        return text


def diff_keys(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top-level keys that differ, as (old values, new values)."""
    keys = [k for k in new.keys() | old.keys() if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in sorted(keys)}, {k: new.get(k) for k in sorted(keys)}
