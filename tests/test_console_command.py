"""``enerteg console`` in a real terminal (tmux): standalone with a local login, and as
``ssh`` to a controller already running on the data directory."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from .helpers import add_user, start_serve, wait_for_blocking, wait_ready
from .tmux import Tmux

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""

PY = shlex.quote(sys.executable)


@pytest.fixture
def tmux_sessions():
    made: list[Tmux] = []
    yield made
    for t in made:
        t.close()


def test_standalone_console_logs_in_locally(tmp_path: Path, tmux_sessions) -> None:
    data = tmp_path / "d"
    t = Tmux(f"{PY} -m enerteg_tui console --data-dir {data} --simulate 2 --seed 4",
             cols=100, rows=30)
    tmux_sessions.append(t)
    t.wait_for("login:", timeout=30)
    t.type("admin")
    t.send("Enter")
    t.wait_for("Password:")
    t.type("admin")
    t.send("Enter")
    t.wait_for("New password:")
    for _ in range(2):
        t.type("Local-pass-1")
        t.send("Enter")
        time.sleep(0.3)
    screen = t.wait_for(r"Site dashboard", timeout=20)
    assert "admin(admin)" in screen
    assert "INFO" not in screen                       # logs go to the file, not the screen
    t.send("q")
    t.wait_for(r"Leave the EnerTEG console\?")
    t.send("y")
    wait_for_blocking(t.dead, timeout=15, step=0.1, what=t.screen)
    assert not (data / "run.json").exists()          # the session's controller stopped


def test_console_goes_through_ssh_to_a_running_controller(tmp_path: Path, tmux_sessions) -> None:
    data = tmp_path / "d"
    add_user(data, "boss", "Boss-pass-1")
    serve = start_serve(data, "--simulate", "2", stdout=None)
    try:
        wait_ready(serve)
        t = Tmux(f"{PY} -m enerteg_tui console --data-dir {data} --user boss",
                 env={"HOME": str(tmp_path)})
        tmux_sessions.append(t)
        # the controller's own host key is pinned: no "continue connecting?" question
        screen = t.wait_for(r"continue connecting|assword:", timeout=20)
        assert "continue connecting" not in screen and "IDENTIFICATION" not in screen
        t.type("Boss-pass-1")
        t.send("Enter")
        screen = t.wait_for(r"Site dashboard", timeout=20)
        assert "boss(admin)" in screen
    finally:
        serve.terminate()
        serve.wait(timeout=10)
