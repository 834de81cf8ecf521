"""The SNMP agent through real net-snmp clients (snmpget, snmpwalk, snmpbulkwalk, snmpset,
snmptable) on loopback: started and stopped by config/snmp_agent, v2c and v3, values
from live state, sparse rows, SET with unlock + command, the audit trail, the MIB."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.model import DeviceState, OutletAction, OutletState
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.quantities import Component
from enerteg_tui.protocols.snmp.mib import MIB_DIR, MIB_TEXT, load_mib
from tests.helpers import free_port, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BASE_MIBS = ROOT / "build" / "base-mibs"
MIB = load_mib()
O = MIB.oid


def dotted(oid: tuple[int, ...]) -> str:
    return "." + ".".join(map(str, oid))


@pytest.fixture(scope="module")
def snmp_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """net-snmp without MIBs or configuration (Debian ships no MIBs: MIBS= MIBDIRS=)."""
    state = tmp_path_factory.mktemp("netsnmp")
    (state / "cert_indexes").mkdir()
    return dict(os.environ, MIBS="", MIBDIRS="", SNMPCONFPATH="/nonexistent",
                SNMP_PERSISTENT_DIR=str(state))


async def run(env: dict[str, str], *args: str, timeout: float = 30) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def parse(out: str) -> dict[str, str]:
    """``.oid = TYPE: value`` lines → {oid: value text}."""
    values = {}
    for line in out.splitlines():
        m = re.match(r"^(\.[0-9.]+) = (?:[A-Za-z0-9 -]+: )?(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2).strip('"')
    return values


V3 = {"v3User": "ops", "v3PasswordAuth": "auth-pass-1", "v3PasswordPriv": "priv-pass-1"}


async def agent(make_controller: Any, pdus: int = 4, data_dir: Path | None = None,
                **settings: Any) -> tuple[Any, int]:
    """A controller whose agent listens on a free loopback port."""
    port = free_port(socket.SOCK_DGRAM)
    c = await make_controller(pdus=pdus, interval=0.2, snmp_port=port, bind="127.0.0.1",
                              data_dir=data_dir)
    await c.config.put(SYSTEM, "snmp_agent", {"enabled": "enabled", **settings})
    svc = c.service("snmp")
    await wait_for(lambda: svc.status.running)
    return c, port


def v2c(port: int, community: str = "public") -> list[str]:
    return ["-v2c", "-c", community, "-On", "-t", "2", "-r", "1", f"127.0.0.1:{port}"]


def v3(port: int, auth: str = "SHA-256", priv: str = "AES", user: str = "ops",
       auth_key: str = "auth-pass-1", priv_key: str = "priv-pass-1") -> list[str]:
    return ["-v3", "-l", "authPriv", "-u", user, "-a", auth, "-A", auth_key, "-x", priv,
            "-X", priv_key, "-On", "-t", "2", "-r", "1", f"127.0.0.1:{port}"]


# ------------------------------------------------------------------ start, stop, status
async def test_settings_start_and_stop_the_agent_without_restart(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, snmpName="rack-row-7", snmpLocation="DC1")
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), ".1.3.6.1.2.1.1.5.0",
                             ".1.3.6.1.2.1.1.6.0", ".1.3.6.1.2.1.1.2.0", ".1.3.6.1.2.1.1.9.1.2.1")
    assert rc == 0, err
    assert parse(out) == {".1.3.6.1.2.1.1.5.0": "rack-row-7", ".1.3.6.1.2.1.1.6.0": "DC1",
                          ".1.3.6.1.2.1.1.2.0": dotted(O("etgProductController")),
                          ".1.3.6.1.2.1.1.9.1.2.1": dotted(O("etgCompliance"))}
    # sysName follows the settings per request, without rebuilding the agent
    svc = c.service("snmp")
    before = svc.agent
    await c.config.put(SYSTEM, "snmp_agent", {"snmpName": "renamed"})
    await asyncio.sleep(0.1)
    rc, out, _ = await run(snmp_env, "snmpget", *v2c(port), ".1.3.6.1.2.1.1.5.0")
    assert parse(out)[".1.3.6.1.2.1.1.5.0"] == "renamed" and svc.agent is before
    await c.config.put(SYSTEM, "snmp_agent", {"enabled": "disabled"})
    await wait_for(lambda: not svc.status.running)
    assert svc.status.text.startswith("disabled")
    rc, out, err = await run(snmp_env, "snmpget", "-v2c", "-c", "public", "-t", "0.3", "-r", "0",
                             f"127.0.0.1:{port}", ".1.3.6.1.2.1.1.5.0")
    assert rc != 0 and "Timeout" in err
    await c.config.put(SYSTEM, "snmp_agent", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running)
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), ".1.3.6.1.2.1.1.5.0")
    assert rc == 0 and "renamed" in out


async def test_port_in_use_is_one_log_line_and_an_audit_entry(
        make_controller: Any, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port(socket.SOCK_DGRAM)
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", port))
    try:
        c = await make_controller(pdus=2, snmp_port=port, bind="127.0.0.1")
        with caplog.at_level(logging.INFO, logger="enerteg_tui.protocols.snmp"):
            await c.config.put(SYSTEM, "snmp_agent", {"enabled": "enabled"})
            svc = c.service("snmp")
            await wait_for(lambda: "not running" in svc.status.text)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and not errors[0].exc_info
        assert f"127.0.0.1:{port}" in errors[0].getMessage()
        assert "in use" in svc.status.text and not svc.status.running
        rows = await c.store.fetchall("SELECT action, message FROM audit WHERE action='snmp.error'")
        assert rows and "in use" in rows[0][1]
        # the controller runs on: the shell still works and the poller still sweeps
        sweeps = c.live.bus.sweeps
        await wait_for(lambda: c.live.bus.sweeps > sweeps)
    finally:
        holder.close()


async def test_engine_id_is_kept_and_boots_count_up(make_controller: Any, tmp_path: Path,
                                                    snmp_env: dict[str, str]) -> None:
    data = tmp_path / "keep"
    c, port = await agent(make_controller, data_dir=data)
    rc, out, _ = await run(snmp_env, "snmpget", *v2c(port), ".1.3.6.1.6.3.10.2.1.1.0",
                           ".1.3.6.1.6.3.10.2.1.2.0")
    first = parse(out)
    await c.stop()
    port2 = free_port(socket.SOCK_DGRAM)
    c2 = await make_controller(pdus=4, data_dir=data, snmp_port=port2, bind="127.0.0.1")
    await wait_for(lambda: c2.service("snmp").status.running)
    rc, out, _ = await run(snmp_env, "snmpget", *v2c(port2), ".1.3.6.1.6.3.10.2.1.1.0",
                           ".1.3.6.1.6.3.10.2.1.2.0")
    second = parse(out)
    assert second[".1.3.6.1.6.3.10.2.1.1.0"] == first[".1.3.6.1.6.3.10.2.1.1.0"]
    assert int(second[".1.3.6.1.6.3.10.2.1.2.0"]) == int(first[".1.3.6.1.6.3.10.2.1.2.0"]) + 1


# ------------------------------------------------------------------ reading
async def test_walk_is_ordered_sparse_and_equals_live_state(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=6)
    root = dotted(O("etgPduMIB"))
    rc, walk, err = await run(snmp_env, "snmpwalk", *v2c(port), root)
    assert rc == 0 and "not increasing" not in err, err
    rc, bulk, err = await run(snmp_env, "snmpbulkwalk", "-Cr40", *v2c(port), root)
    assert rc == 0 and "not increasing" not in err, err
    values, bulk_values = parse(walk), parse(bulk)
    assert list(values) == list(bulk_values)
    keys = [tuple(int(p) for p in k.strip(".").split(".")) for k in values]
    assert keys == sorted(keys) and len(keys) > 200
    devices = {d.info.settings.device_id: d for d in c.live.devices.values()}
    assert len(devices) == len(c.live.devices)     # the simulator numbers them apart
    checked = 0
    for dev_id, dev in devices.items():
        for phase in range(1, dev.info.model.phases + 1):
            for key, col in (("voltage", "etgInputVoltage"), ("current", "etgInputCurrent")):
                oid = dotted(O(col) + (dev_id, phase))
                live = dev.value(Component.INPUT, phase, key)
                assert live is not None
                # a sweep may land between two reads: within one sweep's change
                assert abs(int(values[oid]) - round(live * 100)) <= max(200, abs(live) * 10)
                checked += 1
        # an outlet that meters nothing has no metering instances at all (no 0 sentinels)
        metered = dev.info.model.metered_outlets
        current = [k for k in values if k.startswith(dotted(O("etgOutletCurrent") + (dev_id,)) + ".")]
        assert bool(current) == metered, (dev_id, metered)
    assert checked
    energy = dotted(O("etgTotalEnergyWh") + (next(iter(devices)),))
    assert "Counter64" in walk.split(energy + " = ", 1)[1].split("\n", 1)[0]


async def test_walks_of_one_table_in_v1_and_v2c(make_controller: Any,
                                                 snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=3)
    table = dotted(O("etgTotalTable"))
    rc, v2, err = await run(snmp_env, "snmpwalk", *v2c(port), table)
    assert rc == 0 and "not increasing" not in err, err
    v1 = ["-v1" if a == "-v2c" else a for a in v2c(port)]
    rc, v1out, err = await run(snmp_env, "snmpwalk", *v1, table)
    assert rc == 0 and "not increasing" not in err, err
    two, one = parse(v2), parse(v1out)
    assert two and all(k.startswith(table + ".") for k in two)
    # SNMPv1 cannot carry Counter64 (RFC 3584): the energies are skipped, nothing else
    assert set(one) == {k for k in two if "Counter64" not in v2.split(k + " = ", 1)[1][:12]}
    assert len(one) < len(two)


async def test_stale_pdu_values_are_withdrawn_and_its_row_stays(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=3)
    dev = c.live.ordered()[1]
    dev_id = dev.info.settings.device_id
    await c.poller.stop()                  # so no sweep marks it running again
    dev.state = DeviceState.STALE          # as the poller marks a PDU that missed sweeps
    rc, out, _ = await run(snmp_env, "snmpget", *v2c(port),
                           dotted(O("etgInputVoltage") + (dev_id, 1)),
                           dotted(O("etgDevState") + (dev_id,)))
    got = parse(out)
    assert "No Such Instance" in got[dotted(O("etgInputVoltage") + (dev_id, 1))]
    assert got[dotted(O("etgDevState") + (dev_id,))] in ("2", "stale(2)")


async def test_snmptable_v2c_and_v3_show_every_pdu(make_controller: Any,
                                                   snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=20, snmpVersion="snmpV2CV3",
                          v3ProtocolAuth="SHA256", v3ProtocolPriv="AES", **V3)
    mibs = ["-M", f"{BASE_MIBS}:{MIB_DIR}", "-m", "ENERTEG-PDU-MIB"]
    if not (BASE_MIBS / "SNMPv2-SMI.mib").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "build-mib.sh"), "--base-only"], check=True)
    env = {k: v for k, v in snmp_env.items() if k not in ("MIBS", "MIBDIRS")}
    for access in (v2c(port), v3(port)):
        rc, out, err = await run(env, "snmptable", *mibs, "-Cf", "|", "-Cl",
                                 *[a for a in access if a != "-On"], "ENERTEG-PDU-MIB::etgDevTable")
        assert rc == 0, err
        rows = [line for line in out.splitlines() if line.count("|") > 10]
        assert len(rows) == 20 + 1                  # header + every PDU
        names = {d.info.settings.name for d in c.live.devices.values()}
        assert all(any(n in r for r in rows) for n in names)
    # wrong v3 key: refused
    rc, out, err = await run(snmp_env, "snmpget", *v3(port, priv_key="wrong-priv-9"),
                             ".1.3.6.1.2.1.1.5.0")
    assert rc != 0


@pytest.mark.parametrize(("auth", "priv", "cli_auth", "cli_priv"), [
    ("SHA", "DES", "SHA", "DES"), ("MD5", "AES256", "MD5", "AES-256"),
    ("SHA512", "AES192", "SHA-512", "AES-192")])
async def test_v3_protocols(make_controller: Any, snmp_env: dict[str, str], auth: str,
                            priv: str, cli_auth: str, cli_priv: str) -> None:
    c, port = await agent(make_controller, pdus=2, snmpVersion="snmpV3", v3ProtocolAuth=auth,
                          v3ProtocolPriv=priv, **V3)
    rc, out, err = await run(snmp_env, "snmpget", *v3(port, cli_auth, cli_priv),
                             dotted(O("etgCtlDeviceCount")) + ".0")
    assert rc == 0 and out.strip().endswith(": 2"), (out, err)
    # v2c is off in snmpV3 mode
    rc, out, err = await run(snmp_env, "snmpget", "-v2c", "-c", "public", "-t", "0.3", "-r", "0",
                             f"127.0.0.1:{port}", ".1.3.6.1.2.1.1.5.0")
    assert rc != 0


# ------------------------------------------------------------------ writing
async def test_sets_need_the_write_community_and_set_enabled(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=2, v2cWriteCommunity="s3cret-w")
    dev = c.live.ordered()[0]
    oid = dotted(O("etgDevLocation") + (dev.info.settings.device_id,))
    # SET not allowed (enabledWrite off): neither community changes anything
    for community in ("public", "s3cret-w"):
        rc, out, err = await run(snmp_env, "snmpset", *v2c(port, community), oid, "s", "Hall 3")
        assert rc != 0 and ("noAccess" in err or "notWritable" in err), err
    assert dev.info.settings.location != "Hall 3"
    await c.config.put(SYSTEM, "snmp_agent", {"enabledWrite": "enabled",
                                              "genericMibEnabledSet": "enabled"})
    await asyncio.sleep(0.1)
    await wait_for(lambda: c.service("snmp").status.running)
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "public"), oid, "s", "Hall 3")
    assert rc != 0 and "noAccess" in err
    assert dev.info.settings.location != "Hall 3"
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"), oid, "s", "Hall 3")
    assert rc == 0, err
    assert c.live.get(dev.hex_id).info.settings.location == "Hall 3"
    rows = await c.store.fetchall("SELECT user, address, message FROM audit "
                                  "WHERE action='device.settings'")
    assert rows[-1][0] == "snmp:v2c write community" and rows[-1][1] == "127.0.0.1"
    dumped = json.dumps([list(r) for r in await c.store.fetchall("SELECT * FROM audit")])
    assert "s3cret-w" not in dumped
    # the Device ID: the PDU's rows move to the new index
    free_id = next(i for i in range(200, 248)
                   if all(d.info.settings.device_id != i for d in c.live.devices.values()))
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"),
                             dotted(O("etgBusDeviceId") + (dev.info.position + 1,)), "u",
                             str(free_id))
    assert rc == 0, err
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), dotted(O("etgDevLocation") + (free_id,)))
    assert "Hall 3" in out
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"),
                             dotted(O("etgBusDeviceId") + (dev.info.position + 1,)), "u", "0")
    assert rc != 0 and "wrongValue" in err
    # a bad value changes nothing and names the varbind
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"),
                             dotted(O("etgDevFeed") + (free_id,)), "i", "9")
    assert rc != 0 and "wrongValue" in err


async def test_outlet_switch_needs_unlock_then_command(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=4, snmpVersion="snmpV2CV3",
                          enabledWrite="enabled", genericMibEnabledSet="enabled",
                          v3ProtocolAuth="SHA256", v3ProtocolPriv="AES", **V3)
    dev = next(d for d in c.live.ordered() if d.info.model.switchable)
    dev_id = dev.info.settings.device_id
    outlet = 2
    before = dev.outlet_states.get(outlet)
    target = "3" if before is OutletState.ON else "2"          # off(3) / on(2)
    command = dotted(O("etgOutletCommand") + (dev_id, outlet))
    unlock = dotted(O("etgOutletUnlock") + (dev_id, outlet))
    rc, out, err = await run(snmp_env, "snmpset", *v3(port), command, "i", target)
    assert rc != 0 and "inconsistentValue" in err
    assert not dev.pending_outlets and dev.outlet_states.get(outlet) == before
    rc, out, err = await run(snmp_env, "snmpset", *v3(port), unlock, "i", "2")
    assert rc == 0, err
    rc, out, _ = await run(snmp_env, "snmpget", *v3(port), unlock)
    assert out.strip().endswith(": 2")
    rc, out, err = await run(snmp_env, "snmpset", *v3(port), command, "i", target)
    assert rc == 0, err
    want = OutletState.OFF if target == "3" else OutletState.ON
    await wait_for(lambda: c.live.get(dev.hex_id).outlet_states.get(outlet) == want)
    # the window is used up
    rc, out, err = await run(snmp_env, "snmpset", *v3(port), command, "i", target)
    assert rc != 0 and "inconsistentValue" in err
    rows = await c.store.fetchall("SELECT user, address, action FROM audit "
                                  "WHERE action LIKE 'outlet.%' ORDER BY id")
    assert [r[2] for r in rows][-2:] == ["outlet.unlock", f"outlet.{want.value}"]
    assert {r[0] for r in rows[-2:]} == {"snmp:ops"} and rows[-1][1] == "127.0.0.1"


async def test_unlock_window_expires(make_controller: Any, snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=4, enabledWrite="enabled",
                          genericMibEnabledSet="enabled", v2cWriteCommunity="s3cret-w")
    svc = c.service("snmp")
    svc.agent.writes.unlock_seconds = 0.3
    dev = next(d for d in c.live.ordered() if d.info.model.switchable)
    dev_id = dev.info.settings.device_id
    rc, _, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"),
                           dotted(O("etgOutletUnlock") + (dev_id, 1)), "i", "2")
    assert rc == 0, err
    await asyncio.sleep(0.5)
    rc, _, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"),
                           dotted(O("etgOutletCommand") + (dev_id, 1)), "i", "4")
    assert rc != 0 and "inconsistentValue" in err and not dev.pending_outlets


# ------------------------------------------------------------------ hostile input
async def test_malformed_packets_leave_the_agent_answering(
        make_controller: Any, snmp_env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    c, port = await agent(make_controller, pdus=4, snmpVersion="snmpV2CV3",
                          v3ProtocolAuth="SHA256", v3ProtocolPriv="AES", **V3)
    rnd = random.Random(16)
    rc, good, _ = await run(snmp_env, "snmpget", *v2c(port), ".1.3.6.1.2.1.1.5.0")
    # a real v2c GET on the wire, to truncate and flip
    probe = bytes.fromhex("302902010104067075626c6963a01c02040000000102010002010030"
                          "0e300c06082b060102010105000500")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sweeps = c.live.bus.sweeps
    t0 = asyncio.get_running_loop().time()
    try:
        for i in range(10_000):
            kind = i % 4
            if kind == 0:
                data = rnd.randbytes(rnd.randint(0, 400))
            elif kind == 1:
                data = probe[:rnd.randint(0, len(probe) - 1)]
            elif kind == 2:
                b = bytearray(probe)
                for _ in range(3):
                    b[rnd.randrange(len(b))] = rnd.randrange(256)
                data = bytes(b)
            else:   # GETBULK with max-repetitions 2^31-1
                data = bytes.fromhex("302c02010104067075626c6963a51f0204000000020201000204"
                                     "7fffffff3011300f060b2b06010401816e8a0c02010500")
            with contextlib.suppress(BlockingIOError):
                sock.sendto(data, ("127.0.0.1", port))
            if i % 200 == 0:
                await asyncio.sleep(0)
    finally:
        sock.close()
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), ".1.3.6.1.2.1.1.5.0")
    assert rc == 0 and out == good, err
    # wrong v3 keys are refused, and the right ones still work after them
    for bad in (v3(port, auth_key="wrong-auth-9"), v3(port, priv_key="wrong-priv-9")):
        rc, out, err = await run(snmp_env, "snmpget", *bad, ".1.3.6.1.2.1.1.5.0")
        assert rc != 0
    rc, out, err = await run(snmp_env, "snmpget", *v3(port), ".1.3.6.1.2.1.1.5.0")
    assert rc == 0, err
    # no traceback per packet: at most the one summary line a minute
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(noisy) <= 1 and all(r.name.startswith("enerteg_tui.protocols.snmp") for r in noisy)
    await wait_for(lambda: c.live.bus.sweeps > sweeps + 2)
    # the poller kept (at least half) its cadence of one sweep every 0.2 s meanwhile
    elapsed = asyncio.get_running_loop().time() - t0
    assert c.live.bus.sweeps - sweeps >= int(elapsed / 0.2 / 2), (elapsed, c.live.bus.sweeps - sweeps)


# ------------------------------------------------------------------ the MIB and tables
def test_mib_is_lint_clean_and_compiled_file_is_current(tmp_path: Path) -> None:
    out = tmp_path / "mib.json"
    r = subprocess.run(["bash", str(ROOT / "scripts" / "build-mib.sh")], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, MIB_JSON_OUT=str(out), PYTHON=sys.executable))
    assert r.returncode == 0, r.stderr      # smilint -l 6 printed nothing
    assert out.read_text() == (MIB_DIR / "ENERTEG-PDU-MIB.json").read_text(), \
        "run scripts/build-mib.sh after changing the MIB"
    lint = subprocess.run(["smilint", "-c", "/dev/null", "-s", "-m", "-l", "9", str(MIB_TEXT)],
                          capture_output=True, text=True,
                          env=dict(os.environ, SMIPATH=f"{BASE_MIBS}:{MIB_DIR}"))
    assert lint.stdout + lint.stderr == ""


# ------------------------------------------------------------------ shell
async def test_shell_says_whether_the_agent_runs_and_why_not(make_controller: Any) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    port = free_port(socket.SOCK_DGRAM)
    c = await make_controller(pdus=2, snmp_port=port, bind="127.0.0.1")

    async def shell(script: str) -> tuple[int, str, str]:
        out: list[str] = []
        err: list[str] = []
        code = await ShellSession(c.core, ADMIN).run_script(script, out.append, err.append)
        return code, "".join(out), "".join(err)

    code, out, err = await shell("cat config/snmp_agent")
    assert code == 0 and "SNMP agent: disabled (config/snmp_agent enabled=disabled)" in err
    code, out, err = await shell("put config/snmp_agent enabled=enabled")
    assert code == 0, err
    assert f"SNMP agent: running on UDP 127.0.0.1:{port} (v1/v2c, read-only)" in err
    await shell("put config/snmp_agent enabled=disabled")
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", port))
    try:
        code, out, err = await shell("put config/snmp_agent enabled=enabled")
        assert code == 0
        assert (f"SNMP agent: not running: cannot listen on UDP 127.0.0.1:{port}: "
                "Address already in use") in err
        code, out, err = await shell("cat config/snmp_agent")
        assert "Address already in use" in err
    finally:
        holder.close()


# ------------------------------------------------------------------ notifications
async def _trapd(tmp_path: Path, env: dict[str, str], conf: str) -> tuple[Any, int, Path]:
    port = free_port(socket.SOCK_DGRAM)
    (tmp_path / "snmptrapd.conf").write_text(conf)
    log = tmp_path / "traps.log"
    proc = await asyncio.create_subprocess_exec(
        "snmptrapd", "-f", "-C", "-c", str(tmp_path / "snmptrapd.conf"), "-Lf", str(log),
        "-M", f"{BASE_MIBS}:{MIB_DIR}", "-m", "SNMPv2-MIB:ENERTEG-PDU-MIB", "-p",
        str(tmp_path / "pid"),
        f"udp:127.0.0.1:{port}", env={k: v for k, v in env.items() if k not in ("MIBS", "MIBDIRS")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await wait_for(lambda: log.exists() and "NET-SNMP version" in log.read_text(), timeout=10)
    return proc, port, log


@pytest.mark.parametrize(("version", "kind"), [("v2c", "trap"), ("v3", "trap"), ("v2c", "inform")])
async def test_traps_for_alarm_raised_and_cleared_reach_snmptrapd(
        make_controller: Any, snmp_env: dict[str, str], tmp_path: Path, version: str,
        kind: str) -> None:
    if not (BASE_MIBS / "SNMPv2-SMI.mib").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "build-mib.sh"), "--base-only"], check=True)
    port = free_port(socket.SOCK_DGRAM)
    c = await make_controller(pdus=3, interval=0.1, snmp_port=port, bind="127.0.0.1")
    engine_id = None
    if version == "v3":
        # the receiver must know the sender's engine id: read it from the agent first
        await c.config.put(SYSTEM, "snmp_agent", {
            "enabled": "enabled", "snmpVersion": "snmpV3", "v3ProtocolAuth": "SHA256",
            "v3ProtocolPriv": "AES", **V3})
        await wait_for(lambda: c.service("snmp").status.running)
        engine_id = c.service("snmp").agent.engine_id.hex()
        conf = (f"createUser -e 0x{engine_id} ops SHA-256 auth-pass-1 AES priv-pass-1\n"
                "authUser log ops priv\n")
    else:
        conf = "authCommunity log public\n"
    trapd, trap_port, log = await _trapd(tmp_path, snmp_env, conf)
    try:
        await c.config.put(SYSTEM, "snmp_agent", {
            "enabled": "enabled", "enabledTrap": "enabled", "notificationType": kind,
            "serverTrapAddress": f"127.0.0.1:{trap_port}"})
        await wait_for(lambda: "coldStart" in log.read_text(), timeout=10)
        dev = next(d for d in c.live.ordered() if d.info.model.phases == 3)
        base = dev.value(Component.TOTAL, 0, "current")
        await c.rules.create(SYSTEM, {
            "name": "snmp-trap", "scope": "pdu", "target": dev.hex_id, "quantity": "current",
            "component": "t", "minDurationSeconds": 0,
            "warningAbove": {"enabled": True, "value": round(base * 1.3, 2)}})
        await c.topics.put(SYSTEM, f"sim/{dev.hex_id}", {"loadFactor": 1.8})
        traps = c.service("snmp").agent.traps
        await wait_for(lambda: "etgAlarmRaised" in log.read_text(), timeout=15)
        await c.topics.put(SYSTEM, f"sim/{dev.hex_id}", {"loadFactor": 0.5})
        await wait_for(lambda: "etgAlarmCleared" in log.read_text(), timeout=15)
        text = log.read_text()
        raised = text.split("etgAlarmRaised", 1)[1]
        assert f"ENERTEG-PDU-MIB::etgNotifyChannel.0 = STRING: {dev.hex_id}/t/0/current" in raised
        assert f"etgNotifyDevId.0 = Gauge32: {dev.info.settings.device_id}" in raised
        assert "etgNotifySeverity.0 = INTEGER: warning(1)" in raised
        assert traps.sent >= 3 and traps.failed == 0       # coldStart, raised, cleared
        if kind == "inform":                                # snmptrapd answered each
            await wait_for(lambda: traps.acknowledged >= 3)
    finally:
        trapd.terminate()
        await trapd.wait()


async def test_the_mib_and_guide_are_in_the_sftp_docs_folder(make_controller: Any) -> None:
    c = await make_controller(pdus=2)
    docs = c.core.paths.root / "docs"
    assert (docs / "ENERTEG-PDU-MIB.txt").read_text() == MIB_TEXT.read_text()
    assert (docs / "snmp.md").read_text() == (ROOT / "docs" / "snmp.md").read_text()


async def test_values_equal_the_shells_cat_of_the_same_channel(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    c, port = await agent(make_controller, pdus=4)
    await c.poller.stop()                      # the same reading on both faces
    dev = next(d for d in c.live.ordered() if d.info.model.metered_outlets)
    dev_id, hex_id = dev.info.settings.device_id, dev.hex_id

    async def cat(path: str) -> dict[str, Any]:
        out: list[str] = []
        code = await ShellSession(c.core, ADMIN).run_script(
            f"format json; cat {path}", out.append, lambda _: None)
        assert code == 0
        return json.loads("".join(out))

    phase = await cat(f"sensor/{hex_id}/i/1")
    outlet = await cat(f"sensor/{hex_id}/o/1")
    total = await cat(f"sensor/{hex_id}/t")
    pairs = {
        dotted(O("etgInputVoltage") + (dev_id, 1)): round(phase["voltage"] * 100),
        dotted(O("etgInputCurrent") + (dev_id, 1)): round(phase["current"] * 100),
        dotted(O("etgInputPowerFactor") + (dev_id, 1)): round(phase["powerFactor"] * 100),
        dotted(O("etgOutletActivePower") + (dev_id, 1)): round(outlet["activePower"] * 100),
        dotted(O("etgTotalEnergyWh") + (dev_id,)): round(total["energy"] * 1000),
    }
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), *pairs)
    assert rc == 0, err
    got = {k: int(v) for k, v in parse(out).items()}
    assert got == pairs


# ------------------------------------------------------------------ the system group
SYS_CONTACT, SYS_NAME, SYS_LOCATION = (".1.3.6.1.2.1.1.4.0", ".1.3.6.1.2.1.1.5.0",
                                       ".1.3.6.1.2.1.1.6.0")


async def test_sysname_falls_back_to_the_host_name(make_controller: Any,
                                                   snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=2)
    assert c.config.get("snmp_agent").snmpName == ""
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), SYS_NAME)
    assert rc == 0 and parse(out)[SYS_NAME] == "enerteg", (out, err)
    await c.config.put(SYSTEM, "hostname", {"hostname": "ring-b.example"})
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), SYS_NAME)
    assert parse(out)[SYS_NAME] == "ring-b.example"
    await c.config.put(SYSTEM, "snmp_agent", {"snmpName": "pdu-row-3"})
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), SYS_NAME)
    assert parse(out)[SYS_NAME] == "pdu-row-3"


async def test_system_group_set_goes_through_the_settings_and_is_audited(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    c, port = await agent(make_controller, pdus=2, v2cWriteCommunity="s3cret-w")
    # SET not allowed: neither community changes anything
    for community in ("public", "s3cret-w"):
        rc, out, err = await run(snmp_env, "snmpset", *v2c(port, community), SYS_LOCATION,
                                 "s", "Hall 9")
        assert rc != 0 and "noAccess" in err, err
    assert c.config.get("snmp_agent").snmpLocation == ""
    await c.config.put(SYSTEM, "snmp_agent", {"enabledWrite": "enabled",
                                              "genericMibEnabledSet": "enabled"})
    await wait_for(lambda: c.service("snmp").agent.writes.writers)
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "public"), SYS_LOCATION, "s", "Hall 9")
    assert rc != 0 and "noAccess" in err
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"), SYS_LOCATION, "s",
                             "Hall 9", SYS_CONTACT, "s", "noc@example.com", SYS_NAME, "s", "ring-c")
    assert rc == 0, err
    s = c.config.get("snmp_agent")
    assert (s.snmpLocation, s.snmpContact, s.snmpName) == ("Hall 9", "noc@example.com", "ring-c")
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), SYS_LOCATION, SYS_NAME)
    assert parse(out) == {SYS_LOCATION: "Hall 9", SYS_NAME: "ring-c"}
    rows = await c.store.fetchall("SELECT user, address, message FROM audit "
                                  "WHERE action='settings.change' AND object='config/snmp_agent' "
                                  "ORDER BY id")
    assert [r[0] for r in rows[-3:]] == ["snmp:v2c write community"] * 3
    assert rows[-3][1] == "127.0.0.1" and "snmpLocation" in rows[-3][2]
    # a value the settings refuse (a control character) is wrongValue and changes nothing
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"), SYS_LOCATION, "x",
                             "1b5b326a")
    assert rc != 0 and "wrongValue" in err, err
    assert c.config.get("snmp_agent").snmpLocation == "Hall 9"
    # sysDescr is not writable
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "s3cret-w"), ".1.3.6.1.2.1.1.1.0",
                             "s", "x")
    assert rc != 0 and ("noAccess" in err or "notWritable" in err), err


# ------------------------------------------------------------------ more notifications
def _after(log: Path, marker: str, start: int = 0) -> str:
    """The trap log from the first ``marker`` at or after offset ``start`` (empty if none)."""
    text = log.read_text()
    i = text.find(marker, start)
    return "" if i < 0 else text[i:]


async def test_notifications_to_a_list_of_targets(
        make_controller: Any, snmp_env: dict[str, str], tmp_path: Path) -> None:
    """Two receivers with their own version, kind and credentials (v2c trap; v3 inform
    from a user of its own), a dead one and one whose name does not resolve: the live
    ones get controller start, outlet switched, device added/changed/removed; the core
    sweeps on."""
    if not (BASE_MIBS / "SNMPv2-SMI.mib").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "build-mib.sh"), "--base-only"], check=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    trapd_a, port_a, log_a = await _trapd(tmp_path / "a", snmp_env,
                                          "authCommunity log nms-a\n")
    # an inform: snmptrapd is the authoritative engine, the sender discovers its engine id
    trapd_b, port_b, log_b = await _trapd(
        tmp_path / "b", snmp_env, "createUser informer SHA-512 inform-auth-1 AES inform-priv-1\n"
                                  "authUser log informer priv\n")
    dead = free_port(socket.SOCK_DGRAM)
    data = tmp_path / "data"
    try:
        c = await make_controller(pdus=4, interval=0.1, data_dir=data,
                                  snmp_port=free_port(socket.SOCK_DGRAM), bind="127.0.0.1")
        await c.config.put(SYSTEM, "snmp_agent", {
            "enabled": "enabled", "enabledTrap": "enabled",
            "trapTargets.a.address": f"127.0.0.1:{port_a}", "trapTargets.a.v2cCommunity": "nms-a",
            "trapTargets.b.address": f"127.0.0.1:{port_b}", "trapTargets.b.version": "v3",
            "trapTargets.b.notificationType": "inform", "trapTargets.b.v3User": "informer",
            "trapTargets.b.v3PasswordAuth": "inform-auth-1",
            "trapTargets.b.v3PasswordPriv": "inform-priv-1",
            "trapTargets.b.v3ProtocolAuth": "SHA512",
            "trapTargets.dead.address": f"127.0.0.1:{dead}",
            "trapTargets.dead.notificationType": "inform",
            "trapTargets.nowhere.address": "nowhere.invalid"})
        public = c.config.public("snmp_agent")["trapTargets"]
        assert public["b"]["v3PasswordAuth"] == "set" and public["a"]["v2cCommunity"] == "set"
        await c.stop()
        # the controller starts with the targets configured: coldStart, then (after the
        # first sweep) etgControllerStarted
        c = await make_controller(pdus=4, interval=0.1, data_dir=data,
                                  snmp_port=free_port(socket.SOCK_DGRAM), bind="127.0.0.1")
        await wait_for(lambda: c.service("snmp").status.running)
        for log in (log_a, log_b):
            await wait_for(lambda log=log: "etgControllerStarted" in log.read_text(), timeout=20)
        started = _after(log_a, "etgControllerStarted")
        assert "etgCtlDeviceCount.0 = Gauge32: 4" in started and "coldStart" in log_a.read_text()
        traps = c.service("snmp").agent.traps
        # outlet switched (from the shell's core call; reported by the PDU's next poll)
        dev = next(d for d in c.live.ordered() if d.info.model.switchable)
        outlet = 1
        action = OutletAction.OFF if dev.outlet_states.get(outlet) is OutletState.ON else OutletAction.ON
        mark, mark_b = len(log_a.read_text()), len(log_b.read_text())
        await c.devices.switch(SYSTEM, dev.hex_id, outlet, action)
        await wait_for(lambda: _after(log_a, "etgOutletSwitched", mark), timeout=20)
        await wait_for(lambda: _after(log_b, "etgOutletSwitched", mark_b), timeout=20)
        switched = _after(log_a, "etgOutletSwitched", mark)
        assert f"etgNotifyHexId.0 = STRING: {dev.hex_id}" in switched
        assert "etgNotifyOutlet.0 = Gauge32: 1" in switched
        want = "off(2)" if action is OutletAction.OFF else "on(1)"
        assert f"etgNotifyOutletState.0 = INTEGER: {want}" in switched
        # device changed: settings, then a PDU that stops answering
        mark = len(log_a.read_text())
        await c.devices.update_settings(SYSTEM, dev.hex_id, {"location": "Hall 5"})
        await wait_for(lambda: "settings changed" in _after(log_a, "etgDeviceChanged", mark),
                       timeout=20)
        quiet = c.live.ordered()[-1]
        mark = len(log_a.read_text())
        await c.topics.put(SYSTEM, f"sim/{quiet.hex_id}", {"reachable": False})
        await wait_for(lambda: "unreachable" in _after(log_a, "etgDeviceChanged", mark), timeout=20)
        assert "etgNotifyDevState.0 = INTEGER: unreachable(3)" in _after(log_a, "etgDeviceChanged", mark)
        # removed (forgotten), then added again when it answers
        await c.devices.forget(SYSTEM, quiet.hex_id)
        await wait_for(lambda: _after(log_a, "etgDeviceRemoved"), timeout=20)
        await c.topics.put(SYSTEM, f"sim/{quiet.hex_id}", {"reachable": True})
        await wait_for(lambda: _after(log_a, "etgDeviceAdded"), timeout=20)
        assert f"etgNotifyHexId.0 = STRING: {quiet.hex_id}" in _after(log_a, "etgDeviceAdded")
        for name in ("etgDeviceChanged", "etgDeviceRemoved", "etgDeviceAdded"):
            await wait_for(lambda name=name: name in log_b.read_text(), timeout=20)
        # the v3 informs were acknowledged; the dead receiver's were not (after retries),
        # the unresolvable one is counted as failed; the poller kept its cadence
        b, dead_t, nowhere = traps.targets["b"], traps.targets["dead"], traps.targets["nowhere"]
        await wait_for(lambda: b.acknowledged >= 5 and dead_t.failed >= 1, timeout=30)
        assert b.failed == 0 and traps.targets["a"].failed == 0
        assert nowhere.failed >= 1 and "cannot resolve nowhere.invalid" in nowhere.last_error
        sweeps = c.live.bus.sweeps
        await wait_for(lambda: c.live.bus.sweeps >= sweeps + 5, timeout=10)
    finally:
        for proc in (trapd_a, trapd_b):
            proc.terminate()
            await proc.wait()


async def test_trap_targets_refuse_bad_input_with_a_clear_message(make_controller: Any) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    c = await make_controller(pdus=2)

    async def shell(script: str) -> tuple[int, str, str]:
        out: list[str] = []
        err: list[str] = []
        code = await ShellSession(c.core, ADMIN).run_script(script, out.append, err.append)
        return code, "".join(out), "".join(err)

    code, out, err = await shell("put config/snmp_agent trapTargets.nms.address=10.0.0.5:1162 "
                                 "trapTargets.nms.version=v3 trapTargets.nms.v3User=t "
                                 "trapTargets.nms.v3PasswordAuth=short-1")
    assert code != 0 and "trapTargets.nms.v3PasswordAuth" in err and "short-1" not in err
    assert "at least 8 characters" in err
    assert c.config.get("snmp_agent").trapTargets == {}
    code, out, err = await shell("put config/snmp_agent trapTargets.nms.address=10.0.0.5:1162 "
                                 "trapTargets.nms.v2cCommunity=secret-c")
    assert code == 0, err
    t = c.config.get("snmp_agent").trapTargets["nms"]
    assert (t.address, t.port, t.v2cCommunity) == ("10.0.0.5", 1162, "secret-c")
    code, out, err = await shell("format json; cat config/snmp_agent")
    assert '"v2cCommunity": "set"' in out and "secret-c" not in out
    # "set" (what a read shows) keeps the stored value
    code, out, err = await shell("put config/snmp_agent trapTargets.nms.v2cCommunity=set "
                                 "trapTargets.nms.port=2162")
    assert code == 0, err
    assert c.config.get("snmp_agent").trapTargets["nms"].v2cCommunity == "secret-c"
    # the whole list as a read shows it (the console's Settings form sends it so) keeps it too
    shown_doc = c.config.public("snmp_agent")["trapTargets"]
    shown_doc["nms"]["port"] = 3162
    await c.config.put(SYSTEM, "snmp_agent", {"trapTargets": shown_doc})
    t = c.config.get("snmp_agent").trapTargets["nms"]
    assert (t.port, t.v2cCommunity) == (3162, "secret-c")
    dumped = json.dumps([list(r) for r in await c.store.fetchall("SELECT * FROM audit")])
    assert "secret-c" not in dumped
    code, out, err = await shell("put config/snmp_agent 'trapTargets.bad name.address=x'")
    assert code != 0 and "bad name" in err
    code, out, err = await shell("put config/snmp_agent trapTargets.nms=")
    assert code == 0, err
    assert c.config.get("snmp_agent").trapTargets == {}


# ------------------------------------------------------------------ the alarm table
async def test_alarm_table_equals_the_shells_alarms_view(make_controller: Any,
                                                         snmp_env: dict[str, str]) -> None:
    import datetime

    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    if not (BASE_MIBS / "SNMPv2-SMI.mib").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "build-mib.sh"), "--base-only"], check=True)
    c, port = await agent(make_controller, pdus=4)
    devs = [d for d in c.live.ordered() if d.info.model.phases == 3][:2]
    for dev in devs:
        base = dev.value(Component.TOTAL, 0, "current")
        await c.rules.create(SYSTEM, {
            "name": f"hot-{dev.hex_id}", "scope": "pdu", "target": dev.hex_id,
            "quantity": "current", "component": "t", "minDurationSeconds": 0,
            "warningAbove": {"enabled": True, "value": round(base * 1.3, 2)}})
        await c.topics.put(SYSTEM, f"sim/{dev.hex_id}", {"loadFactor": 1.8})
    await wait_for(lambda: len(c.alarms.active()) == 2, timeout=15)
    first, second = sorted(c.alarms.active(), key=lambda a: a.id)
    await c.alarms.acknowledge(SYSTEM, first.id, "on it")
    await c.topics.put(SYSTEM, f"sim/{second.device}", {"loadFactor": 0.5})
    await wait_for(lambda: not c.alarms.get(second.id).active, timeout=15)
    await c.poller.stop()                       # the same state on both faces

    out: list[str] = []
    code = await ShellSession(c.core, ADMIN).run_script("format json; cat alarms", out.append,
                                                        lambda _: None)
    assert code == 0
    shell = {a["id"]: a for a in json.loads("".join(out))["alarms"]}
    assert len(shell) == 2

    env = {k: v for k, v in snmp_env.items() if k not in ("MIBS", "MIBDIRS")}
    rc, table, err = await run(env, "snmptable", "-M", f"{BASE_MIBS}:{MIB_DIR}", "-m",
                               "ENERTEG-PDU-MIB", "-Cf", "|", "-Ci", "-CH",
                               *[a for a in v2c(port) if a != "-On"],
                               "ENERTEG-PDU-MIB::etgAlarmTable")
    assert rc == 0, err
    rows = {int(r.split("|")[0]): r.split("|") for r in table.splitlines() if r.count("|") == 10}
    assert len(rows) == 2, table
    assert set(rows) == set(shell)
    devices = {d.hex_id: d.info.settings.device_id for d in c.live.devices.values()}
    for alarm_id, a in shell.items():
        (_, severity, state, dev_id, hex_id, channel, value, threshold, text, raised,
         acked) = rows[alarm_id]
        assert severity == a["severity"].lower() and state == a["state"]
        assert int(dev_id) == devices[a["device"]] and hex_id == a["device"]
        assert channel == a["channel"] and text == a["text"]
        assert round(float(value) * 100) == round(a["value"] * 100)
        assert round(float(threshold) * 100) == round(a["threshold"] * 100)
        assert acked == ("true" if a["acknowledged"] else "false")
        start = datetime.datetime.fromtimestamp(a["start"] / 1000, datetime.timezone.utc)
        assert raised.startswith(f"{start.year}-{start.month}-{start.day},{start.hour}:"
                                 f"{start.minute}:{start.second}."), (raised, start)
    assert rows[first.id][10] == "true" and rows[second.id][2] == "inactive"
    # the active count beside it counts the active ones only
    rc, out, _ = await run(snmp_env, "snmpget", *v2c(port), dotted(O("etgCtlAlarmActiveCount")) + ".0")
    assert out.strip().endswith(": 1")


# ------------------------------------------------------------------ delays and peak reset
async def test_outlet_delays_and_peak_reset_over_snmp_and_the_shell(
        make_controller: Any, snmp_env: dict[str, str]) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    c, port = await agent(make_controller, pdus=6, enabledWrite="enabled",
                          genericMibEnabledSet="enabled", v2cWriteCommunity="s3cret-w")
    w = v2c(port, "s3cret-w")
    dev = next(d for d in c.live.ordered() if d.info.model.switchable)
    dev_id = dev.info.settings.device_id
    on_delay = dotted(O("etgOutletSwitchOnDelay") + (dev_id, 2))
    off_time = dotted(O("etgOutletCycleOffTime") + (dev_id, 2))
    rc, out, err = await run(snmp_env, "snmpset", *w, on_delay, "u", "1500", off_time, "u", "8000")
    assert rc == 0, err
    outlet = c.live.get(dev.hex_id).info.settings.outlets[1]
    assert (outlet.delay, outlet.power_cycle_delay) == (1.5, 8.0)
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), on_delay, off_time)
    assert parse(out) == {on_delay: "1500", off_time: "8000"}
    rc, out, err = await run(snmp_env, "snmpset", *w, off_time, "u", "500")
    assert rc != 0 and "wrongValue" in err
    assert c.live.get(dev.hex_id).info.settings.outlets[1].power_cycle_delay == 8.0
    plain = next((d for d in c.live.ordered() if not d.info.model.switchable), None)
    if plain is not None:                                   # no delays on unswitched PDUs
        oid = dotted(O("etgOutletSwitchOnDelay") + (plain.info.settings.device_id, 1))
        rc, out, err = await run(snmp_env, "snmpset", *w, oid, "u", "1000")
        assert rc != 0 and "notWritable" in err, err

    # a load spike leaves the peak high; a reset brings it back to the present current
    peak_oid = dotted(O("etgTotalCurrentPeak") + (dev_id,))

    async def spike(hex_id: str) -> None:
        await c.topics.put(SYSTEM, f"sim/{hex_id}", {"loadFactor": 2.5})
        sweeps = c.live.bus.sweeps
        await wait_for(lambda: c.live.bus.sweeps >= sweeps + 3)
        await c.topics.put(SYSTEM, f"sim/{hex_id}", {"loadFactor": 0.5})
        sweeps = c.live.bus.sweeps
        await wait_for(lambda: c.live.bus.sweeps >= sweeps + 3)

    def high(hex_id: str) -> bool:
        d = c.live.get(hex_id)
        return d.value(Component.TOTAL, 0, "currentPeak") > 2 * d.value(Component.TOTAL, 0, "current")

    def back(hex_id: str) -> bool:
        d = c.live.get(hex_id)
        return d.value(Component.TOTAL, 0, "currentPeak") <= 1.1 * d.value(Component.TOTAL, 0, "current") + 0.05

    await spike(dev.hex_id)
    assert high(dev.hex_id)
    rc, out, err = await run(snmp_env, "snmpset", *v2c(port, "public"), dotted(
        O("etgDevResetPeaks") + (dev_id,)), "i", "2")
    assert rc != 0 and "noAccess" in err and high(dev.hex_id)
    rc, out, err = await run(snmp_env, "snmpset", *w, dotted(O("etgDevResetPeaks") + (dev_id,)),
                             "i", "2")
    assert rc == 0, err
    await wait_for(lambda: back(dev.hex_id))
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port), peak_oid)
    live_peak = c.live.get(dev.hex_id).value(Component.TOTAL, 0, "currentPeak")
    assert abs(int(parse(out)[peak_oid]) - round(live_peak * 100)) <= max(50, live_peak * 20)
    rows = await c.store.fetchall("SELECT user, address, object FROM audit "
                                  "WHERE action='device.reset-peaks' ORDER BY id")
    assert rows[-1] == ("snmp:v2c write community", "127.0.0.1", f"sensor/{dev.hex_id}")

    # the shell's way to the same core call
    other = next(d for d in c.live.ordered() if d.hex_id != dev.hex_id)
    await spike(other.hex_id)
    assert high(other.hex_id)
    out: list[str] = []
    err_out: list[str] = []
    code = await ShellSession(c.core, ADMIN).run_script(
        f"put sensor/{other.hex_id} resetPeaks=true", out.append, err_out.append)
    assert code == 0, err_out
    await wait_for(lambda: back(other.hex_id))
    code = await ShellSession(c.core, ADMIN).run_script(
        f"put sensor/{other.hex_id} resetPeak=true", out.append, err_out.append)
    assert code != 0 and "resetPeak" in "".join(err_out)


# ------------------------------------------------------------------ the v2c fast path
async def test_fast_path_answers_as_pysnmp_does(make_controller: Any,
                                                snmp_env: dict[str, str]) -> None:
    """v2c reads answered by ``fastpath`` equal pysnmp's answers to the same requests:
    walks, bulk walks, GETs of present, absent and unknown objects, GETBULK with
    non-repeaters, past the end of the MIB."""
    c, port = await agent(make_controller, pdus=4)
    await c.poller.stop()                      # the same values for both paths
    dev = c.live.ordered()[0]
    dev_id = dev.info.settings.device_id
    gets = [".1.3.6.1.2.1.1.5.0", ".1.3.6.1.2.1.1.2.0", dotted(O("etgInputVoltage") + (dev_id, 1)),
            dotted(O("etgInputVoltage") + (dev_id, 9)), ".1.3.6.1.4.1.99.1.0",
            dotted(O("etgTotalEnergyWh") + (dev_id,)), ".1.3.6.1.6.3.10.2.1.1.0"]
    commands = [
        ("snmpwalk", ".1.3.6.1.2.1.1"),
        ("snmpbulkwalk", "-Cr30", dotted(O("etgPduMIB"))),
        ("snmpget", *gets),
        ("snmpgetnext", *gets),
        ("snmpbulkget", "-Cn2", "-Cr7", ".1.3.6.1.2.1.1.9", dotted(O("etgDevName")),
         dotted(O("etgOutletState")), dotted(O("etgAlarmTable"))),
        ("snmpbulkget", "-Cn0", "-Cr40", dotted(O("etgSensorValue")), ".1.3.6.1.6.3.10.2.1.3"),
    ]
    svc = c.service("snmp")
    fast = svc.agent.fast
    assert fast is not None
    answers = {}
    for path in ("fast", "pysnmp"):
        svc.agent.fast = fast if path == "fast" else None
        before = fast.answered
        for cmd in commands:
            rc, out, err = await run(snmp_env, cmd[0], *v2c(port), *cmd[1:])
            answers[path, cmd] = (rc, out.replace(".1.3.6.1.2.1.1.3.0 = Timeticks", "uptime"), err)
        assert (fast.answered > before) == (path == "fast")
    for cmd in commands:
        fast_rc, fast_out, fast_err = answers["fast", cmd]
        py_rc, py_out, py_err = answers["pysnmp", cmd]
        assert fast_rc == py_rc and fast_err == py_err, cmd
        strip = lambda text: [ln for ln in text.splitlines() if not ln.startswith("uptime")
                              and ".1.3.6.1.6.3.10.2.1.3.0" not in ln]   # clocks move on
        assert strip(fast_out) == strip(py_out), cmd
    assert len(answers["fast", commands[1]][1].splitlines()) > 500
    # a wrong community and SNMPv1 still go through pysnmp (no answer / v1 rules)
    rc, out, err = await run(snmp_env, "snmpget", *v2c(port, "nope"), ".1.3.6.1.2.1.1.5.0")
    assert rc != 0 and "Timeout" in err
