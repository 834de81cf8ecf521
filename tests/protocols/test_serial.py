"""The serial console on a real pty: login, forced change, lockout, idle, hang-up, stop.

The service opens the pty's slave by path, as it would ``/dev/ttyS0``; the test is the
operator at the far end of the line (the master). Re-plugging a line is modelled by a
symlink (like ``/dev/serial/by-id/...``) pointed at a fresh pty.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import errno
import logging
import os
from collections.abc import AsyncIterator, Callable

import pytest

from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.protocols.serial import SerialConsoleService, SerialTerm
from enerteg_tui.protocols.serial import console as console_mod
from tests.conftest import ADMIN, principal
from tests.helpers import wait_for

BOB_PASSWORD = "Bob-pass-1"
PROMPT_BOB = "bob@enerteg:> "


class Line:
    """The operator's end of a serial line: the master side of a pty."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)                                 # the service opens it by path
        os.set_blocking(self.master, False)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.seen = ""
        """Everything received so far."""
        self._pos = 0

    def send(self, text: str | bytes) -> None:
        """Type ``text`` (CR is Enter)."""
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def pump(self) -> None:
        """Take what the service wrote (nothing while nobody has the slave open)."""
        while True:
            try:
                data = os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.seen += self._decoder.decode(data)

    async def expect(self, text: str, timeout: float = 5.0) -> str:
        """Wait until ``text`` arrives after the last expected text; return what came before it."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            self.pump()
            at = self.seen.find(text, self._pos)
            if at >= 0:
                before, self._pos = self.seen[self._pos:at], at + len(text)
                return before
            if loop.time() > end:
                raise AssertionError(f"{text!r} not seen within {timeout} s; "
                                     f"got {self.seen[self._pos:]!r}")
            await asyncio.sleep(0.01)

    async def quiet(self, seconds: float) -> str:
        """Wait ``seconds`` and return what arrived meanwhile."""
        await asyncio.sleep(seconds)
        self.pump()
        new, self._pos = self.seen[self._pos:], len(self.seen)
        return new

    def hang_up(self) -> None:
        """Pull the cable: close the master."""
        with contextlib.suppress(OSError):
            os.close(self.master)


async def login(line: Line, user: str, password: str, term: str | None = "shell") -> None:
    """Wait for the next ``login:``, answer it and ``Password:``, then the terminal type
    (``shell`` = the line shell; None leaves that question unanswered)."""
    await line.expect("login: ")
    line.send(user + "\r")
    await line.expect("Password: ")
    line.send(password + "\r")
    if term is not None:
        await line.expect("Terminal type [vt100]")
        line.send(term + "\r")


async def actions(controller, user: str) -> list[tuple[str, str, str]]:
    """(action, face, address) of the user's audit entries, oldest first."""
    entries = await controller.audit.query(ADMIN, AuditFilter(user=user), limit=500)
    return [(e.action, e.face, e.address) for e in reversed(entries)]


@pytest.fixture
async def lines() -> AsyncIterator[list[Line]]:
    """Ptys made by a test, hung up at its end."""
    made: list[Line] = []
    yield made
    for line in made:
        line.hang_up()


@pytest.fixture
async def serve(controller, lines) -> AsyncIterator[Callable[..., object]]:
    """``await serve(device, **kw)`` → a started console service, stopped at the end.

    Stopped before the test's ptys are hung up, so it never re-opens a pty number that
    another process got meanwhile.
    """
    started: list[SerialConsoleService] = []

    async def start(device: str, **kw) -> SerialConsoleService:
        kw.setdefault("retry_s", 0.1)
        svc = SerialConsoleService(controller.core, device, **kw)
        await svc.start()
        started.append(svc)
        return svc

    yield start
    for svc in started:
        await svc.stop()


@pytest.fixture
async def bob(controller) -> str:
    """A readonly user bob, without the forced password change."""
    await controller.users.add(ADMIN, "bob", BOB_PASSWORD, ["readonly"])
    return "bob"


def new_line(lines: list[Line]) -> Line:
    line = Line()
    lines.append(line)
    return line


# ---------------------------------------------------------------------------- logins

