"""The shell's error table covers the whole core error tree and keeps the codes and
texts scripts rely on."""

from __future__ import annotations

import json

from enerteg_tui.core import errors
from enerteg_tui.protocols.shell.errors import (
    EXIT_FAILED, EXIT_USAGE, SHELL_ERRORS, outcome_of, render, unexpected,
)
from enerteg_tui.protocols.shell.parse import UsageError


def test_every_core_error_class_has_an_entry() -> None:
    classes = {c for n in errors.__all__ if isinstance(c := getattr(errors, n), type)
               and issubclass(c, errors.EnertegError)}
    assert len(classes) >= 8 and classes == set(SHELL_ERRORS)


def test_core_error_text_and_json_document() -> None:
    exc = errors.Invalid("port 70000 is not allowed", thing="port", value=70000,
                         allowed="1 to 65535")
    out = outcome_of(exc)
    assert out.code == EXIT_FAILED
    assert render(out, json_errors=False) == "Error: port 70000 is not allowed\n"
    doc = json.loads(render(out, json_errors=True))
    assert doc == {"error": "port 70000 is not allowed", "type": "Invalid", "thing": "port",
                   "value": 70000, "allowed": "1 to 65535"}
    assert outcome_of(errors.DriverTimeout("PDU 0A silent")).code == EXIT_FAILED


def test_usage_and_unexpected() -> None:
    usage = outcome_of(UsageError("Usage: pwd"))
    assert (usage.code, usage.text) == (EXIT_USAGE, "Usage: pwd")
    assert outcome_of(UsageError("No closing quotation")).text == "Error: No closing quotation"
    bug = unexpected("cat", ZeroDivisionError("boom"))
    assert bug.code == EXIT_FAILED and "boom" not in bug.text and "'cat'" in bug.text
