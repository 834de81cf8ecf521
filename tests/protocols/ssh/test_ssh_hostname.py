"""Issue 23 item 3: the configured host name is the prompt's host, at once, over real ssh."""

from __future__ import annotations

from .conftest import SSHEnv, expect
from .test_ssh_interactive import _close, _login


async def test_prompt_follows_config_hostname(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "boss")
    await expect(child, "boss@enerteg:> ")
    child.sendline("put config/hostname hostname=rack-room-7")
    await expect(child, "boss@rack-room-7:> ")
    child.sendline("put config/hostname hostname=enerteg")
    await expect(child, "boss@enerteg:> ")
    await _close(child)
