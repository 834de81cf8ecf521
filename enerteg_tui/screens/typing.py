"""One rule for every form of the console: a letter typed into a field is for the field.

Pages and the App bind single keys (``i`` makes a PDU blink, ``c`` opens a chart, ``x``
asks for a factory reset, ``q`` quits). A text input takes printable keys itself, but a
select box, a checkbox or a button does not, so typing "exit" with one of them focused
made the PDU blink and opened a chart. Instead of each form stopping keys on its own,
the App asks ``field_keeps_key`` for every key: when it says yes, the key goes to the
focused field only and no binding of a page, the frame or the App runs.

A dialog's own keys still work (``y``/``n`` of a confirmation, ``1``/``0``/``r`` of the
switch dialog): a key the current modal screen binds itself is left to it, and so is a
key a form declares its own (``FORM_KEYS``: the reports form's run, CSV and Excel keys,
printed on its buttons), except inside a text field. ``?`` always opens the help. Space and
enter are never kept (they press buttons and tick boxes), nor are ctrl, alt or function
keys (ctrl+s saves a form, F-keys open sections).
"""

from __future__ import annotations

from textual import events
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    OptionList,
    RadioButton,
    RadioSet,
    Select,
    SelectionList,
    Switch,
    TextArea,
)

__all__ = ["ALWAYS", "FIELD_TYPES", "field_keeps_key", "is_field"]

ALWAYS = frozenset({"question_mark"})
"""Keys that pass even from a field: help only shows a list (a text field still takes
``?`` as text, as it consumes it)."""

FIELD_TYPES: tuple[type[Widget], ...] = (
    Input, TextArea, Select, Checkbox, Switch, RadioButton, RadioSet, SelectionList, Button,
)
"""Widgets someone fills in or presses while completing a form."""


def is_field(widget: Widget | None) -> bool:
    """Whether ``widget`` is a form field, or the open list of a select box."""
    if widget is None:
        return False
    if isinstance(widget, FIELD_TYPES):
        return True
    return isinstance(widget, OptionList) and isinstance(widget.parent, Select)


def _bound_by_dialog(screen: Screen[object], key: str) -> bool:
    """Whether the current screen is a dialog that binds ``key`` itself."""
    if not isinstance(screen, ModalScreen):
        return False
    return bool(screen._bindings.key_to_bindings.get(key))


def _form_key(focused: Widget, key: str) -> bool:
    """Whether a container of ``focused`` declares ``key`` one of its form's own keys
    (``FORM_KEYS``: the reports form's ``r`` run, ``c`` CSV, ``x`` Excel, shown on its
    buttons). Text fields still take such letters as text (they consume them)."""
    if isinstance(focused, (Input, TextArea)):
        return False
    return any(key in getattr(node, "FORM_KEYS", ()) for node in focused.ancestors)


def field_keeps_key(focused: Widget | None, screen: Screen[object], event: events.Key) -> bool:
    """True when ``event`` is a printable key (not space) typed while a form field has
    the focus and neither the current dialog nor the form binds it: only the field may
    act on it. ``?`` (help, which changes nothing) always passes."""
    char = event.character
    if not char or len(char) != 1 or not char.isprintable() or char.isspace():
        return False
    if event.key in ALWAYS or focused is None or not is_field(focused):
        return False
    return not (_bound_by_dialog(screen, event.key) or _form_key(focused, event.key))
