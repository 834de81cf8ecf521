"""Helpers for the JSON documents behind topics: dotted-key changes and text coercion.

The shell hands over ``put key="value" nested.key=3`` as text; these helpers apply
such changes to a copy of a document and turn text into JSON values where the
schema wants something other than text.
"""

from __future__ import annotations

import copy
import json
import typing
from typing import Any

from pydantic import BaseModel

from .errors import Invalid

__all__ = ["apply_changes", "coerce_text", "envelope", "diff_keys"]


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
            raise Invalid(f"{what}: key {key!r} is not allowed; keys are names separated by dots",
                          thing=key, value=value, allowed="name or name.sub.key")
        node = out
        for depth, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                walked = ".".join(parts[: depth + 1])
                raise Invalid(
                    f"{what}: key {key!r} is not allowed; {walked} holds a value, not an object",
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


def coerce_text(schema: type[BaseModel] | None, key: str, text: str) -> Any:
    """Value for ``key`` from shell text: kept as text where the schema wants text,
    otherwise parsed as JSON when it parses (``3`` → 3, ``true`` → True, ``[1,2]``)."""
    if _wants_text(schema, key):
        return text
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return text


def diff_keys(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top-level keys that differ, as (old values, new values)."""
    keys = [k for k in new.keys() | old.keys() if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in sorted(keys)}, {k: new.get(k) for k in sorted(keys)}
