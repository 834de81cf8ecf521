"""The console frame: header, DC tree, the current page, footer, and "terminal too small".

One ``MainScreen`` per session. It swaps pages in its page area (keeping a short
history for the back key) and keeps the tree's cursor on the page's place. Below
80×24 the frame is hidden behind a clear message instead of a broken layout.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Static, Tree

from ..core.errors import EnertegError
from ..core.i18n import _
from .header import StatusHeader
from .keybar import KeyBar
from .page import Page, PageSpec
from .compositor import CullingCompositor
from .context import console_context
from .sections import SECTIONS, section
from .tree import Place, StructureTree, tree_width
from .errors import notify_error
from .unsaved import HasUnsavedEdits, ask_to_discard

__all__ = ["MIN_SIZE", "MainScreen"]

MIN_SIZE = (80, 24)
"""Smallest terminal the console lays out for (columns, rows)."""

HISTORY = 20
"""Pages remembered for the back key."""


class MainScreen(Screen[None]):
    """Header, tree, page and footer of a console session."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("f2", "open('site')", "Site"),
        Binding("f3", "open('devices')", "PDUs"),
        *(Binding(s.key, f"open('{s.kind}')", s.short) for s in SECTIONS),
        Binding("ctrl+b", "toggle_tree", "Tree"),
        # tab / shift+tab: the Screen defaults (app.focus_next / app.focus_previous); a
        # "focus_next" here named no action of the screen and made Tab do nothing
    ]

    DEFAULT_CSS = """
    MainScreen #body { height: 1fr; }
    MainScreen #page { height: 1fr; width: 1fr; }
    MainScreen #too-small {
        display: none; width: 100%; height: 100%;
        content-align: center middle; text-style: bold;
        background: $error-darken-2; color: $text;
    }
    MainScreen.-too-small #too-small { display: block; }
    MainScreen.-too-small StatusHeader,
    MainScreen.-too-small #body,
    MainScreen.-too-small KeyBar { display: none; }
    MainScreen.-no-tree StructureTree { display: none; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._compositor = CullingCompositor()   # see screens/compositor.py
        self.history: list[PageSpec] = []
        self.current: PageSpec | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="body"):
            yield StructureTree(id="tree")
            yield Container(id="page")
        yield KeyBar()
        yield Static("", id="too-small")

    def on_mount(self) -> None:
        self._check_size()

    def on_resize(self, event: Resize) -> None:
        self._check_size()

    def _check_size(self) -> None:
        w, h = self.app.size
        small = w < MIN_SIZE[0] or h < MIN_SIZE[1]
        self.set_class(small, "-too-small")
        self.query_one(StructureTree).styles.width = tree_width(w)
        if small:
            self.query_one("#too-small", Static).update(
                _("Terminal too small: {width}×{height}").format(width=w, height=h) + "\n"
                + _("The EnerTEG console needs at least {width}×{height}.").format(
                    width=MIN_SIZE[0], height=MIN_SIZE[1]) + "\n"
                + _("Enlarge the window, or press ctrl+q to quit."))

    # ------------------------------------------------------------------ pages
    async def show(self, spec: PageSpec, *, remember: bool = True) -> Page | None:
        """Replace the current page with the one ``spec`` builds."""
        try:
            page = spec.build()
        except EnertegError as exc:
            notify_error(self, exc, "Cannot open")
            return None
        if remember and self.current is not None:
            self.history = (self.history + [self.current])[-HISTORY:]
        self.current = spec
        host = self.query_one("#page", Container)
        await host.remove_children()
        await host.mount(page)
        page.focus_first()
        if spec.place is not None:
            self.query_one(StructureTree).select_place(spec.place)
        return page

    def on_tree_node_selected(self, event: Tree.NodeSelected[Place]) -> None:
        place = event.node.data
        if place is not None:
            self.app.call_later(self.app.open_place, place)  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the key of a section the session's roles may not open."""
        if action == "open" and parameters:
            sec = section(str(parameters[0]))
            if sec is not None and not console_context(self).may(sec.needs):
                return False
        return True

    # ------------------------------------------------------------------ actions
    def unsaved_edits(self) -> tuple[str, int]:
        """The current page's form with unsaved edits: (its name, fields changed)."""
        host = self.query_one("#page", Container)
        page = host.children[0] if host.children else None
        return page.unsaved_edits() if isinstance(page, HasUnsavedEdits) else ("", 0)

    def action_back(self) -> None:
        """The previous page; a page with unsaved form edits asks first."""
        if not self.history:
            return
        what, changed = self.unsaved_edits()
        ask_to_discard(self, what, changed, lambda: self.app.call_later(self._go_back))

    async def _go_back(self) -> None:
        if self.history:
            spec = self.history.pop()
            await self.show(spec, remember=False)

    def action_open(self, kind: str) -> None:
        self.app.call_later(self.app.open_place, Place(kind))  # type: ignore[attr-defined]

    def action_toggle_tree(self) -> None:
        self.toggle_class("-no-tree")
