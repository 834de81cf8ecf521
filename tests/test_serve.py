"""``enerteg serve`` as an operator runs it: ready line, clean stop, one-line errors."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import add_user, ssh_port_of, start_serve, wait_ready

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_ready_and_clean_stop(tmp_path: Path, sig: signal.Signals) -> None:
    proc = start_serve(tmp_path / "d", "--simulate", "12", "--interval", "0.5", "--seed", "3")
    line = wait_ready(proc)
    assert "pdus=12" in line and "driver=simulated" in line and "interval=0.5s" in line
    t0 = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 5
    assert (tmp_path / "d" / "enerteg.db").exists()


def test_ready_line_names_the_data_directory_by_its_absolute_path(tmp_path: Path) -> None:
    proc = start_serve(Path("rel-data"), "--simulate", "2", "--no-ssh", cwd=tmp_path)
    try:
        line = wait_ready(proc)
        assert f"data-dir={tmp_path.resolve() / 'rel-data'} " in line, line
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_ready_line_counts_pdus_present_not_remembered(tmp_path: Path) -> None:
    """Issue 14 item 11: started with --simulate 5 after a run of 12, it said pdus=12."""
    for count in (12, 5):
        proc = start_serve(tmp_path / "d", "--simulate", str(count), "--interval", "0.5")
        line = wait_ready(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert f"pdus={count} " in line, line
    assert "known=12" in line


def test_unusable_data_dir_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "not-a-dir"
    f.write_text("")
    proc = start_serve(f)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and str(f) in lines[0] and lines[0].startswith("enerteg: error:")


def test_second_controller_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = start_serve(tmp_path / "d", "--simulate", "2")
    wait_ready(first)
    try:
        second = start_serve(tmp_path / "d", "--simulate", "2")
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
    proc = start_serve(data, "--simulate", "3", "--interval", "0.2")
    wait_ready(proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    state = json.loads((data / "sim-ring.json").read_text())
    assert state  # the PDUs' memory was written at stop
    conn = sqlite3.connect(data / "enerteg.db")
    assert conn.execute("SELECT COUNT(*) FROM device").fetchone()[0] == 3
    conn.close()
    proc = start_serve(data, "--simulate", "3", "--interval", "0.2")
    line = wait_ready(proc)
    assert "pdus=3" in line
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert os.path.exists(data / "enerteg.db")


def test_ready_line_names_ssh_port_and_host_key(tmp_path: Path) -> None:
    proc = start_serve(tmp_path / "d", "--simulate", "2")
    try:
        line = wait_ready(proc)
        assert re.search(r"ssh=127\.0\.0\.1:\d+ ssh-ed25519=SHA256:\S+", line), line
        key = tmp_path / "d" / "ssh" / "ssh_host_ed25519_key"
        assert key.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "d" / "logs" / "enerteg.log").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ssh_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "enerteg_tui", "serve", "--data-dir", str(tmp_path / "d"),
             "--simulate", "2", "--ssh-port", str(port), "--bind", "127.0.0.1"],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"enerteg: error: SSH port {port} on 127.0.0.1 is already in use; choose "
                    "another with --ssh-port or config/cli port"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_serial_console_from_the_command_line(tmp_path: Path) -> None:
    master, slave = os.openpty()
    proc = start_serve(tmp_path / "d", "--simulate", "2", "--serial", os.ttyname(slave),
                  "--baud", "9600")
    try:
        line = wait_ready(proc)
        assert f"serial={os.ttyname(slave)}@9600" in line
        os.write(master, b"\r")
        seen = b""
        end = time.monotonic() + 10
        while b"login: " not in seen and time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                seen += os.read(master, 4096)
        assert b"login: " in seen, seen
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.close(master)
        os.close(slave)


def test_bad_baud_names_the_allowed_speeds(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "enerteg_tui", "serve", "--baud", "12345"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "'12345' is not a supported speed; allowed is 9600, 19200, 38400, 57600, 115200" \
        in proc.stderr


def test_kill_9_keeps_acknowledged_settings_and_counters(tmp_path: Path) -> None:
    """Issue 14 item 7, through the real process and the SSH shell: after kill -9 a PDU
    setting acknowledged "updated successfully" is kept (lost 20/20 before) and no energy
    counter is below one already read (20/20 went back before)."""
    import asyncio
    import json

    import asyncssh

    data = tmp_path / "d"
    add_user(data, "ops", "Crash-pass-1")

    async def shell(port: int, *commands: str) -> list[str]:
        async with asyncssh.connect("127.0.0.1", port, username="ops", password="Crash-pass-1",
                                    known_hosts=None, client_keys=None) as conn:
            out = []
            for cmd in commands:
                r = await conn.run(cmd, check=True)
                out.append(str(r.stdout) or str(r.stderr))  # JSON, or the message
            return out

    def energies(port: int, hexid: str) -> dict[str, float]:
        items = json.loads(asyncio.run(shell(
            port, f"format json; cat sensor/{hexid}/o/_data"))[0])["items"]
        return {f"o{d['index']}/{q}": d[q] for d in items for q in ("energy", "apparentEnergy")
                if isinstance(d.get(q), int | float)}

    def start() -> tuple[subprocess.Popen[str], int]:
        proc = start_serve(data, "--simulate", "2", "--interval", "0.5")
        return proc, ssh_port_of(wait_ready(proc))   # asserts the ready line names it

    proc, port = start()
    try:
        entries = json.loads(asyncio.run(shell(port, "format json; ls sensor"))[0])["entries"]
        hexid = next(n.strip("/") for n in entries if re.fullmatch(r"[0-9a-f]{4,8}/", n))
        ack = asyncio.run(shell(port, f"cd sensor/{hexid}/config; put name=kept-after-kill"))[0]
        assert "updated successfully" in ack
        seen: dict[str, float] = {}
        for _ in range(4):
            for k, v in energies(port, hexid).items():
                seen[k] = max(v, seen.get(k, v))
            time.sleep(0.5)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    proc, port = start()
    try:
        doc = json.loads(asyncio.run(shell(
            port, f"format json; cat sensor/{hexid}/config/_data"))[0])
        assert doc["u"]["name"] == "kept-after-kill"
        after = energies(port, hexid)
        assert not {k: (v, after[k]) for k, v in seen.items() if after[k] < v}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
