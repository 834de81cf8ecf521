"""``enerteg serve`` as an operator runs it: ready line, clean stop, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _serve(data: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "enerteg_tui", "serve", "--data-dir", str(data), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_ready(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    assert proc.stderr is not None
    end = time.monotonic() + timeout
    lines = []
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "enerteg ready:" in line:
            return line
    proc.kill()
    raise AssertionError("no ready line:\n" + "".join(lines))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_ready_and_clean_stop(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _serve(tmp_path / "d", "--simulate", "12", "--interval", "0.5", "--seed", "3")
    line = _wait_ready(proc)
    assert "pdus=12" in line and "driver=simulated" in line and "interval=0.5s" in line
    t0 = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 5
    assert (tmp_path / "d" / "enerteg.db").exists()


def test_unusable_data_dir_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "not-a-dir"
    f.write_text("")
    proc = _serve(f)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and str(f) in lines[0] and lines[0].startswith("enerteg: error:")


def test_second_controller_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = _serve(tmp_path / "d", "--simulate", "2")
    _wait_ready(first)
    try:
        second = _serve(tmp_path / "d", "--simulate", "2")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2 and "in use by another controller" in err
        assert f"pid {first.pid}" in err
    finally:
        first.terminate()
        first.wait(timeout=10)


def test_bad_arguments_name_the_value(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "enerteg_tui", "serve", "--simulate", "5000"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "5000" in proc.stderr and "1 to 1000" in proc.stderr


def test_restart_keeps_energy_settings_and_structure(tmp_path: Path) -> None:
    """Black-box: a second run continues where the first stopped."""
    import json
    import sqlite3
    data = tmp_path / "d"
    proc = _serve(data, "--simulate", "3", "--interval", "0.2")
    _wait_ready(proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    state = json.loads((data / "sim-ring.json").read_text())
    assert state  # the PDUs' memory was written at stop
    conn = sqlite3.connect(data / "enerteg.db")
    assert conn.execute("SELECT COUNT(*) FROM device").fetchone()[0] == 3
    conn.close()
    proc = _serve(data, "--simulate", "3", "--interval", "0.2")
    line = _wait_ready(proc)
    assert "pdus=3" in line
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert os.path.exists(data / "enerteg.db")
