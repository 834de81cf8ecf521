"""Unsaved edits in a form are not lost to a stray Escape: one tracker, one question.

Every form of the console (the device Configuration tab, a Settings topic, the rule
form, the small dialogs of the users and structure pages) remembers the values of its
fields when it is filled (``EditTracker.mark_clean``: on mount, after a save or a
revert). Escape, going back to the previous page, or opening another page (a function
key, the palette, the tree: ``ConsoleApp.open_place``) first asks ``ask_to_discard``:
with nothing changed it goes on at once, otherwise a confirmation names the form and
how many fields changed, and only "Discard" goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from textual.widget import Widget
from textual.widgets import Checkbox, Input, RadioSet, Select, SelectionList, Switch, TextArea

from .dialogs import ConfirmDialog

__all__ = ["EditTracker", "HasUnsavedEdits", "ask_to_discard", "field_values"]


def field_values(root: Widget) -> dict[str, object]:
    """The value of every editable field under ``root`` (and ``root`` itself), by field."""
    out: dict[str, object] = {}
    for n, w in enumerate(root.query("Input, TextArea, Select, Checkbox, Switch, RadioSet, "
                                     "SelectionList")):
        key = w.id or f"#{n}"
        if isinstance(w, TextArea):
            out[key] = w.text
        elif isinstance(w, RadioSet):
            out[key] = w.pressed_index
        elif isinstance(w, SelectionList):
            out[key] = sorted(map(str, w.selected))
        elif isinstance(w, (Input, Select, Checkbox, Switch)):
            out[key] = w.value
    return out


class EditTracker:
    """The values a form's fields had when it was last filled, to tell what changed."""

    def __init__(self, root: Widget) -> None:
        self.root = root
        self._clean: dict[str, object] | None = None

    def mark_clean(self) -> None:
        """The fields as they are now hold nothing unsaved (filled, saved or reverted)."""
        self._clean = field_values(self.root)

    def changed(self) -> list[str]:
        """The fields whose value differs from the last clean state (none before one)."""
        if self._clean is None or not self.root.is_attached:
            return []
        now = field_values(self.root)
        return [k for k, v in now.items() if k in self._clean and self._clean[k] != v]


@runtime_checkable
class HasUnsavedEdits(Protocol):
    """A page holding a form: how many of its fields have unsaved edits, and its name."""

    def unsaved_edits(self) -> tuple[str, int]:
        """(what the form edits, number of changed fields); 0 when nothing is unsaved."""


def ask_to_discard(node: Widget | Any, what: str, changed: int,
                   discard: Callable[[], Any]) -> None:
    """Run ``discard`` now if nothing changed, else after the operator confirms it."""
    if changed <= 0:
        discard()
        return

    def answered(yes: bool | None) -> None:
        if yes:
            discard()

    fields = "1 field" if changed == 1 else f"{changed} fields"
    node.app.push_screen(
        ConfirmDialog(f"{what}: {fields} changed and not saved.\nDiscard the changes?",
                      yes="Discard", no="Keep editing", title="Unsaved changes"),
        answered)
