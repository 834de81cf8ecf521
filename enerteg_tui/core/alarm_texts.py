"""The sentences of threshold alarms, composed in English and shown in a person's language.

An alarm's text is written once, when the alarm is raised, and kept (the database, the
history, SNMP and REST documents, syslog and the audit log all carry it in English: they
are machine formats). A person reads it in their session's language: ``shown`` matches
the stored sentence against the templates below (the English message ids, so one table
both composes and translates) and fills the translated template with the same values.
A text no template matches (a condition alarm of a face, a clock alarm) is shown as
stored.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .i18n import NP_, N_, _, current, translator
from .quantities import QUANTITIES

__all__ = ["EXCEEDED", "FALLEN", "RING_BROKEN", "RING_OPEN", "STALE", "UNREACHABLE", "compose",
           "shown"]

EXCEEDED = N_('Value of {value} at {label} has exceeded the {severity} threshold of {threshold} '
              'via rule "{rule}" for {pdu}')
FALLEN = N_('Value of {value} at {label} has fallen below the {severity} threshold of '
            '{threshold} via rule "{rule}" for {pdu}')
UNREACHABLE = N_('{pdu} is unreachable ({severity}) via rule "{rule}"')
STALE = N_('Data of {pdu} is stale: it answers the ring but not polls ({severity}) via rule '
           '"{rule}"')
RING_OPEN = N_('Ring is open at link {links} ({severity}) via rule "{rule}"')
RING_BROKEN = N_('Ring is broken at links {links}: the PDUs between the breaks are cut off '
                 '({severity}) via rule "{rule}"')
TEMPLATES: tuple[str, ...] = (EXCEEDED, FALLEN, UNREACHABLE, STALE, RING_OPEN, RING_BROKEN)
"""Every sentence a threshold alarm is written in (``AlarmService._text``)."""

PART_LABELS: tuple[str, ...] = (
    N_("the PDU totals ({quantity})"),
    N_("the totals ({quantity})"),
    N_('"{name}" ({index}) {component}'),
)
"""How a sentence names the channel (``evaluation._part_label``, ``element_rules``)."""
_LABELS = {q.label.lower(): q.label for q in QUANTITIES}
"""A quantity's label as sentences write it (lower case) → its message id."""
_PARTS = (NP_("at", "phase"), NP_("at", "branch"), NP_("at", "outlet"), NP_("at", "sensor"))
"""The part word after "at" (Czech: locative, "na zásuvce")."""

_SEVERITY = {
    "threshold": (NP_("threshold", "critical"), NP_("threshold", "warning")),
    "alarm": (NP_("alarm", "critical"), NP_("alarm", "warning")),
}
"""The severity word inside a sentence: Czech declines it ("překročila kritickou mez",
"(kritický)"), so the word has a context per sentence shape."""


def compose(template: str, **values: object) -> str:
    """The stored (English) sentence of ``template`` with ``values``."""
    return template.format(**values)


@lru_cache(maxsize=None)
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                    for i, p in enumerate(parts))
    return re.compile(regex + r"\Z", re.S)


def shown(text: str) -> str:
    """``text`` (a stored alarm sentence) in the current session's language."""
    language = current()
    if language == "en" or not text:
        return text
    catalogue = translator(language)
    for template in TEMPLATES:
        m = _pattern(template).match(text)
        if m is None:
            continue
        values = m.groupdict()
        shape = "threshold" if template in (EXCEEDED, FALLEN) else "alarm"
        if values.get("severity") in ("critical", "warning"):
            values["severity"] = catalogue.pgettext(shape, values["severity"])
        if "label" in values:
            values["label"] = _part(values["label"], catalogue)
        return _(template).format(**values)
    return text


def _part(label: str, catalogue: Any) -> str:
    """A channel's name inside a sentence, translated when it has a known shape."""
    for template in PART_LABELS:
        m = _pattern(template).match(label)
        if m is None:
            continue
        values = m.groupdict()
        if "quantity" in values:
            label_en = _LABELS.get(values["quantity"])
            if label_en is not None:
                values["quantity"] = catalogue.gettext(label_en).lower()
        if "component" in values:
            values["component"] = catalogue.pgettext("at", values["component"])
        return catalogue.gettext(template).format(**values)
    return label
