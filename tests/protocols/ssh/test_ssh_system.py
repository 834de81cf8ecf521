"""System commands over OpenSSH, refusals (issue 19 item 7): only an admin may restart,
a script must confirm, ``version`` and ``whoami`` name the controller's version."""

from __future__ import annotations

import json

import pytest

from enerteg_tui import __version__

from .conftest import SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


async def test_version_whoami_and_refusals(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    r = await ssh_env.ssh("oper", "format json; version; whoami")
    assert r.code == 0, r.err
    decoder = json.JSONDecoder()
    version, end = decoder.raw_decode(r.out.strip())
    who = json.loads(r.out.strip()[end:])
    assert version["controller"] == __version__ and version["dataLayout"] >= 3
    assert set(version["libraries"]) >= {"textual", "asyncssh", "pydantic", "aiosqlite"}
    assert version["manageHost"] is False
    assert who["controller"] == __version__

    ro = await ssh_env.ssh("oper", "restart --yes")
    assert ro.code == 1 and "administer" in ro.err
    reboot = await ssh_env.ssh("boss", "reboot --yes")
    assert reboot.code == 1 and "--manage-host" in reboot.err
    script = await ssh_env.ssh("boss", "restart")
    assert script.code == 2 and "restart --yes" in script.err
    assert c.core.system.requested is None and not c.core.system.stop_requested.is_set()
