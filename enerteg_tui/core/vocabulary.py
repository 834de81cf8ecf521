"""The words every face uses for severities and for the ring (issue 18, item 7).

The alarm service stores an alarm's severity as "Warning" or "Critical" (the manual's
thresholds); the audit log stores the manual's six levels (§10.1), where a critical
alarm becomes "Error"; the alarms page used to call it "Alert". One level, three
names. This table is the one place that names a severity for people: every console
page, the e-mail notifications and the settings choices show ``severity_word(...)``
(English, the message id: a page shows ``i18n._(word)`` in the session's language);
stored values, the JSON documents, SNMP and Modbus keep their codes (they are an API).
A test fails if a console page names a severity outside ``SEVERITY_WORDS``.

The ring's state reads as health the same way everywhere: ``ring_health``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .audit import AuditState, Severity
from .errors import Invalid
from .i18n import N_, _
from .model import Health, RingState

__all__ = ["AUDIT_STATE_MEANING", "LEVELS", "SEVERITY_WORDS", "Level", "level", "ring_health",
           "severity_word"]


@dataclass(frozen=True, slots=True)
class Level:
    """One severity level and every code it is stored as.

    Attributes:
        word: what people read, on every page and in notifications.
        audit: the audit log's level (§10.1).
        alarm: the alarm service's severity, or None when no alarm has this level.
        health: the colour of a device or element with an active alarm of this level.
        meaning: one line for help screens.
    """

    word: str
    audit: Severity
    alarm: str | None
    health: Health | None
    meaning: str

    @property
    def rank(self) -> int:
        """0 (Debug) to 5 (Always)."""
        return self.audit.rank


LEVELS: tuple[Level, ...] = (
    Level(N_("Debug"), Severity.DEBUG, None, None, N_("development only")),
    Level(N_("Log"), Severity.LOG, None, None, N_("very low information")),
    Level(N_("Info"), Severity.INFO, None, None, N_("information only")),
    Level(N_("Warning"), Severity.WARNING, "Warning", Health.WARNING,
          N_("a warning threshold crossed or a problem to look at (yellow)")),
    Level(N_("Critical"), Severity.ERROR, "Critical", Health.CRITICAL,
          N_("a critical threshold crossed or a failure (red); the audit log stores it as Error")),
    Level(N_("Always"), Severity.ALWAYS, None, None, N_("always logged")),
)
"""Every severity, lowest first."""

SEVERITY_WORDS: tuple[str, ...] = tuple(lv.word for lv in LEVELS)
"""The only words a page may show for a severity."""

_BY_NAME: dict[str, Level] = {}
for _lv in LEVELS:
    for _name in (_lv.word, _lv.audit.value, _lv.alarm or _lv.word):
        _BY_NAME[_name.casefold()] = _lv
_BY_NAME["alert"] = _BY_NAME["critical"]          # the manual's word for a critical alarm
_BY_NAME["crit"] = _BY_NAME["critical"]
_BY_NAME["warn"] = _BY_NAME["warning"]


AUDIT_STATE_MEANING: dict[AuditState, str] = {
    AuditState.OPEN: N_("new, nobody has taken it up yet"),
    AuditState.INVESTIGATING: N_("someone is looking into it"),
    AuditState.DONE: N_("handled, nothing left to do"),
}
"""What an audit entry's state says (manual §10.2), for the audit page and the help."""


def level(value: str | Severity | Health) -> Level:
    """The level of a stored code, a word or a health colour.

    Raises:
        Invalid: ``value`` names no severity (the message lists the words).
    """
    if isinstance(value, Health):
        for lv in LEVELS:
            if lv.health is value:
                return lv
        raise Invalid(f"health {value.name} has no severity", thing="severity",
                      value=value.name, allowed=", ".join(SEVERITY_WORDS))
    name = value.value if isinstance(value, Severity) else str(value)
    try:
        return _BY_NAME[name.strip().casefold()]
    except KeyError:
        raise Invalid(f"Severity {name!r} does not exist; use one of {', '.join(SEVERITY_WORDS)}",
                      thing="severity", value=name, allowed=", ".join(SEVERITY_WORDS)) from None


def severity_word(value: str | Severity | Health) -> str:
    """The word people read for a stored severity ("Error" and "Critical" → "Critical");
    an unknown code is returned as it is rather than hidden."""
    try:
        return level(value).word
    except Invalid:
        return value.value if isinstance(value, Severity) else str(value)


def ring_health(state: RingState, breaks: Sequence[int], size: int = 0) -> str:
    """The ring's state as health: "Ring OK", "Ring open at PDU 7–8",
    "Ring broken at PDU 3–4, 7–8" (PDUs by ring position; link k joins positions k
    and k+1, the last one closes to 0).

    Args:
        state: the ring state.
        breaks: broken link numbers.
        size: PDUs on the ring (0 if unknown: the last link then reads k–k+1).
    """
    if state is RingState.CLOSED or not breaks:
        return _("Ring OK")
    links = ", ".join(f"{b}–{(b + 1) % size if size else b + 1}" for b in sorted(breaks))
    text = _("Ring open at PDU {links}") if state is RingState.OPEN else _("Ring broken at PDU {links}")
    return text.format(links=links)
