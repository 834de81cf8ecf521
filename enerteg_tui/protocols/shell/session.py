"""A topic-shell session (manual §11.1) for a person at a terminal or a script.

Owns the session state (current folder, output format), runs command lines through
the command table in ``commands.py``, and shows each failure through the shell's error
table (``errors.py``: 0 success, 1 a command failed, 2 a usage error). A script
stops at the first failing statement and returns its code. In scripts, stdout carries
only data (valid JSON for ``cat``, and for every command under ``format json``) and
messages go to stderr; at a terminal both go to the screen. Faces (SSH, serial) create
one ``ShellSession`` per login; it never touches a driver, only core services.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ...core.errors import EnertegError
from ...core.masking import mask_text
from ...core.permissions import Principal
from ...core.safetext import escape_control
from ...core.users import AuthFailed, LockedOut
from .errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ShellOutcome, outcome_of, render, unexpected
from .lineedit import LineEditor
from .commands import ExitShell, complete, run_command
from .parse import MAX_LINE_CHARS, UsageError, parse_script_async
from .term import BACKSPACE, ENTER, EOF, TEXT, TermIO, next_key, read_secret

__all__ = ["ShellSession", "change_password_prompt", "login_prompt", "read_secret",
           "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE"]

log = logging.getLogger(__name__)



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

    # ------------------------------------------------------------------ running
    async def run_line(self, line: str) -> int:
        """Run every statement of ``line``; stops at the first failure."""
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
                if statement.words:
                    await run_command(self, statement.words)
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
            await core.users.change_password(principal, principal.user, first)
        except EnertegError as exc:
            io.write(f"{exc}\r\n")
            continue
        io.write("Password changed.\r\n")
        return True
    return False


async def login_prompt(io: TermIO, core: Any, face: str, address: str) -> Principal | None:
    """``login:``/``Password:`` on a line (serial console); None at EOF."""
    import asyncio

    users = core.users
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
            await asyncio.sleep(users.backoff_delay(address))
            io.write("Login incorrect\r\n")
