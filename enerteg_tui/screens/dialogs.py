"""Generic modal dialogs of the console: a yes/no confirmation, and a secret shown once.

Kept apart from the screens that use them (quit, outlet switching; API tokens, the
support access) so every confirmation looks and behaves the same: ``y``/enter confirms,
``n``/escape cancels, the safe answer is focused first; and every secret the core makes
(a token, a one-time password) is shown the same way, once, selected for copying.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..core.i18n import N_, _

__all__ = ["ConfirmDialog", "ShownOnce"]


class ConfirmDialog(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True on yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical {
        width: 60; max-width: 95%; height: auto;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmDialog #question { margin-bottom: 1; }
    ConfirmDialog Horizontal { height: auto; align-horizontal: center; }
    ConfirmDialog Button { margin: 0 2; }
    """

    def __init__(self, question: str, *, yes: str = N_("Yes"), no: str = N_("No"),
                 title: str = N_("Confirm")) -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = _(self.title_text)       # a marked text in the session's
            yield Static(_(self.question), id="question")  # language, any other as given
            with Horizontal():
                yield Button(f"{_(self.yes)} (y)", id="yes", variant="warning", compact=True)
                yield Button(f"{_(self.no)} (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ShownOnce(ModalScreen[None]):
    """A secret the core made and keeps only as a hash, shown this once: copy it now.

    Args:
        title: the box's title (what the secret is).
        what: one line on what it is for and until when.
        text: the secret, in a read-only field, selected.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
    ]

    DEFAULT_CSS = """
    ShownOnce { align: center middle; }
    ShownOnce > Vertical {
        width: 76; max-width: 98%; height: auto;
        border: thick $success; background: $surface; padding: 0 1;
    }
    ShownOnce #warn { color: $warning; text-style: bold; margin-bottom: 1; }
    ShownOnce Input { margin-bottom: 1; }
    ShownOnce Horizontal { height: auto; align-horizontal: center; }
    """

    def __init__(self, title: str, what: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.what = what
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.what, id="what")
            yield Static(_("Copy it now: it is shown only this once (the controller keeps "
                           "only its hash)."), id="warn")
            yield Input(self.text, id="token", compact=True)
            with Horizontal():
                yield Button(_("Done (enter)"), id="done", variant="primary", compact=True)

    def on_mount(self) -> None:
        token = self.query_one("#token", Input)
        token.read_only = True
        token.focus()
        token.select_all()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()                    # enter in the (read-only) field: done
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
