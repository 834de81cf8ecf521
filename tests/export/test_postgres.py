"""History export to a real PostgreSQL server: exact catch-up after an outage and after a
server crash mid-export, restart on a settings change, failures reported once and
without the password. Time is simulated (tests/history's clock and readings)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from enerteg_tui.core.export import COLUMNS, WATERMARK_TABLE, table_ddl
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.quantities import Component
from tests.helpers import wait_for
from tests.history.conftest import DAY0, feed

from .conftest import PG_PASSWORD, PgDatabase, Rig

DEVICES = ("aa01", "bb02")
CHANNELS = 12
"""Channels of the two test PDUs (tests/history reading(): 6 each)."""


async def expected(rig: Rig) -> set[tuple]:
    """Every flushed 5-second block in the history, as the rows the export must hold."""
    db = rig.history.db
    assert db is not None and rig.history.flushed_until is not None
    keys = list(db.channels)
    got = await rig.history.read_many(keys, 0, 0, rig.history.flushed_until)
    return {(int(p.t), k[0], Component(k[1]).word, k[2], k[3], p.min, p.avg, p.max)
            for k, points in got.items() for p in points}


async def exported(pg: PgDatabase, table: str = "enerteg_history") -> list[tuple]:
    rows = await pg.fetch(f"SELECT time, device, component, index, quantity, min, avg, max "
                          f"FROM {table} ORDER BY time, device, component, index, quantity")
    return [(int(r["time"].timestamp()), *tuple(r)[1:]) for r in rows]


async def watermark(pg: PgDatabase, table: str = "enerteg_history",
                    wm: str = WATERMARK_TABLE) -> tuple[float, int]:
    row = (await pg.fetch(f"SELECT exported_until, rows FROM {wm} WHERE table_name=$1",
                          table))[0]
    return row["exported_until"].timestamp(), row["rows"]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line the controller writes (INFO and up: the log file's level) and every
    line of its own modules at any level. (aiosqlite's DEBUG lines echo SQL parameters,
    settings included; the controller never logs at that level to its file.)"""
    return "\n".join(r.getMessage() for r in caplog.records
                     if r.levelno >= logging.INFO or r.name.startswith("enerteg_tui"))


async def audit_actions(rig: Rig, prefix: str = "export.") -> list[str]:
    rows = await rig.store.fetchall("SELECT action FROM audit WHERE action LIKE ? ORDER BY id",
                                    (prefix + "%",))
    return [r[0] for r in rows]


async def test_export_catches_up_exactly_after_the_server_was_down(
        rig: Rig, pg: PgDatabase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await rig.configure(**pg.settings())
    await feed(rig.history, rig.clock, 900, devices=DEVICES)   # flushes at 300, 600, 900
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "ok", st.last_error
    assert st.exported_until == rig.history.flushed_until == DAY0 + 900
    first = await exported(pg)
    assert len(first) == 180 * CHANNELS
    assert set(first) == await expected(rig)

    pg.server.stop()
    await feed(rig.history, rig.clock, 600, devices=DEVICES)   # polling and flushing go on
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "retrying"
    assert st.last_error.endswith(")") and PG_PASSWORD not in st.last_error
    assert st.exported_until == DAY0 + 900
    await feed(rig.history, rig.clock, 600, devices=DEVICES)   # retries keep failing meanwhile
    await asyncio.to_thread(pg.server.start)
    await wait_for(lambda: rig.export.status(SYSTEM).exported_until == DAY0 + 2100, 20)

    rows = await exported(pg)
    assert len(rows) == len(set(rows)) == 420 * CHANNELS
    assert set(rows) == await expected(rig)
    assert await watermark(pg) == (DAY0 + 2100, len(rows))   # every row inserted once
    assert rig.export.sink is not None and rig.export.sink.skipped == 0
    assert await audit_actions(rig) == ["export.failed", "export.resumed"]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING
                and r.name.startswith("enerteg_tui.core.export")]
    assert len(warnings) == 1 and "failed" in warnings[0].getMessage()
    assert PG_PASSWORD not in logged(caplog)


async def test_a_server_crash_mid_export_neither_loses_nor_duplicates(
        rig: Rig, pg: PgDatabase) -> None:
    rig.export.batch_rows = CHANNELS          # one block time per transaction: many commits
    await feed(rig.history, rig.clock, 3600, devices=DEVICES)
    await rig.configure(**pg.settings())
    run = asyncio.create_task(rig.export.run_now(SYSTEM, flush=False))
    await wait_for(lambda: (rig.export.status(SYSTEM).exported_until or 0) >= DAY0 + 600, 30,
                   step=0.002)
    await asyncio.to_thread(pg.server.stop, crash=True)   # kill -9 the whole server
    st = await run
    assert st.state == "retrying" and DAY0 + 600 <= (st.exported_until or 0) < DAY0 + 3600
    await asyncio.to_thread(pg.server.start)              # crash recovery, then catch-up
    await wait_for(lambda: rig.export.status(SYSTEM).exported_until == DAY0 + 3600, 60)
    rows = await exported(pg)
    assert len(rows) == len(set(rows)) == 720 * CHANNELS
    assert set(rows) == await expected(rig)
    assert await watermark(pg) == (DAY0 + 3600, len(rows))
    assert rig.export.sink is not None and rig.export.sink.skipped == 0


