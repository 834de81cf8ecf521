"""Schemas of the record-keeping topics: retention, backups and history export.

Topics: ``notifications``, ``backup``, ``backup_settings``, ``sql_export``.

Owns audit-log retention (manual §5.8), the backup schedule and what a backup holds
(configuration and log files, chapter 2 "Backup options"), and the export of history
to files or a PostgreSQL database. Invariant: every retention key of
``notifications`` is a whole number of days (the audit log's purge reads them all as
such; 0 = keep forever). Read by ``core.configuration`` through ``SETTINGS_TOPICS``
and by the audit log's retention callback.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from ..i18n import N_
from ._base import Port, Secret, Toggle
from ._common import ADDRESS_WORDS, HIDDEN, Days, HostOrEmpty, TopicSettings, choice, fail

__all__ = [
    "NotificationsSettings",
    "BackupSettings",
    "BackupContentsSettings",
    "SqlExportSettings",
]

BACKUP_PASSPHRASE_MIN = 8
"""Shortest passphrase accepted to encrypt the secrets in a backup."""

_IDENT = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
_TABLE = re.compile(rf"^{_IDENT}(?:\.{_IDENT})?$")
_NAME = re.compile(rf"^{_IDENT}$")
_WATERMARK_TABLE = "enerteg_export_watermark"
"""The export's watermark table (``core.export.sinks.WATERMARK_TABLE``)."""


def _directory(value: str) -> str:
    value = value.strip()
    if value and (not value.startswith("/") or "\0" in value or ".." in value.split("/")):
        raise ValueError("an absolute directory path such as /var/lib/enerteg/export "
                         "(no '..'), or empty for the reports folder")
    return value


def _table(value: str) -> str:
    if not _TABLE.match(value):
        raise ValueError("an SQL table name of letters, digits and '_' (at most 63, not "
                         "starting with a digit), optionally schema.table")
    return value


def _sql_name(value: str) -> str:
    if value and not _NAME.match(value):
        raise ValueError("an SQL name of letters, digits and '_' (at most 63, not starting "
                         "with a digit)")
    return value


class NotificationsSettings(TopicSettings):
    """Retention of audit-log entries by severity and state (§5.8); 0 = keep forever.

    "Closed" means an entry whose state is Done (§10); "open" means Open or
    Investigating.
    """

    TOPIC: ClassVar[str] = "notifications"
    TITLE: ClassVar[str] = N_("Audit log")
    SERVICE: ClassVar[str | None] = "audit"

    infoDays: Days = 5
    """Days to keep Info entries; 0 = never delete."""
    openWarningDays: Days = 5
    """Days to keep Warning entries not closed (state Open or Investigating); 0 = never
    delete."""
    openErrorDays: Days = 5
    """Days to keep Error entries not closed (state Open or Investigating); 0 = never
    delete."""
    closedWarningDays: Days = 5
    """Days to keep closed Warning entries (state Done); 0 = never delete."""
    closedErrorDays: Days = 5
    """Days to keep closed Error entries (state Done); 0 = never delete."""
    logDays: Days = 1
    """Days to keep Log entries; 0 = never delete."""
    debugDays: Days = 1
    """Days to keep Debug entries; 0 = never delete."""


class BackupSettings(TopicSettings):
    """Scheduled backups of the controller."""

    TOPIC: ClassVar[str] = "backup"
    TITLE: ClassVar[str] = N_("Backup schedule")
    SERVICE: ClassVar[str | None] = "backup"

    scheduleEnabled: Toggle = False
    """Make backups on a schedule (backups can always be made by hand)."""
    intervalHours: int = Field(24, ge=1, le=720)
    """Hours between two scheduled backups."""
    retentionCount: int = Field(7, ge=1, le=365)
    """Scheduled backups kept; the oldest beyond this number is deleted."""


class BackupContentsSettings(TopicSettings):
    """What a backup holds besides the configuration."""

    TOPIC: ClassVar[str] = "backup_settings"
    TITLE: ClassVar[str] = N_("Backup contents")
    SERVICE: ClassVar[str | None] = "backup"

    includeLogs: Toggle = False
    """Add the audit log and the internal log files."""
    includeHistory: Toggle = False
    """Add the measurement history (can be large)."""
    passphrase: Annotated[Secret, Field(max_length=1024)] = ""
    """Passphrase (at least 8 characters) that encrypts the secrets (passwords, keys)
    in a backup; empty = secrets are left out of backups."""

    @model_validator(mode="after")
    def _passphrase_length(self) -> BackupContentsSettings:
        if 0 < len(self.passphrase) < BACKUP_PASSPHRASE_MIN:
            raise fail("passphrase", HIDDEN, f"a passphrase of at least "
                                             f"{BACKUP_PASSPHRASE_MIN} characters, or empty")
        return self


class SqlExportSettings(TopicSettings):
    """Periodic export of measurement history to files or a PostgreSQL table.

    Read by ``core.export.ExportService`` (docs/export.md), which restarts its target
    whenever these settings change.
    """

    TOPIC: ClassVar[str] = "sql_export"
    TITLE: ClassVar[str] = N_("SQL export")
    SERVICE: ClassVar[str | None] = "export"

    enabled: Toggle = False
    """Export history periodically."""
    target: Annotated[Literal["csv", "json", "postgresql"],
                      choice("csv", "json", "postgresql")] = "csv"
    """Where to: csv or json (JSON lines) files in ``directory``, one per UTC day, or a
    postgresql table."""
    directory: Annotated[str, Field(max_length=4096), AfterValidator(_directory)] = ""
    """Folder for csv/json files (absolute path); empty = the reports folder's export
    sub-folder (SFTP /reports/export)."""
    intervalSeconds: int = Field(300, ge=60, le=86400)
    """Seconds between two exports."""
    dbHost: HostOrEmpty = ""
    """PostgreSQL server (needed for target postgresql while enabled)."""
    dbPort: Port = 5432
    """PostgreSQL port."""
    dbName: Annotated[str, Field(max_length=63), AfterValidator(_sql_name)] = "enerteg"
    """Database name."""
    dbUser: Annotated[str, Field(max_length=63)] = ""
    """Database user; empty = the server's default for the connection."""
    dbPassword: Annotated[Secret, Field(max_length=1024)] = ""
    """Password of ``dbUser``."""
    dbTable: Annotated[str, AfterValidator(_table)] = "enerteg_history"
    """Table the rows go to (created when missing); schema.table is accepted."""
    dbSslMode: Annotated[Literal["disable", "prefer", "require", "verify-ca", "verify-full"],
                         choice("disable", "prefer", "require", "verify-ca",
                                "verify-full")] = "prefer"
    """TLS to the PostgreSQL server, as libpq's sslmode: disable, prefer (TLS when the
    server offers it), require, verify-ca or verify-full (check the certificate)."""

    @model_validator(mode="after")
    def _not_the_watermark_table(self) -> SqlExportSettings:
        if self.dbTable.rpartition(".")[2].lower() == _WATERMARK_TABLE:
            raise fail("dbTable", self.dbTable,
                       f"a table name other than {_WATERMARK_TABLE} (the export's own "
                       "watermark table)")
        return self

    @model_validator(mode="after")
    def _postgres_needs_host(self) -> SqlExportSettings:
        if self.enabled and self.target == "postgresql":
            if not self.dbHost:
                raise fail("dbHost", self.dbHost,
                           f"{ADDRESS_WORDS} of the PostgreSQL server (required when "
                           "target is postgresql and the export is enabled)")
            if not self.dbName:
                raise fail("dbName", self.dbName,
                           "a database name (required when target is postgresql and the "
                           "export is enabled)")
        return self
