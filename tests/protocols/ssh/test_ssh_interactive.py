"""The interactive topic shell over SSH with a real terminal: OpenSSH ``ssh -tt`` under
pexpect. Forced password change, prompt, tab completion, history across sessions, the
``_data`` editor, Ctrl-C/Ctrl-D, the idle timeout."""

from __future__ import annotations

import asyncio
import json

import pexpect

import pytest

from enerteg_tui.core.permissions import SYSTEM

from .conftest import PASSWORD, SSHEnv, expect

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""

PROMPT = r"@enerteg:[^\r\n]*> "


async def _login(env: SSHEnv, user: str, password: str = PASSWORD,
                 command: str | None = "shell") -> pexpect.spawn:
    child = env.terminal(user, command)
    await expect(child, "assword:")
    child.sendline(password)
    return child


async def _close(child: pexpect.spawn) -> None:
    child.sendcontrol("d")
    try:
        await expect(child, pexpect.EOF, timeout=5)
    finally:
        child.close(force=True)


async def test_first_login_forces_a_new_password(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "admin", "admin")
    await expect(child, "must set a new one")
    await expect(child, "New password: ")
    child.sendline("short")
    await expect(child, "Repeat password: ")
    child.sendline("short")
    await expect(child, "Password too short")
    await expect(child, "New password: ")
    child.sendline("N3w-secret!")
    await expect(child, "Repeat password: ")
    child.sendline("N3w-secreX!")
    await expect(child, "Passwords do not match")
    await expect(child, "New password: ")
    child.sendline("N3w-secret!")
    await expect(child, "Repeat password: ")
    child.sendline("N3w-secret!")
    await expect(child, "Password changed")
    await expect(child, "admin" + PROMPT)
    child.sendline("pwd")
    await expect(child, "/\r\n")
    await _close(child)
    # the new password now works for scripts, the old one does not
    ok = await ssh_env.ssh("admin", "whoami", password="N3w-secret!")
    assert ok.code == 0, ok.err
    old = await ssh_env.ssh("admin", "whoami", password="admin")
    assert old.code == 255


async def test_prompt_cd_and_messages(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "oper")
    await expect(child, "oper" + PROMPT)
    child.sendline("cd /config/snmp_agent")
    await expect(child, "Changed to: /config/snmp_agent")
    await expect(child, "oper@enerteg:config/snmp_agent> ")
    child.sendline("cat _data")
    await expect(child, "snmpContact")
    child.sendline("cd ..")
    await expect(child, "oper@enerteg:config> ")
    await _close(child)


async def test_tab_completion_of_commands_paths_and_keys(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "boss")
    await expect(child, PROMPT)
    child.send("wh\t")
    await expect(child, "whoami")
    child.send("\r")
    await expect(child, "boss")
    await expect(child, PROMPT)
    child.send("cd config/snmp_a\t")
    await expect(child, "snmp_agent")
    child.send("\r")
    await expect(child, "Changed to: /config/snmp_agent")
    child.send("put snmpCon\t")
    await expect(child, "snmpContact=")          # a key completes with its '='
    child.send('"ops@example.com"\r')
    await expect(child, "SNMP agent: disabled")  # the agent says how the change went
    await _close(child)
    assert ssh_env.controller.config.get("snmp_agent").snmpContact == "ops@example.com"


async def test_history_survives_the_session(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "oper")
    await expect(child, PROMPT)
    child.sendline("cd config/hostname")
    await expect(child, "Changed to")
    await _close(child)
    child = await _login(ssh_env, "oper")
    await expect(child, PROMPT)
    child.send("\x1b[A")                       # arrow up recalls the last command
    await expect(child, "cd config/hostname")
    child.send("\r")
    await expect(child, "oper@enerteg:config/hostname> ")
    await _close(child)


async def test_ctrl_c_cancels_the_line(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "oper")
    await expect(child, PROMPT)
    child.send("cd config")
    child.sendcontrol("c")
    await expect(child, PROMPT)
    child.sendline("pwd")
    await expect(child, "\r\n/\r\n")
    await _close(child)


async def test_editor_saves_valid_and_stays_on_invalid(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "boss")
    await expect(child, PROMPT)
    child.sendline("cd config/hostname")
    await expect(child, "boss@enerteg:config/hostname> ")
    child.sendline("edit _data")
    await expect(child, '"hostname"')
    # go to the value, replace it with an invalid host name, try to save
    child.send("/enerteg\r")
    child.send("cw")                          # not a supported verb: harmless
    child.send("\x1b")
    child.send("x" * 7)                        # delete 'enerteg'
    child.send("i")
    child.send("bad host!")
    child.send("\x1b")
    child.send(":wq\r")
    await expect(child, "hostname")
    await asyncio.sleep(0.3)
    assert ssh_env.controller.config.get("hostname").hostname == "enerteg"
    child.send(":q!\r")
    await expect(child, "boss@enerteg:config/hostname> ")
    assert ssh_env.controller.config.get("hostname").hostname == "enerteg"
    child.sendline("edit _data")
    await expect(child, '"hostname"')
    child.send("/enerteg\r")
    child.send("x" * 7)
    child.send("i")
    child.send("rack-b-ctl")
    child.send("\x1b")
    child.send(":wq\r")
    await expect(child, r"rack-b-ctl:config/hostname> ")
    assert ssh_env.controller.config.get("hostname").hostname == "rack-b-ctl"
    await _close(child)


async def test_shell_command_with_tty_opens_the_shell(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "oper", command="shell")
    await expect(child, "oper" + PROMPT)
    child.sendline("format json")
    child.sendline("whoami")
    await expect(child, '"face": "ssh"')
    child.sendline("exit")
    await expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


async def test_idle_timeout_closes_and_audits(ssh_env: SSHEnv) -> None:
    ssh_env.controller.service("ssh").options.idle_timeout_s = 0.5
    child = await _login(ssh_env, "oper")
    await expect(child, PROMPT)
    await expect(child, "Session closed after", timeout=5)
    await expect(child, pexpect.EOF, timeout=5)
    child.close()
    entries = await ssh_env.controller.audit.query(SYSTEM, limit=30)
    assert any(e.action == "session.timeout" and e.user == "oper" for e in entries)


async def test_users_lists_sessions_of_every_face(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "oper")
    await expect(child, PROMPT)
    r = await ssh_env.ssh("boss", "format json; users")
    rows = json.loads(r.out)
    assert {(row["user"], row["face"]) for row in rows} >= {("oper", "ssh"), ("boss", "ssh")}
    await _close(child)
