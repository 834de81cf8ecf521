"""Where exported history goes: daily CSV / JSON-lines files, or a PostgreSQL table.

Owns each target's watermark and the guarantee that a batch lands exactly once:

* **PostgreSQL** (asyncpg): the rows are copied into a temporary table and inserted
  into the target with ``ON CONFLICT DO NOTHING`` (primary key: time and channel), and
  the watermark row in ``enerteg_export_watermark`` is updated *in the same
  transaction*. A crash, a cancelled task or a server that goes away mid-batch rolls
  everything back; the next attempt starts again from the watermark in the database.
* **Files**: one file per UTC day (``enerteg-history-YYYY-MM-DD.csv`` or ``.jsonl``)
  in the configured folder. The watermark lives in the controller database (``meta``
  table) with the file's size after the last batch; before appending, a file longer
  than that recorded size (rows written but the watermark not, i.e. a crash between
  the two) is cut back to it, so a retried batch never appears twice.

No secret reaches a log line or a status text: ``destination`` names server, port,
database, user and table, never the password. Called by ``ExportService``.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..settings import SqlExportSettings
from ..store import Store
from .rows import COLUMNS, Batch, csv_header

__all__ = ["Sink", "FileSink", "PostgresSink", "WatermarkMoved", "WATERMARK_TABLE",
           "EXPORT_FOLDER", "make_sink", "table_ddl"]

WATERMARK_TABLE = "enerteg_export_watermark"
"""Table (in the target table's schema) holding one watermark row per exported table."""
EXPORT_FOLDER = Path("reports") / "export"
"""Default folder of the file export inside the data directory (SFTP ``/reports/export``)."""
CONNECT_TIMEOUT_S = 10.0
"""Longest wait for a PostgreSQL connection before the attempt counts as failed."""
COMMAND_TIMEOUT_S = 120.0
"""Longest a statement (one batch) may take before the attempt counts as failed."""
_TEMP = "enerteg_export_batch"
_FILE_PREFIX = "enerteg-history-"


class WatermarkMoved(Exception):
    """The target's watermark changed outside this export (another writer, a hand edit):
    the attempt fails and the next one starts again from the target's watermark."""


class Sink(Protocol):
    """A target of the export: opens, writes batches with their watermark, closes."""

    format: str
    """Encoding of the rows it takes: ``csv`` or ``jsonl``."""
    until: int | None
    """Its watermark (epoch seconds), None before anything was exported to it."""

    @property
    def destination(self) -> str: ...
    async def open(self) -> None: ...
    async def write(self, batch: Batch) -> int: ...
    async def rewind(self, until: int) -> None: ...
    async def close(self) -> None: ...


# ---------------------------------------------------------------------- files
class FileSink:
    """Appends batches to one file per UTC day in a folder.

    Args:
        fmt: ``csv`` or ``jsonl``.
        directory: the folder (created when missing).
        store: controller database; the watermark is the ``meta`` row ``key``.
    """

    def __init__(self, fmt: str, directory: Path, store: Store) -> None:
        self.format = fmt
        self.directory = directory
        self._store = store
        self.key = f"export.files:{fmt}:{directory}"
        self.until: int | None = None
        self._file = ""
        self._size = 0

    @property
    def destination(self) -> str:
        """The folder and file pattern, for logs and status."""
        return f"{self.directory}/{_FILE_PREFIX}YYYY-MM-DD.{self.format}"

    def path(self, day: str) -> Path:
        """The file of one UTC day."""
        return self.directory / f"{_FILE_PREFIX}{day}.{self.format}"

    async def open(self) -> None:
        """Create the folder and read the watermark."""
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        row = await self._store.fetchone("SELECT value FROM meta WHERE key=?", (self.key,))
        mark = json.loads(row[0]) if row is not None else {}
        self.until = mark.get("until")
        self._file = str(mark.get("file", ""))
        self._size = int(mark.get("size", 0))

    async def _save(self, until: int | None, file: str, size: int) -> None:
        value = json.dumps({"until": until, "file": file, "size": size})
        await self._store.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                  (self.key, value))
        self.until, self._file, self._size = until, file, size

    async def write(self, batch: Batch) -> int:
        """Append the batch to its day's file, then record the watermark and file size."""
        if batch.rows:
            name = self.path(batch.day).name
            if name != self._file:
                # record where this file starts before touching it, so that a crash
                # after the append is undone by cutting back to this size
                size = await asyncio.to_thread(_size, self.directory / name)
                await self._save(self.until, name, size)
            header = csv_header() if self.format == "csv" else b""
            size = await asyncio.to_thread(_append, self.directory / name, batch.data, header,
                                           self._size)
            await self._save(batch.until, name, size)
        elif batch.until != self.until:
            await self._save(batch.until, self._file, self._size)
        return batch.rows

    async def rewind(self, until: int) -> None:
        """Set the watermark back (a clock that was far ahead was corrected)."""
        await self._save(until, self._file, self._size)

    async def close(self) -> None:
        """Nothing stays open between batches."""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _append(path: Path, data: bytes, header: bytes, recorded: int) -> int:
    """Cut ``path`` back to ``recorded`` bytes if longer, append (with ``header`` first
    in an empty file), sync; return the new size."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size > recorded:
            os.ftruncate(fd, recorded)
            size = recorded
        os.lseek(fd, size, os.SEEK_SET)
        payload = (header if size == 0 else b"") + data
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        return size + len(payload)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- PostgreSQL
def _ident(name: str) -> str:
    """A validated SQL name (letters, digits, _) folded to lower case and quoted."""
    return '"' + name.lower() + '"'


def _names(table: str) -> tuple[str, str]:
    """Quoted names of the history table ``[schema.]table`` and its watermark table."""
    schema, _, name = table.rpartition(".")
    if schema:
        return f"{_ident(schema)}.{_ident(name)}", f"{_ident(schema)}.{WATERMARK_TABLE}"
    return _ident(name), WATERMARK_TABLE


def table_ddl(table: str) -> list[tuple[str, str]]:
    """``(quoted name, CREATE statement)`` of the history table ``[schema.]table`` and of
    the watermark table in the same schema."""
    target, wm = _names(table)
    return [
        (target, f"""CREATE TABLE IF NOT EXISTS {target} (
            time        timestamptz      NOT NULL,
            device      text             NOT NULL,
            device_name text             NOT NULL,
            component   text             NOT NULL,
            index       integer          NOT NULL,
            quantity    text             NOT NULL,
            unit        text             NOT NULL,
            min         double precision NOT NULL,
            avg         double precision NOT NULL,
            max         double precision NOT NULL,
            PRIMARY KEY (time, device, component, index, quantity)
        )"""),
        (wm, f"""CREATE TABLE IF NOT EXISTS {wm} (
            table_name     text        PRIMARY KEY,
            exported_until timestamptz NOT NULL,
            rows           bigint      NOT NULL DEFAULT 0,
            updated        timestamptz NOT NULL DEFAULT now()
        )"""),
    ]


class PostgresSink:
    """Inserts batches into a PostgreSQL table, watermark in the same transaction.

    Args:
        settings: ``config/sql_export`` (server, credentials, table, TLS mode).
        trust: for ``verify-ca``/``verify-full``, a TLS client context (the
            certificate store's: system CAs plus the store's unrestricted ones), given
            whether host names are checked; None = asyncpg's own (system CAs and
            ``~/.postgresql/root.crt``).
    """

    format = "csv"

    def __init__(self, settings: SqlExportSettings,
                 trust: Callable[[bool], ssl.SSLContext] | None = None) -> None:
        self._s = settings
        self._trust = trust
        self.table_key = settings.dbTable.lower()
        self._target, self._wm = _names(settings.dbTable)
        self._conn: Any = None
        self.until: int | None = None
        self.skipped = 0
        """Rows the primary key found already present (only after a foreign write)."""

    @property
    def destination(self) -> str:
        """``postgresql://user@host:port/db table``: never the password."""
        s = self._s
        user = f"{s.dbUser}@" if s.dbUser else ""
        host = f"[{s.dbHost}]" if ":" in s.dbHost else s.dbHost
        return f"postgresql://{user}{host}:{s.dbPort}/{s.dbName} table {self.table_key}"

    async def open(self) -> None:
        """Connect, create the tables when missing and read the watermark."""
        import asyncpg  # loaded only by controllers that export to PostgreSQL

        s = self._s
        tls: Any = s.dbSslMode
        if self._trust is not None and s.dbSslMode in ("verify-ca", "verify-full"):
            tls = self._trust(s.dbSslMode == "verify-full")
        conn = await asyncpg.connect(
            host=s.dbHost, port=s.dbPort, user=s.dbUser or None,
            password=s.dbPassword or None, database=s.dbName, ssl=tls,
            timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S)
        try:
            for name, ddl in table_ddl(s.dbTable):
                # only when missing: a user with no CREATE right on the schema may
                # still export into tables an administrator made beforehand
                if await conn.fetchval("SELECT to_regclass($1)", name) is None:
                    await conn.execute(ddl)
            await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP} "
                               f"(LIKE {self._target}) ON COMMIT DELETE ROWS")
            until = await conn.fetchval(
                f"SELECT exported_until FROM {self._wm} WHERE table_name=$1", self.table_key)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        self.until = None if until is None else int(until.timestamp())

    async def write(self, batch: Batch) -> int:
        """Copy the rows and move the watermark in one transaction; returns rows inserted."""
        conn = self._conn
        assert conn is not None
        cols = ", ".join(COLUMNS)
        async with conn.transaction():
            current = await conn.fetchval(
                f"SELECT exported_until FROM {self._wm} WHERE table_name=$1 FOR UPDATE",
                self.table_key)
            seen = None if current is None else int(current.timestamp())
            if seen != self.until:
                raise WatermarkMoved(
                    f"the watermark of {self.table_key} in {WATERMARK_TABLE} is "
                    f"{_when(seen)}, not {_when(self.until)} as this export left it; "
                    "starting again from it")
            inserted = 0
            if batch.rows:
                await conn.copy_to_table(_TEMP, source=io.BytesIO(batch.data),
                                         columns=list(COLUMNS), format="csv")
                status = await conn.execute(f"INSERT INTO {self._target} ({cols}) SELECT {cols} "
                                            f"FROM {_TEMP} ON CONFLICT DO NOTHING")
                inserted = int(status.split()[-1])
                self.skipped += batch.rows - inserted
            await conn.execute(
                f"INSERT INTO {self._wm} AS w (table_name, exported_until, rows, updated) "
                "VALUES ($1, $2, $3, now()) ON CONFLICT (table_name) DO UPDATE SET "
                "exported_until=EXCLUDED.exported_until, rows=w.rows + EXCLUDED.rows, "
                "updated=now()",
                self.table_key, datetime.fromtimestamp(batch.until, UTC), inserted)
        self.until = batch.until
        return inserted

    async def rewind(self, until: int) -> None:
        """Set the watermark back (a clock that was far ahead was corrected)."""
        assert self._conn is not None
        await self._conn.execute(
            f"UPDATE {self._wm} SET exported_until=$2, updated=now() WHERE table_name=$1",
            self.table_key, datetime.fromtimestamp(until, UTC))
        self.until = until

    async def close(self) -> None:
        """Close the connection (abruptly when it is already broken)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), 5)
        except Exception:
            conn.terminate()


def _when(t: int | None) -> str:
    return "not set" if t is None else datetime.fromtimestamp(t, UTC).isoformat()


def make_sink(settings: SqlExportSettings, data_dir: Path, store: Store,
              trust: Callable[[bool], ssl.SSLContext] | None = None) -> Sink:
    """The sink of ``config/sql_export``'s target (``trust``: see ``PostgresSink``)."""
    if settings.target == "postgresql":
        return PostgresSink(settings, trust)
    directory = Path(settings.directory) if settings.directory else data_dir / EXPORT_FOLDER
    return FileSink("csv" if settings.target == "csv" else "jsonl", directory, store)
