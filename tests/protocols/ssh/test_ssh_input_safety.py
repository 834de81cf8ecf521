"""Hostile input through the real SSH face (OpenSSH and asyncssh clients), issue 14:
huge lines and scripts get the limit in words and never stall the loop (item 3);
control characters are refused in names and settings and never reach a terminal raw
(item 4); deep JSON, bad quoting, 10,000-character values and bad login names get
clear, short messages (item 9)."""

from __future__ import annotations

import asyncio
import re
import time

from .conftest import PASSWORD, SSH_OPTS, Result, SSHEnv, askpass_env


class StallProbe:
    """Wakes every 5 ms on the controller's loop; ``worst`` is the longest extra wait."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.005)
            last = now

    def stop(self) -> float:
        self.task.cancel()
        return self.worst


async def _ssh_long(env: SSHEnv, user: str, command: str) -> Result:
    """OpenSSH with a long command: one argument may not exceed 128 KiB, so it is passed
    as several, which ssh joins with spaces (here they land inside the quotes)."""
    args = ["ssh", "-p", str(env.port), *SSH_OPTS, f"{user}@127.0.0.1",
            *(command[i:i + 100_000] for i in range(0, len(command), 100_000))]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=askpass_env(PASSWORD), start_new_session=True)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return Result(proc.returncode or 0, out.decode(), err.decode())


async def _hexid(env: SSHEnv) -> str:
    return sorted(env.controller.live.devices)[0]


# ------------------------------------------------------------------ item 3: size
async def test_a_1mb_line_on_stdin_gets_the_limit_without_stalling(ssh_env: SSHEnv) -> None:
    line = 'put name="' + "A" * 999_989 + '"\n'
    probe = StallProbe()
    overruns = ssh_env.controller.live.bus.overruns
    r = await ssh_env.ssh("oper", None, stdin=line, extra=("-T",))
    worst = probe.stop()
    assert r.code == 2
    assert "is 1,000,000 characters long; the limit is 65,536 characters" in r.err
    assert worst < 0.5, f"loop stalled {worst:.3f} s"     # was 15.4 s
    assert ssh_env.controller.live.bus.overruns == overruns


async def test_an_exec_command_over_256k_is_answered_not_dropped(ssh_env: SSHEnv) -> None:
    r = await _ssh_long(ssh_env, "oper", 'put name="' + "A" * 300_000 + '"')
    assert r.code == 2, r.err                           # was 255: Max packet size exceeded
    assert "Max packet size" not in r.err
    assert "the command line is 300,014 characters long; the limit is 65,536" in r.err
    ok = await ssh_env.ssh("oper", "pwd")
    assert ok.code == 0


async def test_an_exec_script_over_1mib_gets_the_script_limit(ssh_env: SSHEnv) -> None:
    # 1.2 MB in one SSH packet: taken after login (up to 2 MiB), refused in words
    script = ("pwd;" + "#" * 59_995 + "\n") * 20
    r = await _ssh_long(ssh_env, "oper", script)
    assert r.code == 2, r.err
    assert "the script is 1,200,0" in r.err and "the limit is 1,048,576 characters" in r.err
    assert r.out == ""                                  # nothing of it ran


async def test_a_script_within_the_limits_runs_with_big_lines(ssh_env: SSHEnv) -> None:
    hexid = await _hexid(ssh_env)
    filler = "# " + "x" * 60_000 + "\n"
    script = filler * 10 + f"cd sensor/{hexid}/config\npwd\n"
    probe = StallProbe()
    r = await ssh_env.ssh("boss", None, stdin=script, extra=("-T",))
    worst = probe.stop()
    assert r.code == 0, r.err
    assert f"sensor/{hexid}/config" in r.out
    assert worst < 0.5


async def test_a_script_over_1mib_on_stdin_gets_the_limit(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("oper", None, stdin="pwd\n" * 270_000, extra=("-T",))
    assert r.code == 2
    assert "longer than 1,048,576 characters, the limit" in r.err
    assert r.out == ""


async def test_an_interactive_paste_over_the_limit_is_discarded(ssh_env: SSHEnv) -> None:
    conn = await ssh_env.connect("oper")
    try:
        proc = await conn.create_process("shell", term_type="xterm", term_size=(100, 30),
                                         encoding=None)
        await asyncio.wait_for(proc.stdout.readuntil(b"> "), 10)
        probe = StallProbe()
        proc.stdin.write(b'put name="' + b"A" * (1 << 20) + b'"\r')
        seen = b""
        while b"was discarded" not in seen or not re.search(rb"> (\x1b\[K)?$", seen):
            chunk = await asyncio.wait_for(proc.stdout.read(1 << 20), 30)
            assert chunk, seen[-500:]
            seen = (seen + chunk)[-4096:]
        worst = probe.stop()
        text = seen.decode()
        assert "Error: a line of 1,048,587 characters was discarded; the limit is 65,536" in text
        assert worst < 0.5, f"loop stalled {worst:.3f} s"     # was 24.4 s
        proc.stdin.write(b"pwd\r")                            # the session goes on
        out = await asyncio.wait_for(proc.stdout.readuntil(b"/\r\n"), 10)
        assert b"pwd" in out
    finally:
        conn.close()


# ------------------------------------------------------------------ item 9: messages
async def test_deeply_nested_json_is_refused_with_the_limit(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("boss", "cd config/notifications; put x=" + "[" * 5000 + "]" * 5000)
    assert r.code == 1
    assert "nests deeper than 32 levels" in r.err
    assert "RecursionError" not in r.err and "internal error" not in r.err
    assert len(r.err) < 400


async def test_quoting_errors_are_explained(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("oper", "ls config\\")
    assert r.code == 2
    assert "No escaped character" not in r.err
    assert "ends with a lone backslash" in r.err
    r = await ssh_env.ssh("oper", "ls 'config")
    assert r.code == 2 and "single quote (') at character 4 is never closed" in r.err


async def test_a_refusal_cuts_a_10000_character_value(ssh_env: SSHEnv) -> None:
    hexid = await _hexid(ssh_env)
    r = await ssh_env.ssh("boss", f'cd sensor/{hexid}/config; put name="{"N" * 10_000}"')
    assert r.code == 1
    assert "(10,000 characters)" in r.err
    assert "N" * 41 not in r.err
    assert len(r.err) < 500


async def test_a_bad_login_name_says_what_is_allowed(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("boss", "user add ADMIN --role readonly --password Str0ng-pass")
    assert r.code == 1
    assert "Login name 'ADMIN' is not allowed; allowed are 1 to 32 characters: lowercase" in r.err


# ------------------------------------------------------------------ item 4: control characters
async def test_put_refuses_a_name_with_esc(ssh_env: SSHEnv) -> None:
    hexid = await _hexid(ssh_env)
    before = ssh_env.controller.live.devices[hexid].info.settings.name
    r = await ssh_env.ssh("boss", f"cd sensor/{hexid}/config; put name='x\x1b]2;pwned\x07'")
    assert r.code == 1
    assert "holds a control character (ESC, U+001B) at character 2" in r.err
    assert "\x1b" not in r.err
    assert ssh_env.controller.live.devices[hexid].info.settings.name == before
    r = await ssh_env.ssh("boss", None, stdin="cd config/snmp_agent\nput snmpLocation='a\x00b'\n",
                          extra=("-T",))
    assert r.code == 1 and "(NUL, U+0000)" in r.err


async def _plant_device_name(env: SSHEnv, name: str) -> str:
    """A PDU that reports ``name`` (as a device, or a store from before the rule, may)."""
    c = env.controller
    hexid = await _hexid(env)
    settings = c.live.devices[hexid].info.settings.model_copy(update={"name": name})
    await c.driver.write_settings(hexid, settings)
    end = time.monotonic() + 10
    while c.live.devices[hexid].info.settings.name != name:
        assert time.monotonic() < end, "the planted name was not discovered"
        await asyncio.sleep(0.05)
    return hexid


async def test_shell_output_escapes_control_characters(ssh_env: SSHEnv) -> None:
    hexid = await _plant_device_name(ssh_env, "Evil\x1b]2;pwned\x07\x9bPDU")
    r = await ssh_env.ssh("oper", f"cat sensor/{hexid}/config/_data")
    assert r.code == 0, r.err
    assert "\x1b" not in r.out and "\x07" not in r.out and "\x9b" not in r.out
    assert "Evil\\u001b]2;pwned\\u0007\\u009bPDU" in r.out
    r = await ssh_env.ssh("oper", f"format json; cat sensor/{hexid}/config/_data")
    assert "\x9b" not in r.out


async def test_console_viewer_never_gets_the_escape_raw(ssh_env: SSHEnv) -> None:
    """Real OpenSSH in tmux: the planted OSC 2 would retitle the pane if it arrived."""
    from tests.tmux import Tmux

    hexid = await _plant_device_name(ssh_env, "Evil\x1b]2;pwned\x07PDU")
    opts = " ".join(SSH_OPTS)
    t = await asyncio.to_thread(
        Tmux, f"ssh -tt -p {ssh_env.port} {opts} oper@127.0.0.1", cols=120, rows=35,
        env=askpass_env(PASSWORD))
    try:
        await asyncio.to_thread(t.wait_for, r"Site dashboard", 20)
        t.send("C-p")
        await asyncio.sleep(0.5)
        t.type(hexid)
        await asyncio.sleep(0.5)
        t.send("Enter")
        # shown as harmless text: the ESC and BEL that made it a command are gone
        await asyncio.to_thread(t.wait_for, r"Evil\]2;pwnedPDU", 20)
        title = await asyncio.to_thread(
            t._tmux, "display-message", "-p", "-t", "t", "#{pane_title}")
        assert "pwned" not in title
    finally:
        await asyncio.to_thread(t.close)
