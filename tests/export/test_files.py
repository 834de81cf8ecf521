"""History export to daily CSV and JSON-lines files: content, resumption after a crash
between the append and the watermark, midnight, failures, and refused settings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from enerteg_tui.core.errors import Invalid
from enerteg_tui.core.export import COLUMNS
from enerteg_tui.core.permissions import SYSTEM
from tests.conftest import READONLY
from tests.history.conftest import DAY0, feed

from .conftest import Rig
from .test_postgres import CHANNELS, DEVICES, expected


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def as_tuples(rows: list[dict]) -> list[tuple]:
    from datetime import datetime

    return [(int(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp()),
             r["device"], r["component"], int(r["index"]), r["quantity"], float(r["min"]),
             float(r["avg"]), float(r["max"])) for r in rows]


async def test_csv_files_hold_every_flushed_block_once(rig: Rig) -> None:
    await rig.configure(enabled=True, target="csv")
    await feed(rig.history, rig.clock, 600, devices=DEVICES)
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "ok" and st.exported_until == DAY0 + 600
    path = rig.data_dir / "reports" / "export" / "enerteg-history-2026-01-01.csv"
    assert st.destination == f"{path.parent}/enerteg-history-YYYY-MM-DD.csv"
    header = path.read_text().splitlines()[0]
    assert header == ",".join(f'"{c}"' for c in COLUMNS)
    rows = csv_rows(path)
    assert len(rows) == 120 * CHANNELS
    first = rows[0]
    assert first["time"] == "2026-01-01T00:00:00Z" and first["unit"] in {"A", "V", "W", "kWh", "mA"}
    assert set(as_tuples(rows)) == await expected(rig)

    await feed(rig.history, rig.clock, 300, devices=DEVICES)     # appended, header once
    await rig.export.run_now(SYSTEM, flush=False)
    rows = csv_rows(path)
    assert len(rows) == len(set(map(tuple, (r.values() for r in rows)))) == 180 * CHANNELS
    assert path.read_text().count('"time"') == 1
    assert set(as_tuples(rows)) == await expected(rig)


async def test_a_crash_after_the_append_is_cut_back(rig: Rig) -> None:
    """Rows appended but the watermark not saved (a crash between the two): the next run
    cuts the file back to the recorded size and writes that batch again, once."""
    await rig.configure(enabled=True, target="csv")
    await feed(rig.history, rig.clock, 300, devices=DEVICES)
    await rig.export.run_now(SYSTEM, flush=False)
    path = rig.data_dir / "reports" / "export" / "enerteg-history-2026-01-01.csv"
    good = path.read_bytes()
    with path.open("ab") as f:                      # what the crashed run had appended
        f.write(good.splitlines(keepends=True)[1] * 5 + b'"2026-01-01T00:05:00Z","aa')
    await feed(rig.history, rig.clock, 300, devices=DEVICES)
    await rig.export.run_now(SYSTEM, flush=False)
    data = path.read_bytes()
    assert data.startswith(good)
    rows = csv_rows(path)
    assert len(rows) == 120 * CHANNELS
    assert set(as_tuples(rows)) == await expected(rig)


async def test_json_lines_and_a_file_per_day(rig: Rig, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "export"
    rig.clock.t = DAY0 - 300                         # 23:55 on 31 December
    await rig.configure(enabled=True, target="json", directory=str(out))
    await feed(rig.history, rig.clock, 600, devices=("aa01",))
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "ok"
    before = out / "enerteg-history-2025-12-31.jsonl"
    after = out / "enerteg-history-2026-01-01.jsonl"
    docs = [json.loads(line) for p in (before, after) for line in p.read_text().splitlines()]
    assert len(docs) == 120 * 6
    assert all(list(d) == list(COLUMNS) for d in docs)
    assert {d["time"][:10] for d in map(json.loads, before.read_text().splitlines())} == \
        {"2025-12-31"}
    assert set(as_tuples(docs)) == await expected(rig)


async def test_an_unwritable_folder_is_retried_and_reported(rig: Rig) -> None:
    await rig.configure(enabled=True, target="csv", directory="/proc/enerteg-export")
    await feed(rig.history, rig.clock, 300, devices=DEVICES)
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "retrying" and "/proc/enerteg-export" in st.last_error
    assert st.retry_in_s is not None
    text = (await rig.store.fetchone(
        "SELECT message FROM audit WHERE action='export.failed'"))[0]
    assert "/proc/enerteg-export" in text and "retries" in text
    await rig.configure(directory="")                 # fixed: the export catches up
    st = await rig.export.run_now(SYSTEM, flush=False)
    assert st.state == "ok" and st.exported_until == DAY0 + 300


async def test_run_now_needs_an_admin_and_an_enabled_export(rig: Rig) -> None:
    with pytest.raises(Invalid) as err:
        await rig.export.run_now(SYSTEM)
    assert "disabled" in str(err.value) and "enabled=true" in str(err.value)
    await rig.configure(enabled=True)
    from enerteg_tui.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        await rig.export.run_now(READONLY)
    assert rig.export.status(READONLY).enabled


@pytest.mark.parametrize(("changes", "words"), [
    ({"enabled": True, "target": "postgresql"}, ["dbHost", "required when target is postgresql"]),
    ({"dbSslMode": "sometimes"}, ["dbSslMode", "sometimes", "verify-full"]),
    ({"dbTable": "hist; DROP TABLE x"}, ["dbTable", "hist; DROP TABLE x", "SQL table name"]),
    ({"target": "excel"}, ["target", "excel", "postgresql"]),
    ({"intervalSeconds": 5}, ["intervalSeconds", "5", "60"]),
    ({"directory": "relative/dir"}, ["directory", "relative/dir", "absolute"]),
    ({"dbPort": 0, "dbPassword": "Hunter2-Secret"}, ["dbPort", "0"]),
    ({"dbTable": "x.enerteg_export_watermark"}, ["dbTable", "watermark table"]),
])
async def test_bad_settings_are_refused_and_change_nothing(
        rig: Rig, changes: dict, words: list[str]) -> None:
    before = rig.config.get("sql_export")
    with pytest.raises(Invalid) as err:
        await rig.config.put(SYSTEM, "sql_export", changes)
    msg = str(err.value)
    for word in words:
        assert word in msg, (word, msg)
    assert "Hunter2-Secret" not in msg
    assert rig.config.get("sql_export") == before
    assert rig.export.status(SYSTEM).state == "off"
