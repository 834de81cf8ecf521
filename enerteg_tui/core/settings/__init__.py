"""The settings schemas: one pydantic model per ``config/<name>`` topic.

Owns the list of settings topics (the seventeen of the manual's ``ls config``,
§11.1) and the lookup by name. Invariants: ``SETTINGS_TOPICS`` is in alphabetical
order and keyed by each class's ``TOPIC``; every field has a default, so
``schema()`` is the fresh controller's value. Called by ``core.configuration``
(validate, store, load), ``core.topics`` (paths, completion) and every face that
shows or edits settings. The keys are documented in docs/settings.md.
"""

from __future__ import annotations

from ..errors import NotFound
from ._base import SettingsModel
from ._common import is_host
from .access import AuthSettings, CliSettings, HttpServerSettings
from .network import InterfaceSettings, NetworkSettings
from .records import (
    BackupContentsSettings,
    BackupSettings,
    NotificationsSettings,
    SqlExportSettings,
)
from .services import EmailSettings, ModbusSettings, SnmpAgentSettings, SyslogSettings
from .system import (
    CoreSettings,
    DevicesSettings,
    HostnameSettings,
    Sppdu5Settings,
    TimeSettings,
)

__all__ = [
    "is_host",
    "SETTINGS_TOPICS",
    "settings_schema",
    "SettingsModel",
    "AuthSettings",
    "BackupSettings",
    "BackupContentsSettings",
    "CliSettings",
    "CoreSettings",
    "DevicesSettings",
    "EmailSettings",
    "HostnameSettings",
    "HttpServerSettings",
    "InterfaceSettings",
    "ModbusSettings",
    "NetworkSettings",
    "NotificationsSettings",
    "SnmpAgentSettings",
    "Sppdu5Settings",
    "SqlExportSettings",
    "SyslogSettings",
    "TimeSettings",
]

_SCHEMAS: tuple[type[SettingsModel], ...] = (
    AuthSettings, BackupSettings, BackupContentsSettings, CliSettings, CoreSettings,
    DevicesSettings, EmailSettings, HostnameSettings, HttpServerSettings, ModbusSettings,
    NetworkSettings, NotificationsSettings, SnmpAgentSettings, Sppdu5Settings,
    SqlExportSettings, SyslogSettings, TimeSettings,
)

SETTINGS_TOPICS: dict[str, type[SettingsModel]] = {
    schema.TOPIC: schema for schema in sorted(_SCHEMAS, key=lambda s: s.TOPIC)
}
"""Topic name (under ``config/``) → its schema, in alphabetical order of the name."""


def settings_schema(name: str) -> type[SettingsModel]:
    """The schema of settings topic ``name``.

    Args:
        name: the topic name under ``config/``, e.g. ``snmp_agent``.

    Returns:
        The topic's ``SettingsModel`` subclass.

    Raises:
        NotFound: no such topic; the message names ``name`` and lists the topics.
    """
    try:
        return SETTINGS_TOPICS[name]
    except (KeyError, TypeError):
        allowed = ", ".join(SETTINGS_TOPICS)
        raise NotFound(f"settings topic {name!r} does not exist; the topics are {allowed}",
                       thing=name, value=name, allowed=allowed) from None
