"""Turn pydantic validation failures into messages a person can act on.

Every face validates through the same schemas; this module is the one place that
words the result: which key, which value, and what is allowed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Invalid, shown

__all__ = ["invalid_from_pydantic", "validate_document", "describe_allowed"]


def _loc_to_key(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            # pydantic adds the validator name for unions and tagged types; skip those
            if parts and item in {"function-before", "function-after", "function-plain"}:
                continue
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(document)"


def describe_allowed(err: dict[str, Any]) -> str:
    """Words for what a field accepts, from one pydantic error entry."""
    typ = err.get("type", "")
    ctx = err.get("ctx") or {}
    if typ in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        lo = ctx.get("ge", ctx.get("gt"))
        hi = ctx.get("le", ctx.get("lt"))
        if lo is not None and hi is not None:
            return f"a number from {lo} to {hi}"
        if lo is not None:
            return f"a number {'≥' if 'ge' in ctx else '>'} {lo}"
        return f"a number {'≤' if 'le' in ctx else '<'} {hi}"
    if typ == "enum" or typ == "literal_error":
        expected = ctx.get("expected", "")
        return f"one of {expected}"
    if typ in {"int_parsing", "int_type", "int_from_float"}:
        return "a whole number"
    if typ in {"float_parsing", "float_type"}:
        return "a number"
    if typ in {"bool_parsing", "bool_type"}:
        return 'true/false (or "enabled"/"disabled")'
    if typ == "string_too_long":
        return f"text of at most {ctx.get('max_length')} characters"
    if typ == "string_too_short":
        return f"text of at least {ctx.get('min_length')} characters"
    if typ in {"string_type", "string_pattern_mismatch"}:
        pattern = ctx.get("pattern")
        return f"text matching {pattern}" if pattern else "text"
    if typ == "extra_forbidden":
        return "only the keys of this topic's schema"
    if typ == "missing":
        return "a value (the key is required)"
    if typ == "list_type":
        return "a list"
    if typ == "value_error":
        # our own validators put the allowed form in the message
        return str(ctx.get("error", err.get("msg", "")))
    return str(err.get("msg", "a valid value"))


def _field_bounds(schema: type[BaseModel] | None, loc: tuple[Any, ...]) -> str | None:
    """'a number from LO to HI' when the top-level field declares both bounds."""
    if schema is None or len(loc) != 1 or not isinstance(loc[0], str):
        return None
    info = schema.model_fields.get(loc[0])
    if info is None:
        for f in schema.model_fields.values():
            if f.alias == loc[0]:
                info = f
                break
    if info is None:
        return None
    lo = hi = None
    for m in info.metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
    if lo is not None and hi is not None:
        return f"a number from {lo} to {hi}"
    return None


def invalid_from_pydantic(
    what: str, exc: ValidationError, schema: type[BaseModel] | None = None
) -> Invalid:
    """Build one ``Invalid`` from a ``ValidationError``.

    Args:
        what: the thing validated, e.g. ``config/syslog``.
        exc: the pydantic error.
        schema: the model validated, to state both bounds of a range.

    Returns:
        An ``Invalid`` whose message names each bad key, its value and what is allowed.
    """
    lines: list[str] = []
    first_key: str | None = None
    first_value: Any = None
    first_allowed: str | None = None
    for err in exc.errors(include_url=False):
        key = _loc_to_key(tuple(err.get("loc", ())))
        value = err.get("input")
        allowed = describe_allowed(err)
        if err.get("type", "").startswith(("greater", "less")):
            allowed = _field_bounds(schema, tuple(err.get("loc", ()))) or allowed
        if err.get("type") == "extra_forbidden":
            text = f"{what}: unknown key {shown(key)} (value {shown(value)}); allowed are {allowed}"
        elif err.get("type") == "missing":
            text = f"{what}: key {key} is missing; it needs {allowed}"
        else:
            text = f"{what}: {key} = {shown(value)} is not allowed; allowed is {allowed}"
        lines.append(text)
        if first_key is None:
            first_key, first_allowed = key, allowed
            first_value = shown(value) if isinstance(value, str) and len(value) > 40 else value
    return Invalid("\n".join(lines), thing=first_key, value=first_value, allowed=first_allowed)


def validate_document(what: str, schema: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """Validate ``data`` with ``schema`` or raise ``Invalid`` worded for people."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_pydantic(what, exc, schema) from None
