"""A topic-shell session (manual §11.1) for a person at a terminal or a script.

Owns the session state (current folder, output format), runs command lines through
the command table in ``commands.py``, and shows each failure through the shell's error
table (``errors.py``: 0 success, 1 a command failed, 2 a usage error, 130 interrupted).
A script stops at the first failing statement and returns its code.

Interrupting is one mechanism for every face: each command runs as its own task, and
``interrupt()`` cancels it (nothing it started outlives it: commands start no child
processes). At a terminal, Ctrl-C typed while a command runs and is not itself reading
the terminal interrupts it (``_InterruptibleIO``); the SSH face also interrupts on a
signal or break request, and cancels the whole session when its channel closes. In scripts, stdout carries
only data (valid JSON for ``cat``, and for every command under ``format json``) and
messages go to stderr; at a terminal both go to the screen. Faces (SSH, serial) create
one ``ShellSession`` per login; it never touches a driver, only core services.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from ...core.errors import EnertegError
from ...core.i18n import N_, _, session_language, switch, system_language, use
from ...core.masking import mask_text
from ...core.permissions import Principal
from ...core.safetext import escape_control
from ...core.users import AuthFailed, LockedOut
from .errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ShellOutcome,
    outcome_of,
    render,
    unexpected,
)
from .lineedit import LineEditor
from .commands import ExitShell, complete, run_command
from .parse import MAX_LINE_CHARS, UsageError, parse_script_async
from .term import TermIO, read_line, read_secret

__all__ = ["ShellSession", "change_password_prompt", "login_prompt", "read_secret",
           "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

log = logging.getLogger(__name__)

CTRL_C = "\x03"


class _InterruptibleIO:
    """A ``TermIO`` wrapper that is the terminal's only reader, so that Ctrl-C typed while
    a command runs reaches ``on_interrupt`` even when the command is not reading.

    Input is queued for the next ``read``. A Ctrl-C that arrives while a command runs
    that has not read the terminal interrupts it and is dropped; a command that reads the
    terminal (a password prompt, the editor) gets Ctrl-C as a key, as before.

    Args:
        io: the terminal.
        running: the running command (any object identifying it), None between commands.
        on_interrupt: stops the running command.
    """

    def __init__(self, io: TermIO, running: Callable[[], object | None],
                 on_interrupt: Callable[[], bool]) -> None:
        self._io = io
        self._running = running
        self._on_interrupt = on_interrupt
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._reader_of: object | None = None
        """The last command that read the terminal."""
        self._pump = asyncio.ensure_future(self._run())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._io, name)

    def write(self, text: str) -> None:
        self._io.write(text)

    @property
    def size(self) -> tuple[int, int]:
        return self._io.size

    async def _run(self) -> None:
        while True:
            text = await self._io.read()
            running = self._running()
            if CTRL_C in text and running is not None and running is not self._reader_of:
                self._on_interrupt()
                text = text.replace(CTRL_C, "")
                if not text:
                    continue
            self._queue.put_nowait(text)
            if text == "":
                return

    async def read(self) -> str:
        if self._pump.done() and self._queue.empty():
            return ""
        self._reader_of = self._running()
        return await self._queue.get()

    def close(self) -> None:
        """Stop reading the terminal."""
        self._pump.cancel()


class ShellSession:
    """One logged-in shell.

    Args:
        core: the core services.
        principal: who is logged in.
        hostname: shown in the prompt; default from ``config/hostname``.
    """

    def __init__(self, core: Any, principal: Principal, *, hostname: str | None = None) -> None:
        self.core = core
        self.principal = principal
        self.hostname = hostname
        self.cwd = ""
        """Current topic folder, canonical (no leading slash)."""
        self.format = "text"
        """Output format: text or json."""
        self.io: TermIO | None = None
        """The terminal in interactive mode, None in a script."""
        self.session: Any = None
        """The core ``users.Session`` record, when the face registered one."""
        self._out: Callable[[str], None] = lambda s: None
        self._err: Callable[[str], None] = lambda s: None
        self._command: asyncio.Task[Any] | None = None
        self._interrupted = False
        self.language: str | None = None
        """This session's language (core.i18n), resolved when it starts running."""

    def interrupt(self) -> bool:
        """Stop the running command (Ctrl-C, an SSH signal or break); False if none runs."""
        task = self._command
        if task is None or task.done():
            return False
        self._interrupted = True
        task.cancel()
        return True

    @property
    def busy(self) -> bool:
        """Whether a command is running now."""
        return self._command is not None and not self._command.done()

    async def _run_command(self, words: list[str]) -> bool:
        """Run one command as its own task; True if ``interrupt`` stopped it."""
        task = asyncio.ensure_future(run_command(self, words))
        self._command, self._interrupted = task, False
        try:
            await task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if self._interrupted and (me is None or not me.cancelling()):
                return True
            raise
        finally:
            self._command = None
        return False

    # ------------------------------------------------------------------ output
    @property
    def interactive(self) -> bool:
        """True at a terminal (prompts, editor), False in a script."""
        return self.io is not None

    def out(self, text: str) -> None:
        """Write data (stdout in a script), one line or several, newline added.

        Control characters other than newline and tab (text a user or a device
        stored) are written as ``\\u001b``, never sent raw to a terminal."""
        self._out(escape_control(text, keep="\n\t") + "\n")

    def msg(self, text: str) -> None:
        """Write a message for people (stderr in a script); control characters as in
        ``out``."""
        self._err(escape_control(text, keep="\n\t") + "\n")

    def emit(self, data: Any, text: str | None) -> None:
        """Data in the session's format: JSON, or ``text`` (JSON if no text given)."""
        if self.format == "json" or text is None:
            self.out(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.out(text)

    def prompt(self) -> str:
        """The manual-style prompt: ``user@host:path> ``."""
        host = self.hostname or self.core.config.get("hostname").hostname
        return f"{self.principal.user}@{host}:{self.cwd}> "

    def switch_language(self, language: str) -> None:
        """Answer in ``language`` from now on (``prefs language``)."""
        self.language = language
        switch(language)

    # ------------------------------------------------------------------ running
    async def run_line(self, line: str) -> int:
        """Run every statement of ``line``; stops at the first failure or interrupt."""
        if self.language is None:
            self.language = await session_language(self.core, self.principal.user)
        with use(self.language):
            return await self._run_line(line)

    async def _run_line(self, line: str) -> int:
        try:
            statements = await parse_script_async(line)
        except UsageError as exc:
            self._error(exc)
            return EXIT_USAGE
        for statement in statements:
            code = EXIT_OK
            try:
                if statement.error is not None:
                    raise statement.error
                if statement.words and self.principal.source == "support":
                    await self.core.support.note(self.principal, statement.text)
                if statement.words and await self._run_command(statement.words):
                    code = EXIT_INTERRUPTED
                    self._err(_("{command}: interrupted").format(command=statement.words[0]) + "\n")
            except ExitShell:
                raise
            except (UsageError, EnertegError) as exc:
                code = self._error(exc)
            except Exception as exc:  # never a traceback to a user
                log.exception("shell: command %s failed", mask_text(statement.text))
                code = self._error(unexpected(statement.words[0] if statement.words
                                              else statement.text, exc))
            if code != EXIT_OK:
                return code
        return EXIT_OK

    def _error(self, failure: UsageError | EnertegError | ShellOutcome) -> int:
        """Show a failure through the shell's error table; returns its exit code."""
        result = failure if isinstance(failure, ShellOutcome) else outcome_of(failure)
        self._err(render(result, json_errors=self.format == "json" and not self.interactive))
        return result.code

    async def run_script(self, text: str, out: Callable[[str], None],
                         err: Callable[[str], None]) -> int:
        """Run a script (exec command or stdin); returns the exit code."""
        self._out, self._err = out, err
        try:
            return await self.run_line(text)
        except ExitShell:
            return EXIT_OK

    async def run_interactive(self, io: TermIO) -> int:
        """Prompt, read, run until ``exit``/``logout``/Ctrl-D; returns the last exit code."""
        wrapped = _InterruptibleIO(io, lambda: self._command if self.busy else None,
                                   self.interrupt)
        try:
            return await self._interactive(wrapped)  # type: ignore[arg-type]
        finally:
            wrapped.close()

    async def _interactive(self, io: TermIO) -> int:
        self.io = io
        self._out = self._err = lambda s: io.write(s.replace("\r\n", "\n").replace("\n", "\r\n"))
        users = self.core.users
        editor = LineEditor(io, history=await users.history(self.principal.user),
                            completer=lambda line, cur: complete(self, line, cur),
                            max_length=MAX_LINE_CHARS)
        code = EXIT_OK
        while True:
            line = await editor.readline(self.prompt())
            if self.session is not None:
                self.session.touch()
            if line is None:
                io.write("logout\r\n")
                return code
            line = line.strip()
            if not line:
                continue
            editor.add_history(line)
            await users.add_history(self.principal.user, line)   # not if it holds a secret
            try:
                code = await self.run_line(line)
            except ExitShell:
                return EXIT_OK


async def change_password_prompt(io: TermIO, core: Any, principal: Principal) -> bool:
    """Forced change of the password (the default, set by an admin, or expired): asks the
    new one twice; the user service checks the policy and names a broken rule.

    Asked in the user's language (their preference, else ``config/core`` language):
    the session has not started yet, so the prompt makes it current itself. The policy
    sentence and a refusal are the core's (English).

    Returns True when changed; three refused attempts or EOF return False.
    """
    with use(await session_language(core, principal.user)):
        reason = await core.users.change_reason(principal.user) or N_("must be replaced")
        io.write(_("Your password {reason}; you must set a new one now.").format(reason=_(reason))
                 + f"\r\n{core.users.password_policy.describe()}\r\n")
        for _attempt in range(3):
            first = await read_secret(io, _("New password: "))
            if first is None:
                return False
            second = await read_secret(io, _("Repeat password: "))
            if second is None:
                return False
            if first != second:
                io.write(_("Passwords do not match.") + "\r\n")
                continue
            try:
                await core.users.change_password(principal, principal.user, first)
            except EnertegError as exc:
                io.write(f"{exc}\r\n")
                continue
            io.write(_("Password changed.") + "\r\n")
            return True
        return False


async def login_prompt(io: TermIO, core: Any, face: str, address: str) -> Principal | None:
    """``login:``/``Password:`` on a line (serial console); None at EOF. In the system
    default language (``config/core`` language): nobody is known yet."""
    with use(system_language(core.config)):
        return await _login(io, core, face, address)


async def _login(io: TermIO, core: Any, face: str, address: str) -> Principal | None:
    import asyncio

    users = core.users
    while True:
        io.write("\r\nlogin: ")
        name = await read_line(io, echo=True)
        if name is None:
            return None
        name = name.strip()
        if not name:
            continue
        password = await read_secret(io, _("Password: "))
        if password is None:
            return None
        try:
            return await users.authenticate(name, password, face, address)
        except LockedOut as exc:
            io.write(f"{exc}\r\n")
        except AuthFailed:
            await asyncio.sleep(users.login_delay(name, address))
            io.write(_("Login incorrect") + "\r\n")
