"""The shell's ``switch`` over real OpenSSH (manual §6.1): a rack switched outlet by
outlet with progress, the impact and the refusal of a script without ``--yes``,
``--dry-run``, a typed ``yes`` at a terminal, permissions, and the stop at the first
failure naming the outlet."""

from __future__ import annotations

import json

import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.structure import Kind

from .conftest import PASSWORD, SSHEnv, expect

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


@pytest.fixture
async def env(make_controller, tmp_path) -> SSHEnv:
    """Four PDUs, sweeping once an hour (only switch refreshes sweep), PDUs 1-3 in a rack."""
    c = await make_controller(pdus=4, interval=3600, ssh_enabled=True, ssh_port=0,
                              bind="127.0.0.1")
    await c.users.add(SYSTEM, "boss", PASSWORD, ["admin"])
    await c.users.add(SYSTEM, "oper", PASSWORD, ["readonly"])
    await c.users.add(SYSTEM, "poweron", PASSWORD, ["poweron"])
    await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})
    room = await c.structure.create(SYSTEM, Kind.ROOM, "Hall A")
    row = await c.structure.create(SYSTEM, Kind.ROW, "Row 1", room.id)
    rack = await c.structure.create(SYSTEM, Kind.RACK, "Rack 1", row.id)
    for d in c.live.ordered()[:2]:
        await c.structure.assign(SYSTEM, d.hex_id, rack.id)
    return SSHEnv(c, c.service("ssh").port, tmp_path)


def _rack_outlets(env: SSHEnv) -> int:
    return sum(d.info.model.outlets for d in env.controller.live.ordered()[:2]
               if d.info.model.switchable)


def _pending(env: SSHEnv) -> int:
    return sum(len(d.pending_outlets) for d in env.controller.live.ordered())


async def _actions(env: SSHEnv) -> list[str]:
    return [e.action for e in reversed(await env.controller.audit.query(SYSTEM, limit=200))]


async def test_script_needs_yes_dry_run_shows_impact(env: SSHEnv) -> None:
    n = _rack_outlets(env)
    r = await env.ssh("boss", "switch off rack 'Hall A/Row 1/Rack 1'")
    assert r.code == 2, r
    assert f"Switch off {n} outlet(s) of rack \"Hall A / Row 1 / Rack 1\"" in r.err
    assert "Load that will drop:" in r.err and "add --yes" in r.err
    r = await env.ssh("boss", "format json; switch off rack 'Rack 1' --dry-run")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert len(doc["outlets"]) == n and doc["gapSeconds"] == 0.25 and doc["loadW"] > 0
    assert _pending(env) == 0 and "outlet.off" not in await _actions(env)


async def test_switch_rack_off_with_progress_and_audit(env: SSHEnv) -> None:
    n = _rack_outlets(env)
    r = await env.ssh("boss", "switch off rack 'Rack 1' --gap 0 --yes", timeout=60)
    assert r.code == 0, r
    assert f"[1/{n}]" in r.err and f"[{n}/{n}]" in r.err and ": off" in r.err
    assert f"{n} outlet(s) of rack \"Hall A / Row 1 / Rack 1\" switched off." in r.out
    actions = [a for a in await _actions(env) if a.startswith("outlet.")]
    assert actions == ["outlet.group.start"] + ["outlet.off"] * n + ["outlet.group.done"]
    # again: every outlet is already off, nothing to do, said
    r = await env.ssh("boss", "switch off rack 'Rack 1' --yes")
    assert r.code == 1 and "already in that state" in r.err, r


async def test_refusals_change_nothing(env: SSHEnv) -> None:
    hx = next(d.hex_id for d in env.controller.live.ordered() if d.info.model.switchable)
    r = await env.ssh("oper", f"switch off pdu {hx} --yes")
    assert r.code == 1 and "Permission denied" in r.err and "switch-off" in r.err, r
    r = await env.ssh("poweron", f"switch cycle outlets {hx}:1-2 --yes")
    assert r.code == 1 and "switch-off" in r.err, r
    r = await env.ssh("boss", "switch off rack Nowhere --yes")
    assert r.code == 1 and "no rack has that name" in r.err and "Rack 1" in r.err, r
    r = await env.ssh("boss", f"switch off outlets {hx}:1-99 --yes")
    assert r.code == 1 and "outlet 13 does not exist" in r.err, r
    r = await env.ssh("boss", "switch sideways rack 'Rack 1'")
    assert r.code == 2 and "choose on, off or cycle" in r.err, r
    r = await env.ssh("boss", f"switch off pdu {hx} --gap 120 --yes")
    assert r.code == 1 and "allowed is 0 to 60 seconds" in r.err, r
    assert _pending(env) == 0 and "outlet.group.start" not in await _actions(env)


async def test_failure_stops_and_names_the_outlet(env: SSHEnv) -> None:
    a, b = [d.hex_id for d in env.controller.live.ordered() if d.info.model.switchable][:2]
    # b drops off the ring; with hourly sweeps the controller still thinks it runs
    r = await env.ssh("boss", f"put /sim/{b} reachable=false")
    assert r.code == 0, r
    r = await env.ssh("boss", f"switch off outlets {a}:1 {b}:1 {a}:2 --gap 0 --yes")
    assert r.code == 1, r
    assert "[1/3]" in r.err and "[2/3]" in r.err and "FAILED" in r.err and "[3/3]" not in r.err
    assert "Stopped at outlet 2 of 3, outlet 1" in r.err and f"({b})" in r.err
    assert "1 not attempted" in r.err
    actions = [a for a in await _actions(env) if a.startswith("outlet.")]
    assert actions == ["outlet.group.start", "outlet.off", "outlet.group.failed"]


async def test_interactive_confirmation(env: SSHEnv) -> None:
    hx = next(d.hex_id for d in env.controller.live.ordered() if d.info.model.switchable)
    child = env.terminal("boss", "shell")
    try:
        await expect(child, "assword:")
        child.sendline(PASSWORD)
        await expect(child, "boss@")
        child.sendline(f"switch off outlets {hx}:1-2")
        await expect(child, "Type yes to switch off 2 outlet")
        child.sendline("no")
        await expect(child, "Switching cancelled; nothing switched.")
        assert _pending(env) == 0
        child.sendline(f"switch off outlets {hx}:1-2 --gap 0")
        await expect(child, "Type yes to switch off 2 outlet")
        child.sendline("yes")
        await expect(child, r"\[2/2\]")
        await expect(child, "2 outlet\\(s\\) of an outlet group switched off")
    finally:
        child.close(force=True)
    assert set(env.controller.live.get(hx).pending_outlets) >= {1, 2} or \
        "outlet.group.done" in await _actions(env)
