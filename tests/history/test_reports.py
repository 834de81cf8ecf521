"""Reports (issue 7): figures equal the history's own query results; CSV; the Excel
workbook opens with openpyxl and its native charts reference the Devices sheet; the
shell ``report`` command, its errors and exit codes, and a readonly user."""

from __future__ import annotations

import csv
import json
import datetime as dt
import math
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from enerteg_tui.core.errors import Invalid, PermissionDenied
from enerteg_tui.core.history.service import Point
from enerteg_tui.core.permissions import Principal
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.reports import (counter_kwh, iso, parse_time,
                                      write_csv, write_xlsx)
from enerteg_tui.core.structure import Kind
from enerteg_tui.protocols.shell.session import ShellSession
from tests.conftest import ADMIN, READONLY
from tests.helpers import wait_for

SPAN = 2 * 3600
"""Two simulated hours of readings (5-second history tier)."""
OUTLETS = 3


def _readings(t: float, n: int) -> dict:
    """Deterministic readings of PDU number ``n`` at time ``t`` (energy counters rise)."""
    cur = [3 + n + math.sin(t / 900 + p) + p / 2 for p in range(3)]
    power = sum(230 * c for c in cur)
    groups: dict = {
        (Component.TOTAL, 0): {"energy": 100 * n + t / 3600 * (1 + n), "activePower": power,
                               "residualCurrent": 2 + n + math.cos(t / 600)},
    }
    for p in range(3):
        groups[(Component.INPUT, p + 1)] = {"current": cur[p], "activePower": 230 * cur[p],
                                            "voltage": 230 + p + 2 * math.sin(t / 700 + n),
                                            "powerFactor": 0.9 + 0.05 * math.sin(t / 500)}
    for o in range(1, OUTLETS + 1):
        groups[(Component.OUTLET, o)] = {"energy": 10 * o + t / 3600 * 0.1 * o,
                                         "current": 0.5 * o + 0.1 * math.sin(t / 300)}
    groups[(Component.SENSOR, 1)] = {"temperature": 24 + n + math.sin(t / 1200)}
    return groups


