"""Per-user display preferences: how the console marks changed values, and colours.

An operator on a slow serial line, a monochrome terminal or with a screen reader wants
live values that change quietly; another wants to see every change. That is a choice
of the person, not of the controller, so it is stored per user (in the database's
``meta`` table, ``prefs/<user>``), follows the user to every session and face, and
goes with the account (deleted with it, cleared by a users reset). Every change is
audited like any other user change. A user sets their own; an admin may set anyone's.

Preferences:

* ``changeMarks``: ``off`` (values change in place, unmarked), ``subtle`` (a changed
  value is bold for a moment; the default) or ``flash`` (bold and underlined with an
  arrow ↑/↓ telling the direction, for a little longer). Never a solid block.
* ``noColor``: the console draws in greys (as ``NO_COLOR`` or a vt100 does), for a
  terminal whose colours are unreadable or a client that cannot send ``NO_COLOR``.
* ``language``: ``en``, ``cs`` or empty (the system default, ``config/core``
  ``language``); taken when a session starts (``core.i18n``, docs/language.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .audit import AuditLog
from .errors import Invalid
from .permissions import Action, Principal, require
from .store import Store

__all__ = ["CHANGE_MARKS", "DisplayPrefs", "PreferenceBook", "PREFIX"]

CHANGE_MARKS: tuple[str, ...] = ("off", "subtle", "flash")
"""The ways a changed live value can be marked, least to most visible."""
PREFIX = "prefs/"
"""``meta`` key prefix: ``prefs/<user>`` holds that user's preferences as JSON."""

_ALLOWED: dict[str, str] = {
    "changeMarks": "one of off, subtle, flash",
    "noColor": "on or off (true/false)",
    "language": "one of en, cs, default",
}


class DisplayPrefs(BaseModel):
    """One user's display preferences (unknown keys are refused, missing ones default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    changeMarks: Literal["off", "subtle", "flash"] = "subtle"
    """How a changed live value is marked (see the module docstring)."""
    noColor: bool = False
    """Draw the console in greys whatever the terminal could show."""
    language: Literal["", "en", "cs"] = ""
    """The user's language; empty: the system default (``config/core`` ``language``)."""


def _parse_bool(value: Any) -> Any:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("on", "true", "yes", "1"):
            return True
        if low in ("off", "false", "no", "0"):
            return False
    return value


def _parse_language(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("default", "system", ""):
        return ""
    return value.strip().lower() if isinstance(value, str) else value


class PreferenceBook:
    """Reads and writes users' ``DisplayPrefs``.

    Args:
        store: the controller database (``meta`` table).
        audit: where changes are recorded.
        exists: coroutine function telling whether a user exists (``UserService.get``
            raising ``NotFound`` otherwise).
    """

    def __init__(self, store: Store, audit: AuditLog,
                 exists: Callable[[str], Any]) -> None:
        self._store = store
        self._audit = audit
        self._exists = exists
        self._cache: dict[str, DisplayPrefs] = {}

    async def get(self, name: str) -> DisplayPrefs:
        """The user's preferences (defaults when none were stored)."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        row = await self._store.fetchone("SELECT value FROM meta WHERE key=?", (PREFIX + name,))
        prefs = DisplayPrefs()
        if row:
            try:
                prefs = DisplayPrefs.model_validate({
                    k: v for k, v in json.loads(row[0]).items() if k in DisplayPrefs.model_fields})
            except (ValueError, ValidationError):
                prefs = DisplayPrefs()      # a damaged entry reads as the defaults
        self._cache[name] = prefs
        return prefs

    async def set(self, principal: Principal, name: str, changes: Mapping[str, Any]) -> DisplayPrefs:
        """Change some of a user's preferences; returns them all.

        Raises:
            PermissionDenied: another user's preferences without ``administer``.
            NotFound: no such user.
            Invalid: an unknown preference or a value it does not take (nothing changes).
        """
        if principal.user != name:
            require(principal, Action.ADMINISTER, f"user/{name}")
        if not (principal.user == name and principal.source != "local"):
            await self._exists(name)    # a directory user (no local account) keeps their own
        old = await self.get(name)
        data = old.model_dump()
        for key, value in changes.items():
            if key not in DisplayPrefs.model_fields:
                raise Invalid(f"unknown display preference {key!r}; allowed are "
                              f"{', '.join(DisplayPrefs.model_fields)}", thing="preference",
                              value=key, allowed=", ".join(DisplayPrefs.model_fields))
            data[key] = (_parse_bool(value) if key == "noColor"
                         else _parse_language(value) if key == "language" else value)
        try:
            new = DisplayPrefs.model_validate(data)
        except ValidationError as exc:
            key = str(exc.errors()[0]["loc"][0])
            raise Invalid(f"display preference {key} cannot be {changes.get(key)!r}; allowed is "
                          f"{_ALLOWED.get(key, 'see docs/console-management.md')}",
                          thing=key, value=str(changes.get(key)),
                          allowed=_ALLOWED.get(key, "see the manual")) from None
        if new == old:
            return old
        diff = {k: v for k, v in new.model_dump().items() if old.model_dump()[k] != v}
        async with self._store.transaction() as tx:
            await tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (PREFIX + name, new.model_dump_json()))
            entry = await self._audit.insert(
                tx, principal, "user.prefs", f"user/{name}",
                f"Display preferences of user {name!r}: "
                + ", ".join(f"{k} {_word(v)}" for k, v in diff.items()),
                old={k: old.model_dump()[k] for k in diff}, new=diff)
        self._cache[name] = new
        self._audit.announce(entry)
        return new

    async def forget(self, tx: Any, name: str | None = None) -> None:
        """Drop one user's preferences (None: everyone's) inside the caller's transaction."""
        if name is None:
            await tx.execute("DELETE FROM meta WHERE key LIKE ?", (PREFIX + "%",))
            self._cache.clear()
        else:
            await tx.execute("DELETE FROM meta WHERE key=?", (PREFIX + name,))
            self._cache.pop(name, None)


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value) or "default"