async def test_rows_carry_names_units_and_the_documented_layout(rig: Rig, pg: PgDatabase) -> None:
    await feed(rig.history, rig.clock, 300, devices=("aa01",))
    await rig.configure(**pg.settings())
    await rig.export.run_now(SYSTEM, flush=False)
    cols = await pg.fetch("SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_name='enerteg_history' ORDER BY ordinal_position")
    assert tuple(c["column_name"] for c in cols) == COLUMNS
    assert cols[0]["data_type"] == "timestamp with time zone"
    pk = await pg.fetch("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
                        "a.attrelid=i.indrelid AND a.attnum = ANY(i.indkey) "
                        "WHERE i.indrelid='enerteg_history'::regclass AND i.indisprimary")
    assert {r["attname"] for r in pk} == {"time", "device", "component", "index", "quantity"}
    row = (await pg.fetch("SELECT * FROM enerteg_history WHERE quantity='voltage' "
                          "ORDER BY time LIMIT 1"))[0]
    assert (row["device"], row["device_name"], row["component"], row["index"], row["unit"]) == \
        ("aa01", "aa01", "input", 1, "V")
    assert row["min"] <= row["avg"] <= row["max"]
    assert row["time"].timestamp() == DAY0


async def test_a_settings_change_restarts_the_target(rig: Rig, pg: PgDatabase) -> None:
    await feed(rig.history, rig.clock, 600, devices=DEVICES)
    await rig.configure(**pg.settings())
    await rig.export.run_now(SYSTEM, flush=False)
    first = await exported(pg)
    conn = await pg.server.connect(pg.name)
    await conn.execute("CREATE SCHEMA energy")
    await conn.close()
    await rig.configure(dbTable="energy.pdu_history")          # a new table starts from scratch
    await feed(rig.history, rig.clock, 300, devices=DEVICES)
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.destination.endswith("table energy.pdu_history") and st.state == "ok"
    moved = await exported(pg, "energy.pdu_history")
    assert len(moved) == 180 * CHANNELS and set(moved) == await expected(rig)
    assert await watermark(pg, "energy.pdu_history", f"energy.{WATERMARK_TABLE}") == \
        (DAY0 + 900, len(moved))
    assert await exported(pg) == first                        # the old table was left alone
    await rig.configure(enabled=False)
    assert rig.export.status(SYSTEM).state == "off"


async def test_a_bad_password_is_reported_once_and_never_shown(
        rig: Rig, pg: PgDatabase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-passw0rd-xyz"
    await feed(rig.history, rig.clock, 300, devices=DEVICES)
    await rig.configure(**pg.settings(dbPassword=wrong))
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "retrying"
    assert "password authentication failed" in st.last_error
    await asyncio.sleep(0.5)                                  # several retries, all failing
    await rig.configure(dbPassword=PG_PASSWORD)
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "ok" and st.exported_until == DAY0 + 300
    audit = await rig.store.fetchall("SELECT action, message, old, new FROM audit")
    texts = [logged(caplog), str(st.as_dict()), repr(audit)]
    for secret in (wrong, PG_PASSWORD):
        assert all(secret not in t for t in texts)
    failed = [m for a, m, _, _ in audit if a == "export.failed"]
    assert len(failed) == 1 and "postgres@127.0.0.1" in failed[0]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING
                and r.name.startswith("enerteg_tui.core.export")]) == 1


async def test_history_at_the_ends_of_the_range_is_exported_once(rig: Rig, pg: PgDatabase) -> None:
    """Flushes not on period boundaries and exports in between: nothing twice, nothing lost."""
    await rig.configure(**pg.settings())
    for _ in range(7):
        await feed(rig.history, rig.clock, 130, devices=DEVICES, flush_every=10**9)
        await rig.history.flush()
        await rig.export.run_now(SYSTEM, flush=False)
    assert rig.history.flushed_until == DAY0 + 910
    rows = await exported(pg)
    assert len(rows) == len(set(rows)) == 182 * CHANNELS
    assert set(rows) == await expected(rig)


async def test_a_user_without_create_rights_exports_into_prepared_tables(
        rig: Rig, pg: PgDatabase) -> None:
    """Least privilege: an administrator made the tables from the documented DDL and granted
    only what the export needs; the export does not try to create them again."""
    conn = await pg.server.connect(pg.name)
    try:
        await conn.execute("DROP ROLE IF EXISTS exporter")
        await conn.execute("CREATE ROLE exporter LOGIN PASSWORD 'Exp0rter-pw'")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for _, ddl in table_ddl("enerteg_history"):
            await conn.execute(ddl)
        await conn.execute("GRANT SELECT, INSERT ON enerteg_history TO exporter")
        await conn.execute(f"GRANT SELECT, INSERT, UPDATE ON {WATERMARK_TABLE} TO exporter")
    finally:
        await conn.close()
    await feed(rig.history, rig.clock, 300, devices=DEVICES)
    await rig.configure(**pg.settings(dbUser="exporter", dbPassword="Exp0rter-pw"))
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "ok", st.last_error
    assert set(await exported(pg)) == await expected(rig)
    await rig.configure(dbTable="other_history")          # this one it may not create
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "retrying" and "permission denied" in st.last_error
