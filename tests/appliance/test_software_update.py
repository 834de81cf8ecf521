"""Software update of the controller through its real faces (issue 23 item 5): packages
built by ``scripts/build-update.py``, put to /upload with OpenSSH sftp, checked and
applied with the shell's ``update`` over ssh against a real ``enerteg serve``; the
process restarts into the new version (same PID, ``version`` says it), and a new version
that cannot start is rolled back to the previous one on its own."""

from __future__ import annotations

import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.protocols.ssh.conftest import PASSWORD, SSH_OPTS, askpass_env
from tests.update_packages import broken_source, build, new_key, tampered

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p), **extra}


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pkgs")
    key, pub = new_key(tmp, "test-update.key")
    other, _ = new_key(tmp, "stranger.key")
    out = tmp / "out"
    good = build(key, "0.2.0", out)
    older = build(key, "0.0.5", out)
    stranger = build(other, "0.4.0", tmp / "stranger")
    bad_sig = stranger.rename(out / "enerteg-0.4.0-badsig.etgpkg")
    changed = tampered(good, out / "enerteg-0.2.0-tampered.etgpkg")
    broken = build(key, "0.3.0", out, broken_source(tmp))
    hanging = build(key, "0.3.1", out, broken_source(tmp, hang=True))
    return {"pub": pub, "good": good, "older": older, "badsig": bad_sig,
            "tampered": changed, "broken": broken, "hanging": hanging}


BOOT_SECONDS = 60
"""How long a new version has to become healthy here (a start takes ~3 s; generous for a
loaded CI machine, where a healthy version rolled back would fail the test)."""


