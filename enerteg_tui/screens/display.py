"""The user's display preferences in the console: applied at login, changed in a dialog.

``core.preferences`` stores them per user; this module applies them to one session's
App and offers the dialog (command palette → "Display preferences") that changes them.
A change is saved through core (audited) and applied at once to the session that made
it: changed-value marks (``LiveTable`` reads ``app.change_marks`` at each update) and
colours (Textual's ``Monochrome`` line filter, the one ``NO_COLOR`` and a vt100 get;
a terminal without colours keeps it whatever the preference says) and the language
(``core.i18n.switch``: the session's texts, the current page opened again in it).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.filter import Monochrome
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..core.errors import EnertegError
from ..core.i18n import N_, _, session_language, switch
from ..core.preferences import CHANGE_MARKS, DisplayPrefs
from .context import console_context
from .errors import notify_error

__all__ = ["DisplayDialog", "apply_display_prefs", "display_summary", "load_display_prefs"]

MARK_HELP: dict[str, str] = {
    "off": N_("values change in place, unmarked"),
    "subtle": N_("a changed value is bold for a moment"),
    "flash": N_("bold, underlined, with ↑/↓ for its direction, for a moment"),
}
"""What each ``changeMarks`` mode looks like, as the dialog says it."""
LANGUAGE_CHOICES: dict[str, str] = {"": "default", "en": "English", "cs": "čeština"}
"""The ``language`` preference's values and their buttons ("": ``config/core``'s)."""


def display_summary(prefs: DisplayPrefs) -> str:
    """``changed values: subtle · colours: on · language: cs``, for the palette and the dialog."""
    return (f"changed values: {prefs.changeMarks} · colours: {'off' if prefs.noColor else 'on'}"
            f" · language: {prefs.language or 'default'}")


def apply_display_prefs(app: Any, prefs: DisplayPrefs) -> None:
    """Apply ``prefs`` to a running (or starting) App at once.

    The terminal's own lack of colour (``NO_COLOR`` sent by the client, a vt100) is
    remembered the first time and never undone by the preference.
    """
    app.change_marks = prefs.changeMarks
    app.display_prefs = prefs
    if not hasattr(app, "terminal_no_color"):
        app.terminal_no_color = bool(app.no_color)
    mono = bool(prefs.noColor or app.terminal_no_color)
    filters = app._filters
    has = [f for f in filters if isinstance(f, Monochrome)]
    if mono and not has:
        filters.append(Monochrome())
    elif not mono:
        for f in has:
            filters.remove(f)
    changed = app.no_color != mono
    app.no_color = mono
    if changed and app.is_running:
        app.refresh_css(animate=False)        # :nocolor styles, every widget repainted
        for screen in app.screen_stack:
            for widget in screen.walk_children(with_self=True):
                widget.refresh()


async def load_display_prefs(app: Any) -> DisplayPrefs:
    """Read the session user's preferences from core and apply them."""
    ctx = app.context
    prefs = await ctx.core.users.prefs.get(ctx.principal.user)
    apply_display_prefs(app, prefs)
    return prefs


