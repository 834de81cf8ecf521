"""Issue 20: the Grafana dashboard for the web server's ``/metrics`` is downloadable from
SFTP ``/docs`` with OpenSSH's ``sftp``, by a read-only user too, byte for byte the
shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from enerteg_tui.protocols.http.service import DASHBOARD_NAME, DASHBOARD_PATH

from .conftest import SSH_OPTS, SSHEnv

pytestmark = pytest.mark.e2e


async def test_openssh_sftp_downloads_the_grafana_dashboard(ssh_env: SSHEnv,
                                                            tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.write_text(f"get /docs/{DASHBOARD_NAME} {tmp_path}/dash.json\n")
    r = await ssh_env.tool("sftp", "-P", str(ssh_env.port), "-o", "BatchMode=no", *SSH_OPTS,
                           "-b", str(batch), "oper@127.0.0.1")
    assert r.code == 0, r.err
    assert (tmp_path / "dash.json").read_bytes() == DASHBOARD_PATH.read_bytes()
