"""An error inside one console session never drops the connection silently (issue 18
item 1): mouse clicks on every key-bar entry over a real SSH session keep it alive, and
an unexpected exception shows an incident id (logged with the traceback and the user),
starts a fresh console in the same session and leaves other sessions alone."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from enerteg_tui.app import ConsoleApp

from .conftest import SSHEnv
from .test_ssh_console import _console

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


def _entries(bar: str) -> list[tuple[int, str]]:
    """(column, text) of each key-bar entry (``f2 Site``): a key and its one-word
    description (every entry of the site dashboard's bar has one word)."""
    return [(m.start(), m.group(0)) for m in re.finditer(r"\S+ \S+", bar)]


async def test_clicks_on_every_key_bar_entry_keep_the_session(ssh_env: SSHEnv) -> None:
    cols, rows = 160, 40
    conn, process, screen = await _console(ssh_env, "boss", cols=cols, rows=rows)
    try:
        await screen.wait_for(r"Site dashboard")
        entries = _entries(screen.screen.display[rows - 1])
        assert len(entries) >= 5, entries
        for col, label in entries:
            # SGR mouse press and release, 1-based coordinates
            press = f"\x1b[<0;{col + 2};{rows}M\x1b[<0;{col + 2};{rows}m"
            process.stdin.write(press.encode())
            await asyncio.sleep(0.4)
            text = screen.text
            if "Leave the EnerTEG console?" in text:
                process.stdin.write(b"n")
            elif re.search(r"boss@\S+:> ", text):             # the topic shell (ctrl+t)
                process.stdin.write(b"exit\r")
            else:
                process.stdin.write(b"\x1b")                  # close a dialog or help
            await asyncio.sleep(0.3)
            assert not process.is_closing(), f"the session ended after clicking {label!r}"
            await screen.wait_for(r"EnerTEG", timeout=5)
        assert "Traceback" not in screen.text
    finally:
        conn.close()


async def test_an_unexpected_error_shows_an_incident_and_the_console_restarts(
        ssh_env: SSHEnv, monkeypatch, caplog) -> None:
    def broken(self: ConsoleApp) -> None:
        raise RuntimeError("boom in a handler")

    monkeypatch.setattr(ConsoleApp, "action_help", broken)
    other_conn, _other, other_screen = await _console(ssh_env, "oper")
    conn, process, screen = await _console(ssh_env, "boss")
    try:
        await screen.wait_for(r"Site dashboard")
        await other_screen.wait_for(r"Site dashboard")
        with caplog.at_level(logging.ERROR):
            process.stdin.write(b"?")
            await screen.wait_for(r"incident [0-9a-f]{6}", timeout=10)
        incident = re.search(r"incident ([0-9a-f]{6})", screen.text).group(1)  # type: ignore[union-attr]
        logged = [r for r in caplog.records if incident in r.getMessage()]
        assert logged and "'boss'" in logged[0].getMessage() and logged[0].exc_info
        assert "boom" not in screen.text and "Traceback" not in screen.text
        await screen.wait_for(r"Site dashboard", timeout=10)   # a fresh console, same session
        assert not process.is_closing()
        assert any(s.principal.user == "boss" for s in ssh_env.controller.users.sessions.list())
        # the other session went on untouched
        assert not other_conn.is_closed() if hasattr(other_conn, "is_closed") else True
        other_screen.process.stdin.write(b"\x1bOR")            # F3: devices
        await other_screen.wait_for(r"Devices|PDUs", timeout=10)
        # a session that keeps failing ends after INCIDENTS_PER_SESSION, with a word
        for _ in range(2):
            await screen.wait_for(r"Site dashboard", timeout=10)
            process.stdin.write(b"?")
            await asyncio.sleep(1.5)
        await asyncio.wait_for(process.wait_closed(), 10)
        assert "the session ends" in screen.text
        assert process.exit_status == 1
    finally:
        conn.close()
        other_conn.close()