class DisplayDialog(ModalScreen[None]):
    """Change how changed values are marked and whether colours are shown.

    | Key | Description |
    | :- | :- |
    | m | Next change-mark mode (off → subtle → flash). |
    | c | Colours on / off. |
    | l | Next language (default → en → cs). |
    | escape | Close. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "marks", "Change marks"),
        Binding("c", "colours", "Colours"),
        Binding("l", "language", "Language"),
        Binding("escape", "close", "Close"),
    ]

    DEFAULT_CSS = """
    DisplayDialog { align: center middle; }
    DisplayDialog > Vertical {
        width: 72; max-width: 100%; height: auto; border: thick $accent;
        background: $surface; padding: 0 1;
    }
    DisplayDialog Horizontal { height: 1; margin-top: 1; }
    DisplayDialog .label { width: 18; }
    DisplayDialog Button { margin-right: 1; min-width: 8; }
    DisplayDialog Button.-active { text-style: bold reverse; }
    DisplayDialog #explain { margin-top: 1; height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = _("Display preferences")
            box.border_subtitle = _("m marks · c colours · l language · esc close")
            with Horizontal():
                yield Static(_("Changed values"), classes="label")
                for mode in CHANGE_MARKS:
                    yield Button(mode, id=f"marks-{mode}", compact=True)
            with Horizontal():
                yield Static(_("Colours"), classes="label")
                yield Button("on", id="colour-on", compact=True)
                yield Button("off", id="colour-off", compact=True)
            with Horizontal():
                yield Static(_("Language"), classes="label")
                for code, name in LANGUAGE_CHOICES.items():
                    yield Button(name, id=f"lang-{code or 'default'}", compact=True)
            yield Static("", id="explain")

    def on_mount(self) -> None:
        self._show()

    @property
    def prefs(self) -> DisplayPrefs:
        """The preferences in force in this session."""
        return getattr(self.app, "display_prefs", None) or DisplayPrefs()

    def _show(self) -> None:
        prefs = self.prefs
        for mode in CHANGE_MARKS:
            self.query_one(f"#marks-{mode}", Button).set_class(mode == prefs.changeMarks, "-active")
        self.query_one("#colour-on", Button).set_class(not prefs.noColor, "-active")
        self.query_one("#colour-off", Button).set_class(prefs.noColor, "-active")
        for code in LANGUAGE_CHOICES:
            self.query_one(f"#lang-{code or 'default'}", Button).set_class(
                code == prefs.language, "-active")
        terminal = getattr(self.app, "terminal_no_color", False)
        colours = (_("this terminal shows no colours (NO_COLOR or its TERM), whatever is chosen")
                   if terminal else _("off draws the console in greys, as NO_COLOR does"))
        self.query_one("#explain", Static).update(
            _("Changed values: {marks}.").format(marks=_(MARK_HELP[prefs.changeMarks])) + "\n"
            + _("Colours: {colours}.").format(colours=colours) + "\n"
            + _("Saved for your user; every new session starts with them."))

    async def _save(self, **changes: Any) -> None:
        ctx = console_context(self)
        try:
            prefs = await ctx.core.users.prefs.set(ctx.principal, ctx.principal.user, changes)
        except EnertegError as exc:
            notify_error(self.app, exc, _("Display preferences not changed"))
            return
        apply_display_prefs(self.app, prefs)
        if "language" in changes:
            await self._switch_language(ctx)
        self._show()
        self.notify(f"Display: {display_summary(prefs)}", timeout=3)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        if bid.startswith("marks-"):
            await self._save(changeMarks=bid[len("marks-"):])
        elif bid.startswith("colour-"):
            await self._save(noColor=bid == "colour-off")
        elif bid.startswith("lang-"):
            code = bid[len("lang-"):]
            await self._save(language="" if code == "default" else code)

    async def _switch_language(self, ctx: Any) -> None:
        """This session in the chosen language at once: texts drawn from now on, the
        current page opened again, the key bar redrawn."""
        app: Any = self.app
        app.language = await session_language(ctx.core, ctx.principal.user)
        switch(app.language)
        for bar in app.query("KeyBar"):
            bar.refresh_keys()
        if getattr(app, "place", None) is not None:
            app.call_later(app.open_place, app.place)

    async def action_language(self) -> None:
        """Cycle default → en → cs."""
        codes = list(LANGUAGE_CHOICES)
        now = self.prefs.language
        await self._save(language=codes[(codes.index(now) + 1) % len(codes)])

    async def action_marks(self) -> None:
        """Cycle off → subtle → flash."""
        now = self.prefs.changeMarks
        await self._save(changeMarks=CHANGE_MARKS[(CHANGE_MARKS.index(now) + 1) % len(CHANGE_MARKS)])

    async def action_colours(self) -> None:
        """Colours on / off."""
        await self._save(noColor=not self.prefs.noColor)

    def action_close(self) -> None:
        """Back to the page."""
        self.dismiss(None)
