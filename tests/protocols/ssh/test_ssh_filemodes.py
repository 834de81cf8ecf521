"""File modes and SFTP refusals (issue 14, items 2 and 9): a private data directory,
uploads created 0600, no setuid/execute/world modes through chmod (refused, audited),
a clean error for a path that is not UTF-8, and an upload over the cap removed and
audited as refused. Real clients: OpenSSH ``sftp`` and asyncssh's SFTP client."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import asyncssh
import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.protocols.ssh import sftp as sftp_module

from .conftest import SSH_OPTS, SSHEnv


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _sftp_args(env: SSHEnv, user: str, batch: Path) -> list[str]:
    return ["sftp", "-P", str(env.port), "-o", "BatchMode=no", *SSH_OPTS, "-b", str(batch),
            f"{user}@127.0.0.1"]


async def _actions(env: SSHEnv, action: str) -> list:
    return [e for e in await env.controller.audit.query(SYSTEM, limit=200) if e.action == action]


async def test_data_directory_is_private_and_tightened_at_start(make_controller,
                                                                 tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "upload").mkdir(parents=True, mode=0o755)
    os.chmod(data, 0o755)
    old = data / "upload" / "tool"
    old.write_bytes(b"#!/bin/sh\n")
    os.chmod(old, 0o4755)
    c = await make_controller(pdus=1, data_dir=data, log_file=True)
    backup = await c.backup.create(SYSTEM)
    assert _mode(data) == 0o700
    assert _mode(data / "upload") == 0o700
    assert _mode(old) == 0o600                            # setuid, execute, others: gone
    for name in ("enerteg.db", "enerteg.db-wal", "history.db", "logs/enerteg.log"):
        assert _mode(data / name) == 0o600, name
    for folder in ("logs", "backups"):
        assert _mode(data / folder) == 0o700, folder
    assert _mode(backup) == 0o600
    # nothing under the data directory is open to group or others
    loose = [str(p) for p in data.rglob("*") if not p.is_symlink() and _mode(p) & 0o077]
    assert loose == []


async def test_uploads_are_0600_and_chmod_beyond_owner_rw_is_refused(ssh_env: SSHEnv,
                                                                      tmp_path: Path) -> None:
    src = tmp_path / "tool"
    src.write_bytes(b"\x7fELF not really\n")
    os.chmod(src, 0o4755)
    batch = tmp_path / "batch"
    batch.write_text(f"put -p {src} /upload/tool\n-chmod 4755 /upload/tool\n"
                     "-chmod 777 /upload/tool\nchmod 600 /upload/tool\n")
    r = await ssh_env.tool(*_sftp_args(ssh_env, "boss", batch))
    uploaded = ssh_env.controller.data_dir / "upload" / "tool"
    assert uploaded.read_bytes() == src.read_bytes()
    assert _mode(uploaded) == 0o600
    assert "chmod 600" in r.out and r.code == 0, r.err      # allowed: owner read/write
    async with await ssh_env.connect("boss") as conn, conn.start_sftp_client() as sftp:
        with pytest.raises(asyncssh.SFTPPermissionDenied) as info:
            await sftp.chmod("/upload/tool", 0o6755)
        assert "mode 6755 is not allowed (setuid, setgid, execute, group/other access)" in str(
            info.value.reason)
        assert "at most 0600" in info.value.reason
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.chown("/upload/tool", 0, 0)
        await sftp.mkdir("/upload/dir")
        await sftp.chmod("/upload/dir", 0o700)             # a folder: owner rwx is fine
        with pytest.raises(asyncssh.SFTPPermissionDenied) as info:
            await sftp.chmod("/upload/dir", 0o1777)
        assert "mode 1777 is not allowed (sticky, group/other access)" in info.value.reason
        async with sftp.open("/upload/other", "wb", asyncssh.SFTPAttrs(permissions=0o4777)) as f:
            await f.write(b"x")
            with pytest.raises(asyncssh.SFTPPermissionDenied):
                await f.chmod(0o755)
    assert _mode(uploaded) == 0o600
    assert _mode(ssh_env.controller.data_dir / "upload" / "other") == 0o600
    assert _mode(ssh_env.controller.data_dir / "upload" / "dir") == 0o700
    refused = await _actions(ssh_env, "file.chmod.refused")
    # put -p (4755 asked), 4755, 777 by OpenSSH; 6755, chown, 1777, fchmod by asyncssh
    assert len(refused) == 7, [e.message for e in refused]
    assert all(e.severity.value == "Warning" and e.user == "boss" for e in refused)
    assert any("mode 4755" in e.message for e in refused)


async def test_a_path_that_is_not_utf8_gets_a_clear_error(ssh_env: SSHEnv,
                                                          tmp_path: Path) -> None:
    async with await ssh_env.connect("oper") as conn, conn.start_sftp_client() as sftp:
        for call in (sftp.stat, sftp.listdir, sftp.open):
            with pytest.raises(asyncssh.SFTPError) as info:
                await call(b"/docs/caf\xe9")
            reason = info.value.reason
            assert "Uncaught" not in reason
            assert "is not valid UTF-8 (byte 0xe9 at position 9)" in reason, reason
    batch = tmp_path / "batch"
    batch.write_bytes(b"ls /docs/caf\xe9\n")
    r = await ssh_env.tool(*_sftp_args(ssh_env, "oper", batch))
    assert r.code != 0 and "Uncaught" not in r.err + r.out


async def test_an_upload_over_the_cap_is_removed_and_audited_as_refused(
        ssh_env: SSHEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sftp_module, "MAX_UPLOAD_BYTES", 64 << 10)   # 256 MiB in production
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(300 << 10))
    small = tmp_path / "small.bin"
    small.write_bytes(b"fits")
    batch = tmp_path / "batch"
    batch.write_text(f"-put {big} /upload/big.bin\nput {small} /upload/small.bin\n")
    r = await ssh_env.tool(*_sftp_args(ssh_env, "boss", batch))
    upload = ssh_env.controller.data_dir / "upload"
    assert not (upload / "big.bin").exists(), r.err
    assert (upload / "small.bin").read_bytes() == b"fits"
    refused = await _actions(ssh_env, "file.upload.refused")
    assert [e.object for e in refused] == ["sftp/upload/big.bin"]
    assert refused[0].severity.value == "Warning" and "removed" in refused[0].message
    uploaded = [e.object for e in await _actions(ssh_env, "file.upload")]
    assert uploaded == ["sftp/upload/small.bin"]
    async with await ssh_env.connect("boss") as conn, conn.start_sftp_client() as sftp:
        with pytest.raises(asyncssh.SFTPFailure) as info:
            async with sftp.open("/upload/big2.bin", "wb") as f:
                await f.write(b"x" * (65 << 10))
        assert "larger than" in info.value.reason and "partial file is removed" in \
            info.value.reason
    assert not (upload / "big2.bin").exists()