async def test_first_login_forces_password_change_then_shell(controller, serve, lines) -> None:
    line = new_line(lines)
    svc = await serve(line.path)
    assert svc.describe() == f"serial={line.path}@115200"
    banner = await line.expect(f"enerteg serial console on {line.path}")
    assert "EnerTEG controller — authorised access only" in banner
    await login(line, "admin", "admin", term=None)
    await line.expect("you must set a new one now.")
    for first, second, answer in (("Abcdefg-1", "Abcdefg-2", "Passwords do not match."),
                                  ("short", "short", "Password too short")):
        await line.expect("New password: ")
        line.send(first + "\r")
        await line.expect("Repeat password: ")
        line.send(second + "\r")
        await line.expect(answer)
    await line.expect("New password: ")
    line.send("N3w-pass!\r")
    await line.expect("Repeat password: ")
    line.send("N3w-pass!\r")
    await line.expect("Password changed.")
    await line.expect("Terminal type [vt100]")
    line.send("shell\r")
    await line.expect("admin@enerteg:> ")
    assert not await controller.users.must_change("admin")
    [session] = controller.users.sessions.list()
    assert (session.principal.user, session.principal.face, session.principal.address) == \
        ("admin", "serial", line.path)

    line.send("cd config\r")
    await line.expect("Changed to: /config")
    await line.expect("admin@enerteg:config> ")
    line.send("pwd\r")
    assert "/config" in await line.expect("admin@enerteg:config> ")
    line.send("cat cli/_data\r")
    out = await line.expect("admin@enerteg:config> ")
    assert "Getting data from: config/cli" in out and '"serialBaud"' in out
    assert "Traceback" not in line.seen
    assert ("user.password", "serial", line.path) in await actions(controller, "admin")


async def test_login_and_forced_change_in_the_system_language(controller, serve, lines,
                                                             bob) -> None:
    """``config/core`` language cs: the login asks and refuses in Czech (nobody is known
    yet), the forced change speaks the user's language (none chosen: the default)."""
    await controller.config.put(ADMIN, "core", {"language": "cs"})
    line = new_line(lines)
    await serve(line.path)
    await line.expect("login: ")
    line.send("bob\r")
    await line.expect("Heslo: ")
    line.send("wrong-password\r")
    await line.expect("Nesprávné přihlášení")
    await line.expect("login: ")
    line.send("admin\r")
    await line.expect("Heslo: ")
    line.send("admin\r")
    await line.expect("Vaše heslo je výchozí z výroby; nyní si musíte nastavit nové.")
    await line.expect("Heslo musí obsahovat nejméně ")            # the policy, in Czech too
    await line.expect("Nové heslo: ")
    line.send("Abcdefg-1\r")
    await line.expect("Zopakujte heslo: ")
    line.send("Abcdefg-2\r")
    await line.expect("Hesla se neshodují.")
    await line.expect("Nové heslo: ")
    line.send("N3w-pass!\r")
    await line.expect("Zopakujte heslo: ")
    line.send("N3w-pass!\r")
    await line.expect("Heslo změněno.")
    assert "Password" not in line.seen and "Traceback" not in line.seen


async def test_wrong_passwords_never_lock_out_the_serial_console(controller, serve, lines,
                                                               bob) -> None:
    """The local serial console is the recovery path: exempt from network lockout."""
    from enerteg_tui.core.users import AuthFailed

    await controller.config.put(ADMIN, "auth", {"addressBackoffSeconds": 0})
    for _ in range(5):       # bob is locked out over the network
        with pytest.raises(AuthFailed):
            await controller.users.authenticate("bob", "wrong-password", "ssh", "10.0.0.1")
    line = new_line(lines)
    await serve(line.path)
    for _ in range(5):
        await login(line, "bob", "wrong-password", term=None)
        await line.expect("Login incorrect")
    await login(line, "bob", BOB_PASSWORD)     # still logs in on the serial line
    await line.expect(PROMPT_BOB)
    got = await actions(controller, "bob")
    assert got.count(("login.failed", "serial", line.path)) == 5
    assert ("login.lockout", "serial", line.path) not in got
    assert ("login", "serial", line.path) in got


async def test_logout_returns_to_login_and_next_login_works(controller, serve, lines, bob) -> None:
    line = new_line(lines)
    await serve(line.path)
    for leave in ("exit", "logout"):
        await login(line, "bob", BOB_PASSWORD)
        await line.expect(PROMPT_BOB)
        line.send("whoami\r")
        out = await line.expect(PROMPT_BOB)
        assert "serial" in out and line.path in out
        line.send(leave + "\r")
        await line.expect("authorised access only")      # the banner again
        assert not controller.users.sessions.list()
    got = await actions(controller, "bob")
    assert [a for a in got if a[0] in ("login", "logout")] == \
        [("login", "serial", line.path), ("logout", "serial", line.path)] * 2


async def test_factory_reset_ends_the_serial_session(controller, serve, lines, bob) -> None:
    """Issue 14 item 8: a factory reset made elsewhere ends the session on the line."""
    line = new_line(lines)
    await serve(line.path)
    await login(line, "bob", BOB_PASSWORD)
    await line.expect(PROMPT_BOB)
    await controller.backup.factory_reset(ADMIN, "factory-reset")
    await line.expect("log in again as admin/admin")
    await line.expect("login:")
    assert not controller.users.sessions.list()


