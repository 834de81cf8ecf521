"""The console's error table covers the core's error tree (screens/errors.py)."""

from __future__ import annotations

from enerteg_tui.core import errors
from enerteg_tui.screens.errors import CONSOLE_ERRORS, severity_of


def test_every_core_error_class_has_an_entry() -> None:
    classes = {c for n in errors.__all__ if isinstance(c := getattr(errors, n), type)
               and issubclass(c, errors.EnertegError)}
    assert len(classes) >= 8 and classes == set(CONSOLE_ERRORS)


def test_severity_follows_the_nearest_class() -> None:
    assert severity_of(errors.Invalid("x")) == "warning"
    assert severity_of(errors.PermissionDenied("x")) == "error"
    assert severity_of(errors.DriverTimeout("x")) == "error"

    class Special(errors.NotFound):
        pass

    assert severity_of(Special("x")) == "warning"
