"""The syslog client against a real rsyslogd: RFC 5424 over UDP and TCP, filters, reconnect."""

from __future__ import annotations

import re

from enerteg_tui.notify.syslog import format_rfc5424
from tests.conftest import ADMIN
from tests.helpers import wait_for

RFC5424 = re.compile(r"^<(\d+)>1 \S+ (\S+) (\S+) \d+ (\S+) (\[.*?\]|-) (.*)$")


def test_format_escapes_structured_data() -> None:
    msg = format_rfc5424(facility=16, severity=4, hostname="h", app_name="enerteg", msgid="alarm",
                         text="t", sd={"rule": 'a "b" ] \\c', "none": None}, ts=0, procid="1")
    assert msg == (b'<132>1 1970-01-01T00:00:00.000Z h enerteg 1 alarm '
                   b'[enerteg@32473 rule="a \\"b\\" \\] \\\\c"] t')


async def _enable(c, rsyslog, protocol: str, **extra) -> None:
    port = rsyslog.udp_port if protocol == "UDP" else rsyslog.tcp_port
    await c.topics.put(ADMIN, "config/syslog", {
        "enabled": "enabled", "serverAddress": "127.0.0.1", "serverPort": port,
        "protocol": protocol, "facility": "Local3", "hostname": "pdu-ctl", "appName": "enerteg",
        **extra})


async def test_alarms_and_audit_over_udp(controller, rsyslog) -> None:
    c = controller
    await _enable(c, rsyslog, "UDP")
    dev = c.live.ordered()[2]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})  # audit at Warning
    await wait_for(lambda: any("is unreachable" in line for line in rsyslog.lines()), timeout=15)
    lines = rsyslog.lines()
    alarm = next(line for line in lines if "is unreachable" in line)
    m = RFC5424.match(alarm)
    assert m, alarm
    pri, host, app, msgid, sd, text = m.groups()
    assert int(pri) == 19 * 8 + 2 and host == "pdu-ctl" and app == "enerteg" and msgid == "alarm"
    assert f'device="{dev.hex_id}"' in sd and 'rule="Device unreachable"' in sd
    assert 'channel="' in sd and 'value="1.0"' in sd and 'severity="Critical"' in sd
    assert text.startswith(f'PDU "{dev.info.display_name}" is unreachable')
    sim = next(line for line in lines if "Simulator sim/" in line)
    assert RFC5424.match(sim).group(4) == "audit" and 'user="admin"' in sim
    # below minSeverity (Warning): the Info entry of the settings change is not sent
    assert not any("Settings config/syslog changed" in line for line in lines)
    # the alarm's own audit entry is not sent a second time
    assert sum("is unreachable" in line for line in lines) == 1


async def test_tcp_octet_counting_and_reconnect(controller, rsyslog) -> None:
    c = controller
    await _enable(c, rsyslog, "TCP", minSeverity="Info")
    await wait_for(lambda: any("Settings config/syslog changed" in ln for ln in rsyslog.lines()),
                   timeout=15)
    rsyslog.stop()
    dev = c.live.ordered()[1]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: any(a.quantity == "deviceUnreachable" for a in c.alarms.active()),
                   timeout=10)
    rsyslog.start()   # back on the same port: the client reconnects (back-off) and sends
    await wait_for(lambda: any("is unreachable" in ln for ln in rsyslog.lines()), timeout=20)
    await wait_for(lambda: any("Simulator sim/" in ln for ln in rsyslog.lines()), timeout=20)
    assert c.syslog.dropped == 0
    for line in rsyslog.lines():
        assert RFC5424.match(line), line   # each frame was one whole message


async def test_empty_syslog_hostname_sends_config_hostname(controller, rsyslog) -> None:
    """Issue 14 item 11: the OS host name was sent instead of ``config/hostname``."""
    c = controller
    await c.topics.put(ADMIN, "config/hostname", {"hostname": "rack-ctl-7"})
    await _enable(c, rsyslog, "UDP", hostname="")
    dev = c.live.ordered()[1]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: any("is unreachable" in line for line in rsyslog.lines()), timeout=15)
    line = next(line for line in rsyslog.lines() if "is unreachable" in line)
    assert RFC5424.match(line).group(2) == "rack-ctl-7"
