"""Issue 18 items 2, 8, 9 through real OpenSSH in tmux: an interactive ``ssh`` opens the
console; Tab moves through the device configuration form; "exit" typed on a select box
neither blinks the PDU nor opens a chart; ``?`` shows the page's keys first; escape with
an unsaved edit asks before discarding it; ctrl+t opens the topic shell and ``exit``
comes back to the console."""

from __future__ import annotations

import time

import pytest

from .test_console_e2e import _hex_ids, _ssh, served  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


def gone(t, text: str, timeout: float = 10) -> None:
    """Wait until ``text`` is no longer on the tmux screen."""
    deadline = time.monotonic() + timeout
    while text in t.screen():
        assert time.monotonic() < deadline, f"{text!r} still on the screen:\n{t.screen()}"
        time.sleep(0.1)


def test_form_keys_help_and_unsaved_edits_over_ssh(served) -> None:  # noqa: F811
    port, made, _proc = served
    hexid = _hex_ids(port)[0]
    t = _ssh(port, made, cols=120, rows=40)
    t.wait_for(r"Site dashboard", timeout=30)          # an interactive ssh: the console
    t.send("C-p")
    t.wait_for(r"🔎|Search", timeout=10)
    t.type(hexid)
    time.sleep(0.5)
    t.send("Enter")
    t.wait_for(r"Peak voltage", timeout=15)
    t.send("3")                                        # Configuration tab, name focused
    t.wait_for(r"Power-up|Outlet delay", timeout=10)
    t.send("Tab", "Tab", "Tab")                        # name → extra info → location → feed
    t.type("exit")
    time.sleep(1.0)
    screen = t.screen()
    assert "blinks for" not in screen and "Chart ·" not in screen, screen
    t.send("BTab", "BTab", "BTab")                     # back to the name field
    t.send("End")
    t.type("zq9")
    t.send("Escape")
    t.wait_for(r"Unsaved changes", timeout=10)
    t.wait_for(r"1 field changed", timeout=5)
    t.send("n")
    gone(t, "Unsaved changes")
    t.wait_for(r"zq9", timeout=10)                     # the edit is kept (once redrawn)
    t.send("Escape")
    t.wait_for(r"Discard the changes", timeout=10)
    t.send("y")
    t.wait_for(r"Site dashboard", timeout=10)
    t.send("?")
    t.wait_for(r"Dashboard: this page", timeout=10)
    t.send("Escape")
    gone(t, "this page")
    t.send("C-t")
    t.wait_for(r"Topic shell; type 'exit' to return to the console", timeout=15)
    t.type("exit")
    t.send("Enter")
    t.wait_for(r"Site dashboard", timeout=15)
