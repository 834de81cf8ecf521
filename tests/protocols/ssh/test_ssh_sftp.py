"""File transfer over the SSH server with OpenSSH's ``sftp`` and ``scp`` and asyncssh's
SFTP client: the virtual tree, downloads, refused traversal, uploads only by admins
into /upload, audit of uploads."""

from __future__ import annotations

from pathlib import Path

import asyncssh
import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.protocols.ssh.sftp import FOLDERS

from .conftest import SSH_OPTS, SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


def _sftp_args(env: SSHEnv, user: str, batch: Path) -> list[str]:
    # -b implies BatchMode=yes, which would turn off the askpass password
    return ["sftp", "-P", str(env.port), "-o", "BatchMode=no", *SSH_OPTS, "-b", str(batch),
            f"{user}@127.0.0.1"]


async def test_tree_lists_the_five_folders(ssh_env: SSHEnv) -> None:
    async with await ssh_env.connect("boss") as conn, conn.start_sftp_client() as sftp:
        assert sorted(await sftp.listdir("/")) == sorted([".", "..", *FOLDERS])
        assert await sftp.realpath("docs/../logs") == "/logs"
        assert "README.txt" in await sftp.listdir("/docs")
    # backups, logs and uploads are the administrator's (issue 14): not even listed
    async with await ssh_env.connect("oper") as conn, conn.start_sftp_client() as sftp:
        assert sorted(await sftp.listdir("/")) == [".", "..", "docs", "reports"]


async def test_openssh_sftp_downloads_a_log(ssh_env: SSHEnv, tmp_path: Path) -> None:
    logs = ssh_env.controller.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "enerteg.log").write_text("2026-11-24 line one\n")
    batch = tmp_path / "batch"
    batch.write_text(f"ls /\nget /logs/enerteg.log {tmp_path}/got.log\n")
    r = await ssh_env.tool(*_sftp_args(ssh_env, "boss", batch))
    assert r.code == 0, r.err
    assert (tmp_path / "got.log").read_text() == "2026-11-24 line one\n"
    for folder in FOLDERS:
        assert folder in r.out
    refused = await ssh_env.tool(*_sftp_args(ssh_env, "oper", batch))
    assert refused.code != 0 and "/logs" not in refused.out.split("get")[0]


async def test_scp_downloads_through_the_same_tree(ssh_env: SSHEnv, tmp_path: Path) -> None:
    r = await ssh_env.tool("scp", "-P", str(ssh_env.port), *SSH_OPTS,
                           "oper@127.0.0.1:/docs/README.txt", str(tmp_path / "readme"))
    assert r.code == 0, r.err
    assert "/upload" in (tmp_path / "readme").read_text()


@pytest.mark.parametrize("path", ["/../../etc/passwd", "../etc/passwd", "/docs/../../etc/passwd",
                                  "/etc/passwd"])
async def test_traversal_is_refused(ssh_env: SSHEnv, path: str) -> None:
    async with await ssh_env.connect("boss") as conn, conn.start_sftp_client() as sftp:
        with pytest.raises(asyncssh.SFTPError) as info:
            await sftp.getfile(path) if hasattr(sftp, "getfile") else await sftp.open(path)
        assert isinstance(info.value, (asyncssh.SFTPPermissionDenied, asyncssh.SFTPNoSuchFile))


async def test_symlink_out_of_a_folder_is_refused(ssh_env: SSHEnv) -> None:
    (ssh_env.controller.data_dir / "reports" / "evil").symlink_to("/etc")
    async with await ssh_env.connect("boss") as conn, conn.start_sftp_client() as sftp:
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.open("/reports/evil/passwd")
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.symlink("/docs", "/upload/link")


async def test_upload_only_by_admin_and_only_into_upload(ssh_env: SSHEnv, tmp_path: Path) -> None:
    src = tmp_path / "cert.pem"
    src.write_text("-----BEGIN CERTIFICATE-----\n")
    batch = tmp_path / "batch"
    batch.write_text(f"put {src} /upload/cert.pem\n")
    refused = await ssh_env.tool(*_sftp_args(ssh_env, "oper", batch))
    assert refused.code != 0
    assert "admin" in refused.err.lower() or "permission" in refused.err.lower()
    assert not (ssh_env.controller.data_dir / "upload" / "cert.pem").exists()
    ok = await ssh_env.tool(*_sftp_args(ssh_env, "boss", batch))
    assert ok.code == 0, ok.err
    assert (ssh_env.controller.data_dir / "upload" / "cert.pem").read_text().startswith("-----")
    entries = await ssh_env.controller.audit.query(SYSTEM, limit=50)
    assert any(e.action == "file.upload" and e.object == "sftp/upload/cert.pem" for e in entries)
    batch.write_text(f"put {src} /docs/cert.pem\n")
    outside = await ssh_env.tool(*_sftp_args(ssh_env, "boss", batch))
    assert outside.code != 0
    assert not (ssh_env.controller.data_dir / "docs" / "cert.pem").exists()


async def test_admin_manages_upload_folder(ssh_env: SSHEnv) -> None:
    async with await ssh_env.connect("boss") as conn, conn.start_sftp_client() as sftp:
        async with sftp.open("/upload/a.bin", "wb") as f:
            await f.write(b"\x00" * 1000)
        await sftp.rename("/upload/a.bin", "/upload/b.bin")
        assert "b.bin" in await sftp.listdir("/upload")
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.rename("/upload/b.bin", "/docs/b.bin")
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.remove("/docs/README.txt")
        await sftp.remove("/upload/b.bin")
        assert "b.bin" not in await sftp.listdir("/upload")


async def test_default_password_user_gets_no_files(ssh_env: SSHEnv) -> None:
    async with await ssh_env.connect("admin", password="admin") as conn, \
            conn.start_sftp_client() as sftp:
        with pytest.raises(asyncssh.SFTPPermissionDenied) as info:
            await sftp.listdir("/docs")
        assert "factory default" in str(info.value)


async def test_modbus_register_map_downloads_from_docs(ssh_env: SSHEnv, tmp_path: Path) -> None:
    """The CSV the Modbus server answers from, and its generated list, byte for byte."""
    from enerteg_tui.protocols.modbus.regmap import MAP_PATH

    batch = tmp_path / "batch"
    batch.write_text(f"get /docs/modbus_map.csv {tmp_path}/map.csv\n"
                     f"get /docs/modbus-registers.md {tmp_path}/list.md\n")
    r = await ssh_env.tool(*_sftp_args(ssh_env, "oper", batch))
    assert r.code == 0, r.err
    assert (tmp_path / "map.csv").read_bytes() == MAP_PATH.read_bytes()
    root = Path(__file__).resolve().parents[3]
    assert (tmp_path / "list.md").read_bytes() == (root / "docs" / "modbus-registers.md").read_bytes()
