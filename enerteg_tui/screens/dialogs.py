"""Generic modal dialogs of the console: a yes/no confirmation.

Kept apart from the screens that use it (quit, outlet switching) so every
confirmation looks and behaves the same: ``y``/enter confirms, ``n``/escape cancels,
the safe answer is focused first.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..core.i18n import N_, _

__all__ = ["ConfirmDialog"]


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
