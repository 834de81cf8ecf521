"""Shared checks and field types of the settings schemas (addresses, names, choices).

Owns the words every schema uses to say what a key allows, so that "an IPv4/IPv6
address or host name" reads the same in every topic, and the one way a rule that
spans several keys reports the key at fault (``fail``). Invariant kept here: an error
about a secret never carries the secret's value (``TopicSettings`` masks it). Called
only by the topic modules of this package.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails

from ._base import SettingsModel, secret_fields_of

__all__ = [
    "TopicSettings",
    "NestedSettings",
    "fail",
    "HIDDEN",
    "is_host",
    "is_hostname",
    "is_email",
    "Host",
    "HostOrEmpty",
    "IpOrEmpty",
    "HostName",
    "EmailOrEmpty",
    "LineText",
    "LongText",
    "Days",
    "DevicePath",
    "choice",
    "int_choice",
    "empty_means",
    "split_list",
    "ADDRESS_WORDS",
    "HOSTNAME_WORDS",
    "EMAIL_WORDS",
    "BaudRate",
]

HIDDEN = "***"
"""What an error message shows instead of a secret's value."""

ADDRESS_WORDS = "an IPv4/IPv6 address or host name"
"""Allowed-text of a network address key."""
HOSTNAME_WORDS = (
    "a host name (RFC 1123): labels of 1 to 63 letters, digits or hyphens, "
    "not starting or ending with a hyphen, separated by dots, at most 253 characters"
)
"""Allowed-text of a host-name key."""
EMAIL_WORDS = "an e-mail address such as user@example.com"
"""Allowed-text of an e-mail address key."""

_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


# --------------------------------------------------------------------- errors
def fail(key: str | tuple[str, ...], value: Any, allowed: str) -> ValidationError:
    """A ``ValidationError`` located at ``key``, for rules that span several keys.

    A model validator cannot otherwise name the key at fault; raised from inside one,
    pydantic keeps the location, also below nested models (``interfaces.eth0.x``).

    Args:
        key: the field name, or a path of names.
        value: the value at fault (pass ``HIDDEN`` for secrets).
        allowed: what the key accepts, in words (it becomes the "allowed is" part).

    Returns:
        The error, for the caller to ``raise``.
    """
    loc = (key,) if isinstance(key, str) else key
    return ValidationError.from_exception_data(
        "settings",
        [InitErrorDetails(type="value_error", loc=loc, input=value,
                          ctx={"error": ValueError(allowed)})],
    )


def _guarded(cls: type[BaseModel], data: Any, handler: Callable[[Any], Any]) -> Any:
    """Run ``handler``; on failure show secret values as ``***``."""
    try:
        return handler(data)
    except ValidationError as exc:
        secrets = secret_fields_of(cls)
        errors = exc.errors(include_url=False)
        if not any(e.get("loc") and e["loc"][0] in secrets for e in errors):
            raise
        details: list[InitErrorDetails] = []
        for e in errors:
            hidden = bool(e.get("loc")) and e["loc"][0] in secrets
            item = InitErrorDetails(type=e["type"], loc=e["loc"],
                                    input=HIDDEN if hidden else e.get("input"))
            if e.get("ctx"):
                item["ctx"] = e["ctx"]
            details.append(item)
        try:
            rebuilt = ValidationError.from_exception_data(exc.title, details)
        except (KeyError, TypeError, ValueError):  # an error type we cannot rebuild
            raise exc from None
        raise rebuilt from None


