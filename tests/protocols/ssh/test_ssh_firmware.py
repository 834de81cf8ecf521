"""PDU firmware update through the real faces: an image put in /upload with OpenSSH's
``sftp``, then ``firmware update``/``status``/``cancel`` over ``ssh`` (issue 23 item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enerteg_tui.core.firmware_image import build_image, shipped_image
from tests.core.test_firmware_update import bad_checksum
from tests.helpers import wait_for

from .conftest import SSH_OPTS, SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


async def _upload(env: SSHEnv, tmp: Path, name: str, data: bytes) -> None:
    src = tmp / name
    src.write_bytes(data)
    batch = tmp / "batch"
    batch.write_text(f"put {src} /upload/{name}\n")
    got = await env.tool("sftp", "-P", str(env.port), "-o", "BatchMode=no", *SSH_OPTS,
                         "-b", str(batch), "boss@127.0.0.1")
    assert got.code == 0, got.err


async def test_update_from_an_sftp_upload_over_ssh(ssh_env: SSHEnv, tmp_path: Path) -> None:
    c = ssh_env.controller
    c.driver.firmware_reboot_s = 0.15
    await _upload(ssh_env, tmp_path, "pdu.etgfw", shipped_image().data)
    await _upload(ssh_env, tmp_path, "broken.etgfw", bad_checksum(shipped_image().data))

    status = await ssh_env.ssh("boss", "firmware status")
    assert status.code == 0, status.err
    assert "In /upload      broken.etgfw, pdu.etgfw" in status.out
    assert "No firmware update has run" in status.out

    bad = await ssh_env.ssh("boss", "firmware update broken.etgfw all")
    assert bad.code == 1
    assert ("Error: firmware image /upload/broken.etgfw: payload checksum (SHA-256) does not "
            "match the header: the image is damaged") in bad.err
    assert c.firmware.status() is None

    denied = await ssh_env.ssh("oper", "firmware update pdu.etgfw all")
    assert denied.code == 1 and "administer" in denied.err, denied.err

    usage = await ssh_env.ssh("boss", "firmware update pdu.etgfw")
    assert usage.code == 2 and "Usage: firmware status" in usage.err

    ids = list(c.live.devices)
    started = await ssh_env.ssh("boss", "firmware update /upload/pdu.etgfw all")
    assert started.code == 0, started.err
    assert f"Firmware update to 5.3.0 started for 4 PDU(s), in this order: {ids[0]}" in started.out
    await wait_for(lambda: c.firmware.status().state != "running", timeout=60)
    done = await ssh_env.ssh("boss", "format json; firmware status")
    doc = json.loads(done.out)
    assert doc["update"]["state"] == "done"
    assert [s["state"] for s in doc["update"]["steps"]] == ["verified"] * 4
    assert set(doc["pdus"].values()) == {"5.3.0"}
    text = await ssh_env.ssh("boss", "firmware status")
    assert "Update to 5.3.0 from /upload/pdu.etgfw: done (started" in text.out
    assert text.out.count(" verified") == 4

    again = await ssh_env.ssh("boss", "firmware update pdu.etgfw all")
    assert again.code == 1 and "every PDU already runs firmware 5.3.0" in again.err
    nothing = await ssh_env.ssh("boss", "firmware cancel")
    assert nothing.code == 1 and "no firmware update is running" in nothing.err
    other = build_image("5.1.0", b"old" * 100)
    await _upload(ssh_env, tmp_path, "old.etgfw", other)
    older = await ssh_env.ssh("boss", f"firmware update old.etgfw {ids[1]}")
    assert older.code == 1
    assert f"{ids[1]} runs newer firmware 5.3.0; --force updates" in older.err
