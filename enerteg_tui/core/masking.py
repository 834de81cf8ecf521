"""The one place that knows what a secret looks like in text, and masks it.

Command lines reach places that outlive a session: the log file (asyncssh logs every
exec command at INFO; our own lines name failed statements), audit messages, the shell
history, and archives built from them. Logs and audit messages pass their text through
``mask_text`` here; the shell history leaves out a line that ``mask_text`` changes. So
a new secret key or option is added once (``SECRET_OPTIONS``,
``EXTRA_SECRET_KEYS``, or a ``Secret`` field in a settings schema, which is picked up
by itself). What is masked:

* ``key=value`` words whose key (or the last part of a dotted key) is a secret field of
  any settings schema, a user's ``password``, or an SNMP community, case-insensitive;
* the word after ``--password`` / ``--passphrase`` (and ``--password=value``);
* ``"key": "value"`` pairs of such keys in JSON text (``put _data '{...}'``);
* any PEM private-key block.

Words are found as a POSIX shell splits them (quotes and backslashes), in one linear
pass, so ``"password=a b"`` is masked whole. ``SecretFilter`` applies the same masking
to every log record a handler writes (message, arguments, traceback). Invariant: the
masked text never contains a value that followed a secret key or option.
"""

from __future__ import annotations

import logging
import re
import shlex
from functools import lru_cache

__all__ = ["MASK", "SECRET_OPTIONS", "EXTRA_SECRET_KEYS", "secret_keys", "sensitive_fields",
           "is_secret_key", "mask_text", "mask_words", "SecretFilter", "install_secret_filter"]

MASK = "***"
"""What replaces a secret value."""
SECRET_OPTIONS = frozenset({"--password", "--passphrase"})
"""Command options whose value is a secret (``user add/passwd --password P``)."""
EXTRA_SECRET_KEYS = frozenset({"password", "passphrase", "v2cCommunity"})
"""Keys secret beyond the schemas' ``Secret`` fields: a user's password, and the SNMP
community (a shared password: with writes enabled it switches outlets)."""

_PLAIN = re.compile(r"[\w@%+=:,./*-]+")
"""A word that needs no quotes when written back."""
_MAX_DEPTH = 3
"""Quoted words inside quoted words masked this deep (a command inside a log line)."""
_PEM_PRIVATE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S)


@lru_cache(maxsize=1)
def secret_keys() -> frozenset[str]:
    """Lower-cased names of every secret key: schema ``Secret`` fields and the extras."""
    from .settings import SETTINGS_TOPICS

    from .settings._base import nested_secret_names

    names = set(EXTRA_SECRET_KEYS)
    for schema in SETTINGS_TOPICS.values():
        names |= schema.secret_fields() | nested_secret_names(schema)
    return frozenset(n.lower() for n in names)


def sensitive_fields(schema: type) -> frozenset[str]:
    """Fields of a settings schema whose values are never shown in audit or logs."""
    fields = getattr(schema, "model_fields", {})
    own = schema.secret_fields() if hasattr(schema, "secret_fields") else frozenset()
    own |= schema.secret_holders() if hasattr(schema, "secret_holders") else frozenset()
    return frozenset(own | {f for f in fields if f.lower() in {k.lower() for k in
                                                              EXTRA_SECRET_KEYS}})


def is_secret_key(key: str) -> bool:
    """True when ``key`` (or its last dotted part) names a secret, case-insensitive."""
    return key.rsplit(".", 1)[-1].strip().lower() in secret_keys()


@lru_cache(maxsize=1)
def _json_pair() -> re.Pattern[str]:
    names = "|".join(re.escape(k) for k in sorted(secret_keys(), key=len, reverse=True))
    return re.compile(rf'("(?:[\w.]*\.)?(?:{names})"\s*:\s*)"(?:[^"\\]|\\.)*"', re.I)


def _mask_value_forms(text: str) -> str:
    """JSON pairs and PEM private keys anywhere in ``text``."""
    if "PRIVATE KEY" in text:
        text = _PEM_PRIVATE.sub(MASK, text)
    if '"' in text:
        text = _json_pair().sub(rf'\1"{MASK}"', text)
    return text


