"""The key bar at the bottom of the console: the keys of what has the focus, in one or two lines.

Textual's ``Footer`` rebuilds a widget per key every time the focus or the bindings
change (mount, styles, layout): with twenty sessions on one loop that was the largest
cost of switching a tab. ``KeyBar`` is a single widget that renders the same
information as text and repaints only when that text changes. When the keys do not
fit one line (80 columns), they wrap to a second, so every section's key stays visible.
A click on a key presses it, like the footer.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.screen import Screen
from textual.widget import Widget
from ..core.i18n import _, key_word

__all__ = ["KeyBar"]

SECTION_ACTION = "open("
"""Bindings whose action starts so open a section (``MainScreen``): they get the second
row when the keys need two (issue 18, item 3: every section visible at 80 columns)."""


class KeyBar(Widget):
    """``key Description`` for every shown binding; help and palette keys on the right."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom; height: 1; width: 1fr;
        background: $footer-background; color: $footer-foreground;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()
        self._spans: list[tuple[int, int, int, str]] = []
        """(row, start column, end column, key) of each key shown, for clicks."""
        self._rows = 1
        """Rows the bar takes: 1, or 2 when the keys do not fit one."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._rebuild()

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self._rebuild()

    def on_resize(self, event: events.Resize) -> None:
        self._rebuild(force=True)

    def refresh_keys(self) -> None:
        """Draw the keys again (the session's language changed)."""
        self._rebuild(force=True)

    def _rebuild(self, force: bool = False) -> None:
        app = self.app
        key_style = "bold " + ("reverse" if app.no_color else "")
        dim = "dim"
        entries: list[tuple[tuple[Text, str], bool]] = []
        """((`` key Description``, key), opens a section) of each shown binding."""
        seen: set[str] = set()
        right: list[tuple[str, str, str]] = []
        """(key shown, key, word) pinned to the right: help and the palette."""
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.key == app.COMMAND_PALETTE_BINDING:
                right.append((app.get_key_display(binding), binding.key, _("palette")))
                continue
            if binding.action == "help":
                right.insert(0, (app.get_key_display(binding), binding.key, _("help")))
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            entry = Text(" ")
            entry.append(app.get_key_display(binding), style=key_style if enabled else dim)
            entry.append(" ")
            entry.append(key_word(binding.description), style="" if enabled else dim)
            entries.append(((entry, binding.key), binding.action.startswith(SECTION_ACTION)))
        width = self.size.width or 10_000
        labels = [f" {shown} {word} " for shown, _key, word in right]
        room = max(0, width - sum(len(label) for label in labels))
        # one row when everything fits; else the page's keys on the first row (beside
        # help and the palette) and the sections on the second, so that every section
        # stays visible whatever the page adds (the page's keys are all in ``?`` too)
        rows: list[list[tuple[Text, str]]] = [[e for e, _s in entries]]
        if sum(e.cell_len for e, _k in rows[0]) > room:
            rows = [[e for e, section in entries if not section],
                    [e for e, section in entries if section]]
        text = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, int, str]] = []
        for y, row in enumerate(rows):
            line = Text(no_wrap=True, overflow="ellipsis")
            limit = room if y == 0 else width
            for entry, key in row:
                start = line.cell_len
                line.append_text(entry)
                if line.cell_len <= limit:
                    spans.append((y, start, line.cell_len, key))
            if line.cell_len > limit:
                line.truncate(max(0, limit), overflow="ellipsis")
            if y == 0 and right:
                line.append(" " * max(0, room - line.cell_len))
                for label, (_shown, key, _word) in zip(labels, right):
                    start = line.cell_len
                    line.append(label, style=key_style)
                    spans.append((0, start, line.cell_len, key))
            if y:
                text.append("\n")
            text.append_text(line)
        if len(rows) != self._rows:
            self._rows = len(rows)
            self.styles.height = len(rows)
        if force or text.plain != self._text.plain or text.spans != self._text.spans:
            self._text, self._spans = text, spans
            self.refresh()

    def render(self) -> RenderResult:
        return self._text

    async def on_click(self, event: events.Click) -> None:
        for y, start, end, key in self._spans:
            if y == event.y and start <= event.x < end:
                self.app.simulate_key(key)   # not a coroutine (awaiting it ended the session)
                return
