"""The help screen (``?``): every key of the console, per screen, read from the bindings.

The list is built from the same ``BINDINGS`` the key bar shows, so it cannot drift
from what the keys really do. Sections the session's roles may not open are left
out; a key inside a page that the role may not use is still listed (its control says
why when pressed), because an operator asking a colleague needs the same map.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .context import console_context
from .sections import SECTIONS, page_class

__all__ = ["HelpScreen", "help_groups"]


def _bindings(bindings: Iterable[BindingType]) -> Iterator[tuple[str, str]]:
    for b in bindings:
        binding = b if isinstance(b, Binding) else Binding(*b)
        if not binding.description:
            continue
        for key in binding.key.split(","):
            yield key.strip(), binding.description


def _key_label(app: Any, key: str) -> str:
    return str(app.get_key_display(Binding(key, "", "")))


def help_groups(app: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """(screen title, [(key, what it does)]) for every screen the session can reach."""
    from .dashboard import DashboardPage
    from .device_list import DeviceListPage
    from .device_view import DevicePage
    from .main import MainScreen

    ctx = console_context(app.screen)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    everywhere = [*(_bindings(type(app).BINDINGS)), *(_bindings(MainScreen.BINDINGS))]
    everywhere = [(k, d) for k, d in everywhere
                  if not (d == "Shell" and getattr(app, "on_open_shell", None) is None)]
    sections = {s.short for s in SECTIONS if not ctx.may(s.needs)}
    everywhere = [(k, d) for k, d in everywhere if d not in sections]
    everywhere.append((app.COMMAND_PALETTE_BINDING, "Command palette: any page or device"))
    everywhere.append(("question_mark", "This help"))
    groups.append(("Everywhere", everywhere))
    for title, cls in (("Dashboard", DashboardPage), ("Devices", DeviceListPage),
                       ("Device view", DevicePage)):
        groups.append((title, list(_bindings(getattr(cls, "BINDINGS", [])))))
    for sec in SECTIONS:
        if not ctx.may(sec.needs):
            continue
        try:
            cls = page_class(sec)
        except ImportError:
            continue
        groups.append((sec.title, list(_bindings(getattr(cls, "BINDINGS", [])))))
        terms = getattr(cls, "TERMS", ())     # what the page's words mean (audit states)
        if terms:
            groups.append((f"{sec.title}: words", [(t, m) for t, m in terms]))
    return groups


class HelpScreen(ModalScreen[None]):
    """Keys per screen; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90; max-width: 98%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen VerticalScroll { height: 1fr; }
    HelpScreen #hint { height: 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for title, keys in help_groups(self.app):
            if not keys:
                continue
            table.add_row(Text(title, style="bold underline"), "")
            for key, what in keys:
                table.add_row(key if title.endswith(": words") else _key_label(self.app, key),
                              what)
            table.add_row("", "")
        with Vertical() as box:
            box.border_title = "Help: keys"
            with VerticalScroll():
                yield Static(table, id="keys")
            yield Static("escape, q or ? closes · arrows or page keys scroll", id="hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
