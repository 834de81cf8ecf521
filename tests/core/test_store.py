"""Storage: WAL, migrations, all-or-nothing transactions, and kill -9 during writes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from enerteg_tui.core.errors import Invalid
from enerteg_tui.core.store import MIGRATIONS, Store, open_data_dir


async def test_open_migrates_and_uses_wal(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "x.db")
    assert (await store.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert (await store.fetchone("PRAGMA user_version"))[0] == max(n for n, _ in MIGRATIONS)
    tables = {r[0] for r in await store.fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"settings", "audit", "dc_element", "device"} <= tables
    await store.close()
    store = await Store.open(tmp_path / "x.db")  # re-open: migrations not re-applied
    await store.close()


async def test_transaction_is_all_or_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "x.db")
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO settings VALUES ('a', 1, '{}')")
            raise RuntimeError("boom")
    assert await store.fetchall("SELECT * FROM settings") == []
    await store.close()


def test_unusable_data_dir(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(Invalid) as err:
        open_data_dir(f)
    assert str(f) in str(err.value)


WRITER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from enerteg_tui.controller import Controller, ControllerOptions
    from enerteg_tui.core.permissions import Principal, Role

    async def main():
        c = Controller(ControllerOptions(data_dir=Path(sys.argv[1]), simulate=4, interval=0.05,
                                         ssh_enabled=False,
                                         bus_latency_ms=0))
        await c.start()
        admin = Principal("admin", frozenset({Role.ADMIN}), face="test")
        i = 0
        while True:
            i += 1
            await c.topics.put(admin, "config/syslog", {"serverAddress": f"host{i}.example",
                                                         "serverPort": i % 60000 + 1})
            await c.topics.put(admin, "config/snmp_agent", {"snmpName": f"name{i}"})
            if i == 1:  # the kill comes after at least one committed change, however loaded
                print("writing", flush=True)
    asyncio.run(main())
""")


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.1])
def test_kill_9_during_writes_leaves_a_consistent_database(tmp_path: Path, delay: float) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(data / "enerteg.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = dict(conn.execute("SELECT name, data FROM settings").fetchall())
    syslog = json.loads(rows["syslog"])
    n = int(syslog["serverAddress"].removeprefix("host").removesuffix(".example"))
    assert syslog["serverPort"] == n % 60000 + 1  # both keys of one put, never half
    # every settings change has its audit entry (same transaction)
    changes = conn.execute("SELECT COUNT(*) FROM audit WHERE action='settings.change'").fetchone()[0]
    assert changes >= 1
    conn.close()