@pytest.fixture
async def site(make_controller):
    """A controller on 3 PDUs: two in rack "Rack A" (Hall 1 / Row 1), an alarm raised on
    the first, then the poller stopped and two future hours of history fed in."""
    c = await make_controller(pdus=3, interval=0.1)
    devs = [d.hex_id for d in c.live.ordered()]
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall 1")
    row = await c.structure.create(ADMIN, Kind.ROW, "Row 1", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "Rack A", row.id)
    for h in devs[:2]:
        await c.structure.assign(ADMIN, h, rack.id)
    alarm_from = c.clock() - 1
    await c.topics.put(ADMIN, f"sim/{devs[0]}", {"reachable": False})
    await wait_for(lambda: any(a.device == devs[0] for a in c.alarms.active()), timeout=15)
    await c.alarms.flush()
    await c.poller.stop()
    t0 = (c.clock() // 3600 + 2) * 3600  # an hour boundary in the future
    h = c.history
    t = t0
    while t < t0 + SPAN:
        for n, hex_id in enumerate(devs):
            h.collector.ingest(hex_id, _readings(t, n), t)
        t += 5
        if int(t) % 300 == 0:
            await h.flush(now=t)
    await h.flush(now=t + 10)
    return c, devs, t0, alarm_from


async def test_figures_equal_the_history_queries(site) -> None:
    c, devs, t0, _ = site
    start, end = t0 + 600, t0 + SPAN - 600
    rep = await c.reports.build(READONLY, "site", "", start, end)
    assert rep.resolution_s == 5 and [d.hex_id for d in rep.devices] == devs
    for n, row in enumerate(rep.devices):
        e = await c.history.read((row.hex_id, "t", 0, "energy"), 0, start, end)
        assert row.kwh == pytest.approx(e[-1].max - e[0].min, abs=1e-6)
        assert row.kwh == pytest.approx((end - start - 5) / 3600 * (1 + n), abs=0.02)
        p = await c.history.read((row.hex_id, "t", 0, "activePower"), 0, start, end)
        assert row.peak_w == max(b.max for b in p)
        assert row.avg_w == pytest.approx(sum(b.avg for b in p) / len(p), abs=0.05)
        for ph in (1, 2, 3):
            a = await c.history.read((row.hex_id, "i", ph, "current"), 0, start, end)
            assert row.peak_a[ph - 1] == max(b.max for b in a)
    outlets = [o for o in rep.outlets if o.hex_id == devs[1]]
    assert [o.outlet for o in outlets] == list(range(1, OUTLETS + 1))
    for o in outlets:
        e = await c.history.read((devs[1], "o", o.outlet, "energy"), 0, start, end)
        assert o.kwh == pytest.approx(e[-1].max - e[0].min, abs=1e-6)
    assert rep.total_kwh == pytest.approx(sum(d.kwh for d in rep.devices), abs=0.01)
    # a rack report has the rack's two PDUs; the alarm lies outside this period
    rack = await c.reports.build(ADMIN, "rack", "rack a", start, end)
    assert rack.target == "Hall 1 / Row 1 / Rack A" and [d.hex_id for d in rack.devices] == devs[:2]
    assert rack.alarms == []


def test_counter_kwh_counts_only_rises() -> None:
    pts = [Point(0, 10.0, 10.5, 10.2), Point(5, 10.5, 11.0, 10.7), Point(10, 0.0, 0.5, 0.2),
           Point(15, 0.5, 1.0, 0.7)]
    assert counter_kwh(pts) == pytest.approx(0.5 + 0.5 + 0.5)
    assert counter_kwh([]) is None


async def test_alarms_in_the_period_by_scope(site) -> None:
    c, devs, _, alarm_from = site
    start, end = alarm_from - 60, c.clock() + 1
    dev = await c.reports.build(ADMIN, "device", devs[0], start, end)
    assert any(a.device == devs[0] and "unreachable" in a.text for a in dev.alarms)
    other = await c.reports.build(ADMIN, "device", devs[2], start, end)
    assert all(a.device == devs[2] for a in other.alarms)
    room = await c.reports.build(ADMIN, "room", "Hall 1", start, end)
    assert {a.id for a in dev.alarms} <= {a.id for a in room.alarms}


async def test_csv_and_xlsx_files(site, tmp_path: Path) -> None:
    c, devs, t0, _ = site
    rep = await c.reports.build(ADMIN, "site", "", t0, t0 + SPAN)
    path = tmp_path / "r.csv"
    write_csv(rep, path)
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows[0] == ["Report", "EnerTEG site report"]
    assert ["From (UTC)", iso(t0)] in rows and ["PDUs", "3"] in rows
    head = rows.index(["Hex ID", "Name", "Location", "Energy (kWh)", "Average power (W)",
                       "Peak power (W)", "Peak current L1 (A)", "Peak current L2 (A)",
                       "Peak current L3 (A)"])
    for i, d in enumerate(rep.devices, start=1):
        assert rows[head + i][0] == d.hex_id and float(rows[head + i][3]) == d.kwh
        assert float(rows[head + i][5]) == d.peak_w
    assert rows[head + len(rep.devices) + 2] == ["Hex ID", "PDU", "Outlet", "Energy (kWh)"]

    xlsx = tmp_path / "r.xlsx"
    write_xlsx(rep, xlsx)
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["Summary", "Devices", "Outlets", "Alarms", "Voltage", "Current",
                             "Power factor", "Residual current", "Temperature"]
    ws = wb["Devices"]
    for i, d in enumerate(rep.devices, start=2):
        assert ws.cell(i, 1).value == d.hex_id and ws.cell(i, 4).value == d.kwh
        assert ws.cell(i, 5).value == d.avg_w and ws.cell(i, 6).value == d.peak_w
        assert [ws.cell(i, k).value for k in (7, 8, 9)] == list(d.peak_a)
    assert ws.cell(2 + len(rep.devices), 1).value is None
    assert wb["Outlets"].max_row == 1 + len(rep.outlets) == 1 + 3 * OUTLETS
    last = 1 + len(rep.devices)
    with zipfile.ZipFile(xlsx) as z:
        charts = sorted(n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
        refs = [re.findall(r"<c:f>([^<]+)</c:f>", z.read(n).decode()) for n in charts]
    assert len(charts) == 2 + 5          # Summary's two, one per measured kind
    cats = f"Devices!$B$2:$B${last}"
    assert refs[0] == ["Devices!$D$1", cats, f"Devices!$D$2:$D${last}"]
    assert refs[1] == ["Devices!$E$1", cats, f"Devices!$E$2:$E${last}",
                       "Devices!$F$1", cats, f"Devices!$F$2:$F${last}"]


async def test_generate_writes_into_reports_atomically(site) -> None:
    c, _, t0, _ = site
    path = await c.reports.generate(READONLY, "row", "Hall 1 / Row 1", t0, t0 + 3600, "xlsx")
    assert path.parent == Path(c.data_dir) / "reports"
    stamp = (lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime(  # noqa: E731
        "%Y%m%d" if t % 86400 == 0 else "%Y%m%dT%H%MZ"))
    # what the file holds, in its name: the scope, the row's path, the period
    assert path.name == f"row-Hall_1.Row_1-{stamp(t0)}-{stamp(t0 + 3600)}.xlsx"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    assert openpyxl.load_workbook(path)["Devices"].max_row == 3


async def test_bad_input_names_the_value(site) -> None:
    c, _, t0, _ = site
    cases = [
        (("building", "", t0, t0 + 60), "scope 'building' does not exist"),
        (("rack", "Rack Q", t0, t0 + 60), "rack 'Rack Q': no rack has that name"),
        (("device", "nope", t0, t0 + 60), "PDU 'nope'"),
        (("room", "", t0, t0 + 60), "needs the room's name"),
        (("site", "", t0 + 60, t0), "is empty; the end must be after the start"),
    ]
    for args, text in cases:
        with pytest.raises(Invalid) as exc:
            await c.reports.build(ADMIN, *args)
        assert text in str(exc.value)
    with pytest.raises(Invalid, match="'yesterday' is not a time"):
        parse_time("yesterday", "--from")
    assert parse_time("2026-01-01") == parse_time("2026-01-01T00:00:00Z") == 1_767_225_600
    assert parse_time("2026-01-01T02:00:00+02:00") == 1_767_225_600
    with pytest.raises(PermissionDenied):
        await c.reports.build(Principal(user="nobody", roles=frozenset()), "site", "", t0, t0 + 60)


async def _run(c, script: str, who=ADMIN) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, who).run_script(script, out.append, err.append)
    return code, "".join(out), "".join(err)


async def test_shell_report_command(site) -> None:
    c, devs, t0, _ = site
    frm, to = iso(t0), iso(t0 + SPAN)
    code, out, err = await _run(c, f"report rack 'Rack A' --from {frm} --to {to} --format xlsx",
                                READONLY)
    assert code == 0, err
    shown = out.strip()
    assert re.fullmatch(r"/reports/rack-([A-Za-z0-9_]+\.)*Rack_A-\d{8}(T\d{4}Z)?-"
                        r"\d{8}(T\d{4}Z)?\.xlsx", shown), shown
    assert (Path(c.data_dir) / shown.lstrip("/")).is_file()
    code, out, err = await _run(c, f"report device {devs[2]} --from={frm} --to={to}")
    assert code == 0 and out.strip().endswith(".csv"), err
    rows = list(csv.reader((Path(c.data_dir) / out.strip().lstrip("/")).open(encoding="utf-8")))
    assert rows[2][1].endswith(f"({devs[2]})") and ["PDUs", "1"] in rows
    code, out, _ = await _run(c, "format json; report site")  # defaults: the last 24 h, csv
    assert code == 0 and '"format": "csv"' in out

    bad = [
        ("report building", "report scope 'building' does not exist; choose one of site, room"),
        ("report site --from yesterday", "--from 'yesterday' is not a time; use an ISO 8601 time"),
        (f"report site --from {to} --to {frm}", "the end must be after the start"),
        ("report site --format pdf", "report format 'pdf' does not exist; choose csv or xlsx"),
        ("report rack Nowhere", "rack 'Nowhere': no rack has that name"),
        ("report site --from", "option --from needs a value"),
        ("report", "Usage: report site|room|row|rack|device"),
    ]
    for script, text in bad:
        code, out, err = await _run(c, script)
        assert code == 2 and out == "" and text in err, (script, err)
    assert "report site|room|row|rack|device" in (await _run(c, "help"))[1]


def test_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    from enerteg_tui.core.reports import DeviceRow, Report

    rep = Report("site", "site", 0.0, 3600.0, 3600.0, 60,
                 devices=[DeviceRow("aa01", "=HYPERLINK(\"x\")", "Unassigned", 1.5, 100.0, 200.0,
                                    (1.0, None, 2.0))])
    path = tmp_path / "r.csv"
    write_csv(rep, path)
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    row = next(r for r in rows if r and r[0] == "aa01")
    assert row == ["aa01", "'=HYPERLINK(\"x\")", "Unassigned", "1.5", "100.0", "200.0", "1.0", "",
                   "2.0"]


def test_xlsx_without_pdus_has_no_charts(tmp_path: Path) -> None:
    from enerteg_tui.core.reports import Report

    path = tmp_path / "empty.xlsx"
    write_xlsx(Report("room", "Hall 9", 0.0, 3600.0, 3600.0, 60), path)
    wb = openpyxl.load_workbook(path)
    assert wb["Summary"]["B8"].value == 0 and wb["Devices"].max_row == 1
    with zipfile.ZipFile(path) as z:
        assert not [n for n in z.namelist() if n.startswith("xl/charts/")]


async def test_measured_values_per_kind_equal_the_history(site, tmp_path: Path) -> None:
    """Issue 19 item 5: min/avg/max of every measured channel, one sheet per kind with a
    native chart, and the CSV's long-format table; figures equal the history's blocks."""
    c, devs, t0, _ = site
    rep = await c.reports.build(ADMIN, "rack", "Rack A", t0, t0 + SPAN)
    kinds = {m.kind for m in rep.measurements}
    assert kinds == {"Voltage", "Current", "Power factor", "Residual current", "Temperature"}
    volt = [m for m in rep.measurements if m.kind == "Voltage"]
    assert [(m.hex_id, m.part) for m in volt] == [(h, f"L{p}") for h in devs[:2] for p in (1, 2, 3)]
    outlets = [m for m in rep.measurements if m.kind == "Current" and m.component == "o"]
    assert len(outlets) == 2 * OUTLETS and outlets[0].unit == "A"
    from enerteg_tui.core.history.tiers import TIERS
    level = next(i for i, t in enumerate(TIERS) if t.block_s == rep.resolution_s)
    for m in volt[:2] + outlets[:1]:
        points = await c.history.read((m.hex_id, m.component, m.index, m.quantity), level,
                                      t0, t0 + SPAN)
        assert m.minimum == round(min(p.min for p in points), 1)
        assert m.maximum == round(max(p.max for p in points), 1)
        assert abs(m.average - sum(p.avg for p in points) / len(points)) < 0.06
        assert m.blocks == len(points)
        assert m.minimum <= m.average <= m.maximum

    path = tmp_path / "m.csv"
    write_csv(rep, path)
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    head = rows.index(["Kind", "Hex ID", "PDU", "Part", "Quantity", "Unit", "Statistic", "Value"])
    long = rows[head + 1:]
    assert len(long) == 3 * len(rep.measurements)
    first = rep.measurements[0]
    assert long[:3] == [[first.kind, first.hex_id, first.device_name, first.part,
                         first.quantity, first.unit, stat, str(value)]
                        for stat, value in (("minimum", first.minimum),
                                            ("average", first.average),
                                            ("maximum", first.maximum))]

    xlsx = tmp_path / "m.xlsx"
    write_xlsx(rep, xlsx)
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["Temperature"]
    temps = [m for m in rep.measurements if m.kind == "Temperature"]
    assert [ws.cell(1, k).value for k in range(1, 10)] == ["Hex ID", "PDU", "Part", "Label",
                                                          "Unit", "Minimum", "Average",
                                                          "Maximum", "Blocks"]
    for i, m in enumerate(temps, start=2):
        assert ws.cell(i, 3).value == "Sensor 1" and ws.cell(i, 5).value == "°C"
        assert [ws.cell(i, k).value for k in (6, 7, 8)] == [m.minimum, m.average, m.maximum]
    with zipfile.ZipFile(xlsx) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist()
                      if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
    n = len(temps)
    for col in "FGH":
        assert f"'Temperature'!${col}$2:${col}${1 + n}" in xml or \
            f"Temperature!${col}$2:${col}${1 + n}" in xml


async def test_time_zone_of_config_time_in_the_files_a_person_reads(site) -> None:
    """Issue 23 item 1: with config/time timezone set, the CSV and XLSX reports give their
    times in that zone (ISO 8601 with its offset) and name it in the headings; the
    shell's JSON answer stays UTC. UTC (the default) keeps ``…Z`` and ``(UTC)``."""
    import zoneinfo

    c, devs, _, alarm_from = site
    start, end = alarm_from - 60, c.clock() + 1
    await c.config.put(ADMIN, "time", {"timezone": "America/New_York"})
    tz = zoneinfo.ZoneInfo("America/New_York")
    local = dt.datetime.fromtimestamp(start, tz).isoformat(timespec="seconds")
    assert local[-6:] in ("-05:00", "-04:00")
    csv_path = await c.reports.generate(ADMIN, "site", "", start, end, "csv")
    rows = list(csv.reader(csv_path.open(newline="", encoding="utf-8")))
    head = {r[0]: r[1] for r in rows if len(r) == 2}
    assert head["Time zone"].startswith("America/New_York")
    assert head["From (America/New_York)"] == local
    assert "From (UTC)" not in head
    alarm_head = next(r for r in rows if r and r[0] == "ID")
    assert alarm_head[1:3] == ["Start (America/New_York)", "End (America/New_York)"]
    first_alarm = rows[rows.index(alarm_head) + 1]
    assert first_alarm[1].endswith(local[-6:]) and "T" in first_alarm[1]
    assert dt.datetime.fromisoformat(first_alarm[1]).timestamp() == pytest.approx(
        next(a for a in (await c.reports.build(ADMIN, "site", "", start, end)).alarms).start,
        abs=1)
    xlsx = await c.reports.generate(ADMIN, "site", "", start, end, "xlsx")
    wb = openpyxl.load_workbook(xlsx)
    labels = {wb["Summary"].cell(r, 1).value: wb["Summary"].cell(r, 2).value
              for r in range(1, 12)}
    assert labels["From (America/New_York)"] == local
    assert wb["Alarms"]["B1"].value == "Start (America/New_York)"
    # machine format: the shell's JSON stays UTC
    code, out, err = await _run(c, f"format json; report site --from {iso(start)} "
                                   f"--to {iso(end)} --format csv")
    assert code == 0, err
    assert json.loads(out)["from"] == iso(start) and iso(start).endswith("Z")
    # back to UTC: the headings as before
    await c.config.put(ADMIN, "time", {"timezone": "UTC"})
    rep = await c.reports.build(ADMIN, "site", "", start, end)
    assert ("From (UTC)", iso(start)) in rep.summary()