class NestedSettings(BaseModel):
    """Base of a model nested inside a topic (e.g. one network interface)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @model_validator(mode="wrap")
    @classmethod
    def _guard(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        return _guarded(cls, data, handler)


class TopicSettings(SettingsModel):
    """``SettingsModel`` whose field docstrings are the key descriptions.

    Keeps secrets out of error messages (an error located at a secret field shows
    ``***`` instead of the value typed; rules spanning keys pass ``HIDDEN`` to
    ``fail`` themselves). Frozen like every settings model (``SettingsModel``).
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    @model_validator(mode="wrap")
    @classmethod
    def _guard(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        return _guarded(cls, data, handler)


# --------------------------------------------------------------------- checks
def is_host(text: str) -> bool:
    """True for an IPv4/IPv6 address or an RFC 1123 host name."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    return is_hostname(text)


def is_hostname(text: str) -> bool:
    """True for an RFC 1123 host name (one or more labels, ≤ 253 characters)."""
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if len(labels) > 1 and all(label.isdigit() for label in labels):
        return False  # a dotted number that is not an IPv4 address (1.2.3.999)
    return all(_LABEL.match(label) for label in labels)


def _host(value: str) -> str:
    value = value.strip()
    if not is_host(value):
        raise ValueError(ADDRESS_WORDS)
    return value


def _host_or_empty(value: str) -> str:
    value = value.strip()
    if value and not is_host(value):
        raise ValueError(f"{ADDRESS_WORDS}, or empty")
    return value


def _ip_or_empty(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("an IPv4 or IPv6 address, or empty") from None


def _hostname(value: str) -> str:
    value = value.strip()
    if not is_hostname(value):
        raise ValueError(HOSTNAME_WORDS)
    return value


def is_email(text: str) -> bool:
    """True for ``local@domain`` with a dot-atom local part and an RFC 1123 domain."""
    local, at, domain = text.rpartition("@")
    if not at or not _EMAIL_LOCAL.match(local) or ".." in local:
        return False
    if local.startswith(".") or local.endswith("."):
        return False
    return is_hostname(domain) and "." in domain.strip(".")


def _email_or_empty(value: str) -> str:
    value = value.strip()
    if value and not is_email(value):
        raise ValueError(f"{EMAIL_WORDS}, or empty")
    return value


Host = Annotated[str, Field(max_length=253), AfterValidator(_host)]
"""A required IPv4/IPv6 address or host name."""
HostOrEmpty = Annotated[str, Field(max_length=253), AfterValidator(_host_or_empty)]
"""An IPv4/IPv6 address or host name, or empty."""
IpOrEmpty = Annotated[str, Field(max_length=45), AfterValidator(_ip_or_empty)]
"""An IPv4/IPv6 address (written in its canonical form), or empty."""
HostName = Annotated[str, Field(max_length=253), AfterValidator(_hostname)]
"""An RFC 1123 host name."""
EmailOrEmpty = Annotated[str, Field(max_length=254), AfterValidator(_email_or_empty)]
"""An e-mail address, or empty."""


LineText = Annotated[str, Field(max_length=255)]
"""One line of text: at most 255 characters."""
LongText = Annotated[str, Field(max_length=1024)]
"""A paragraph of text: at most 1024 characters."""


def _device_path(value: str) -> str:
    value = value.strip()
    if value and (not value.startswith("/dev/") or "\0" in value or ".." in value.split("/")):
        raise ValueError("a serial device path under /dev/ such as /dev/ttyS1, or empty")
    return value


DevicePath = Annotated[str, Field(max_length=255), AfterValidator(_device_path)]
"""A serial device under ``/dev/``, or empty for none."""
Days = Annotated[int, Field(ge=0, le=3650)]
"""Retention in days, 0 = keep forever."""


# --------------------------------------------------------------------- coercions
def choice(*values: str) -> BeforeValidator:
    """Accept the listed words in any letter case and write them as listed."""
    canonical = {v.lower(): v for v in values}

    def _pick(value: Any) -> Any:
        if isinstance(value, str):
            return canonical.get(value.strip().lower(), value)
        return value

    return BeforeValidator(_pick)


def int_choice(aliases: dict[str, int] | None = None) -> BeforeValidator:
    """Accept a number given as text ("9600"), or one of the named ``aliases``."""
    names = {k.lower(): v for k, v in (aliases or {}).items()}

    def _number(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in names:
                return names[text.lower()]
            if text.isdigit():
                return int(text)
        return value

    return BeforeValidator(_number)


def empty_means(default: Any) -> BeforeValidator:
    """Treat an empty text (or null) as ``default``, as the manual's "used when empty"."""

    def _fill(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        return value

    return BeforeValidator(_fill)


def split_list(value: Any) -> Any:
    """A comma-separated text becomes a list (the shell's ``put dns=1.1.1.1,9.9.9.9``)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


BaudRate = Annotated[Literal[9600, 19200, 38400, 57600, 115200], int_choice()]
"""A serial speed in baud; text such as "9600" is accepted."""
