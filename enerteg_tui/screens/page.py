"""The base of every console page (dashboard, device list, device view).

A page is the right-hand part of the main screen; the header, the DC tree and the
footer stay. Pages are widgets, not screens, so that one session keeps one tree and
one header subscription whatever it shows. A page knows its ``place`` (so the tree
can follow it) and a one-line title; ``PageSpec`` rebuilds a page for the back key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

from ..core.errors import EnertegError
from .context import ConsoleContext, LiveListener, console_context
from .tree import Place

__all__ = ["Page", "PageSpec", "PageTitle", "SteadyStatic"]


@dataclass(frozen=True, slots=True)
class PageSpec:
    """How to build a page again (history for the back key) and its palette name."""

    name: str
    build: Callable[[], Page]
    place: Place | None = None


class SteadyStatic(Static):
    """A ``Static`` whose ``update`` with the content it already shows does nothing.

    ``Static.update`` always asks for a repaint and a layout; a page that refreshes its
    title or status line every sweep then re-sends every live table beside it, whole
    lines, to the terminal (about a third of an idle dashboard's bytes at 160×48).
    """

    _shown: object = None

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        key = content.markup if isinstance(content, Text) else content
        if key == self._shown and isinstance(key, str):
            return
        self._shown = key
        super().update(content, layout=layout)


class PageTitle(SteadyStatic):
    """The page's title line."""

    DEFAULT_CSS = """
    PageTitle {
        height: 1;
        background: $boost;
        text-style: bold;
        padding: 0 1;
    }
    """


class Page(LiveListener, Vertical):
    """A console page; subclasses compose their content and handle live batches."""

    DEFAULT_CSS = """
    Page {
        height: 1fr;
        width: 1fr;
    }
    """

    place: Place | None = None
    """The tree node this page stands for, if any."""

    NOTIFY_TITLE: ClassVar[str] = ""
    """Title of the notification an error from ``say`` also raises ("" for none)."""

    @property
    def ctx(self) -> ConsoleContext:
        """The session context."""
        return console_context(self)

    def title_text(self) -> Text | str:
        """The title line (override)."""
        return ""

    def focus_first(self) -> None:
        """Focus the page's main control after it is mounted (override)."""

    def say(self, text: str | Text, *, error: bool = False) -> None:
        """Show the outcome of an action in the page's ``#message`` line; an error in
        the error colour (class ``-error``) and, with ``NOTIFY_TITLE``, as a notification."""
        msg = self.query_one("#message", Static)
        msg.update(text)
        msg.set_class(error, "-error")
        self._status_shown = False
        self._outcome_shown = bool(str(text).strip())
        if error and self.NOTIFY_TITLE:
            self.notify(str(text), title=self.NOTIFY_TITLE, severity="error")

    _status_shown = False
    """Whether ``#message`` holds a status line (``show_status``)."""
    _outcome_shown = False
    """Whether ``#message`` holds an action's outcome (``say``)."""

    def show_status(self, text: str | Text) -> None:
        """A line about the current state ("No rooms yet"), not an action's outcome.

        Pages call it on every rebuild with what is true now ("" when nothing needs
        saying), so such a line never outlives its truth (issue 18, item 7: the DC
        structure page kept saying "No rooms yet" after a room was added). An outcome
        shown by ``say`` stays until the next one; a status never replaces it.
        """
        if self._outcome_shown:
            return                           # an outcome is on show: it stays
        if text or self._status_shown:
            msg = self.query_one("#message", Static)
            msg.update(text)
            msg.set_class(False, "-error")
            self._status_shown = bool(str(text))

    def say_error(self, exc: EnertegError) -> None:
        """A refusal of the core in the outcome line (the console's error table,
        ``screens/errors.py``): the core's own message, in the error colour."""
        self.say(str(exc), error=True)
