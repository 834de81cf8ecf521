"""End to end through real OpenSSH in tmux: ``ssh -tt`` to ``enerteg serve``, the console
appears, ctrl+p → hex id → device view, switch an outlet off and see it reported,
resize, NO_COLOR at 80×24, disconnect leaves the controller serving."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import add_user, ssh_port_of, start_serve, wait_ready
from .protocols.ssh.conftest import SSH_OPTS, askpass_env
from .tmux import Tmux

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""

PASSWORD = "Ops-pass-123"


@pytest.fixture
def served(tmp_path: Path):
    data = tmp_path / "d"
    add_user(data, "ops", PASSWORD)
    proc = start_serve(data, "--simulate", "3", "--seed", "2", "--interval", "1", stdout=None)
    port = ssh_port_of(wait_ready(proc))
    made: list[Tmux] = []
    try:
        yield port, made, proc
    finally:
        for t in made:
            t.close()
        proc.terminate()
        proc.wait(timeout=10)


def _ssh(port: int, made: list[Tmux], *, cols: int, rows: int, env: dict[str, str] | None = None,
         term: str = "xterm-256color", ssh_opts: list[str] | None = None) -> Tmux:
    opts = " ".join([*SSH_OPTS, *(ssh_opts or [])])
    t = Tmux(f"ssh -tt -p {port} {opts} ops@127.0.0.1", cols=cols, rows=rows, term=term,
             env={**askpass_env(PASSWORD), **(env or {})})
    made.append(t)
    return t


def _hex_ids(port: int) -> list[str]:
    r = subprocess.run(["ssh", "-p", str(port), *SSH_OPTS, "ops@127.0.0.1",
                        "format json; ls sensor"],
                       env=askpass_env(PASSWORD), capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL, start_new_session=True)
    return re.findall(r'"([0-9a-f]{5})/"', r.stdout)


def test_palette_device_switch_resize_disconnect(served) -> None:
    port, made, proc = served
    hexid = _hex_ids(port)[0]
    t = _ssh(port, made, cols=120, rows=40)
    t.wait_for(r"Site dashboard", timeout=30)
    t.send("C-p")
    t.wait_for(r"🔎|Search", timeout=10)
    t.type(hexid)
    time.sleep(0.5)
    t.send("Enter")
    t.wait_for(r"Peak voltage", timeout=15)
    t.wait_for(r" 3 Outlet # 3 +● on", timeout=10)
    t.send("u")                                   # focus the outlet table
    time.sleep(0.3)
    t.send("Down")
    t.send("Down")
    time.sleep(0.3)
    t.send("u")                                   # unlock outlet 3
    t.wait_for(r"Switch outlet", timeout=10)
    t.send("0")
    t.wait_for(r"\(y\)", timeout=10)
    t.send("y")
    t.wait_for(r" 3 Outlet # 3 +\S* ?(pend→)?off", timeout=10)
    t.wait_for(r" 3 Outlet # 3 +○ off", timeout=15)   # reported by the PDU
    t.resize(90, 30)
    t.wait_for(r"Peak current", timeout=10)     # the inputs table, re-laid out
    assert len(t.screen().splitlines()[0].rstrip()) <= 90
    t.close()                                     # the client goes away mid-session
    time.sleep(1)
    assert proc.poll() is None                    # the controller keeps serving
    assert _hex_ids(port)


def test_no_color_at_80x24_is_legible(served) -> None:
    port, made, _ = served
    t = _ssh(port, made, cols=80, rows=24, term="vt100")
    screen = t.wait_for(r"Site dashboard", timeout=30)
    assert "ops(admin)" in screen
    assert re.search(r"Ring \w+", screen)
    bar = "\n".join(screen.splitlines()[-2:])               # the key bar: one row or two
    assert "Quit" in bar or "palette" in bar


def _keys(t: Tmux, *keys: str, pause: float = 0.3) -> None:
    for k in keys:
        t.send(k)
        time.sleep(pause)


def _shell(port: int, command: str) -> str:
    r = subprocess.run(["ssh", "-p", str(port), *SSH_OPTS, "ops@127.0.0.1", command],
                       env=askpass_env(PASSWORD), capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL, start_new_session=True)
    assert r.returncode == 0, r.stderr
    return r.stdout + r.stderr


def test_rack_rule_alarm_acknowledge_and_audit(served) -> None:
    """The issue's management run: build a rack, create a rule for it in the console,
    overload the rack's PDU with the simulator's loadFactor, see the alarm in the header
    and on the Alarms page, acknowledge it, and find both in the audit log."""
    port, made, _ = served
    hexid = _hex_ids(port)[0]
    totals = _shell(port, f"format json; cat /sensor/{hexid}/t/_data")
    current = float(re.search(r'"current": ([0-9.]+)', totals).group(1))
    limit = f"{current * 1.5:.1f}"                  # loadFactor 2 crosses it, 1 does not
    t = _ssh(port, made, cols=160, rows=48)
    t.wait_for(r"Site dashboard", timeout=30)
    # F7: a room, a row, a rack, and the PDU in it
    _keys(t, "F7")
    t.wait_for(r"DC structure · 0 rooms")
    for name in ("Hall E2E", "Row 1", "Rack 1"):
        _keys(t, "n")
        t.wait_for(r"Name of the new")
        t.type(name)
        _keys(t, "Enter")
        t.wait_for(rf"\"[^\"]*{name}\" added")
    _keys(t, "a")
    t.wait_for(r"Put which PDU into rack")
    t.type(hexid)
    time.sleep(0.3)
    _keys(t, "Enter")
    t.wait_for(rf"Rack 1  rack · 1 PDU *\n.*{hexid} · feed")
    # F6: a rule for the rack, in the manual's order
    _keys(t, "F6")
    t.wait_for(r"Rules · 6 rules")
    _keys(t, "n")
    t.wait_for(r"New rule")
    _keys(t, "Enter")                               # 1 scope
    t.type("rack")
    _keys(t, "Enter", "Tab", "Enter", "Enter")      # 2 target: the one rack
    t.wait_for(r"2 Target +Hall E2E / Row 1 / Rack 1")
    _keys(t, "Tab", "Tab", "Tab", "Enter")          # watch: each PDU, 3 current (default), 4 restriction
    t.type("PDU")
    _keys(t, "Enter", "Tab")
    t.wait_for(r"4 Restriction +PDU totals")
    t.type("Rack overload")                         # 5 name
    _keys(t, "Tab", "Tab", "Tab", "Tab", "space", "Tab", "C-u")  # warning above: on
    t.type(limit)
    t.wait_for(rf"Warning above +\[✔\] on +{re.escape(limit)}")
    _keys(t, "C-s")
    t.wait_for(r"Rules · 7 rules")
    t.wait_for(r"Rack overload +rack Hall E2E")
    _keys(t, "F4")
    t.wait_for(r"No open alarms")
    time.sleep(6)                                   # longer than the rule's 5 s: still none
    assert "No open alarms" in t.screen()
    # overload the rack's PDU with the simulator, through the shell
    assert "updated successfully" in _shell(port, f"put /sim/{hexid} loadFactor=2")
    # the header counts it, the Alarms page lists it
    t.wait_for(r"Alarms ✖\d+ ▲[1-9]", timeout=20)
    _keys(t, "F4")
    screen = t.wait_for(r"Active +Warning +no +\S.*Hall E2E", timeout=10)
    assert "Rack overload" in screen
    _keys(t, "a")
    t.wait_for(r"Acknowledge alarm #\d+")
    t.type("moving load to feed B")
    _keys(t, "Enter")
    t.wait_for(r"Acknowledged 1 alarm")
    t.wait_for(r"Active +Warning +yes")
    assert re.search(r"Acknowledged by ops at .*: moving load to feed B", t.screen())
    # F5: the audit log has the rule, the alarm and the acknowledgement
    _keys(t, "F5")
    screen = t.wait_for(r"acknowledged: moving load to feed B", timeout=10)
    assert "Rack overload" in screen
    assert re.search(r"Rule \d+ .*created|created rule|rule.*Rack overload", screen, re.I), screen
