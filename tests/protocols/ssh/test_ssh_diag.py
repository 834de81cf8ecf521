"""Device diagnostics over OpenSSH (issue 19 item 6): ``sensor/<hexid>/diag`` holds what
the poller measured — answer time p50/p99, retries after garbled answers, failures,
last error — and what the PDU reports (ring position, firmware, uptime)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import wait_for

from .conftest import SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


async def test_diag_topic_reports_measured_bus_statistics(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    dev = c.live.ordered()[1]
    hx = dev.hex_id
    # a slower, noisier bus: 4 ms answers, one garbled answer in five
    r = await ssh_env.ssh("boss", "put sim busLatencyMs=4 answerErrorRate=0.2")
    assert r.code == 0, r.err
    start = dev.diag.queries
    await wait_for(lambda: dev.diag.retries >= 3 and dev.diag.queries >= start + 40, timeout=60)

    ls = await ssh_env.ssh("oper", f"ls sensor/{hx}")
    assert "diag/" in ls.out.split()
    got = await ssh_env.ssh("oper", f"cat sensor/{hx}/diag")
    assert got.code == 0, got.err
    d = json.loads(got.out)
    assert d["ringPosition"] == dev.info.position
    assert d["firmware"] == dev.info.identification.firmware_version
    assert d["uptimeS"] >= 3 * 86400                      # PDUs have run for days
    assert 3.0 <= d["answerMsP50"] <= 100.0                # measured around the 4 ms bus
    assert d["answerMsP99"] >= d["answerMsP50"]
    assert d["retries"] >= 3 and d["failures"] >= d["retries"]
    assert "garbled answer" in d["lastError"] and d["lastErrorAt"] is not None
    assert d["answers"] + d["failures"] + d["timeouts"] == d["queries"]
    assert d["timeouts"] == 0 and d["state"] == "RUNNING"
    # retries recover the garbled answers: the PDU stays running
    assert dev.state.value == "RUNNING"


async def test_diag_uptime_restarts_after_a_power_loss(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    dev = c.live.ordered()[0]
    hx = dev.hex_id
    r = await ssh_env.ssh("boss", f"put sim/{hx} powered=false; put sim/{hx} powered=true")
    assert r.code == 0, r.err
    await wait_for(lambda: (dev.diag.uptime(c.clock()) or 1e9) < 3600, timeout=30)
    got = json.loads((await ssh_env.ssh("oper", f"cat sensor/{hx}/diag")).out)
    assert got["uptimeS"] < 3600
