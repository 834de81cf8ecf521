"""Small modal forms: labelled inputs, an error line, OK and Cancel.

The users, alarms and settings pages ask for a few values at a time (a password twice,
an acknowledgement comment). ``FormDialog`` shows the fields, hands the values to an
async ``submit`` that calls the core, and stays open showing the core's message until
the submission succeeds, so a refused value is never lost and never half-applied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import Button, Input, Select, SelectionList, Static
from textual.widgets._toggle_button import ToggleButton

from ..core.i18n import _
from .unsaved import EditTracker, ask_to_discard

__all__ = ["FormDialog", "FormField", "FormFields", "Submit", "TickList", "TypingStaysInForm"]


class TypingStaysInForm:
    """Mixin naming a container of form fields on a page. The rule that a letter typed
    in a field never runs a page key ("exit" with a select focused made the PDU blink)
    holds for every field of every form and dialog, in one place: ``screens/typing.py``,
    applied by the App to each key."""


class FormFields(TypingStaysInForm, VerticalScroll):
    """A scrolling column of form fields."""


class TickList(SelectionList[str]):
    """A list of check boxes whose box shows ``X`` only when ticked: Textual draws an
    ``X`` in every box and tells ticked ones by colour alone, unreadable without colour
    (NO_COLOR, a vt100 or a serial line)."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        inner = ToggleButton.BUTTON_INNER
        segments = []
        changed = False
        for seg in strip:
            meta = seg.style.meta if seg.style is not None else {}
            if seg.text == inner and "option" in meta:
                value = self.get_option_at_index(meta["option"]).value
                if value not in self.selected:
                    seg = Segment(" ", seg.style, seg.control)
                    changed = True
            segments.append(seg)
        return Strip(segments, strip.cell_length) if changed else strip


class FormField:
    """One field of a ``FormDialog``: id, label, whether it is secret, initial value.

    With ``choices`` the value is chosen from a list, never typed: one of them (a select
    box), or with ``multiple`` any number of them (a list of check boxes, space ticks;
    the value is the ticked choices joined by commas, in the list's order).
    """

    def __init__(self, key: str, label: str, *, secret: bool = False, value: str = "",
                 placeholder: str = "", choices: list[str] | None = None,
                 multiple: bool = False) -> None:
        self.key = key
        self.label = label
        self.secret = secret
        self.value = value
        self.placeholder = placeholder
        self.choices = choices
        self.multiple = multiple


Submit = Callable[[dict[str, str]], Awaitable[str | None]]
"""Form submission: the values by field key → an error message, or None when done."""


class FormDialog(ModalScreen[bool]):
    """A small modal form; stays open showing the error until the submission succeeds."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    FormDialog { align: center middle; }
    FormDialog > Vertical {
        width: 64; max-width: 98%; height: auto; max-height: 98%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    FormDialog .label { width: 100%; height: auto; }
    FormDialog Input { margin: 0; }
    FormDialog SelectionList { height: auto; max-height: 8; }
    FormDialog #error { color: $error; text-style: bold; height: auto; }
    FormDialog Horizontal { height: auto; align-horizontal: center; }
    FormDialog Button { margin: 0 2; }
    """

    def __init__(self, title: str, fields: list[FormField], submit: Submit,
                 *, ok: str = "Save", intro: str = "") -> None:
        super().__init__()
        self.intro = intro
        self.form_title = title
        self.fields = fields
        self.submit = submit
        self.ok = ok
        self._edits = EditTracker(self)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.form_title
            if self.intro:
                yield Static(self.intro, classes="label intro")
            for f in self.fields:
                yield Static(f.label, classes="label")
                if f.choices is not None and f.multiple:
                    ticked = {v.strip() for v in f.value.split(",")}
                    yield TickList(*((c, c, c in ticked) for c in f.choices),
                                   id=f"f-{f.key}", compact=True)
                elif f.choices is not None:
                    yield Select([(c, c) for c in f.choices], value=f.value or f.choices[0],
                                 allow_blank=False, id=f"f-{f.key}", compact=True)
                else:
                    yield Input(f.value, placeholder=f.placeholder, password=f.secret,
                                id=f"f-{f.key}", compact=True)
            yield Static("", id="error")
            with Horizontal():
                yield Button(f"{_(self.ok)} (enter)", id="ok", variant="primary", compact=True)
                yield Button(_("Cancel") + " (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.call_after_refresh(self._edits.mark_clean)

    def values(self) -> dict[str, str]:
        """The current values by field key."""
        out: dict[str, str] = {}
        for f in self.fields:
            w = self.query_one(f"#f-{f.key}")
            if isinstance(w, SelectionList):
                ticked = set(w.selected)
                out[f.key] = ",".join(c for c in f.choices or [] if c in ticked)
            elif isinstance(w, Select):
                out[f.key] = str(w.value)
            else:
                assert isinstance(w, Input)
                out[f.key] = w.value
        return out

    def show_error(self, text: str) -> None:
        """Show why the form was not accepted."""
        self.query_one("#error", Static).update(text)

    async def _send(self) -> None:
        error = await self.submit(self.values())
        if error:
            self.show_error(error)
        else:
            self.dismiss(True)

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self._send()

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            await self._send()
        else:
            self.dismiss(False)

    def action_cancel(self) -> None:
        """Close without changes (escape): asks first when a field was edited."""
        ask_to_discard(self, self.form_title, len(self._edits.changed()),
                       lambda: self.dismiss(False))
