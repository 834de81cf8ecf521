"""The operator console: one Textual App per SSH or serial session, in the controller's loop.

``ConsoleApp`` owns nothing of the core: it gets the running ``Controller`` and the
session's ``Principal``, and shows the frame of ``screens.main`` (header, DC tree,
pages, footer). It works under any Textual driver (the SSH transport's, a local
terminal's, or ``run_test``). Keys: ctrl+p palette, F2 dashboard, F3 devices,
F4–F10 the management sections of ``screens.sections``, ``?`` help, ctrl+t topic shell
(when the transport offers one), q / ctrl+q quit with a confirm.
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.screen import Screen
from textual.theme import Theme

from .core.errors import EnertegError
from .core.i18n import N_, activate, session_language
from .core.i18n import enter as i18n_enter
from .core.i18n import session as i18n_session
from .core.permissions import Principal, require
from .screens.compositor import install_safe_compositor
from .screens.context import ConsoleContext
from .screens.dashboard import DashboardPage
from .screens.device_list import DeviceListPage
from .screens.device_view import DevicePage
from .screens.dialogs import ConfirmDialog
from .screens.display import load_display_prefs
from .screens.livetable import LiveTable
from .screens.main import MainScreen
from .screens.page import PageSpec
from .screens.palette import ConsoleCommands
from .screens.queries import DeviceFilter
from .screens.sections import page_class, section
from .screens.strip_caches import install as install_lazy_strip_caches
from .screens.tree import Place
from .screens.errors import notify_error
from .screens.typing import field_keeps_key
from .screens.unsaved import ask_to_discard

if TYPE_CHECKING:
    from .core.services import CoreServices

__all__ = ["ConsoleApp"]

log = logging.getLogger(__name__)


install_lazy_strip_caches()   # a session holds ~1,500 strips; most never use their caches

class ConsoleApp(App[None]):
    """The full-screen console of one session.

    Args:
        core: the core services.
        principal: who is logged in; every command is checked against it in core.
        hostname: shown in the header (default: this machine's host name).
        clock: source of the time shown (the header clock); tests freeze it.
        on_open_shell: called (maybe awaited) when the operator asks for the topic
            shell; the SSH transport switches the session over. None hides the key.
        start_place: the page to open first; None = the site dashboard.
    """

    TITLE = "EnerTEG"
    COMMANDS: ClassVar[set[type[Provider]]] = {ConsoleCommands}  # type: ignore[assignment]
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True),
        # a terminal habit: ctrl+c asks whether to leave, as q does (fields keep it)
        Binding("ctrl+c", "request_quit", "Quit", show=False),
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+t", "open_shell", "Shell"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        core: CoreServices,
        principal: Principal,
        *,
        hostname: str | None = None,
        clock: Callable[[], float] | None = None,
        on_open_shell: Callable[[], Awaitable[Any] | Any] | None = None,
        start_place: Place | None = None,
    ) -> None:
        self.context = ConsoleContext(
            core=core, principal=principal,
            hostname=hostname or socket.gethostname(), clock=clock or time.time)
        self.on_open_shell = on_open_shell
        self.start_place = start_place
        """The page to open first (coming back from the topic shell: where it was left)."""
        self._theme_cache: tuple[str, Theme] | None = None
        super().__init__()
        # No animations: over SSH every animated frame is bytes on the wire and CPU on
        # the controller's one loop (a tab underline slide was ~18 frames per switch).
        self.animation_level = "none"
        self.main: MainScreen | None = None
        self.change_marks = "subtle"
        """How live tables mark changed values (the user's ``changeMarks``, screens.display)."""
        self.language = "en"
        """This session's language (core.i18n), resolved at login in ``on_mount``."""
        self.incident: str | None = None
        """Set when an unexpected error ended this App: the id logged with its traceback."""

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error in a session's console: log it with a short incident id
        and the user, and end this App quietly so the face can say so and start a fresh
        console in the same session. Textual's own handling would print the traceback to
        the client's terminal and end the session without a word. Under a test pilot
        (headless) Textual's handling stays, so tests see the exception."""
        if self.is_headless:
            super()._handle_exception(error)
            return
        self.incident = secrets.token_hex(3)
        user = self.context.principal.user
        log.error("console incident %s (user %r, %s): %s", self.incident, user,
                  self.context.principal.face, type(error).__name__, exc_info=error)
        self._return_code = 1
        self.exit()

    # ------------------------------------------------------------------ lifecycle
    async def on_mount(self) -> None:
        # the session's language, before any screen exists: every widget's task copies
        # this task's context, so _() below answers in this user's language only
        self.language = await session_language(self.context.core, self.context.principal.user)
        activate(self.language)
        self.language_holder = i18n_session()
        await load_display_prefs(self)
        self.main = MainScreen()
        await self.push_screen(self.main)
        place = self.start_place or Place("site")
        try:
            self.spec_for(place)          # the PDU or element may be gone meanwhile
        except EnertegError:
            place = Place("site")
        await self.open_place(place)

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Textual's ``push_screen``, the new screen in this session's language also when
        a task outside the App (a test's pilot, a face) pushes it."""
        i18n_enter(getattr(self, "language_holder", None))
        return super().push_screen(*args, **kwargs)

    @property
    def place(self) -> Place | None:
        """Where the operator is now (the current page's place), for coming back."""
        current = self.main.current if self.main is not None else None
        return current.place if current is not None else None

    def _load_screen_css(self, screen: Screen[Any]) -> None:
        """Every screen shown (pages, dialogs, Textual's command palette) paints through a
        ``SafeCompositor``: no control character of user or device text reaches a
        viewer's terminal. Textual calls this for each screen as it becomes current."""
        install_safe_compositor(screen)
        super()._load_screen_css(screen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "open_shell" and self.on_open_shell is None)

    @property
    def current_theme(self) -> Theme:
        """Textual's theme lookup, cached: it copies the theme registry twice per call and
        is called for every rendered line (a tenth of a session's render time)."""
        cached = self._theme_cache
        if cached is None or cached[0] != self.theme:
            cached = self._theme_cache = (self.theme, super().current_theme)
        return cached[1]

    async def on_event(self, event: events.Event) -> None:
        """Keep typed letters in form fields; run a key's binding at once when a live
        table has the focus.

        Textual hands a key to the focused widget and lets it bubble through every
        ancestor (one message queue each, ten deep on the device view) before the
        App looks up the binding; with twenty sessions on one loop each hop waits a
        loop turn, and that wait was most of a cursor key's latency. A ``LiveTable``
        and the pages around it handle no raw keys, so looking the binding up
        straight away does exactly what the bubbling would, ten hops earlier. Keys
        with no binding, and every key of other widgets (inputs type text), take
        Textual's normal path.
        """
        focused = self.focused if isinstance(event, events.Key) and self._screen_stack else None
        if (isinstance(event, events.Key) and not event.is_forwarded and focused is not None
                and field_keeps_key(focused, self.screen, event)):
            # a letter typed in a form is for the field only (screens/typing.py): it
            # reaches the field and bubbles no further, so no page or App key runs
            event.stop()
            focused._forward_event(event)
            return
        if (isinstance(event, events.Key) and not event.is_forwarded
                and isinstance(focused, LiveTable)):
            self.app_focus = True
            screen = self.screen
            if (await self._check_bindings(event.key, priority=True)
                    or await self._check_bindings(event.key)):
                self._paint_now(screen, focused)
                return
        await super().on_event(event)

    def _paint_now(self, screen: Screen[Any], focused: LiveTable) -> None:
        """Draw the frame a key changed now, not after Textual's idle and timer hops.

        A repaint normally travels widget → idle → screen → update timer (up to a
        60th of a second, plus a loop turn per hop); under twenty sessions that was
        the rest of a cursor key's latency. Only done when the key left the same
        screen in place with no layout pending (a new dialog or page takes the
        normal path); Textual's own later pass then finds nothing left to draw.
        """
        if (self.screen is not screen or not screen.is_current or self._batch_count
                or screen._layout_required or screen._recompose_required):
            return
        if focused.is_attached and focused._repaint_regions:
            screen._dirty_widgets.add(focused)
        if screen._dirty_widgets or screen._scroll_required:
            screen._on_timer_update()

    # ------------------------------------------------------------------ navigation
    def spec_for(self, place: Place) -> PageSpec:
        """The page that shows ``place``."""
        c = self.context.core
        if place.kind == "site":
            return PageSpec("Dashboard", lambda: DashboardPage(None), place)
        if place.kind == "element":
            el_id = int(place.ref)  # type: ignore[arg-type]
            return PageSpec(f"Dashboard {el_id}", lambda: DashboardPage(el_id), place)
        if place.kind == "devices":
            return PageSpec("Devices", lambda: DeviceListPage(), None)
        if place.kind == "unassigned":
            return PageSpec("Unassigned", lambda: DeviceListPage(filter=DeviceFilter.UNASSIGNED),
                            place)
        if place.kind == "certs":                # opened from the Settings page (c)
            from .core.permissions import Action
            from .screens.certs_page import CertsPage
            require(self.context.principal, Action.ADMINISTER, "Certificates")
            return PageSpec("Certificates", CertsPage, place)
        if place.kind == "tokens":               # opened from the Users page (a)
            from .screens.tokens_page import TokensPage
            return PageSpec("API tokens", TokensPage, place)
        if place.kind == "firmware":             # opened from the Settings page (f)
            from .core.permissions import Action
            from .screens.firmware_page import FirmwarePage
            require(self.context.principal, Action.ADMINISTER, "PDU firmware")
            return PageSpec("PDU firmware", FirmwarePage, place)
        sec = section(place.kind)
        if sec is not None:
            require(self.context.principal, sec.needs, sec.title)
            cls = page_class(sec)
            ref = place.ref
            return PageSpec(sec.title, (lambda: cls(ref)) if ref is not None else cls, place)
        hex_id = str(place.ref)
        c.devices.get(hex_id)  # NotFound early, with the core's words
        return PageSpec(f"Device {hex_id}", lambda: DevicePage(hex_id), place)

    async def open_place(self, place: Place, *, discard_edits: bool = False) -> None:
        """Show the page of ``place`` (dashboard, device list or device view); leaving a
        form with unsaved edits for another place asks first (``screens/unsaved.py``)."""
        assert self.main is not None
        if self.screen is not self.main:
            # from the palette or a dialog: return to the frame first
            while self.screen is not self.main and len(self.screen_stack) > 1:
                self.pop_screen()
        what, changed = self.main.unsaved_edits()
        if changed and not discard_edits and place != self.place:
            ask_to_discard(self.main, what, changed,
                           lambda: self.call_later(self.open_place, place, discard_edits=True))
            return
        from .core.errors import EnertegError
        # a page's task copies the context of the task that mounts it: called from a
        # task outside this App (a test's pilot), carry the session's language over
        i18n_enter(getattr(self, "language_holder", None))
        try:
            spec = self.spec_for(place)
        except EnertegError as exc:
            notify_error(self, exc, "Cannot open")
            return
        await self.main.show(spec)

    # ------------------------------------------------------------------ actions
    def action_request_quit(self) -> None:
        def done(yes: bool | None) -> None:
            if yes:
                self.exit()

        if isinstance(self.screen, ConfirmDialog):
            return
        self.push_screen(ConfirmDialog(N_("Leave the EnerTEG console?"), yes=N_("Quit"),
                                       no=N_("Stay"), title=N_("Quit")), done)

    def action_display_prefs(self) -> None:
        """The user's display preferences (changed-value marks, colours)."""
        from .screens.display import DisplayDialog

        if not isinstance(self.screen, DisplayDialog):
            self.push_screen(DisplayDialog())

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_open_shell(self) -> None:
        if self.on_open_shell is None:
            return
        result = self.on_open_shell()
        if hasattr(result, "__await__"):
            await result
