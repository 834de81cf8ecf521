"""Control characters: refused in what people store, neutralised in what faces show.

A PDU name holding ``ESC ] 2 ; …`` reached every console viewer raw and retitled their
terminal: text from a user or a device is data, never terminal commands. Two rules,
one module:

* ``refuse_control`` — every settings value and every name a person sets (settings
  topics, PDU settings, rules, structure names, comments) is refused when it holds a
  C0 or C1 control character or DEL (NUL and ESC included), with a message naming the
  key, the character and where it is. Keys that hold PEM text (a text area) may hold
  line breaks and tabs.
* ``strip_control`` / ``escape_control`` — what a face renders is cleaned anyway
  (text stored before this rule, text a device reports): the console strips control
  characters from every strip it paints, the shell and the serial console write them
  as ``\\u001b``.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Collection
from typing import Any

from .errors import Invalid, shown

__all__ = ["CONTROL", "refuse_control", "strip_control", "escape_control", "multiline_keys",
           "has_control", "MULTILINE_OVER"]

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 controls, DEL and C1 controls (U+0080–U+009F: 8-bit CSI and OSC among them)."""
_CONTROL_NOT_LINES = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
"""The same, less tab, LF and CR: what a text area (PEM) may not hold."""

MULTILINE_OVER = 8192
"""A text key allowed to be longer than this holds PEM (certificates, keys): its line
breaks matter, so it may hold LF, CR and tab (the console gives it a text area)."""

_STRIP = {c: None for c in [*range(0x20), *range(0x7f, 0xa0)]}
_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0A: "LF", 0x0D: "CR",
          0x1B: "ESC", 0x7F: "DEL", 0x9B: "CSI", 0x9D: "OSC"}


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character."""
    return CONTROL.search(text) is not None


def strip_control(text: str) -> str:
    """``text`` without its control characters (for a screen cell: nothing to show)."""
    return text.translate(_STRIP) if CONTROL.search(text) else text


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_control(text: str, keep: str = "\n") -> str:
    """``text`` with each control character but those in ``keep`` written as ``\\u001b``
    (for line-oriented output: the shell, the serial console)."""
    if not CONTROL.search(text):
        return text
    if not keep:
        return CONTROL.sub(_escape, text)
    return CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


def multiline_keys(schema: Any) -> frozenset[str]:
    """Top-level text keys of a pydantic ``schema`` that hold PEM: longer than
    ``MULTILINE_OVER``, or marked ``json_schema_extra={"multiline": True}``."""
    out = set()
    for key, info in getattr(schema, "model_fields", {}).items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        longest = max((getattr(m, "max_length", 0) or 0 for m in info.metadata), default=0)
        ann = info.annotation
        texty = ann is str or str in typing.get_args(ann)
        if extra.get("multiline") or (texty and longest > MULTILINE_OVER):
            out.add(key)
            if info.alias:
                out.add(info.alias)
    return frozenset(out)


def _refuse(what: str, key: str, text: str, pattern: re.Pattern[str]) -> None:
    match = pattern.search(text)
    if match is None:
        return
    code = ord(match.group())
    name = _NAMES.get(code, "control character")
    raise Invalid(
        f"{what}: {key} = {shown(text)} holds a control character ({name}, U+{code:04X}) at "
        f"character {match.start() + 1}; allowed is printable text (no NUL, ESC or other "
        "control characters)", thing=key, value=shown(text),
        allowed="printable text without control characters")


def refuse_control(what: str, data: Any, *, multiline: Collection[str] = (),
                   key: str = "value") -> None:
    """Raise ``Invalid`` when ``data`` (text, or keys and values of nested objects and
    lists) holds a control character. Top-level keys in ``multiline`` may hold line
    breaks and tabs.

    Args:
        what: the thing being set, e.g. ``config/cli`` (starts the message).
        data: the value or the changes (a mapping of key to value).
        multiline: top-level keys that are PEM text areas.
        key: the name of ``data`` when it is a single value.
    """
    _walk(what, data, key, multiline, top=True)


def _walk(what: str, data: Any, key: str, multiline: Collection[str], *, top: bool) -> None:
    if isinstance(data, str):
        _refuse(what, key, data, _CONTROL_NOT_LINES if key in multiline else CONTROL)
    elif isinstance(data, dict):
        for k, v in data.items():
            name = str(k) if top else f"{key}.{k}"
            if isinstance(k, str):
                _refuse(what, "a key", k, CONTROL)
            _walk(what, v, name, multiline if top else (), top=False)
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            _walk(what, v, f"{key}[{i}]", (), top=False)
