"""Small text builders shared by console tables: values, load bars, state words.

Every value shown goes through the quantity catalogue's ``format_value`` (one unit
and precision per quantity, as every face). Bars and marks use shapes as well as
colours so that a monochrome terminal stays legible.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, tzinfo
from typing import Any

from rich.text import Text

from ..core.i18n import _
from ..core.live import DeviceLive
from ..core.model import DeviceState, Health, OutletState
from ..core.audit import Severity
from ..core.quantities import format_value
from ..core.timesync import local_text, zone, zone_abbr
from ..core.vocabulary import level, severity_word
from .queries import HEALTH_MARK, HEALTH_STYLE

__all__ = [
    "SEVERITY_STYLE", "device_state_text", "health_text", "load_bar", "outlet_state_text",
    "node_zone", "severity_text", "table_time", "time_heading", "value",
]

SEVERITY_STYLE: dict[str, str] = {
    "Debug": "dim", "Log": "dim", "Info": "", "Warning": "yellow", "Critical": "bold red",
    "Always": "bold magenta",
}
"""Colour of each severity word (``core.vocabulary``): the health colours for Warning
and Critical, so an alarm, its audit entry and the tree read alike."""

BAR_WARN = 0.8
"""Share of the rated current from which a load bar turns yellow (display only)."""


def value(quantity: str, v: float | None) -> str:
    """A value with unit and catalogue precision, or "—"."""
    return format_value(quantity, v)


def load_bar(current: float | None, rated: float, width: int = 10) -> Text:
    """``[#####     ]  45%`` load of ``current`` against ``rated``."""
    if current is None or rated <= 0:
        return Text("[" + " " * width + "]   —", style="dim")
    share = current / rated
    filled = max(0, min(width, round(share * width)))
    style = "red" if share >= 1 else "yellow" if share >= BAR_WARN else "green"
    text = Text("[")
    text.append("#" * filled, style=style)
    text.append(" " * (width - filled) + "]")
    text.append(f"{share * 100:4.0f}%")
    return text


def health_text(health: Health, word: str = "") -> Text:
    """A shape (and word) in the health colour."""
    return Text(f"{HEALTH_MARK[health]} {word}".rstrip(), style=HEALTH_STYLE[health])


def severity_text(value: str | Severity) -> Text:
    """A stored severity ("Error", "Critical", ``Severity.WARNING``) as its one word, coloured."""
    word = severity_word(value)
    return Text(_(word), style=SEVERITY_STYLE.get(word, ""))


def severity_rank(value: str | Severity) -> int:
    """A stored severity's rank, for sorting (unknown codes lowest)."""
    try:
        return level(value).rank
    except Exception:
        return -1


def device_state_text(live: DeviceLive) -> Text:
    """RUNNING / STALE / UNREACHABLE with a stale marker that survives no-colour."""
    if live.state is DeviceState.RUNNING:
        return Text(_("running"), style="green")
    if live.state is DeviceState.STALE:
        return Text("~" + _("stale"), style="yellow")
    return Text("!" + _("unreach"), style="bold red")


def outlet_state_text(live: DeviceLive, outlet: int) -> Text:
    """ON / OFF, or "pending→off" while the PDU has not reported a switch yet."""
    pending = live.pending_outlets.get(outlet)
    if pending is not None:
        return Text(f"pend→{pending.value}", style="bold yellow")
    state = live.outlet_states.get(outlet)
    if state is None:
        return Text("—", style="dim")
    return Text("● " + _("on") if state is OutletState.ON else "○ " + _("off"),
                style="green" if state is OutletState.ON else "dim")


def table_time(config: Any, t: float | None) -> str:
    """A time in a table column (alarms, audit log): month-day and time of day in the
    zone of ``config/time`` (``core.timesync.local_text``)."""
    return "" if t is None else local_text(config, t, "%m-%d %H:%M:%S")


def node_zone(node: Any) -> tzinfo:
    """The zone of ``config/time`` for a widget of a console session (UTC for a widget
    outside one, as in a unit test); charts label their time axes with it."""
    try:
        return zone(node.app.context.core.config)
    except Exception:  # noqa: BLE001 - no app or no session context yet
        return UTC


def time_heading(table: Any, config: Any, key: str = "time", word: str = "Time") -> None:
    """Heads the column ``key`` of ``table`` with the zone's abbreviation now
    (``Time (UTC)``, ``Time (CET)``); a zone change shows at the next fill."""
    for i, col in enumerate(table.columns):
        if col.key == key:
            label = f"{word} ({zone_abbr(config)})"
            if col.label != label:
                table.columns[i] = replace(col, label=label)
                table.refresh()
            return