def _mask_word(word: str, after_option: bool, depth: int = 0) -> str:
    """The masked form of one unquoted word (the word itself when nothing is secret).

    A word that held spaces was quoted: it may be a whole command (``%r`` of a
    statement in a log line, ``sh -c '...'``), so its inside is masked as text too.
    """
    if after_option:
        return MASK
    key, sep, _value = word.partition("=")
    if sep and key.lower() in SECRET_OPTIONS:
        return f"{key}={MASK}"
    if sep and key and not any(c.isspace() for c in key) and is_secret_key(key):
        return f"{key}={MASK}"
    if depth < _MAX_DEPTH and any(c.isspace() for c in word):
        return _mask(word, depth + 1)
    return _mask_value_forms(word)


_WORD = re.compile(r"""(?:[^\s;"'\\]+|\\.|"(?:[^"\\]|\\.)*(?:"|\Z)|'[^']*(?:'|\Z))+""", re.S)
"""One shell word as typed (quotes and backslashes kept); an unclosed quote runs on
to the end of the text."""


@lru_cache(maxsize=1)
def _hint() -> re.Pattern[str]:
    """Matches any text that may hold a secret key or option (a fast first look)."""
    names = sorted(secret_keys() | {o.lstrip("-") for o in SECRET_OPTIONS}, key=len,
                   reverse=True)
    return re.compile("|".join(re.escape(n) for n in names), re.I)


def _unquote(raw: str) -> str:
    """The value of one shell word: quotes removed, backslash escapes resolved."""
    buf: list[str] = []
    quote = ""
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < n:
                i += 1
                buf.append(raw[i])
            else:
                buf.append(ch)
        elif ch in "\"'":
            quote = ch
        elif ch == "\\" and i + 1 < n:
            i += 1
            buf.append(raw[i])
        else:
            buf.append(ch)
        i += 1
    return "".join(buf)


def mask_text(text: str) -> str:
    """``text`` (a command line, a script, a log message) with every secret masked.

    Linear in the length of the text: words are found by one regular expression and
    only words that mention a secret key or option (or follow one) are looked at.
    """
    return _mask(text, 0)


@lru_cache(maxsize=1)
def _hint_words() -> tuple[str, ...]:
    """Lower-case words one of which any text holding a secret contains."""
    return (*sorted(secret_keys() | {o.lstrip("-") for o in SECRET_OPTIONS}), "private key")


def _may_hold_secret(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in _hint_words())


def _mask(text: str, depth: int) -> str:
    if not text or not _may_hold_secret(text):
        return text
    text = _mask_value_forms(text)
    pieces: list[str] = []
    last = 0
    after_option = False
    hint = _hint()
    for m in _WORD.finditer(text):
        raw = m.group()
        if not after_option and not hint.search(raw):
            continue
        word = _unquote(raw)
        masked = _mask_word(word, after_option, depth)
        after_option = word.lower() in SECRET_OPTIONS
        if masked != word:
            pieces.append(text[last:m.start()])
            pieces.append(masked if _PLAIN.fullmatch(masked) else shlex.quote(masked))
            last = m.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def mask_words(words: list[str]) -> list[str]:
    """Already split words (a parsed command) with every secret masked."""
    out: list[str] = []
    after_option = False
    for w in words:
        out.append(_mask_word(w, after_option))
        after_option = w.lower() in SECRET_OPTIONS
    return out


class SecretFilter(logging.Filter):
    """A handler filter that masks secrets in every record it lets through.

    On a handler (not a logger), so it also sees records propagated from libraries'
    loggers (asyncssh's ``Command: ...``). The message is formatted once, masked, and
    stored back without arguments; a traceback is formatted and masked too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's error path
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install_secret_filter(handler: logging.Handler) -> logging.Handler:
    """Put one ``SecretFilter`` on ``handler`` (idempotent); returns the handler."""
    if not any(isinstance(f, SecretFilter) for f in handler.filters):
        handler.addFilter(SecretFilter())
    return handler
