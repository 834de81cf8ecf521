"""NO_COLOR sent by a real OpenSSH client (``SendEnv NO_COLOR``, an SSH env request) turns
the console's colours off; without it the same session is coloured (issue 18 item 5).
Through tmux, whose ``capture-pane -e`` keeps the colours the console drew."""

from __future__ import annotations

import re

import pytest

from .test_console_e2e import _ssh, served  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""

_GREY_256 = {0, 7, 8, 15, *range(232, 256)}
"""xterm-256 palette entries that are greys (black, white and the grey ramp)."""
_GREY_STANDARD = {30, 37, 39, 40, 47, 49, 90, 97, 100, 107}
"""Standard SGR colours that are greys (black, white, bright black/white, defaults)."""


def coloured_sgr(screen: str) -> list[str]:
    """The SGR parameters on ``screen`` that set a colour other than a grey."""
    found: list[str] = []
    for m in re.finditer(r"\x1b\[([0-9;:]*)m", screen):
        params = [p for p in re.split(r"[;:]", m.group(1)) if p != ""]
        i = 0
        while i < len(params):
            p = int(params[i])
            if p in (38, 48) and i + 1 < len(params):
                if params[i + 1] == "5" and i + 2 < len(params):
                    if int(params[i + 2]) not in _GREY_256:
                        found.append(m.group(1))
                    i += 3
                    continue
                if params[i + 1] == "2" and i + 4 < len(params):
                    r, g, b = params[i + 2:i + 5]
                    if not r == g == b:
                        found.append(m.group(1))
                    i += 5
                    continue
            if 30 <= p <= 49 or 90 <= p <= 107:
                if p not in _GREY_STANDARD:
                    found.append(m.group(1))
            i += 1
    return found


def test_sendenv_no_color_over_openssh(served) -> None:  # noqa: F811
    port, made, _ = served
    plain = _ssh(port, made, cols=100, rows=30)
    plain.wait_for(r"Site dashboard", timeout=30)
    plain.wait_for(r"ops\(admin\)", timeout=10)
    coloured = plain._tmux("capture-pane", "-p", "-e", "-t", "t")
    assert coloured_sgr(coloured), "without NO_COLOR the console should be coloured"

    # NO_COLOR in the client's environment alone does not cross the wire
    unsent = _ssh(port, made, cols=100, rows=30, env={"NO_COLOR": "1"})
    unsent.wait_for(r"ops\(admin\)", timeout=30)
    assert coloured_sgr(unsent._tmux("capture-pane", "-p", "-e", "-t", "t"))

    grey = _ssh(port, made, cols=100, rows=30, env={"NO_COLOR": "1"},
                ssh_opts=["-o", "SendEnv=NO_COLOR"])
    grey.wait_for(r"Site dashboard", timeout=30)
    grey.wait_for(r"ops\(admin\)", timeout=10)
    screen = grey._tmux("capture-pane", "-p", "-e", "-t", "t")
    assert "\x1b[" in screen                      # still styled (bold, reverse)...
    assert not coloured_sgr(screen), coloured_sgr(screen)[:5]   # ...but in greys only