class Serve:
    """A real ``enerteg serve`` trusting the test key, and an admin reaching it by ssh."""

    def __init__(self, data: Path, pub: Path) -> None:
        self.data = data
        done = subprocess.run([sys.executable, "-m", "enerteg_tui", "user", "--data-dir",
                               str(data), "add", "boss", "--role", "admin"],
                              input=PASSWORD + "\n", text=True, capture_output=True,
                              env=_env(), timeout=60)
        assert done.returncode == 0, done.stderr
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "enerteg_tui", "serve", "--data-dir", str(data),
             "--simulate", "2", "--interval", "0.5", "--ssh-port", "0", "--bind",
             "127.0.0.1", "--update-key", str(pub), "--update-boot-seconds",
             str(BOOT_SECONDS)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
        self.lines: list[str] = []
        self.port = 0
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line)
        self._queue.put("")

    def wait_line(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        """Read stderr until a line matches ``pattern`` (the process may re-exec)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._queue.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            if not line:
                break
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"no line matching {pattern!r}:\n" + "".join(self.lines[-40:]))

    def ready(self) -> None:
        self.port = int(self.wait_line(r"enerteg ready: .*ssh=127\.0\.0\.1:(\d+)").group(1))

    def ssh(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ssh", "-p", str(self.port), *SSH_OPTS, "boss@127.0.0.1", command],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=askpass_env(PASSWORD), timeout=120)

    def sftp_put(self, *files: Path) -> None:
        batch = self.data.parent / "batch"
        batch.write_text("".join(f"put {f} /upload/{f.name}\n" for f in files))
        done = subprocess.run(["sftp", "-P", str(self.port), "-o", "BatchMode=no", *SSH_OPTS,
                               "-b", str(batch), "boss@127.0.0.1"], capture_output=True,
                              text=True, env=askpass_env(PASSWORD), timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def audit(self) -> list[tuple[str, str, str]]:
        with sqlite3.connect(self.data / "enerteg.db") as db:
            return db.execute("SELECT user, action, message FROM audit WHERE action LIKE "
                              "'software.update.%' ORDER BY id").fetchall()


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_update_checked_applied_and_rolled_back(tmp_path: Path,
                                                packages: dict[str, Path]) -> None:
    serve = Serve(tmp_path / "d", packages["pub"])
    try:
        serve.ready()
        pid = serve.proc.pid
        names = ("good", "older", "badsig", "tampered", "broken", "hanging")
        serve.sftp_put(*(packages[n] for n in names))

        # refused, naming the file, what is wrong and what is allowed; nothing installed
        bad = serve.ssh("update check enerteg-0.4.0-badsig.etgpkg")
        assert bad.returncode == 1, bad
        assert "enerteg-0.4.0-badsig.etgpkg" in bad.stderr
        assert "signature of manifest.json does not verify with any trusted key" in bad.stderr
        tampered = serve.ssh("update apply enerteg-0.2.0-tampered.etgpkg --yes")
        assert tampered.returncode == 1, tampered
        assert "SHA-256" in tampered.stderr and "changed after signing" in tampered.stderr
        older = serve.ssh("update apply enerteg-0.0.5.etgpkg --yes")
        assert older.returncode == 1, older
        assert "version 0.0.5 is older than the running 0.1.0" in older.stderr
        assert "--force" in older.stderr
        outside = serve.ssh("update check ../enerteg.db")
        assert outside.returncode == 1 and "give a file in /upload" in outside.stderr
        assert not (serve.data / "versions").exists() or not any(
            p for p in (serve.data / "versions").iterdir() if not p.name.startswith("."))

        good = serve.ssh("update check enerteg-0.2.0.etgpkg")
        assert good.returncode == 0, good
        assert "version 0.2.0 (running 0.1.0)" in good.stdout and "hashes match" in good.stdout
        script = serve.ssh("update apply enerteg-0.2.0.etgpkg")
        assert script.returncode == 2 and "--yes" in script.stderr

        # apply: installed beside, restarted into (same process), healthy
        applied = serve.ssh("update apply enerteg-0.2.0.etgpkg --yes")
        assert "restarts now" in applied.stdout + applied.stderr, applied
        assert "software update to 0.2.0" in applied.stdout + applied.stderr
        serve.ready()
        serve.wait_line(r"enerteg healthy: version 0\.2\.0 confirmed")
        assert serve.proc.poll() is None and serve.proc.pid == pid
        version = serve.ssh("version")
        assert "EnerTEG controller 0.2.0" in version.stdout, version
        assert os.readlink(serve.data / "versions" / "current") == "0.2.0"
        status = serve.ssh("update status")
        assert "Running version    0.2.0 (versions/0.2.0)" in status.stdout, status
        assert "version 0.2.0 healthy" in status.stdout

        # a version that cannot start goes back to the one before, on its own
        broken = serve.ssh("update apply enerteg-0.3.0.etgpkg --yes")
        assert "restarts now" in broken.stdout + broken.stderr, broken
        serve.wait_line(r"version 0\.3\.0 failed to start: .*broken on purpose")
        serve.wait_line(r"rolled back version 0\.3\.0")
        serve.ready()
        assert serve.proc.pid == pid
        version = serve.ssh("version")
        assert "EnerTEG controller 0.2.0" in version.stdout, version
        status = serve.ssh("update status")
        assert "version 0.3.0 rolled back" in status.stdout, status
        assert "broken on purpose" in status.stdout
        assert os.readlink(serve.data / "versions" / "current") == "0.2.0"

        # a version that hangs is stopped after its deadline and rolled back too
        hung = serve.ssh("update apply enerteg-0.3.1.etgpkg --yes")
        assert "restarts now" in hung.stdout + hung.stderr, hung
        serve.wait_line(r"starting version 0\.3\.1 .*\(boot attempt\)")
        serve.wait_line(rf"version 0\.3\.1 failed to start: it was not ready and healthy "
                        rf"within {BOOT_SECONDS} s", timeout=BOOT_SECONDS + 60)
        serve.wait_line(r"rolled back version 0\.3\.1")
        serve.ready()
        assert serve.proc.pid == pid
        assert "EnerTEG controller 0.2.0" in serve.ssh("version").stdout
    finally:
        code = serve.stop()
    assert code == 0, "".join(serve.lines[-30:])
    actions = [a for _, a, _ in serve.audit()]
    assert actions.count("software.update.refused") == 3
    for a in ("software.update.checked", "software.update.install", "software.update.restart",
              "software.update.healthy", "software.update.rolledback"):
        assert a in actions, actions
    rolled = [m for _, a, m in serve.audit() if a == "software.update.rolledback"]
    assert "0.3.0 rolled back to 0.2.0" in rolled[0] and "broken on purpose" in rolled[0]
    assert "0.3.1 rolled back to 0.2.0" in rolled[1] and f"within {BOOT_SECONDS} s" in rolled[1]
