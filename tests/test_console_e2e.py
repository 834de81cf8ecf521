"""End to end through real OpenSSH in tmux: ``ssh -tt`` to ``enerteg serve``, the console
appears, ctrl+p → hex id → device view, switch an outlet off and see it reported,
resize, NO_COLOR at 80×24, disconnect leaves the controller serving."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .protocols.ssh.conftest import SSH_OPTS, askpass_env
from .tmux import Tmux

PASSWORD = "Ops-pass-123"


@pytest.fixture
def served(tmp_path: Path):
    data = tmp_path / "d"
    subprocess.run([sys.executable, "-m", "enerteg_tui", "user", "add", "ops", "--role", "admin",
                    "--data-dir", str(data)], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "enerteg_tui", "serve", "--data-dir",
                             str(data), "--simulate", "3", "--seed", "2", "--interval", "1",
                             "--ssh-port", "0", "--bind", "127.0.0.1"],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    port = 0
    for line in proc.stderr:
        m = re.search(r"ssh=127\.0\.0\.1:(\d+)", line)
        if "enerteg ready:" in line and m:
            port = int(m.group(1))
            break
    made: list[Tmux] = []
    try:
        yield port, made, proc
    finally:
        for t in made:
            t.close()
        proc.terminate()
        proc.wait(timeout=10)


def _ssh(port: int, made: list[Tmux], *, cols: int, rows: int, env: dict[str, str] | None = None,
         term: str = "xterm-256color") -> Tmux:
    opts = " ".join(SSH_OPTS)
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
    t.wait_for(r"Peak voltage", timeout=10)
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
    assert "Quit" in screen.splitlines()[-1] or "palette" in screen.splitlines()[-1]
