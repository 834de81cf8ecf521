"""The controller's database: one SQLite file in WAL mode, changed by numbered migrations.

Settings, users, DC structure, known devices, rules, alarms and the audit log live
here; history gets its own file. Every multi-row change runs in one ``transaction()``
so a kill -9 at any moment leaves either the old or the new state, never half of it,
and the database always opens (WAL, ``synchronous=NORMAL`` is durable against a
crash of this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from .errors import Invalid

__all__ = ["Store", "MIGRATIONS", "open_data_dir"]

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            ts INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            user TEXT NOT NULL,
            face TEXT NOT NULL,
            address TEXT NOT NULL,
            action TEXT NOT NULL,
            object TEXT NOT NULL,
            old TEXT,
            new TEXT,
            message TEXT NOT NULL,
            severity TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'Open',
            comments TEXT NOT NULL DEFAULT '[]',
            device TEXT
        );
        CREATE INDEX audit_ts ON audit(ts);
        CREATE INDEX audit_sev_state ON audit(severity, state, ts);
        CREATE TABLE dc_element (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('room', 'row', 'rack')),
            name TEXT NOT NULL,
            parent_id INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            UNIQUE (parent_id, kind, name)
        );
        CREATE TABLE device (
            hex_id TEXT PRIMARY KEY,
            serial TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            rack_id INTEGER REFERENCES dc_element(id),
            info TEXT NOT NULL DEFAULT '{}'
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE user (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL,
            roles TEXT NOT NULL,
            must_change INTEGER NOT NULL DEFAULT 0,
            keys TEXT NOT NULL DEFAULT '[]',
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE TABLE shell_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user TEXT NOT NULL,
            line TEXT NOT NULL,
            ts REAL NOT NULL
        );
        CREATE INDEX shell_history_user ON shell_history(user, id)
        """,
    ),
    (
        3,
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE rule (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            data TEXT NOT NULL,
            is_default INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE TABLE alarm (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            device TEXT NOT NULL,
            component TEXT NOT NULL,
            idx INTEGER NOT NULL,
            quantity TEXT NOT NULL,
            rule_id INTEGER,
            rule_name TEXT NOT NULL,
            severity TEXT NOT NULL,
            peak_severity TEXT NOT NULL,
            direction TEXT NOT NULL,
            active INTEGER NOT NULL,
            start REAL NOT NULL,
            end REAL,
            value REAL,
            peak REAL,
            threshold REAL,
            text TEXT NOT NULL,
            acked INTEGER NOT NULL DEFAULT 0,
            ack_user TEXT,
            ack_ts REAL,
            ack_comment TEXT,
            updated REAL NOT NULL
        );
        CREATE UNIQUE INDEX alarm_one_active ON alarm(channel) WHERE active = 1;
        CREATE INDEX alarm_open ON alarm(active, acked);
        CREATE INDEX alarm_device ON alarm(device, start);
        CREATE INDEX alarm_start ON alarm(start)
        """,
    ),
    (
        4,
        """
        CREATE TABLE password_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            hash TEXT NOT NULL,
            ts REAL NOT NULL
        );
        CREATE INDEX password_history_name ON password_history(name, id)
        """,
    ),
    (
        5,
        """
        CREATE TABLE firmware_job (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            version TEXT NOT NULL,
            source TEXT NOT NULL,
            user TEXT NOT NULL,
            forced INTEGER NOT NULL DEFAULT 0,
            auto INTEGER NOT NULL DEFAULT 0,
            started REAL NOT NULL,
            state TEXT NOT NULL,
            finished REAL,
            image BLOB NOT NULL
        );
        CREATE TABLE firmware_step (
            job_id INTEGER NOT NULL REFERENCES firmware_job(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            hex_id TEXT NOT NULL,
            name TEXT NOT NULL,
            position INTEGER NOT NULL,
            controller INTEGER NOT NULL DEFAULT 0,
            from_version TEXT NOT NULL,
            state TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (job_id, seq)
        )
        """,
    ),
]
"""Numbered schema migrations; ``PRAGMA user_version`` records the last applied."""


class Store:
    """An open controller database.

    Use ``await Store.open(path)``; call ``close()`` at shutdown. Reads go through
    ``fetchall``/``fetchone``; writes through ``execute`` (one statement, committed) or
    ``transaction()`` (several statements, all or nothing).
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._tx_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, migrations: Sequence[tuple[int, str]] = MIGRATIONS) -> Store:
        """Open (creating if needed) and migrate the database at ``path``."""
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            store = cls(conn, path)
            await store._migrate(migrations)
        except BaseException:
            await conn.close()
            raise
        return store

    async def _migrate(self, migrations: Sequence[tuple[int, str]]) -> None:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for number, script in migrations:
            if number <= current:
                continue
            log.info("database %s: applying migration %d", self.path.name, number)
            statements = [s.strip() for s in script.split(";") if s.strip()]
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in statements:
                    await self._conn.execute(stmt)
                await self._conn.execute(f"PRAGMA user_version={int(number)}")
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise

    @property
    def version(self) -> int:
        """Highest migration number known to this build."""
        return max(n for n, _ in MIGRATIONS)

    async def close(self) -> None:
        """Checkpoint the WAL and close."""
        with contextlib.suppress(Exception):
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await self._conn.close()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one writing statement in its own transaction; returns lastrowid."""
        async with self.transaction() as tx:
            cur = await tx.execute(sql, params)
            return int(cur.lastrowid or 0)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a query."""
        async with self._conn.execute(sql, params) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        async with self._conn.execute(sql, params) as cur:
            row = await cur.fetchone()
            return tuple(row) if row is not None else None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back if the block raises.

        Transactions on the one connection are serialised by a lock, so concurrent
        coroutines never nest a BEGIN.
        """
        async with self._tx_lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many rows in one transaction."""
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)


def open_data_dir(path: Path) -> Path:
    """Create the data directory if needed and check it is usable.

    Raises:
        Invalid: naming the directory and why it cannot be used.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Invalid(
            f"data directory {str(path)!r} cannot be created: {exc.strerror}",
            thing="--data-dir", value=str(path), allowed="a writable directory",
        ) from None
    if not path.is_dir():
        raise Invalid(
            f"data directory {str(path)!r} is not a directory",
            thing="--data-dir", value=str(path), allowed="a writable directory",
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise Invalid(
            f"data directory {str(path)!r} is not writable",
            thing="--data-dir", value=str(path), allowed="a writable directory",
        )
    return path
