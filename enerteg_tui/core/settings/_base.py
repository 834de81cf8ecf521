"""Shared building blocks of the settings schemas (one pydantic model per topic).

A settings topic is a pydantic model whose fields are the manual's camelCase keys.
``Toggle`` accepts true/false and the manual's "enabled"/"disabled" and writes the
manual's words back; ``Secret`` fields are stored as given but shown only as "set"
(or "" when empty) in every read-only view, and a ``put`` of "set" keeps the stored
value.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

__all__ = ["SettingsModel", "Toggle", "Secret", "SECRET", "SECRET_SHOWN_AS", "Port", "PortOrZero"]

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
        return frozenset(
            name for name, info in cls.model_fields.items()
            if any(m is SECRET for m in info.metadata)
        )

    def public_dump(self) -> dict[str, Any]:
        """JSON-ready values with secrets replaced by "set" or ""."""
        data = self.model_dump(mode="json", by_alias=True)
        for name in self.secret_fields():
            data[name] = SECRET_SHOWN_AS if data.get(name) else ""
        return data

    def stored_dump(self) -> dict[str, Any]:
        """JSON-ready values including secrets, for the settings store only."""
        return self.model_dump(mode="json", by_alias=True)
