"""The sentences of threshold alarms, composed in English and shown in a person's language.

An alarm's text is written once, when the alarm is raised, and kept (the database, the
history, SNMP and REST documents, syslog and the audit log all carry it in English: they
are machine formats). A person reads it in their session's language: ``shown`` matches
the stored sentence against the templates below (the English message ids, so one table
both composes and translates) and fills the translated template with the same values.
Condition alarms (``AlarmService.raise_condition``: a face that cannot listen, the
clock, a certificate's expiry, a shared Device ID) are stored in English the same way;
``CONDITIONS`` holds their sentences and ``FRAGMENTS`` the clauses their free parts are
made of (the face's reason, the clock's measurement): a value that matches a fragment is
shown translated, any other (an operating system's error text, a name) as stored. A text
no template matches is shown as stored.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .i18n import NP_, N_, _, current, translator
from .quantities import QUANTITIES

__all__ = ["BIND", "BIND_HELD", "BIND_ROOT", "CERT_EXPIRED", "CERT_EXPIRING", "CLOCK_DETAIL",
           "CLOCK_OFF", "CLOCK_UNSYNCHRONISED", "CONDITIONS", "DUPLICATE_ID", "EXCEEDED", "FACE_DOWN",
           "FALLEN", "FRAGMENTS", "RING_BROKEN", "RING_OPEN", "STALE", "UNREACHABLE", "compose",
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

FACE_DOWN = N_("{face} not running: {why}")
CLOCK_OFF = N_("Clock off by {offset} s (more than {limit} s): {detail}")
CLOCK_UNSYNCHRONISED = N_("Clock not synchronised: no NTP server answered: {why}")
CERT_EXPIRED = N_("Certificate {id} ({name}) expired on {day}")
CERT_EXPIRING = N_("Certificate {id} ({name}) expires on {day}, within {days} days")
DUPLICATE_ID = N_("Device ID {id} is reported by {count} PDUs: {names}. Modbus unit {unit} "
                  "answers for none of them (exception 0x0B) until each PDU has its own "
                  "Device ID (sensor/<hexid>/config deviceId)")
CONDITIONS: tuple[str, ...] = (FACE_DOWN, CLOCK_OFF, CLOCK_UNSYNCHRONISED, CERT_EXPIRED,
                               CERT_EXPIRING, DUPLICATE_ID)
"""The sentences of condition alarms (faces' ``SettingsDrivenFace._set_status``,
``timesync``, ``certstore``, ``device_ids.duplicate_text`` compose with them)."""

BIND_ROOT = N_("cannot listen on {proto} {address}: {error} (ports below 1024 need root; "
               "set {key})")
BIND_HELD = N_("cannot listen on {proto} {address}: {error} ({holder} holds the port)")
BIND = N_("cannot listen on {proto} {address}: {error}")
CLOCK_DETAIL = N_("offset {offset} s from {server} (stratum {stratum}, round trip {delay} ms)")
FRAGMENTS: tuple[str, ...] = (BIND_ROOT, BIND_HELD, BIND, CLOCK_DETAIL)
"""Clauses inside a condition's free part, most specific first; their own values
(``{holder}``, a face's name) are shown translated when the catalogue has them."""
WORDS: tuple[str, ...] = (N_("SNMP agent"), N_("Web server"), N_("Modbus server"),
                          N_("another program"), N_("another program, such as snmpd,"))
"""Names that fill a condition's fields (a face's ``TITLE``, who holds a port)."""

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
    condition = _fill(text, CONDITIONS, catalogue)
    if condition is not None:
        return condition
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


def _fill(text: str, templates: tuple[str, ...], catalogue: Any) -> str | None:
    """``text`` through the first of ``templates`` it matches, translated, each value
    translated in turn when it is a fragment or a known word; None: no match."""
    for template in templates:
        m = _pattern(template).match(text)
        if m is None:
            continue
        values = {k: _value(v, catalogue) for k, v in m.groupdict().items()}
        return catalogue.gettext(template).format(**values)
    return None


def _value(value: str, catalogue: Any) -> str:
    if value in WORDS:
        return catalogue.gettext(value)
    filled = _fill(value, FRAGMENTS, catalogue)
    return value if filled is None else filled
