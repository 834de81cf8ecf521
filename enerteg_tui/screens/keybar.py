"""The key bar at the bottom of the console: the keys of what has the focus, in one line.

Textual's ``Footer`` rebuilds a widget per key every time the focus or the bindings
change (mount, styles, layout): with twenty sessions on one loop that was the largest
cost of switching a tab. ``KeyBar`` is a single widget that renders the same
information as one line of text and repaints only when that text changes. A click on a
key presses it, like the footer.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["KeyBar"]


class KeyBar(Widget):
    """One line: ``key Description`` for every shown binding; help and palette keys on the right."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom; height: 1; width: 1fr;
        background: $footer-background; color: $footer-foreground;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()
        self._spans: list[tuple[int, int, str]] = []
        """(start column, end column, key) of each key shown, for clicks."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._rebuild()

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self._rebuild()

    def on_resize(self, event: events.Resize) -> None:
        self._rebuild(force=True)

    def _rebuild(self, force: bool = False) -> None:
        app = self.app
        key_style = "bold " + ("reverse" if app.no_color else "")
        dim = "dim"
        text = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, str]] = []
        seen: set[str] = set()
        right: list[tuple[str, str, str]] = []
        """(key shown, key, word) pinned to the right: help and the palette."""
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.key == app.COMMAND_PALETTE_BINDING:
                right.append((app.get_key_display(binding), binding.key, "palette"))
                continue
            if binding.action == "help":
                right.insert(0, (app.get_key_display(binding), binding.key, "help"))
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            start = text.cell_len
            text.append(" ")
            text.append(app.get_key_display(binding), style=key_style if enabled else dim)
            text.append(" ")
            text.append(binding.description, style="" if enabled else dim)
            spans.append((start, text.cell_len, binding.key))
            text.append(" ")
        width = self.size.width
        if right and width:
            labels = [f" {shown} {word} " for shown, _key, word in right]
            room = width - sum(len(label) for label in labels)
            if text.cell_len > room:
                text.truncate(max(0, room), overflow="ellipsis")
                spans = [sp for sp in spans if sp[1] <= room]
            text.append(" " * max(0, room - text.cell_len))
            for label, (_shown, key, _word) in zip(labels, right):
                start = text.cell_len
                text.append(label, style=key_style)
                spans.append((start, text.cell_len, key))
        if force or text.plain != self._text.plain or text.spans != self._text.spans:
            self._text, self._spans = text, spans
            self.refresh()

    def render(self) -> RenderResult:
        return self._text

    async def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)   # not a coroutine (awaiting it ended the session)
                return
