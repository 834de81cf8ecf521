"""The host's NTP client configured from ``config/time`` under --manage-host (issue 23
item 1, ``core/hostntp.py``): a real chronyd in the foreground in a temporary directory
(``-x``: it never sets the clock; its own pid file, command socket and drift file, so the
system's chrony is never touched) picks up the servers after a ``put config/time``;
systemd-timesyncd gets a drop-in; without --manage-host nothing is written."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.appliance.test_time import shell
from tests.conftest import ADMIN, READONLY
from tests.helpers import wait_for, wait_for_blocking

pytestmark = pytest.mark.e2e


@dataclass
class Chronyd:
    root: Path
    sock: Path
    sources_dir: Path

    def sources(self) -> list[list[str]]:
        """``chronyc -c sources`` rows (CSV fields: mode, state, address, stratum,
        poll, reach, …)."""
        done = subprocess.run(["chronyc", "-h", str(self.sock), "-n", "-c", "sources"],
                              capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stdout + done.stderr
        return [line.split(",") for line in done.stdout.splitlines() if line]


@pytest.fixture
def chronyd(tmp_path: Path) -> Iterator[Chronyd]:
    """A chronyd of this test only; skips with the reason when it cannot run here."""
    if not (shutil.which("chronyd") and shutil.which("chronyc")):
        pytest.skip("chrony is not installed (scripts/install-test-deps.sh installs it)")
    if os.geteuid() != 0:
        pytest.skip("chronyd needs root to run (even with -x)")
    root = tmp_path / "chronyd"
    root.mkdir(mode=0o700)
    sources_dir = root / "etc" / "sources.d"
    sources_dir.mkdir(parents=True)
    sock = root / "chronyd.sock"
    conf = root / "chrony.conf"
    conf.write_text(f"pidfile {root / 'chronyd.pid'}\nbindcmdaddress {sock}\ncmdport 0\n"
                    f"port 0\ndriftfile {root / 'drift'}\nsourcedir {sources_dir}\n")
    log = open(root / "chronyd.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(["chronyd", "-d", "-x", "-u", "root", "-f", str(conf)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_blocking(lambda: proc.poll() is not None or sock.exists(), 30)
        except (TimeoutError, AssertionError):
            pass
        if not sock.exists():
            pytest.skip("chronyd did not start here: "
                        + (root / "chronyd.log").read_text()[-400:])
        yield Chronyd(root, sock, sources_dir)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


async def test_put_config_time_reaches_a_real_chronyd(make_controller, ntp_server,
                                                      chronyd: Chronyd) -> None:
    sources = chronyd.sources_dir / "enerteg.sources"
    c = await make_controller(pdus=2, manage_host=True, ntp_port=ntp_server.port,
                              chrony_sources=sources, chronyc_socket=chronyd.sock)
    ts = c.core.timesync
    assert ts.host_text.startswith("host NTP client: chrony"), ts.host_text
    before = ts._host.writes
    await c.topics.put(ADMIN, "config/time", {"ntpServers": "127.0.0.1"})
    await wait_for(lambda: ts._host.writes > before, timeout=30)
    assert sources.read_text().splitlines()[1:] == [
        f"server 127.0.0.1 port {ntp_server.port} iburst"]
    assert "1 server(s)" in ts.host_text and "reloaded" in ts.host_text, ts.host_text
    rows = chronyd.sources()
    assert [r[2] for r in rows] == ["127.0.0.1"], rows
    # chronyd really asks the fake server (reach, an octal register, turns non-zero)
    await wait_for(lambda: ntp_server.answered > 0 and chronyd.sources()[0][5] != "0",
                   timeout=60)
    code, out, err = await shell(c, READONLY, "time status")
    assert code == 0, err
    assert f"Host client  host NTP client: chrony, 1 server(s) in {sources}, reloaded" in out
    # a change of the servers replaces the source
    # (a change of the zone alone leaves the client alone: one write for both puts)
    before = ts._host.writes
    await c.topics.put(ADMIN, "config/time", {"timezone": "Europe/Prague"})
    await c.topics.put(ADMIN, "config/time", {"ntpServers": "127.0.0.2"})
    await wait_for(lambda: [r[2] for r in chronyd.sources()] == ["127.0.0.2"], timeout=30)
    assert ts._host.writes == before + 1


async def test_timesyncd_gets_a_drop_in(make_controller, tmp_path: Path) -> None:
    dropin = tmp_path / "systemd" / "timesyncd.conf.d" / "enerteg.conf"
    dropin.parent.mkdir(parents=True)
    c = await make_controller(pdus=2, manage_host=True,
                              chrony_sources=tmp_path / "no-chrony" / "sources.d" / "x.sources",
                              timesyncd_conf=dropin)
    ts = c.core.timesync
    before = ts._host.writes
    await c.topics.put(ADMIN, "config/time", {"ntpServers": "ntp1.example,ntp2.example"})
    await wait_for(lambda: ts._host.writes > before, timeout=30)
    assert "[Time]\nNTP=ntp1.example ntp2.example\n" in dropin.read_text()
    running = Path("/run/systemd/system").is_dir()
    assert ("restart" if running else "not restarted (systemd is not running here)") \
        in ts.host_text, ts.host_text


async def test_without_manage_host_nothing_is_written(make_controller, tmp_path: Path) -> None:
    sources = tmp_path / "chrony" / "sources.d" / "enerteg.sources"
    sources.parent.mkdir(parents=True)
    dropin = tmp_path / "timesyncd.conf.d" / "enerteg.conf"
    dropin.parent.mkdir(parents=True)
    c = await make_controller(pdus=2, chrony_sources=sources, timesyncd_conf=dropin)
    await c.topics.put(ADMIN, "config/time", {"ntpServers": "127.0.0.1"})
    code, out, err = await shell(c, READONLY, "time status")
    assert code == 0, err
    assert "Host client  host NTP client: the host's own" in out and "--manage-host" in out
    code, out, err = await shell(c, READONLY, "format json\ntime status")
    assert '"hostClient": "host NTP client: the host\'s own' in out
    assert not sources.exists() and not dropin.exists()
