"""Forgetting a PDU that left the ring over OpenSSH (issue 19 item 4): refused while it
answers, its alarms closed with the reason, its history still reportable, audited."""

from __future__ import annotations

import json

import pytest

from enerteg_tui.core.model import DeviceState
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.quantities import Component
from tests.helpers import wait_for

from .conftest import SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


async def test_forget_refused_while_answering_then_closes_alarms(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    gone = c.live.ordered()[2].hex_id
    name = c.live.get(gone).info.display_name
    await wait_for(lambda: c.history.channels_of(gone), timeout=30)

    running = await ssh_env.ssh("boss", f"forget {gone} --yes")
    assert running.code == 1
    assert "RUNNING" in running.err and "still answers" in running.err
    assert c.live.get(gone) is not None

    cut = await ssh_env.ssh("boss", f"put sim/{gone} reachable=false")
    assert cut.code == 0, cut.err
    await wait_for(lambda: c.live.get(gone).state is DeviceState.UNREACHABLE, timeout=30)
    await wait_for(lambda: any(a.device == gone and a.active for a in c.alarms.open_alarms()),
                   timeout=30)

    readonly = await ssh_env.ssh("oper", f"forget {gone} --yes")
    assert readonly.code == 1 and "administer" in readonly.err
    unconfirmed = await ssh_env.ssh("boss", f"forget {gone}")
    assert unconfirmed.code == 2 and f"forget {gone} --yes" in unconfirmed.err
    assert c.live.get(gone) is not None

    done = await ssh_env.ssh("boss", f"format json; forget {gone} --yes --reason 'sent for repair'")
    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert result["hexId"] == gone and result["alarmsClosed"] >= 1
    assert c.live.get(gone) is None
    assert not [a for a in c.alarms.open_alarms() if a.device == gone]
    ls = await ssh_env.ssh("oper", "ls sensor")
    assert gone not in ls.out

    # a few sweeps later nothing came back: no new alarm, no device
    sweeps = c.live.bus.sweeps
    await wait_for(lambda: c.live.bus.sweeps >= sweeps + 5, timeout=30)
    assert c.live.get(gone) is None
    assert not [a for a in c.alarms.open_alarms() if a.device == gone]

    # the history is still reportable, by hex id and by the last name
    rep = await ssh_env.ssh("oper", f"report device {gone} --format csv")
    assert rep.code == 0, rep.err
    path = c.paths.root / rep.out.strip().lstrip("/")
    text = path.read_text()
    assert gone in text and "forgotten" in text
    by_name = await ssh_env.ssh("oper", f"report device '{name}'")
    assert by_name.code == 0, by_name.err

    entries = await c.audit.query(SYSTEM, limit=200)
    forget = [e for e in entries if e.action == "device.forget"]
    assert len(forget) == 1 and forget[0].user == "boss" and "sent for repair" in forget[0].message
    closes = [e for e in entries if e.action == "alarm.close"]
    assert len(closes) == result["alarmsClosed"]
    assert all("sent for repair" in e.message for e in closes)


async def test_forget_unknown_pdu_names_it(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("boss", "forget abcde --yes")
    assert r.code == 1 and "'abcde'" in r.err


async def test_interactive_forget_and_restart_ask_first(ssh_env: SSHEnv) -> None:
    from .conftest import PASSWORD, expect

    c = ssh_env.controller
    gone = c.live.ordered()[1].hex_id
    await c.topics.put(SYSTEM, f"sim/{gone}", {"reachable": False})
    await wait_for(lambda: c.live.get(gone).state is DeviceState.UNREACHABLE, timeout=30)
    child = ssh_env.terminal("boss", "shell")
    try:
        await expect(child, "assword:")
        child.sendline(PASSWORD)
        await expect(child, r"> ")
        child.sendline(f"forget {gone}")
        await expect(child, r"\[y/N\] ")
        child.sendline("n")
        await expect(child, "Nothing changed.")
        assert c.live.get(gone) is not None
        child.sendline("restart")
        await expect(child, r"Restart the controller now\? Every session is ended. \[y/N\] ")
        child.sendline("")
        await expect(child, "Nothing changed.")
        assert c.core.system.requested is None
        child.sendline(f"forget {gone} --reason 'moved to hall B'")
        await expect(child, r"\[y/N\] ")
        child.sendline("y")
        await expect(child, "forgotten; ")
        child.sendcontrol("d")
    finally:
        child.close(force=True)
    assert c.live.get(gone) is None


async def test_remove_a_disconnected_sensor(ssh_env: SSHEnv) -> None:
    """Manual §8.4: a sensor unplugged from a PDU is removed by hand; refused while it has
    a value; its number stays taken (type removed), the others keep theirs."""
    c = ssh_env.controller
    dev = next(d for d in c.live.ordered() if len(d.info.sensors) >= 2)
    hx = dev.hex_id
    await wait_for(lambda: (Component.SENSOR, 2) in dev.groups, timeout=30)
    connected = await ssh_env.ssh("boss", f"forget {hx} --sensor 1 --yes")
    assert connected.code == 1 and "is connected and measures" in connected.err
    ro = await ssh_env.ssh("oper", f"forget {hx} --sensor 1 --yes")
    assert ro.code == 1 and "device-setup" in ro.err

    assert (await ssh_env.ssh("boss", f"put sim/{hx} sensorsDisconnected=[1]")).code == 0
    await wait_for(lambda: c.live.get(hx).groups.get((Component.SENSOR, 1)) is None, timeout=30)
    assert c.devices.disconnected_sensors(hx) == [1]
    done = await ssh_env.ssh("boss", f"format json; forget {hx} --sensor 1 --yes "
                                     "--reason 'probe moved'")
    assert done.code == 0, done.err
    assert json.loads(done.out)["sensor"] == 1
    await wait_for(lambda: c.live.get(hx).info.sensors[0].value == "removed", timeout=30)
    s1 = json.loads((await ssh_env.ssh("oper", f"cat sensor/{hx}/s/1")).out)
    assert s1["type"] == "removed"
    await wait_for(lambda: (Component.SENSOR, 2) in c.live.get(hx).groups, timeout=30)
    assert any(k[1] == "s" and k[2] == 1 for k in c.history.channels_of(hx))  # history kept
    again = await ssh_env.ssh("boss", f"forget {hx} --sensor 1 --yes")
    assert again.code == 1 and "has no sensor 1" in again.err
    entries = await c.audit.query(SYSTEM, limit=100)
    assert any(e.action == "device.sensor.remove" and e.user == "boss" for e in entries)
