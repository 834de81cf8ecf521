"""Network management (issue 23 item 2) in network namespaces, never on the machine's
real interfaces.

Each test makes two namespaces joined by two veth pairs: the controller's (``eth0``,
the interface ``config/network`` configures, 10.77.0.2/24 set by hand as "the host's
own configuration"; ``eth1``, 10.78.0.2/24, a management path the tests never change)
and a peer's (``p0`` 10.77.0.1/24 with dnsmasq as DHCP server when a test wants one;
``p1`` 10.78.0.1/24). ``enerteg serve --manage-host`` runs inside the controller's
namespace with its resolv.conf in a temporary directory; the peer drives it over real
OpenSSH and pings it.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enerteg_tui.core.hostnet import eui64_link_local
from tests.helpers import wait_for_blocking
from tests.protocols.ssh.conftest import PASSWORD, SSH_OPTS, askpass_env

ROOT = Path(__file__).resolve().parents[2]
SSH_PORT = 2222
"""Fixed, but inside the controller's private namespace: nothing else listens there."""
HOST_RESOLV = "nameserver 192.0.2.53\n"
"""The resolv.conf of "the host's own configuration" (restored by a rollback)."""
MGMT = "10.78.0.2"
"""The controller's address on eth1, which no test changes."""

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

_ids = itertools.count()


def _run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check,
                          timeout=timeout)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}


