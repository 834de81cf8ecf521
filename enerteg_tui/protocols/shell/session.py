"""A topic-shell session (manual §11.1) for a person at a terminal or a script.

Owns the session state (current folder, output format), runs command lines through
the command table in ``commands.py``, and maps outcomes to exit codes in one place:
0 success, 1 a command failed (any ``EnertegError``), 2 a usage error, 130 interrupted.
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
from ...core.permissions import Principal
from ...core.users import AuthFailed, LockedOut
from .lineedit import LineEditor
from .parse import UsageError, split_statements, split_words
from .term import ENTER, EOF, TEXT, BACKSPACE, TermIO, next_key

__all__ = ["ShellSession", "change_password_prompt", "login_prompt", "read_secret",
           "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
"""Exit codes of a command, a script and an exec session (130: interrupted, as a Unix
shell reports SIGINT)."""
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


class ExitShell(Exception):
    """Raised by ``exit``/``logout`` to end the session."""


class ShellSession:
    """One logged-in shell.

    Args:
        controller: the running controller (core services).
        principal: who is logged in.
        hostname: shown in the prompt; default from ``config/hostname``.
    """

    def __init__(self, controller: Any, principal: Principal, *, hostname: str | None = None) -> None:
        self.controller = controller
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
        from .commands import run_command

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
        """Write data (stdout in a script), one line or several, newline added."""
        self._out(text + "\n")

    def msg(self, text: str) -> None:
        """Write a message for people (stderr in a script)."""
        self._err(text + "\n")

    def emit(self, data: Any, text: str | None) -> None:
        """Data in the session's format: JSON, or ``text`` (JSON if no text given)."""
        if self.format == "json" or text is None:
            self.out(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.out(text)

    def prompt(self) -> str:
        """The manual-style prompt: ``user@host:path> ``."""
        host = self.hostname or self.controller.config.get("hostname").hostname
        return f"{self.principal.user}@{host}:{self.cwd}> "

    # ------------------------------------------------------------------ running
    async def run_line(self, line: str) -> int:
        """Run every statement of ``line``; stops at the first failure or interrupt."""
        for statement in split_statements(line):
            code = EXIT_OK
            try:
                words = split_words(statement)
                if words and await self._run_command(words):
                    code = EXIT_INTERRUPTED
                    self._err(f"{words[0]}: interrupted\n")
            except ExitShell:
                raise
            except UsageError as exc:
                code = EXIT_USAGE
                self._error(str(exc), None)
            except EnertegError as exc:
                code = EXIT_FAILED
                self._error(str(exc), exc)
            except Exception as exc:  # never a traceback to a user
                log.exception("shell: command %r failed", statement)
                code = EXIT_FAILED
                self._error(f"internal error while running {statement.split()[0]!r}: "
                            f"{type(exc).__name__}", None)
            if code != EXIT_OK:
                return code
        return EXIT_OK

    def _error(self, text: str, exc: EnertegError | None) -> None:
        if self.format == "json" and not self.interactive:
            doc: dict[str, Any] = {"error": text}
            if exc is not None:
                doc.update({"type": type(exc).__name__, "thing": exc.thing,
                            "value": exc.value if isinstance(exc.value, (str, int, float, bool))
                            or exc.value is None else str(exc.value), "allowed": exc.allowed})
            self._err(json.dumps(doc, ensure_ascii=False) + "\n")
        else:
            self._err(f"Error: {text}\n" if not text.startswith(("Unknown command", "Usage")) else text + "\n")

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
        from .commands import complete

        self.io = io
        self._out = self._err = lambda s: io.write(s.replace("\r\n", "\n").replace("\n", "\r\n"))
        users = self.controller.users
        editor = LineEditor(io, history=await users.history(self.principal.user),
                            completer=lambda line, cur: complete(self, line, cur))
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
            if "--password" not in line:
                await users.add_history(self.principal.user, line)
            try:
                code = await self.run_line(line)
            except ExitShell:
                return EXIT_OK


async def read_secret(io: TermIO, prompt: str) -> str | None:
    """Read a line without echo (passwords); None at EOF, "" after Ctrl-C."""
    io.write(prompt)
    buf: list[str] = []
    while True:
        key = await next_key(io)
        if key.name == EOF:
            return None
        if key.name == ENTER:
            io.write("\r\n")
            return "".join(buf)
        if key.name == "ctrl-c":
            io.write("^C\r\n")
            return ""
        if key.name == BACKSPACE and buf:
            buf.pop()
        elif key.name == TEXT:
            buf.append(key.text)


async def change_password_prompt(io: TermIO, controller: Any, principal: Principal) -> bool:
    """Forced change of the default password: asks the new one twice, checks the policy.

    Returns True when changed; three refused attempts or EOF return False.
    """
    io.write("You are using the default password; you must set a new one now.\r\n")
    for _ in range(3):
        first = await read_secret(io, "New password: ")
        if first is None:
            return False
        second = await read_secret(io, "Repeat password: ")
        if second is None:
            return False
        if first != second:
            io.write("Passwords do not match.\r\n")
            continue
        try:
            await controller.users.change_password(principal, principal.user, first)
        except EnertegError as exc:
            io.write(f"{exc}\r\n")
            continue
        io.write("Password changed.\r\n")
        return True
    return False


async def login_prompt(io: TermIO, controller: Any, face: str, address: str) -> Principal | None:
    """``login:``/``Password:`` on a line (serial console); None at EOF."""
    import asyncio

    users = controller.users
    while True:
        io.write("\r\nlogin: ")
        name = ""
        while True:
            key = await next_key(io)
            if key.name == EOF:
                return None
            if key.name == ENTER:
                io.write("\r\n")
                break
            if key.name == BACKSPACE and name:
                name = name[:-1]
                io.write("\b \b")
            elif key.name == TEXT:
                name += key.text
                io.write(key.text)
        name = name.strip()
        if not name:
            continue
        password = await read_secret(io, "Password: ")
        if password is None:
            return None
        try:
            return await users.authenticate(name, password, face, address)
        except LockedOut as exc:
            io.write(f"{exc}\r\n")
        except AuthFailed:
            await asyncio.sleep(users.login_delay(name, address))
            io.write("Login incorrect\r\n")
