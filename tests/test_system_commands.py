"""System commands against a real ``enerteg serve`` (issue 19 item 7): readiness and
watchdog pings over ``$NOTIFY_SOCKET``, ``restart`` re-executing the same process,
``poweroff`` refused without ``--manage-host`` and running ``systemctl poweroff`` with
it, and ``enerteg install-service`` writing a unit systemd accepts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import add_user, enerteg_env, ssh_port_of, start_serve, wait_ready
from tests.protocols.ssh.conftest import PASSWORD, SSH_OPTS, askpass_env

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, the enerteg command): see pyproject's markers."""


def _ssh(port: int, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-p", str(port), *SSH_OPTS, "boss@127.0.0.1", command],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=askpass_env(PASSWORD), timeout=60)


def _messages(sock: socket.socket, want: str, timeout: float = 30) -> list[str]:
    """Datagrams received until one contains ``want``."""
    got: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.1, end - time.monotonic()))
        try:
            got.append(sock.recv(65536).decode())
        except TimeoutError:
            break
        if want in got[-1]:
            return got
    raise AssertionError(f"no {want!r} among {got}")


def test_restart_reexecs_and_notifies_systemd(tmp_path: Path) -> None:
    data = tmp_path / "d"
    add_user(data, "boss", PASSWORD)
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    proc = start_serve(data, "--simulate", "2", "--interval", "0.5",
                       env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "600000"},
                       stdout=subprocess.DEVNULL)
    try:
        port = ssh_port_of(wait_ready(proc))
        first = _messages(sock, "READY=1")
        assert any("READY=1" in m for m in first)
        assert "WATCHDOG=1" in "".join(_messages(sock, "WATCHDOG=1"))   # pings every 0.2 s

        version = _ssh(port, "version")
        assert version.returncode == 0, version.stderr
        assert "EnerTEG controller 0." in version.stdout and "Data layout" in version.stdout
        assert "asyncssh" in version.stdout and "Python" in version.stdout

        refused = _ssh(port, "poweroff --yes")
        assert refused.returncode == 1
        assert "--manage-host" in refused.stderr and "poweroff" in refused.stderr
        unconfirmed = _ssh(port, "restart")
        assert unconfirmed.returncode == 2 and "restart --yes" in unconfirmed.stderr

        pid = proc.pid
        restart = _ssh(port, "restart --yes")
        assert "restarts now" in restart.stderr + restart.stdout
        # the same process starts again: a new ready line, READY=1 again, same PID
        line = wait_ready(proc)
        assert proc.poll() is None and proc.pid == pid
        assert any("READY=1" in m for m in _messages(sock, "READY=1"))
        again = _ssh(ssh_port_of(line), "whoami")
        assert again.returncode == 0 and "controller" in again.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        sock.close()
    assert proc.returncode == 0
    import sqlite3
    with sqlite3.connect(data / "enerteg.db") as db:
        rows = db.execute("SELECT user, action FROM audit WHERE action LIKE 'system.%' "
                          "OR action = 'controller.start'").fetchall()
    assert ("boss", "system.restart") in rows
    assert sum(1 for _, a in rows if a == "controller.start") == 2


def test_poweroff_with_manage_host_runs_systemctl(tmp_path: Path) -> None:
    data = tmp_path / "d"
    add_user(data, "boss", PASSWORD)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "called"
    fake = bin_dir / "systemctl"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {called}\nexit 0\n")
    fake.chmod(0o755)
    proc = start_serve(data, "--simulate", "2", "--interval", "0.5", "--manage-host",
                       env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
                       stdout=subprocess.DEVNULL)
    try:
        port = ssh_port_of(wait_ready(proc))
        r = _ssh(port, "version; poweroff --yes")
        assert "Host management    allowed" in r.stdout
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert called.read_text().strip() == "poweroff"


def test_install_service_writes_a_unit(tmp_path: Path) -> None:
    unit = tmp_path / "enerteg.service"
    done = subprocess.run([sys.executable, "-m", "enerteg_tui", "install-service", str(unit),
                           "--data-dir", str(tmp_path / "d"), "--manage-host", "--",
                           "--simulate", "4"], capture_output=True, text=True, env=enerteg_env(),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    text = unit.read_text()
    assert "Type=notify" in text and "WatchdogSec=30" in text
    assert "Restart=on-failure" in text and "RestartPreventExitStatus=75" in text
    assert f"serve --data-dir {tmp_path / 'd'} --manage-host --simulate 4" in text
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stderr


def test_redfish_manager_reset_restarts_a_real_serve(tmp_path: Path) -> None:
    """#Manager.Reset over HTTPS makes ``enerteg serve`` restart itself (same process, a
    new ready line), audited ``system.restart`` by the user over ``redfish``; the web
    server comes back with its settings."""
    import ssl

    import httpx

    from tests.helpers import free_port, wait_for_blocking

    data = tmp_path / "d"
    add_user(data, "boss", PASSWORD)
    proc = start_serve(data, "--simulate", "1", "--interval", "0.5", stdout=subprocess.DEVNULL)
    try:
        port = ssh_port_of(wait_ready(proc))
        https = free_port()
        r = _ssh(port, f"put config/http_server enabled=enabled port={free_port()} "
                       f"httpsPort={https}")
        assert r.returncode == 0, r.stderr

        def pinned() -> ssl.SSLContext | None:
            try:
                pem = ssl.get_server_certificate(("127.0.0.1", https), timeout=5)
            except OSError:
                return None
            return ssl.create_default_context(cadata=pem)
        trust = wait_for_blocking(pinned, timeout=60, what="HTTPS listening")
        url = f"https://localhost:{https}/redfish/v1/Managers/Controller/Actions/Manager.Reset"
        r = httpx.post(url, json={"ResetType": "GracefulRestart"}, auth=("boss", PASSWORD),
                       verify=trust, timeout=30)
        assert r.status_code == 204, r.text
        pid = proc.pid
        wait_ready(proc)
        assert proc.poll() is None and proc.pid == pid
        again = wait_for_blocking(lambda: _get_root(https, trust), timeout=60,
                                  what="HTTPS back after the restart")
        assert again == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    import sqlite3
    with sqlite3.connect(data / "enerteg.db") as db:
        rows = db.execute("SELECT user, action, face FROM audit WHERE action = "
                          "'system.restart' OR action = 'controller.start'").fetchall()
    assert ("boss", "system.restart", "redfish") in rows
    assert sum(1 for _, a, _ in rows if a == "controller.start") == 2


def _get_root(port: int, trust: object) -> int | None:
    import httpx
    try:
        return httpx.get(f"https://localhost:{port}/redfish/v1/", verify=trust,  # type: ignore[arg-type]
                         timeout=10).status_code
    except httpx.HTTPError:
        return None
