"""Fixtures for the export tests: a real PostgreSQL server, and an export service on a
history with a simulated clock.

The server is made once per session with ``initdb`` (from ``/usr/lib/postgresql/*/bin``,
the Debian ``postgresql`` package) in a 0755 temporary folder, run as user
``postgres`` when the tests run as root, listening on a free loopback port with its
socket folder inside the temporary folder and password (SCRAM) authentication over
TCP. Tests may stop and start it (``PgServer.stop`` / ``start``); every test gets a
fresh database. Without PostgreSQL installed those tests are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from enerteg_tui.core.audit import AuditLog
from enerteg_tui.core.configuration import Configuration
from enerteg_tui.core.events import EventBus
from enerteg_tui.core.export import ExportService
from enerteg_tui.core.history import HistoryService
from enerteg_tui.core.live import LiveState
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.store import Store
from tests.helpers import free_port, wait_for_blocking
from tests.history.conftest import DAY0, Clock
from tests.protocols.ssh.conftest import ssh_env  # noqa: F401  (fixture for the SFTP test)

PG_PASSWORD = "Pg-s3cret-Export"
"""Password of the ``postgres`` superuser of the test server."""


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


@dataclass
class PgServer:
    """A PostgreSQL server of the tests, in its own folder, stopped and started at will."""

    bindir: Path
    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    user_kw: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def init(self) -> None:
        """``initdb`` with password authentication over TCP."""
        pwfile = self.root / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        if os.geteuid() == 0:
            self.user_kw = {"user": "postgres", "group": "postgres", "extra_groups": []}
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                        f"--pwfile={pwfile}", "--auth-local=trust",
                        "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8",
                        "--locale=C.UTF-8"],
                       check=True, capture_output=True, cwd=self.root, **self.user_kw)
        pwfile.unlink()

    def start(self) -> None:
        """Run the server in the foreground (as a child) and wait until it answers."""
        assert self.proc is None
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (kept by the child)
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.root), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
             "-c", "shared_buffers=16MB", "-c", "max_connections=30"],
            stdout=log, stderr=log, cwd=self.root, start_new_session=True, **self.user_kw)
        log.close()
        wait_for_blocking(self._ready, timeout=30, step=0.1,
                          what=lambda: "PostgreSQL did not start:\n"
                          + (self.root / "server.log").read_text()[-2000:])

    def _ready(self) -> bool:
        """``pg_isready``; raises when the postmaster has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError("PostgreSQL exited:\n"
                               + (self.root / "server.log").read_text()[-2000:])
        return subprocess.run([str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1",
                               "-p", str(self.port)], check=False).returncode == 0

    def stop(self, *, crash: bool = False) -> None:
        """Fast shutdown (SIGINT), or a crash: SIGKILL to the postmaster and every backend
        (its process group), leaving crash recovery to the next start."""
        if self.proc is None:
            return
        if crash:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        self.proc = None

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                     password=PG_PASSWORD, database=database)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (skips the test when PostgreSQL is not installed)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                    "(install the postgresql package)")
    root = Path(tempfile.mkdtemp(prefix="enerteg-pg-"))
    os.chmod(root, 0o755)
    server = PgServer(bindir, root, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PgDatabase:
    """A fresh database on the test server, and the settings that point the export at it."""

    server: PgServer
    name: str

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"enabled": True, "target": "postgresql", "dbHost": "127.0.0.1",
                "dbPort": self.server.port, "dbName": self.name, "dbUser": "postgres",
                "dbPassword": PG_PASSWORD, "dbSslMode": "disable", **extra}

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.server.connect(self.name)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()


@pytest.fixture
async def pg(pg_server: PgServer, request: pytest.FixtureRequest) -> AsyncIterator[PgDatabase]:
    """A fresh database for this test (the server is running again afterwards)."""
    if pg_server.proc is None:
        pg_server.start()
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    conn = await pg_server.connect()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield PgDatabase(pg_server, name)
    if pg_server.proc is None:
        await asyncio.to_thread(pg_server.start)


@dataclass
class Rig:
    """A history service on a simulated clock, real settings and audit, and the export."""

    clock: Clock
    history: HistoryService
    config: Configuration
    audit: AuditLog
    store: Store
    export: ExportService
    data_dir: Path

    async def configure(self, **changes: Any) -> None:
        """``put config/sql_export`` and wait until the export took the change."""
        await self.config.put(SYSTEM, "sql_export", changes)
        await asyncio.sleep(0.05)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """History + export on ``tmp_path``; retries after 50 ms so outages resolve fast."""
    clock = Clock(DAY0)
    events = EventBus()
    store = await Store.open(tmp_path / "enerteg.db")
    audit = AuditLog(store, events, clock=clock)
    config = Configuration(store, audit, events, clock=clock)
    await config.load()
    history = HistoryService(tmp_path, LiveState(), lambda: config.get("core"), clock=clock)
    await history.open()
    export = ExportService(config, history, LiveState(), store, audit, events, tmp_path,
                           clock=clock, retry_min_s=0.05, retry_max_s=0.2)
    await export.start()
    yield Rig(clock, history, config, audit, store, export, tmp_path)
    await export.stop()
    if history.db is not None:
        await history.db.close()
    await store.close()
