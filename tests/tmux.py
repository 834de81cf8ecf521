"""A tmux session as a test terminal: start a command in it, type, read the screen.

Each ``Tmux`` runs its own server (``-L`` socket name, no user config), so tests do not
see each other's sessions; ``close`` kills it.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid

from .helpers import wait_for_blocking


class Tmux:
    """One tmux server with one window running ``command``."""

    def __init__(self, command: str, *, cols: int = 100, rows: int = 30,
                 env: dict[str, str] | None = None, term: str = "xterm-256color") -> None:
        self.socket = f"enerteg-test-{uuid.uuid4().hex[:8]}"
        full_env = {**os.environ, **(env or {})}
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(rows),
                   "-s", "t", "-e", f"TERM={term}", command, env=full_env)
        self._tmux("set-option", "-g", "default-terminal", term)
        self._tmux("set-option", "-t", "t", "remain-on-exit", "on")

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, text=True,
                              capture_output=True, env=env, timeout=10).stdout

    def send(self, *keys: str, literal: bool = False) -> None:
        """``send-keys``: tmux key names (``Enter``, ``C-p``) or, with ``literal``, text."""
        self._tmux("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def type(self, text: str) -> None:
        """Type ``text`` literally."""
        self.send(text, literal=True)

    def screen(self) -> str:
        """The visible screen as text."""
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, pattern: str, timeout: float = 15) -> str:
        """Wait until ``pattern`` (a regex) is on the screen; return the screen."""
        seen = [""]

        def shown() -> str | None:
            seen[0] = self.screen()
            return seen[0] if re.search(pattern, seen[0]) else None

        return wait_for_blocking(shown, timeout=timeout, step=0.1,
                                 what=lambda: f"{pattern!r} not on the screen:\n{seen[0]}")

    def resize(self, cols: int, rows: int) -> None:
        """Resize the window, as a terminal emulator would."""
        self._tmux("resize-window", "-t", "t", "-x", str(cols), "-y", str(rows))

    def dead(self) -> bool:
        """Whether the command in the window has exited."""
        return self._tmux("display-message", "-p", "-t", "t", "#{pane_dead}").strip() == "1"

    def close(self) -> None:
        """Kill the tmux server."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)