class Net:
    """The two namespaces, the controller in one, helpers to look from the other."""

    def __init__(self, tmp: Path, ctl: str, peer: str) -> None:
        self.tmp, self.ctl, self.peer = tmp, ctl, peer
        self.resolv = tmp / "resolv.conf"
        self.data = tmp / "data"
        self.procs: list[subprocess.Popen[str]] = []

    # the controller
    def start_controller(self) -> None:
        if not self.data.exists():
            done = subprocess.run(
                [sys.executable, "-m", "enerteg_tui", "user", "--data-dir", str(self.data),
                 "add", "boss", "--role", "admin"], input=PASSWORD + "\n", text=True,
                capture_output=True, env=_env(), timeout=120)
            assert done.returncode == 0, done.stderr
        log = open(self.tmp / "serve.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ctl, sys.executable, "-m", "enerteg_tui", "serve",
             "--data-dir", str(self.data), "--simulate", "2", "--interval", "1",
             "--ssh-port", str(SSH_PORT), "--bind", "0.0.0.0", "--manage-host",
             "--resolv-conf", str(self.resolv),
             "--chrony-sources", str(self.tmp / "chrony" / "sources.d" / "enerteg.sources"),
             "--timesyncd-conf", str(self.tmp / "timesyncd.conf.d" / "enerteg.conf")],
            stdout=subprocess.DEVNULL, stderr=log, text=True, env=_env())
        self.procs.append(proc)
        wait_for_blocking(lambda: proc.poll() is not None
                      or "enerteg ready:" in (self.tmp / "serve.log").read_text(), 120)
        assert proc.poll() is None, (self.tmp / "serve.log").read_text()

    def start_dhcp_server(self) -> None:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.peer, "dnsmasq", "-k", "--conf-file=/dev/null",
             "--port=0", "--interface=p0", "--bind-interfaces", "--user=root",
             "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,10m",
             "--dhcp-option=option:router,10.77.0.1",
             "--dhcp-option=option:dns-server,10.77.0.53",
             f"--dhcp-leasefile={self.tmp / 'leases'}", f"--pid-file={self.tmp / 'dnsmasq.pid'}",
             "--log-dhcp", f"--log-facility={self.tmp / 'dnsmasq.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(proc)
        wait_for_blocking(lambda: (self.tmp / "dnsmasq.pid").exists() or proc.poll() is not None, 30)
        assert proc.poll() is None, "dnsmasq did not start"

    def start_router_advertisements(self) -> None:
        """radvd in the peer namespace: prefix 2001:db8:77::/64 on p0, an RA every 3-4 s."""
        conf = self.tmp / "radvd.conf"
        conf.write_text("interface p0 { AdvSendAdvert on; MinRtrAdvInterval 3; "
                        "MaxRtrAdvInterval 4; prefix 2001:db8:77::/64 { AdvOnLink on; "
                        "AdvAutonomous on; }; };\n")
        _run("ip", "netns", "exec", self.peer, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.peer, "radvd", "-n", "-C", str(conf),
             "-p", str(self.tmp / "radvd.pid"), "-m", "logfile", "-l", str(self.tmp / "radvd.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(proc)
        wait_for_blocking(lambda: (self.tmp / "radvd.pid").exists() or proc.poll() is not None, 30)
        assert proc.poll() is None, "radvd did not start"

    def ipv6(self, dev: str = "eth0") -> list[str]:
        out = _run("ip", "-n", self.ctl, "-6", "-o", "addr", "show", "dev", dev).stdout
        return re.findall(r"inet6 (\S+)", out)

    def sysctl(self, key: str, dev: str = "eth0") -> str:
        return _run("ip", "netns", "exec", self.ctl, "cat",
                    f"/proc/sys/net/ipv6/conf/{dev}/{key}").stdout.strip()

    def ssh(self, address: str, command: str) -> subprocess.CompletedProcess[str]:
        """``command`` in the controller's shell, over OpenSSH from the peer namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.peer, "ssh", "-p", str(SSH_PORT), *SSH_OPTS,
             "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=2",
             "-o", "ServerAliveCountMax=5", f"boss@{address}", command],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            env=askpass_env(PASSWORD), timeout=120)

    def ping(self, address: str) -> bool:
        return _run("ip", "netns", "exec", self.peer, "ping", "-c", "1", "-W", "2", address,
                    check=False).returncode == 0

    # the controller's host, seen from outside the controller
    def addresses(self, dev: str = "eth0") -> list[str]:
        out = _run("ip", "-n", self.ctl, "-4", "-o", "addr", "show", "dev", dev).stdout
        return re.findall(r"inet (\S+)", out)

    def default_route(self) -> str:
        return _run("ip", "-n", self.ctl, "-4", "route", "show", "default").stdout.strip()

    def audit(self, action: str) -> list[str]:
        with sqlite3.connect(self.data / "enerteg.db") as db:
            return [r[0] for r in db.execute(
                "SELECT message FROM audit WHERE action = ? ORDER BY id", (action,))]

    def stop_controller(self) -> None:
        """Stop ``enerteg serve`` as systemd would (SIGTERM) and wait for it."""
        proc = self.procs.pop(0)
        proc.terminate()
        assert proc.wait(timeout=60) == 0

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    """Two namespaces joined by two veth pairs; removed afterwards (which also removes
    the veths and ends the DHCP client inside)."""
    if not shutil.which("ip"):
        pytest.skip("needs iproute2's ip")
    tag = f"{os.getpid() % 100000}-{next(_ids)}"
    ctl, peer = f"et-ctl-{tag}", f"et-peer-{tag}"
    made: list[str] = []
    try:
        for ns in (ctl, peer):
            _run("ip", "netns", "add", ns)
            made.append(ns)
    except (subprocess.CalledProcessError, OSError) as exc:
        for ns in made:
            _run("ip", "netns", "del", ns, check=False)
        why = getattr(exc, "stderr", "") or str(exc)
        pytest.skip(f"cannot create network namespaces (needs root): {why.strip()}")
    n = Net(tmp_path, ctl, peer)
    try:
        n.resolv.write_text(HOST_RESOLV)
        for cmd in (
            f"-n {ctl} link set lo up", f"-n {peer} link set lo up",
            f"-n {ctl} link add eth0 type veth peer name p0 netns {peer}",
            f"-n {ctl} link add eth1 type veth peer name p1 netns {peer}",
            f"-n {peer} addr add 10.77.0.1/24 dev p0", f"-n {peer} addr add 10.78.0.1/24 dev p1",
            f"-n {peer} link set p0 up", f"-n {peer} link set p1 up",
            f"-n {ctl} addr add 10.77.0.2/24 dev eth0", f"-n {ctl} addr add {MGMT}/24 dev eth1",
            f"-n {ctl} link set eth0 up", f"-n {ctl} link set eth1 up",
        ):
            _run("ip", *cmd.split())
        yield n
    finally:
        n.close()
        for ns in (ctl, peer):
            _run("ip", "netns", "del", ns, check=False)


def _need(program: str) -> None:
    if not shutil.which(program):
        pytest.skip(f"needs {program} (scripts/install-test-deps.sh installs it)")


def _put(net: Net, *assignments: str) -> subprocess.CompletedProcess[str]:
    r = net.ssh(MGMT, "network config eth0 " + " ".join(assignments))
    return r


def test_static_address_applied_reachable_and_kept_once_confirmed_from_it(net: Net) -> None:
    _need("udhcpc")
    net.start_controller()
    assert net.ssh(MGMT, "put config/network confirmSeconds=25").returncode == 0
    t0 = time.time()
    r = _put(net, "dhcp=false ipv4Address=10.77.0.20 prefixLength=24 gateway=10.77.0.1 "
                  "dns=10.77.0.53")
    assert r.returncode == 0, r.stderr
    assert "the change by boss (ssh, 10.78.0.1) waits for confirmation: 25 s left" in r.stderr
    assert net.addresses() == ["10.77.0.20/24"]
    assert "via 10.77.0.1 dev eth0" in net.default_route()
    assert "nameserver 10.77.0.53" in net.resolv.read_text()
    assert net.ping("10.77.0.20") and not net.ping("10.77.0.2")
    status = net.ssh(MGMT, "network status eth0")
    assert "10.77.0.20/24" in status.stdout
    assert re.search(r"waits for confirmation: \d+ s left", status.stdout), status.stdout
    # a session on an address the change did not give cannot confirm it
    refused = net.ssh(MGMT, "network confirm")
    assert refused.returncode == 1
    assert f"reached the controller on {MGMT}" in refused.stderr
    assert "10.77.0.20" in refused.stderr
    ok = net.ssh("10.77.0.20", "network confirm")
    assert ok.returncode == 0, ok.stderr
    assert "confirmed" in ok.stderr
    assert "applied and confirmed" in net.ssh(MGMT, "network status").stdout
    # past the deadline the change is still there: the timer stopped
    time.sleep(max(0.0, t0 + 25 + 3 - time.time()))
    assert net.addresses() == ["10.77.0.20/24"]
    assert net.audit("network.rollback") == [] and len(net.audit("network.confirm")) == 1
    assert len(net.audit("network.apply")) == 1


def test_unconfirmed_change_is_rolled_back_after_the_timer(net: Net) -> None:
    _need("udhcpc")
    net.start_controller()
    assert net.ssh(MGMT, "put config/network confirmSeconds=5").returncode == 0
    r = _put(net, "dhcp=false ipv4Address=10.77.0.30 prefixLength=24 dns=10.77.0.53")
    assert r.returncode == 0, r.stderr
    # applied (the audit says so: on a loaded machine 5 s may pass before we could look)
    applied = net.audit("network.apply")
    assert len(applied) == 1 and "eth0 10.77.0.30/24 dns 10.77.0.53" in applied[0]
    # nobody confirms: the host's own configuration comes back, and the stored settings
    wait_for_blocking(lambda: net.addresses() == ["10.77.0.2/24"], 60)
    assert net.resolv.read_text() == HOST_RESOLV
    assert net.ping("10.77.0.2")
    rollbacks = net.audit("network.rollback")
    assert len(rollbacks) == 1 and "not confirmed within 5 s" in rollbacks[0]
    shown = net.ssh(MGMT, "network config eth0")
    assert re.search(r"dhcp\s+enabled", shown.stdout) and "10.77.0.30" not in shown.stdout
    assert "last change rolled back: not confirmed within 5 s" in net.ssh(
        MGMT, "network status").stdout
    late = net.ssh(MGMT, "network confirm")
    assert late.returncode == 1 and "no applied change waits" in late.stderr


def test_dhcp_lease_applied_after_a_link_local_fallback(net: Net) -> None:
    _need("udhcpc")
    _need("dnsmasq")
    net.start_controller()
    assert net.ssh(MGMT, "put config/network confirmSeconds=120").returncode == 0
    # no DHCP server yet: udhcpc gives up after 3 discovers; the fallback takes over
    r = _put(net, "llaFallback=true")
    assert r.returncode == 0, r.stderr
    wait_for_blocking(lambda: any(a.startswith("169.254.") and a.endswith("/16")
                              for a in net.addresses()), 60)
    net.start_dhcp_server()
    # udhcpc tries again 10 s after its failure and takes the lease
    wait_for_blocking(lambda: any(re.fullmatch(r"10\.77\.0\.1\d\d/24", a)
                              for a in net.addresses()), 90)
    lease = net.addresses()
    assert len(lease) == 1, lease           # the link-local fallback is gone
    address = lease[0].split("/")[0]
    assert "via 10.77.0.1 dev eth0" in net.default_route()
    wait_for_blocking(lambda: "nameserver 10.77.0.53" in net.resolv.read_text(), 30)
    assert net.ping(address)
    status = net.ssh(MGMT, "network status")
    assert f"DHCP lease on eth0: {lease[0]} via 10.77.0.1" in status.stdout, status.stdout
    ok = net.ssh(address, "network confirm")
    assert ok.returncode == 0, ok.stderr


def test_ipv6_router_advertisements_and_link_local_addressing(net: Net) -> None:
    _need("udhcpc")
    _need("radvd")
    net.start_controller()
    net.start_router_advertisements()
    # the stored defaults (DHCP, RA and link-local on), applied: an address from the RAs
    assert net.ssh(MGMT, "network apply").returncode == 0
    wait_for_blocking(lambda: any(a.startswith("2001:db8:77:") for a in net.ipv6()), 60,
                      what=lambda: f"no SLAAC address: {net.ipv6()}")
    wait_for_blocking(lambda: "via fe80::" in _run(
        "ip", "-n", net.ctl, "-6", "route", "show", "default").stdout, 30)
    assert net.sysctl("accept_ra") == "1"
    mac = _run("ip", "netns", "exec", net.ctl, "cat", "/sys/class/net/eth0/address").stdout.strip()
    assert f"{eui64_link_local(mac)}/64" in net.ipv6()
    # both off: no router advertisements taken, no link-local address
    assert _put(net, "ipv6Ra=false ipv6Lla=false").returncode == 0
    assert net.sysctl("accept_ra") == "0" and net.sysctl("addr_gen_mode") == "1"
    assert not any(a.startswith("fe80:") for a in net.ipv6())
    # link-local on again: the EUI-64 address of the MAC
    assert _put(net, "ipv6Lla=true").returncode == 0
    assert net.sysctl("addr_gen_mode") == "0"
    assert f"{eui64_link_local(mac)}/64" in net.ipv6()


def test_restart_rolls_back_an_unconfirmed_change_and_reapplies_a_confirmed_one(
        net: Net) -> None:
    _need("udhcpc")
    net.start_controller()
    assert _put(net, "dhcp=false ipv4Address=10.77.0.60 prefixLength=24").returncode == 0
    net.stop_controller()
    assert net.addresses() == ["10.77.0.60/24"]       # a stop changes nothing
    net.start_controller()
    # not confirmed before the stop: rolled back at the start
    assert net.addresses() == ["10.77.0.2/24"]
    rollbacks = net.audit("network.rollback")
    assert len(rollbacks) == 1 and "restarted before the change was confirmed" in rollbacks[0]
    # a confirmed change comes back after a restart, even if the host lost it meanwhile
    assert _put(net, "dhcp=false ipv4Address=10.77.0.61 prefixLength=24").returncode == 0
    assert net.ssh("10.77.0.61", "network confirm").returncode == 0
    net.stop_controller()
    _run("ip", "-n", net.ctl, "addr", "flush", "dev", "eth0")
    net.start_controller()
    assert net.addresses() == ["10.77.0.61/24"]
    status = net.ssh("10.77.0.61", "network status")
    assert "applied and confirmed: eth0 10.77.0.61/24" in status.stdout, status.stdout
    assert len(net.audit("network.rollback")) == 1


@pytest.mark.parametrize(("assignments", "words"), [
    ("dhcp=false ipv4Address=10.77.0.50 prefixLength=33",
     ["interfaces.eth0.prefixLength", "33", "0 to 32"]),
    ("dhcp=false ipv4Address=10.77.0.50 prefixLength=24 gateway=10.99.0.1",
     ["interfaces.eth0.gateway", "10.99.0.1", "inside the interface's subnet 10.77.0.0/24"]),
    ("dhcp=false ipv4Address=10.77.0.50 prefixLength=24 dns=10.77.0.999",
     ["dns", "10.77.0.999", "address of a DNS server"]),
])
def test_bad_input_is_refused_and_changes_nothing(net: Net, assignments: str,
                                                 words: list[str]) -> None:
    net.start_controller()
    r = _put(net, assignments)
    assert r.returncode == 1
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert net.addresses() == ["10.77.0.2/24"]
    assert net.resolv.read_text() == HOST_RESOLV
    status = net.ssh(MGMT, "network status")
    assert "the host's own network configuration is in use" in status.stdout
    assert net.audit("network.apply") == []
