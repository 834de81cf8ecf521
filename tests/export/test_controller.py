"""The export and the logs archive in a running controller: settings through the topic
tree, the shell's ``export`` and ``logs`` commands, and ``/logs`` over OpenSSH's sftp."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tarfile
from pathlib import Path

from enerteg_tui.core.audit import AuditLog, AuditState, Severity
from enerteg_tui.core.events import EventBus
from enerteg_tui.core.export import ARCHIVE_NAME, LogArchive
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.store import Store
from tests.conftest import ADMIN, READONLY
from tests.protocols.ssh.conftest import SSH_OPTS, SSHEnv
from tests.protocols.test_shell_session import run

from .conftest import PgDatabase


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers()}


async def test_the_controller_exports_its_pdus_to_csv(make_controller) -> None:
    c = await make_controller(pdus=2, interval=0.2)
    code, _, err = await run(c, "put /config/sql_export enabled=true target=csv")
    assert code == 0, err
    rows: list[dict[str, str]] = []
    folder = c.data_dir / "reports" / "export"
    names = {d.hex_id: d.info.display_name for d in c.live.ordered()}
    for _ in range(60):     # until blocks holding both PDUs have closed and been flushed
        code, out, err = await run(c, "format json; export now")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["state"] == "ok"
        files = sorted(folder.glob("enerteg-history-*.csv"))
        rows = [r for f in files for r in csv.DictReader(f.open(newline=""))]
        if rows and {r["device"] for r in rows} >= set(names):
            break           # (a loaded machine may close a first block with one PDU only)
        await asyncio.sleep(0.25)
    assert rows, "nothing exported within 15 s"
    assert doc["rows"] == len(rows)     # rows exported since the controller started
    assert {r["device"] for r in rows} == set(names)
    assert all(r["device_name"] == names[r["device"]] for r in rows)
    assert {r["component"] for r in rows} >= {"input", "total"}
    volts = [r for r in rows if r["quantity"] == "voltage"]
    assert volts and all(r["unit"] == "V" and 180 < float(r["avg"]) < 260 for r in volts)

    code, out, err = await run(c, "export status")
    assert code == 0 and "Destination:" in out and "reports/export" in out and "ok" in out
    code, _, err = await run(c, "export now", who=READONLY)
    assert code != 0 and ("readonly" in err.lower() or "permission" in err.lower()), err


async def test_the_controller_exports_to_postgresql(make_controller, pg: PgDatabase) -> None:
    c = await make_controller(pdus=2, interval=0.2)
    await c.config.put(SYSTEM, "sql_export", pg.settings())
    count = 0
    for _ in range(60):
        st = await c.export.run_now(ADMIN)
        assert st.state == "ok", st.last_error
        count = (await pg.fetch("SELECT count(*) AS n FROM enerteg_history"))[0]["n"]
        if count:
            break
        await asyncio.sleep(0.25)
    assert count and count == st.rows
    code, out, _ = await run(c, "format json; export status", who=READONLY)
    doc = json.loads(out)
    assert code == 0 and doc["destination"].startswith("postgresql://postgres@127.0.0.1:")
    assert pg.settings()["dbPassword"] not in out


async def test_logs_archive_holds_the_logs_and_the_audit_log(make_controller) -> None:
    c = await make_controller(pdus=1, log_file=True)
    await c.audit.record(SYSTEM, "test.marker", "controller", "Marker entry for the archive",
                         severity=Severity.WARNING)   # warnings reach the log file too
    code, out, err = await run(c, "logs archive", who=READONLY)
    assert code == 1 and "administer" in err          # it holds the audit log (issue 14)
    code, out, err = await run(c, "logs archive", who=ADMIN)
    assert code == 0, err
    assert out.startswith(f"/logs/{ARCHIVE_NAME} (")
    got = members((c.data_dir / "logs" / ARCHIVE_NAME).read_bytes())
    assert set(got) >= {"enerteg-logs/enerteg.log", "enerteg-logs/audit.csv",
                        "enerteg-logs/audit.jsonl", "enerteg-logs/manifest.json"}
    assert f"enerteg-logs/{ARCHIVE_NAME}" not in got
    assert b"Marker entry for the archive" in got["enerteg-logs/enerteg.log"]
    audit = list(csv.DictReader(io.StringIO(got["enerteg-logs/audit.csv"].decode())))
    assert "controller.start" in [a["action"] for a in audit]
    assert any(a["message"] == "Marker entry for the archive" for a in audit)
    lines = [json.loads(x) for x in got["enerteg-logs/audit.jsonl"].splitlines()]
    assert len(lines) == len(audit) and lines[-1]["action"] == "test.marker"
    manifest = json.loads(got["enerteg-logs/manifest.json"])
    assert manifest["auditEntries"] == len(audit) and "enerteg.log" in manifest["logFiles"]


async def test_sftp_serves_a_fresh_logs_archive(ssh_env: SSHEnv, tmp_path: Path) -> None:
    c = ssh_env.controller
    await c.audit.record(SYSTEM, "test.marker", "controller", "Made just before the download")
    batch = tmp_path / "batch"
    batch.write_text(f"ls /logs\nget /logs/{ARCHIVE_NAME} {tmp_path}/logs.tar.gz\n")
    r = await ssh_env.tool("sftp", "-P", str(ssh_env.port), "-o", "BatchMode=no", *SSH_OPTS,
                           "-b", str(batch), "boss@127.0.0.1")
    assert r.code == 0, r.err
    assert ARCHIVE_NAME in r.out
    got = members((tmp_path / "logs.tar.gz").read_bytes())
    audit = got["enerteg-logs/audit.csv"].decode()
    assert "Made just before the download" in audit
    assert "boss" in audit                                  # the sftp login itself


async def test_the_archive_is_made_again_only_when_something_changed(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "enerteg.db")
    try:
        audit = AuditLog(store, EventBus())
        logs = tmp_path / "logs"
        logs.mkdir()
        (logs / "enerteg.log").write_text("line one\n")
        archive = LogArchive(logs, store, fresh_s=0)
        first = await archive.refresh(ADMIN)
        stamp = first.path.stat().st_mtime_ns
        assert await archive.refresh(ADMIN) is first          # nothing changed
        assert first.path.stat().st_mtime_ns == stamp
        entry = await audit.record(SYSTEM, "test.marker", "controller", "A new entry")
        second = await archive.refresh(ADMIN)
        assert second is not first and second.audit_entries == first.audit_entries + 1
        await audit.set_state(ADMIN, entry.id, AuditState.DONE)
        third = await archive.refresh(ADMIN)                   # a state change counts
        assert third is not second
        assert b"Done" in members(third.path.read_bytes())["enerteg-logs/audit.csv"]
        with (logs / "enerteg.log").open("a") as f:
            f.write("line two\n")
        fourth = await archive.refresh(ADMIN)
        assert b"line two" in members(fourth.path.read_bytes())["enerteg-logs/enerteg.log"]
    finally:
        await store.close()
