"""Issue 14 item 12 through the shell over SSH: a ``put`` says what it really does.

Every topic has a service now; one that does not act on this controller says so (the
network of a controller started without ``--manage-host``). A key nothing reads
(``acceptAllCertificates``) says it is stored and not active. The SSH port applies at
once, as the Settings page now says.
"""

from __future__ import annotations

import socket

import asyncssh

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.settings import SETTINGS_TOPICS, CliSettings
from tests.helpers import wait_for

from .conftest import PASSWORD, SSHEnv


async def test_put_of_a_host_topic_without_manage_host_says_not_applied(ssh_env: SSHEnv
                                                                         ) -> None:
    """Every topic has a service now; config/network's says plainly that it does not
    touch the host of a controller started without --manage-host."""
    assert all(schema.SERVICE for schema in SETTINGS_TOPICS.values())
    r = await ssh_env.ssh("boss", """cd config/network; put interfaces='{"eth0": {"llaFallback": true}}'""")
    assert r.code == 0, r.err
    assert "not applied: the host manages its own network" in r.err, r.err
    assert "--manage-host" in r.err


async def test_put_of_an_unread_key_says_not_active(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("boss", "cd config/core; put acceptAllCertificates=true")
    assert r.code == 0, r.err
    assert ("acceptAllCertificates is stored, but not active in this build: nothing reads it"
            in r.err)
    r = await ssh_env.ssh("boss", "cd config/sppdu5; put autoDiscovery=disabled")
    assert r.code == 0 and ("autoDiscovery is stored, but not active in this build: nothing "
                            "reads it") in r.err, r.err
    r = await ssh_env.ssh("boss", "cd config/core; put pollIntervalSeconds=2")
    assert r.code == 0 and "Value at config/core updated successfully." in r.err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_ssh_port_applies_at_once_as_the_settings_page_says(make_controller,
                                                                   tmp_path) -> None:
    assert "apply at once" in CliSettings.SERVICE_NOTE
    data = tmp_path / "d"
    first, second = _free_port(), _free_port()
    c = await make_controller(pdus=1, data_dir=data)            # SSH off: prepare settings
    await c.config.put(SYSTEM, "cli", {"port": first, "listenAddress": "127.0.0.1"})
    await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})
    await c.users.add(SYSTEM, "boss", PASSWORD, ["admin"])
    await c.stop()
    c = await make_controller(pdus=1, data_dir=data, ssh_enabled=None)  # config decides
    async with asyncssh.connect("127.0.0.1", first, username="boss", password=PASSWORD,
                                known_hosts=None, client_keys=None) as conn:
        r = await conn.run(f"cd config/cli; put port={second}")
        assert r.exit_status == 0, r.stderr
        assert "updated successfully" in str(r.stderr)
    await wait_for(lambda: c.service("ssh").port == second, timeout=3)  # the listener moved
    async with asyncssh.connect("127.0.0.1", second, username="boss", password=PASSWORD,
                                known_hosts=None, client_keys=None) as conn:
        assert (await conn.run("whoami")).exit_status == 0