async def test_session_limit_is_said_on_the_line(controller, serve, lines, bob) -> None:
    await controller.config.put(ADMIN, "cli", {"maxSessionsPerUser": 1})
    other = controller.users.sessions.open(principal("readonly", user="bob"), 1)
    line = new_line(lines)
    await serve(line.path)
    await login(line, "bob", BOB_PASSWORD, term=None)
    await line.expect("already has 1 sessions; the maximum is 1")
    await line.expect("authorised access only")
    assert controller.users.sessions.list() == [other]
    got = await actions(controller, "bob")
    assert [a[0] for a in got if a[0] in ("login", "logout")] == ["login", "logout"]
    # the refusal is audited by the core's one admission, as on SSH (issue 15 item 2)
    assert ("login.refused", "serial", line.path) in got


async def test_unexpected_error_goes_back_to_login(controller, serve, lines, bob,
                                                   monkeypatch, caplog) -> None:
    async def broken(self, io) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(console_mod.ShellSession, "run_interactive", broken)
    line = new_line(lines)
    await serve(line.path)
    await login(line, "bob", BOB_PASSWORD)
    await line.expect("Internal error; the session has ended.")
    await line.expect("authorised access only")
    assert "Traceback" not in line.seen and "boom" not in line.seen
    assert any("unexpected error" in r.getMessage() for r in caplog.records)
    assert not controller.users.sessions.list()
    assert ("logout", "serial", line.path) in await actions(controller, "bob")


# ---------------------------------------------------------------------------- idle limit

async def test_idle_timeout_ends_the_session(controller, serve, lines, bob) -> None:
    line = new_line(lines)
    await serve(line.path, idle_timeout_s=2.0)
    await login(line, "bob", BOB_PASSWORD)
    await line.expect(PROMPT_BOB)
    for _ in range(4):          # typing keeps the session alive past the limit (margin for load)
        await asyncio.sleep(0.6)
        line.send("x")
    assert "timed out" not in await line.quiet(0.1)
    line.send("\x7f" * 4)
    await line.expect("Session timed out after 2 seconds without input.", timeout=6)
    assert not controller.users.sessions.list()
    got = await actions(controller, "bob")
    assert ("logout", "serial", line.path) in got
    assert ("session.timeout", "serial", line.path) in got   # audited (issue 15 item 2)
    await login(line, "bob", BOB_PASSWORD)              # and the next login works
    await line.expect(PROMPT_BOB)


async def test_idle_limit_comes_from_config_cli(controller) -> None:
    svc = SerialConsoleService(controller.core, "/dev/null")
    assert svc._idle_limit() == 15 * 60
    await controller.config.put(ADMIN, "cli", {"idleTimeoutMinutes": 2})
    assert svc._idle_limit() == 120
    await controller.config.put(ADMIN, "cli", {"idleTimeoutMinutes": 0})
    assert svc._idle_limit() is None
    assert SerialConsoleService(controller.core, "/dev/null", idle_timeout_s=0)._idle_limit() is None


# ---------------------------------------------------------------------------- the line

async def test_hang_up_ends_session_and_reconnects(controller, serve, lines, bob, tmp_path,
                                                   caplog) -> None:
    caplog.set_level(logging.INFO, logger=console_mod.__name__)
    link = tmp_path / "ttyS0"
    first = new_line(lines)
    link.symlink_to(first.path)
    await serve(str(link))
    await login(first, "bob", BOB_PASSWORD)
    await first.expect(PROMPT_BOB)
    assert controller.users.sessions.list()
    caplog.clear()

    unplugged = tmp_path / "ttyS0.unplugged"
    unplugged.symlink_to(tmp_path / "nothing")          # the cable is pulled: nothing there
    os.replace(unplugged, link)
    first.hang_up()

    async def logged_out() -> bool:
        return ("logout", "serial", str(link)) in await actions(controller, "bob")
    await wait_for(logged_out)
    assert not controller.users.sessions.list()
    await asyncio.sleep(0.5)                            # several failed re-opens meanwhile
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"serial console: {link} hung up; re-opening it when it is back"]

    second = new_line(lines)
    tmp = tmp_path / "ttyS0.new"
    tmp.symlink_to(second.path)
    os.replace(tmp, link)                               # the cable is back
    await login(second, "bob", BOB_PASSWORD)
    await second.expect(PROMPT_BOB)
    assert "Traceback" not in first.seen + second.seen


