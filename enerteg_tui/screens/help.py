"""The help screen (``?``): the keys of the page shown now first, then those that work
everywhere, then every other page's, read from the bindings.

Its frame names the controller's version and data layout (``core.system``). The list
is built from the same ``BINDINGS`` the key bar shows, so it cannot drift
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

from ..core.i18n import N_, _
from ..core.system import version_info
from .context import console_context
from .sections import SECTIONS, page_class

__all__ = ["HelpScreen", "current_page", "help_groups"]


def _bindings(bindings: Iterable[BindingType]) -> Iterator[tuple[str, str]]:
    for b in bindings:
        binding = b if isinstance(b, Binding) else Binding(*b)
        if not binding.description:
            continue
        for key in binding.key.split(","):
            yield key.strip(), binding.description


def _key_label(app: Any, key: str) -> str:
    return str(app.get_key_display(Binding(key, "", "")))


def current_page(app: Any) -> Any:
    """The page shown in the session's frame, or None (before the first page)."""
    main = getattr(app, "main", None)
    if main is None:
        return None
    try:
        host = main.query_one("#page")
    except Exception:   # the frame is not composed yet
        return None
    return host.children[0] if host.children else None


def _page_keys(app: Any, page: Any) -> list[tuple[str, str]]:
    """The keys of the page itself, then those of the control focused in it (a table's
    cursor and page keys), each key once."""
    keys = list(_bindings(type(page).BINDINGS))
    focused = app.main.focused if app.main is not None else None
    if focused is not None and page in focused.ancestors:
        for node in focused.ancestors_with_self:
            if node is page:
                break
            keys.extend(_bindings(getattr(type(node), "BINDINGS", [])))
    seen: set[str] = set()
    unique = []
    for key, what in keys:
        if key not in seen:
            seen.add(key)
            unique.append((key, what))
    return unique


def help_groups(app: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """(screen title, [(key, what it does)]) for every screen the session can reach: the
    page shown now first (its own keys and those of its focused table), then the keys
    that work everywhere, then every other page."""
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
    everywhere.append((app.COMMAND_PALETTE_BINDING, N_("Command palette: any page or device")))
    everywhere.append(("question_mark", N_("This help")))
    pages: list[tuple[str, type]] = [(N_("Dashboard"), DashboardPage), (N_("Devices"), DeviceListPage),
                                     (N_("Device view"), DevicePage)]
    for sec in SECTIONS:
        if not ctx.may(sec.needs):
            continue
        try:
            pages.append((sec.title, page_class(sec)))
        except ImportError:
            continue
    page = current_page(app)
    here = next(((title, cls) for title, cls in pages if page is not None and type(page) is cls),
                None)
    if page is not None:
        title = here[0] if here is not None else type(page).__name__
        groups.append((title, _page_keys(app, page)))
        groups.extend(_terms(title, type(page)))
    groups.append((N_("Everywhere"), everywhere))
    for title, cls in pages:
        if (title, cls) != here:
            groups.append((title, list(_bindings(getattr(cls, "BINDINGS", [])))))
            groups.extend(_terms(title, cls))
    return groups


def _terms(title: str, cls: type) -> list[tuple[str, list[tuple[str, str]]]]:
    """The group explaining a page's words (the audit log's states), if it has any."""
    terms = getattr(cls, "TERMS", ())
    return [(f"{title}: words", [(t, m) for t, m in terms])] if terms else []


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
        here = current_page(self.app) is not None
        for n, (title, keys) in enumerate(help_groups(self.app)):
            if not keys:
                continue
            words = title.endswith(": words")
            shown = (_("{page}: words").format(page=_(title.removesuffix(": words"))) if words
                     else _(title))
            if n == 0 and here:
                shown = _("{page}: this page").format(page=shown)
            table.add_row(Text(shown, style="bold underline"), "")
            for key, what in keys:
                table.add_row(key if words else _key_label(self.app, key), _(what))
            table.add_row("", "")
        with Vertical() as box:
            box.border_title = _("Help: keys")
            info = version_info()
            box.border_subtitle = _("EnerTEG {version} · data layout {layout} · shell: version").format(
                version=info['controller'], layout=info['dataLayout'])
            with VerticalScroll():
                yield Static(table, id="keys")
            yield Static(_("escape, q or ? closes · arrows or page keys scroll"), id="hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
