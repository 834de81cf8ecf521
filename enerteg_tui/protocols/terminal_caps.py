"""What a session's terminal can show, from what the client sent (TERM and a few variables).

Over SSH only TERM (and whatever the client's SendEnv passes, e.g. LANG, COLORTERM,
NO_COLOR) crosses the wire; the controller's own environment says nothing about the
operator's terminal. So each console session gets its Rich console built from the
session's values: truecolor for ``*-direct``/``*truecolor`` TERMs or COLORTERM=truecolor,
256 colours for ``*256color``, 16 for other colour terminals, and no colour for
vt100/vt220/dumb terminals and whenever NO_COLOR is set (https://no-color.org).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["color_system_for", "apply_terminal_caps"]

_MONOCHROME_TERMS = ("vt100", "vt102", "vt220", "vt320", "dumb", "ansi-mono", "unknown")


def color_system_for(term: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The Rich colour system for a terminal: truecolor, 256, standard, or None (none)."""
    env = env or {}
    if "NO_COLOR" in env:
        return None
    term = (term or "").lower()
    if not term or term.startswith(_MONOCHROME_TERMS):
        return None
    colorterm = env.get("COLORTERM", "").lower()
    if colorterm in ("truecolor", "24bit") or term.endswith("-direct") or "truecolor" in term:
        return "truecolor"
    if "256color" in term:
        return "256"
    return "standard"


def apply_terminal_caps(app: Any, term: str | None, env: Mapping[str, str] | None = None) -> None:
    """Give ``app`` (a Textual App, before it runs) a console for this session's terminal."""
    from rich.console import Console
    from textual.filter import Monochrome

    system = color_system_for(term, env)
    environ = {"TERM": term or "vt100"}
    app.console = Console(color_system=system or "standard", file=app.console.file,
                          markup=True, highlight=False, emoji=False, legacy_windows=False,
                          _environ=environ, force_terminal=True, safe_box=False,
                          soft_wrap=False)
    if system is None:
        app.no_color = True
        if not any(isinstance(f, Monochrome) for f in app._filters):
            app._filters.append(Monochrome())