async def test_missing_device_at_start_is_retried(controller, serve, lines, bob, tmp_path,
                                                  caplog) -> None:
    link = tmp_path / "ttyUSB0"
    await serve(str(link))                              # returns at once, does not raise
    await asyncio.sleep(0.5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"serial console: cannot open {link}")
    line = new_line(lines)
    link.symlink_to(line.path)
    await login(line, "bob", BOB_PASSWORD)
    await line.expect(PROMPT_BOB)


async def test_stop_is_quick_and_leaves_nothing(controller, serve, lines, bob) -> None:
    before = asyncio.all_tasks()
    line = new_line(lines)
    svc = await serve(line.path)
    await login(line, "bob", BOB_PASSWORD)
    await line.expect(PROMPT_BOB)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await svc.stop()
    assert loop.time() - t0 < 1.0
    ours = os.path.dirname(console_mod.__file__).rsplit(os.sep, 1)[0]   # protocols/
    left = [t for t in asyncio.all_tasks() - before
            if not t.done() and getattr(t.get_coro(), "cr_code", None) is not None
            and t.get_coro().cr_code.co_filename.startswith(ours)]
    assert not left
    assert not controller.users.sessions.list()
    assert ("logout", "serial", line.path) in await actions(controller, "bob")
    with pytest.raises(OSError) as err:                 # nobody has the slave open any more
        os.read(line.master, 100)
    assert err.value.errno == errno.EIO
    await svc.stop()                                    # twice is harmless


async def test_term_decodes_utf8_across_reads(lines) -> None:
    import serial

    line = new_line(lines)
    term = SerialTerm(serial.Serial(line.path, 115200, timeout=0))
    try:
        assert term.size == (80, 24)
        line.send("é".encode()[:1])
        await asyncio.sleep(0.05)
        line.send("é".encode()[1:] + b"\xff!")
        got = ""
        while len(got) < 3:
            got += await asyncio.wait_for(term.read(), 2)
        assert got == "é\ufffd!"
        term.write("ü\r\n")
        await line.expect("ü\r\n")
        line.hang_up()
        assert await asyncio.wait_for(term.read(), 2) == ""
        assert term.hung_up and await term.read() == ""
        term.write("ignored")                           # no error on a dead line
    finally:
        term.close()
    assert term.closed


async def test_term_keeps_output_the_line_cannot_take_yet(lines) -> None:
    import serial

    line = new_line(lines)
    term = SerialTerm(serial.Serial(line.path, 115200, timeout=0))
    try:
        text = "".join(f"{i:06d}\r\n" for i in range(12_000))   # ~100 kB, more than a pty holds
        term.write(text)
        term.write("END\r\n")
        await line.expect("END\r\n", timeout=5)
        assert line.seen == text + "END\r\n"
    finally:
        term.close()


async def test_full_screen_console_on_the_line(controller, serve, lines, bob) -> None:
    line = new_line(lines)
    await serve(line.path)
    await login(line, "bob", BOB_PASSWORD, term="")       # Enter: the default, vt100
    screen = await line.expect("Site dashboard", timeout=15)
    assert "\x1b[?1049h" in screen                       # the alternate screen
    # The header's user label may be painted in a later write than the title.
    if "bob(readonly)" not in line.seen:
        await line.expect("bob(readonly)", timeout=10)
    line.send("\x14")                                    # ctrl+t: the line shell
    await line.expect(PROMPT_BOB, timeout=10)
    line.send("exit\r")                                  # back to the console
    await line.expect("Site dashboard", timeout=10)
    line.send("q")
    await line.expect("Leave the EnerTEG console?", timeout=10)
    line.send("y")
    await line.expect("login: ", timeout=10)
    got = await actions(controller, "bob")
    assert ("logout", "serial", line.path) in got


async def test_device_text_reaches_the_line_escaped(controller, serve, lines, bob) -> None:
    """Issue 14 item 4: a PDU reporting a name with OSC 2, BEL and an 8-bit CSI (which
    JSON leaves raw) never sends them raw to the line."""
    hexid = sorted(controller.live.devices)[0]
    settings = controller.live.devices[hexid].info.settings.model_copy(
        update={"name": "Evil\x1b]2;pwned\x07\x9b2JPDU"})
    await controller.driver.write_settings(hexid, settings)
    await wait_for(lambda: controller.live.devices[hexid].info.settings.name.startswith("Evil"))
    line = new_line(lines)
    await serve(line.path)
    await login(line, "bob", BOB_PASSWORD)
    await line.expect(PROMPT_BOB)
    line.send(f"cat sensor/{hexid}/config/_data\r")
    out = await line.expect(PROMPT_BOB)
    assert "Evil\\u001b]2;pwned\\u0007\\u009b2JPDU" in out
    assert "\x1b]2;" not in line.seen and "\x07" not in line.seen and "\x9b" not in line.seen
