"""Thresholds on a room's, row's or rack's own totals (manual §9.2, §6.1).

A rule scoped to a DC element with ``elementTotals`` on watches the element's aggregate
(``Structure.aggregate``: per phase and total current and power, total residual and
neutral current) instead of each PDU in it: one channel set, and so one alarm, for the
element. This module holds what such channels are: their identity (the element's key
``dc:<id>`` stands where a PDU's hex id stands in a channel key, so alarms, their
storage and their texts need no second kind of subject), the quantities an aggregate
has, its values, ratings (for rules in percent) and labels. ``core.evaluation`` compiles
and steps the watches; ``core.alarms`` names the element in alarm texts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .quantities import BY_KEY, ChannelKey, Component, channel_name

if TYPE_CHECKING:
    from .structure import Aggregate

__all__ = ["ELEMENT_PREFIX", "AGGREGATE_QUANTITIES", "element_key", "element_of",
           "aggregate_channels", "aggregate_value", "aggregate_rating", "aggregate_label",
           "aggregate_channel_name"]

ELEMENT_PREFIX = "dc:"
"""Start of an element's key in channel keys and alarms (``dc:7/i/1/current``); a colon
never occurs in a PDU's hex id."""

AGGREGATE_QUANTITIES: dict[str, tuple[str, ...]] = {
    "i": ("current", "activePower", "apparentPower", "reactivePower"),
    "t": ("current", "activePower", "apparentPower", "reactivePower", "residualCurrent",
          "neutralCurrent"),
}
"""What an element's aggregate has per phase (``i``) and in total (``t``) that a
threshold makes sense on (energy is a counter, not a level)."""


def element_key(element_id: int) -> str:
    """``dc:7``: the element in channel keys and ``Alarm.device``."""
    return f"{ELEMENT_PREFIX}{element_id}"


def element_of(device: str) -> int | None:
    """The element id of a key made by ``element_key``, None for a PDU or the ring."""
    if device.startswith(ELEMENT_PREFIX) and device[len(ELEMENT_PREFIX):].isdigit():
        return int(device[len(ELEMENT_PREFIX):])
    return None


def aggregate_channels(agg: Aggregate) -> list[tuple[str, int, str]]:
    """(component, index, quantity) of every aggregate channel: phases present, then totals."""
    out = [("i", p, q) for p in sorted(agg.rated_a) for q in AGGREGATE_QUANTITIES["i"]]
    out += [("t", 0, q) for q in AGGREGATE_QUANTITIES["t"]]
    return out


def aggregate_value(agg: Aggregate, component: str, index: int, quantity: str) -> float | None:
    """An aggregate channel's value now; None when no PDU in the element reports it."""
    if component == "i":
        phase = agg.phases.get(index)
        return phase.get(quantity) if phase is not None else None
    return agg.total.get(quantity)


def aggregate_rating(agg: Aggregate, component: str, index: int) -> float | None:
    """Rated current of a phase (the PDUs' ratings on it) or of the totals (all phases)."""
    if component == "i":
        return agg.rated_a.get(index) or None
    return sum(agg.rated_a.values()) or None


def aggregate_label(component: str, index: int, quantity: str) -> str:
    """How alarm texts name the channel: ``"L2" (2) phase``, ``the totals (current)``."""
    if component == "i":
        return f'"L{index}" ({index}) phase'
    q = BY_KEY[quantity]
    return f"the totals ({q.label.lower()})"


def aggregate_channel_name(component: str, index: int, quantity: str) -> str:
    """The dotted channel name, as a PDU's: ``input.L1.current``, ``total.activePower``."""
    comp = Component.INPUT if component == "i" else Component.TOTAL
    return channel_name(ChannelKey(comp, index, quantity))
