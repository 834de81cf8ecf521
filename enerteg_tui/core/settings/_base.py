"""Shared building blocks of the settings schemas (one pydantic model per topic).

A settings topic is a pydantic model whose fields are the manual's camelCase keys.
``Toggle`` accepts true/false and the manual's "enabled"/"disabled" and writes the
manual's words back; ``Secret`` fields are stored as given but shown only as "set"
(or "" when empty) in every read-only view, and a ``put`` of "set" keeps the stored
value.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

__all__ = ["SettingsModel", "Toggle", "Secret", "SECRET", "SECRET_SHOWN_AS", "Port", "PortOrZero",
           "secret_fields_of", "nested_secret_names", "mask_secrets", "keep_stored_secrets"]

SECRET_SHOWN_AS = "set"
"""What a read-only view shows for a non-empty secret (as the manual's example does)."""


class _SecretMarker:
    """Metadata marker that flags a field as a secret."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMarker()
"""Put in ``Annotated[...]`` metadata to flag a secret field."""


def _parse_toggle(value: Any) -> Any:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in {"enabled", "true", "on", "yes", "1"}:
            return True
        if low in {"disabled", "false", "off", "no", "0"}:
            return False
        raise ValueError(f'true/false or "enabled"/"disabled", not {value!r}')
    return value


Toggle = Annotated[
    bool,
    BeforeValidator(_parse_toggle),
    PlainSerializer(lambda v: "enabled" if v else "disabled", return_type=str),
]
"""An on/off key: accepts true/false and "enabled"/"disabled"; written as the latter."""

Secret = Annotated[str, SECRET]
"""A password or passphrase: stored, never shown (see module docstring)."""


# --- secrets inside nested models (a list of SNMP trap targets, each with credentials)
def secret_fields_of(cls: Any) -> frozenset[str]:
    """Names of the ``SECRET`` fields of any pydantic model class (top level only)."""
    return frozenset(name for name, info in getattr(cls, "model_fields", {}).items()
                     if any(m is SECRET for m in info.metadata))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation holds (``Model``, ``dict[str, Model]``, ``list[Model]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def nested_secret_names(cls: Any) -> frozenset[str]:
    """Names of the secret fields of the models nested in ``cls``, at any depth."""
    out: set[str] = set()
    for info in getattr(cls, "model_fields", {}).values():
        for model in _models_in(info.annotation):
            out |= secret_fields_of(model) | nested_secret_names(model)
    return frozenset(out)


def _children(value: Any, data: Any) -> list[tuple[BaseModel, Any]]:
    """(nested model, its dumped form) pairs under one field's value."""
    if isinstance(value, BaseModel):
        return [(value, data)] if isinstance(data, dict) else []
    if isinstance(value, dict) and isinstance(data, dict):
        return [p for k, v in value.items() for p in _children(v, data.get(k))]
    if isinstance(value, (list, tuple)) and isinstance(data, list):
        return [p for v, d in zip(value, data) for p in _children(v, d)]
    return []


def mask_secrets(model: BaseModel, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (the model's JSON dump) with every secret, nested ones too, as "set" or ""."""
    for name in secret_fields_of(type(model)):
        data[name] = SECRET_SHOWN_AS if data.get(name) else ""
    for name in type(model).model_fields:
        for child, child_data in _children(getattr(model, name), data.get(name)):
            mask_secrets(child, child_data)
    return data


def keep_stored_secrets(cls: Any, doc: Any, stored: Any) -> Any:
    """``doc`` with every nested secret given as "set" replaced by the stored value at the
    same place ("" where nothing is stored): what a read showed means "keep it"."""
    if not isinstance(doc, dict):
        return doc
    stored = stored if isinstance(stored, dict) else {}
    for name, info in getattr(cls, "model_fields", {}).items():
        if name not in doc:
            continue
        for model in _models_in(info.annotation):
            value, kept = doc[name], stored.get(name)
            if isinstance(value, dict) and typing.get_origin(info.annotation) is dict:
                for key, item in value.items():
                    old = kept.get(key) if isinstance(kept, dict) else None
                    value[key] = _keep_one(model, item, old)
            elif isinstance(value, list):
                doc[name] = [_keep_one(model, item, kept[i] if isinstance(kept, list)
                                       and i < len(kept) else None)
                             for i, item in enumerate(value)]
            else:
                doc[name] = _keep_one(model, value, kept)
    return doc


def _keep_one(model: type[BaseModel], item: Any, old: Any) -> Any:
    if not isinstance(item, dict):
        return item
    old = old if isinstance(old, dict) else {}
    for key in secret_fields_of(model):
        if item.get(key) == SECRET_SHOWN_AS:
            item[key] = old.get(key, "")
    return keep_stored_secrets(model, item, old)

from pydantic import Field  # noqa: E402  (kept below the markers it sits beside)

Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP/UDP port number."""
PortOrZero = Annotated[int, Field(ge=0, le=65535)]
"""A port, or 0 for 'the protocol's default'."""


class SettingsModel(BaseModel):
    """Base of every ``config/<name>`` schema.

    Subclasses set ``TOPIC`` (the name under ``config/``), ``TITLE`` (the manual's
    section title), and ``SERVICE`` (the service that uses the settings, or None
    when no service in this build consumes them yet, so that faces can say so), and
    ``SERVICE_NOTE`` when part of the topic is applied only at a restart or not yet.

    Frozen: a model is never changed in place (an assignment raises). A change is a new
    model validated as a whole from the merged keys (``Configuration.put``), so a refused
    change leaves the current settings exactly as they were and a model handed to a
    service cannot change under it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    TOPIC: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    SERVICE: ClassVar[str | None] = None
    SERVICE_NOTE: ClassVar[str] = ""
    """What of the topic the service does not apply at once, or not at all yet."""
    INACTIVE_KEYS: ClassVar[frozenset[str]] = frozenset()
    """Keys stored and checked but read by nothing in this build (``appliers``)."""
    INACTIVE_NOTE: ClassVar[str] = ""
    """The inactive keys in words, when listing them would be long (faces)."""

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Names of the fields flagged ``SECRET``."""
        return secret_fields_of(cls)

    @classmethod
    def secret_holders(cls) -> frozenset[str]:
        """Fields holding nested models with secrets (kept whole with the secrets in a
        backup, shown as changed without values in the audit log)."""
        return frozenset(name for name, info in cls.model_fields.items()
                         if any(secret_fields_of(m) or nested_secret_names(m)
                                for m in _models_in(info.annotation)))

    def public_dump(self) -> dict[str, Any]:
        """JSON-ready values with secrets (nested ones too) replaced by "set" or ""."""
        return mask_secrets(self, self.model_dump(mode="json", by_alias=True))

    def stored_dump(self) -> dict[str, Any]:
        """JSON-ready values including secrets, for the settings store only."""
        return self.model_dump(mode="json", by_alias=True)
