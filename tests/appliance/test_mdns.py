"""mDNS announcement (issue 23 item 3), seen by a zeroconf browser in a second process.

Both processes run in a private network namespace (``unshare --net``: only ``lo``, up,
with a multicast route), never on the machine's real interfaces.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from enerteg_tui.protocols.mdns import mdns_host
from tests.helpers import wait_for

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _can_unshare() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


@pytest.mark.e2e
@pytest.mark.skipif(not _can_unshare(), reason="needs unshare --net (root) and ip")
def test_browser_in_a_namespace_finds_and_resolves_the_controller(tmp_path: Path) -> None:
    py = sys.executable
    script = (
        "set -e; ip link set lo up; ip link set lo multicast on; "
        "ip route add 224.0.0.0/4 dev lo; "
        f"{py} -m tests.appliance.mdns_controller {tmp_path} > {tmp_path}/ctl.log 2>&1 & "
        "CTL=$!; "
        f"for i in $(seq 600); do [ -f {tmp_path}/ready.json ] && break; sleep 0.1; done; "
        f"{py} -m tests.appliance.mdns_browser 30 _ssh._tcp.local. _http._tcp.local.; "
        "kill $CTL; wait $CTL || true")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=180)
    log = (tmp_path / "ctl.log").read_text() if (tmp_path / "ctl.log").exists() else ""
    assert (tmp_path / "ready.json").exists(), f"controller did not start: {log}{run.stderr}"
    ready = json.loads((tmp_path / "ready.json").read_text())
    found = json.loads(run.stdout.strip().splitlines()[-1])
    host = mdns_host(ready["serial"])
    assert host.startswith("pdu5-") and ready["host"] == host
    # what runs is announced (the web server serves HTTP and HTTPS), the SNMP agent is off
    assert "_snmp._udp" not in ready["ports"] and {"_ssh._tcp", "_http._tcp"} <= set(ready["ports"])
    assert set(found) == {f"{t}.local." for t in ready["ports"]}, found
    for port_of in ready["ports"]:
        stype = f"{port_of}.local."
        got = found[stype]
        assert got["name"] == f"rack-7.{stype}"           # instance = configured host name
        assert got["server"] == host and got["port"] == ready["ports"][port_of]
        assert got["addresses"] == ["127.0.0.1"]


async def test_auto_does_not_announce_without_manage_host(make_controller) -> None:
    c = await make_controller(pdus=2)
    mdns = c.service("mdns")
    await wait_for(lambda: "not announcing" in mdns.status)
    assert "started without --manage-host" in mdns.status and mdns.describe() == "mdns=off"
    assert "mdns" in c.config.appliers.applied_by("hostname")
