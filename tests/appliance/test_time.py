"""The clock (issue 23 item 1): NTP check against a fake server on loopback, the clock
alarm, the time zone in what people read, and ``date set`` refused without
--manage-host."""

from __future__ import annotations

from typing import Any

import pytest

from enerteg_tui.core.errors import Unsupported
from enerteg_tui.core.timesync import CONDITION, sntp_query
from tests.conftest import ADMIN, READONLY
from tests.helpers import wait_for


async def shell(c: Any, who: Any, script: str) -> tuple[int, str, str]:
    from enerteg_tui.protocols.shell.session import ShellSession
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, who).run_script(script, out.append, err.append)
    return code, "".join(out), "".join(err)


async def _clocked(make_controller, ntp_server, **kw):
    c = await make_controller(pdus=2, ntp_port=ntp_server.port, **kw)
    await c.topics.put(ADMIN, "config/time", {"ntpServers": "127.0.0.1",
                                              "alarmOffsetSeconds": 2})
    return c


async def test_sntp_client_measures_the_servers_offset(ntp_server) -> None:
    ntp_server.offset = 7.5
    got = await sntp_query("127.0.0.1", ntp_server.port)
    assert abs(got["offset"] - 7.5) < 0.2 and got["stratum"] == 2 and got["delay"] >= 0


async def test_in_step_then_off_then_silent_raises_and_clears_the_alarm(
        make_controller, ntp_server) -> None:
    c = await _clocked(make_controller, ntp_server)
    ts = c.core.timesync
    await wait_for(lambda: ts.status.state == "synchronised" and ts.status.server == "127.0.0.1",
                   timeout=15)
    assert abs(ts.status.offset) < 0.5 and not c.alarms.conditions(CONDITION)
    ntp_server.offset = 30.0
    await ts.check()
    [alarm] = c.alarms.conditions(CONDITION)
    assert ts.status.state == "unsynchronised" and "Clock off by +30.0 s" in alarm.text
    assert alarm.severity == "Warning"
    ntp_server.silent = True
    await c.topics.put(ADMIN, "config/time", {"ntpServers": "127.0.0.1"})  # a change re-checks
    await wait_for(lambda: "no NTP server answered" in ts.status.text, timeout=15)
    [alarm] = c.alarms.conditions(CONDITION)
    assert "127.0.0.1: no answer within 2 s" in alarm.text
    ntp_server.silent, ntp_server.offset = False, 0.0
    await ts.check()
    assert ts.status.state == "synchronised" and not c.alarms.conditions(CONDITION)
    await c.topics.put(ADMIN, "config/time", {"ntpEnabled": "disabled"})
    await wait_for(lambda: ts.status.state == "off", timeout=15)


async def test_shell_date_and_time_status_show_zone_state_and_offset(
        make_controller, ntp_server) -> None:
    c = await _clocked(make_controller, ntp_server)
    ntp_server.offset = 0.25
    await c.topics.put(ADMIN, "config/time", {"timezone": "Asia/Kolkata"})
    code, out, err = await shell(c, READONLY, "time check")
    assert code == 0, err
    assert "Sync state   synchronised" in out and "(server 127.0.0.1)" in out
    code, out, err = await shell(c, READONLY, "date")
    assert code == 0, err
    assert "IST  (Asia/Kolkata)" in out and "UTC          20" in out and "Z\n" in out
    code, out, err = await shell(c, READONLY, "format json\ndate")
    assert '"timezone": "Asia/Kolkata"' in out and '+0530' in out and '"utc": "20' in out


async def test_date_set_is_refused_without_manage_host_naming_the_flag(make_controller) -> None:
    c = await make_controller(pdus=2)
    with pytest.raises(Unsupported, match="--manage-host"):
        await c.core.timesync.set_clock(ADMIN, "2030-01-01T00:00:00")
    code, out, err = await shell(c, ADMIN, "date set 2030-01-01T00:00:00 --yes")
    assert code != 0 and "started without --manage-host" in err and "enerteg serve" in err
    code, out, err = await shell(c, READONLY, "date set 2030-01-01T00:00:00 --yes")
    assert code != 0 and "administer" in err.lower()





async def test_iso_text_of_machine_documents_is_shown_in_the_zone(make_controller) -> None:
    from enerteg_tui.core.timesync import local_iso_text
    c = await make_controller(pdus=2)
    await c.topics.put(ADMIN, "config/time", {"timezone": "Europe/Prague"})
    assert local_iso_text(c.core.config, "2026-01-09T23:06:40Z") == "2026-01-10T00:06:40+01:00"
    assert local_iso_text(c.core.config, "2026-07-01T10:00:00+00:00") == "2026-07-01T12:00:00+02:00"
    assert local_iso_text(c.core.config, None) == "-" and local_iso_text(c.core.config, "soon") == "soon"
    await c.topics.put(ADMIN, "config/time", {"timezone": "UTC"})
    assert local_iso_text(c.core.config, "2026-01-09T23:06:40Z") == "2026-01-09T23:06:40+00:00"
