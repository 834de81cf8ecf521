"""Reports of all measured values over OpenSSH (issue 19 item 5): ``report`` writes an
XLSX with one sheet per measured kind (native chart each) and a CSV whose measurement
table is in long format; fetched back with OpenSSH's sftp."""

from __future__ import annotations

import csv
import zipfile

import openpyxl
import pytest

from tests.helpers import wait_for

from .conftest import SSH_OPTS, SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


async def test_report_xlsx_and_csv_hold_measured_values(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    dev = c.live.ordered()[0]
    key = (dev.hex_id, "i", 1, "voltage")

    async def blocks() -> bool:
        return bool(await c.history.read(key, 0, c.clock() - 600, c.clock() + 10))

    await wait_for(blocks, timeout=60)          # the history has a 5-second block of it
    import datetime as dt
    start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    r = await ssh_env.ssh("oper", f"report device {dev.hex_id} --from {start} --format xlsx; "
                                  f"report device {dev.hex_id} --from {start} --format csv")
    assert r.code == 0, r.err
    xlsx_path, csv_path = r.out.split()
    local = ssh_env.tmp / "r.xlsx"
    got = await ssh_env.tool("scp", "-P", str(ssh_env.port), *SSH_OPTS,
                             f"oper@127.0.0.1:{xlsx_path}", str(local), timeout=60)
    assert got.code == 0, got.err
    wb = openpyxl.load_workbook(local)
    assert {"Voltage", "Current", "Power factor"} <= set(wb.sheetnames)
    ws = wb["Voltage"]
    assert ws.cell(2, 3).value == "L1" and ws.cell(2, 5).value == "V"
    vmin, vavg, vmax = (ws.cell(2, k).value for k in (6, 7, 8))
    assert 180 < vmin <= vavg <= vmax < 260
    with zipfile.ZipFile(local) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) >= 2 + 3
    rows = list(csv.reader((c.paths.root / csv_path.lstrip("/")).open(encoding="utf-8")))
    head = rows.index(["Kind", "Hex ID", "PDU", "Part", "Quantity", "Unit", "Statistic", "Value"])
    volt = [row for row in rows[head + 1:] if row[0] == "Voltage" and row[3] == "L1"]
    assert [row[6] for row in volt] == ["minimum", "average", "maximum"]
    assert float(volt[0][7]) == vmin and float(volt[2][7]) == vmax


async def test_a_czech_session_writes_a_czech_workbook_and_an_english_csv(ssh_env: SSHEnv) -> None:
    """The workbook is read by people: a Czech session's has Czech sheet names, headings,
    labels and chart titles (the charts still reference their sheets); the CSV is read by
    programs and keeps its English headings in any language (docs/language.md)."""
    from enerteg_tui.core.permissions import SYSTEM

    c = ssh_env.controller
    await c.users.prefs.set(SYSTEM, "oper", {"language": "cs"})
    dev = c.live.ordered()[0]
    key = (dev.hex_id, "i", 1, "voltage")

    async def blocks() -> bool:
        return bool(await c.history.read(key, 0, c.clock() - 600, c.clock() + 10))

    await wait_for(blocks, timeout=60)
    import datetime as dt
    start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    r = await ssh_env.ssh("oper", f"report device {dev.hex_id} --from {start} --format xlsx; "
                                  f"report device {dev.hex_id} --from {start} --format csv")
    assert r.code == 0, r.err
    xlsx_path, csv_path = r.out.split()
    wb = openpyxl.load_workbook(c.paths.root / xlsx_path.lstrip("/"))
    assert {"Souhrn", "Zařízení", "Zásuvky", "Alarmy", "Napětí", "Proud", "Účiník"} <= set(wb.sheetnames)
    assert "Summary" not in wb.sheetnames and "Voltage" not in wb.sheetnames
    labels = [row[0].value for row in wb["Souhrn"].iter_rows(max_col=1)]
    assert "Energie celkem (kWh)" in labels and "Rozlišení historie (s)" in labels
    assert [c.value for c in wb["Zařízení"][1]][:4] == ["Hex ID", "Název", "Umístění", "Energie (kWh)"]
    assert [c.value for c in wb["Napětí"][1]][5:8] == ["Minimum", "Průměr", "Maximum"]
    with zipfile.ZipFile(c.paths.root / xlsx_path.lstrip("/")) as z:
        chart_xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart"))
    assert "Napětí podle kanálu (V)" in chart_xml and "Zařízení" in chart_xml
    rows = list(csv.reader((c.paths.root / csv_path.lstrip("/")).open(encoding="utf-8")))
    assert ["Kind", "Hex ID", "PDU", "Part", "Quantity", "Unit", "Statistic", "Value"] in rows
    assert rows[0][0] == "Report" and ["Hex ID", "PDU", "Outlet", "Energy (kWh)"] in rows
