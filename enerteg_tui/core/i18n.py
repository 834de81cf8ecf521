"""The language a person reads (manual §5.1): English and Czech, per session, with gettext.

Every text a person reads is marked in the source with ``_("English text")`` (or
``N_("…")`` where a table is built at import time and translated when shown, with
``_(value)``); the English text is the message id. The Czech catalogue is
``enerteg_tui/locale/cs/LC_MESSAGES/enerteg.po``, compiled to the ``.mo`` beside it
(committed; ``tests/test_i18n_catalogue.py`` fails when a marked text has no Czech
translation, when the ``.po`` keeps an obsolete entry or when the ``.mo`` is stale;
docs/language.md).

The language is the session's, never the process's: the controller serves many users
at once, so ``gettext.install()`` (one global ``_``) would let one user's Czech leak into
another's session. A face resolves the language at login (``session_language``: the
user's ``language`` preference, else ``config/core`` ``language``) and makes it current
for that session with ``use``/``activate``: a ``ContextVar`` that asyncio copies into
every task the session starts (a Textual App's widgets, a shell command's task), so
``_()`` anywhere below answers in that session's language; ``switch`` changes it for
the whole session at once (the tasks share one holder). Machine formats (JSON, SNMP,
Modbus, REST, syslog, the audit log) never call ``_``.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "NP_", "N_", "_", "activate", "current",
           "deactivate", "enter", "key_word", "language_names", "ngettext", "pgettext", "session",
           "session_language", "switch", "system_language", "translator", "use"]

DOMAIN = "enerteg"
"""The gettext domain: ``locale/<lang>/LC_MESSAGES/enerteg.mo``."""
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
"""Where the catalogues live (package data)."""
LANGUAGES: tuple[str, ...] = ("en", "cs")
"""Languages a person may choose: English (the message ids) and Czech."""
DEFAULT = "en"


@lru_cache(maxsize=None)
def translator(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language`` (English: the message ids themselves).

    Raises:
        ValueError: a language outside ``LANGUAGES``.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    if language == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language])


@dataclass(slots=True)
class _Session:
    """The language of one session; mutable so that ``switch`` reaches every task of the
    session (each holds a copy of the context, but the same holder)."""

    code: str
    translations: gettext.NullTranslations


_CURRENT: ContextVar[_Session | None] = ContextVar("enerteg_language", default=None)
_ENGLISH = gettext.NullTranslations()


def activate(language: str) -> Token[_Session | None]:
    """Make ``language`` current in this task (and every task it starts from now on)."""
    return _CURRENT.set(_Session(language, translator(language)))


def deactivate(token: Token[_Session | None]) -> None:
    """Undo an ``activate``."""
    _CURRENT.reset(token)


def switch(language: str) -> None:
    """Change the current session's language in place (``prefs language cs``): every task
    of the session answers in it from now on. Outside a session: ``activate``."""
    session = _CURRENT.get()
    if session is None:
        activate(language)
        return
    session.translations = translator(language)
    session.code = language


@contextmanager
def use(language: str) -> Iterator[None]:
    """``language`` is current inside the block (a shell line, a test)."""
    token = activate(language)
    try:
        yield
    finally:
        deactivate(token)


def session() -> _Session | None:
    """The current session's language holder (to ``enter`` it from another task)."""
    return _CURRENT.get()


def enter(holder: _Session | None) -> None:
    """Make ``holder`` (from ``session``) current in this task: a task outside the session
    that calls into it (a test's pilot, a face) shares the session's language."""
    if holder is not None and _CURRENT.get() is not holder:
        _CURRENT.set(holder)


def current() -> str:
    """The current session's language code."""
    session = _CURRENT.get()
    return DEFAULT if session is None else session.code


def _translations() -> gettext.NullTranslations:
    session = _CURRENT.get()
    return _ENGLISH if session is None else session.translations


def _(message: str) -> str:
    """``message`` (an English message id) in the current session's language ("" stays
    "": gettext's empty id is the catalogue's header)."""
    if not message or not isinstance(message, str):
        return message                       # a rich Text or a value: shown as given
    return _translations().gettext(message)


def pgettext(context: str, message: str) -> str:
    """``message`` as said in ``context`` (an entry marked ``NP_(context, message)``)
    if the catalogue has one, else ``_(message)``: one English word, two meanings."""
    special = _translations().pgettext(context, message) if message else message
    return special if special != message else _(message)


def key_word(word: str) -> str:
    """A key bar's word: its short form (context ``key``, where space is tight: 80
    columns hold every section's key) if the catalogue has one, else ``_(word)``."""
    return pgettext("key", word)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language (Czech has three)."""
    return _translations().ngettext(singular, plural, n)


def NP_(context: str, message: str) -> str:
    """Mark ``message`` with a context (``key``: a key bar's short word) without
    translating it now; shown with ``key_word``."""
    return message


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (import-time tables);
    translate it where it is shown with ``_(message)``."""
    return message


def language_names() -> dict[str, str]:
    """Each language's own name, for choices."""
    return {"en": "English", "cs": "čeština"}


def system_language(config: Any) -> str:
    """The system default (``config/core`` language): a session's without a preference,
    and the language of what no session reads (e-mails, reports made on a schedule)."""
    default = str(getattr(config.get("core"), "language", DEFAULT))
    return default if default in LANGUAGES else DEFAULT


async def session_language(core: Any, user: str) -> str:
    """The language of ``user``'s new session: their ``language`` preference, else the
    system default (``config/core`` ``language``)."""
    prefs = await core.users.prefs.get(user)
    chosen = getattr(prefs, "language", "") or ""
    if chosen in LANGUAGES:
        return chosen
    return system_language(core.config)
