"""The arithmetic of a measurement chart, kept apart from drawing so it can be tested alone.

A chart is only worth reading if its axes are (issue 18 item 6, manual §7.2.2, §8.5):

* the x axis tells clock time (``HH:MM`` within a day; over several days the midnight
  ticks show the date and the others the hour; over months, month names), in the zone
  of ``config/time`` as every other time of the console (UTC by default), with ticks on
  round local times and as many as fit;
* the y axis never zooms noise into a cliff: its span is at least ``MIN_REL_SPAN`` of the
  value (±0.3 V of noise on 230 V is a flat line, not a saw) and at least ten display
  steps, and currents and powers always show 0, so a load reads against nothing drawn;
* a cursor reads out the exact time and value at a point (the web's hover pop-up);
* zoom and pan move a time window inside the data's bounds.

Everything here is plain arithmetic on floats and lists: ``screens/chart.py`` feeds it
the series and draws what it returns with plotext.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.quantities import BY_KEY, Component, format_value

__all__ = [
    "MIN_REL_SPAN", "ZERO_BASED", "Window", "YAxis", "band_path", "chart_title", "nearest",
    "readout", "time_at", "time_label", "time_ticks", "y_axis",
]

MIN_REL_SPAN = 0.05
"""Smallest y span as a share of the value's size (5 %: 11.5 V around 230 V)."""
MIN_STEPS = 10
"""Smallest y span in display steps of the quantity (10 × 0.01 A = 0.1 A)."""
HEADROOM = 0.05
"""Share of the span added above the data (and below it unless the axis starts at 0)."""

ZERO_BASED: frozenset[str] = frozenset({
    "current", "currentPeak", "neutralCurrent", "residualCurrent",
    "activePower", "apparentPower", "reactivePower", "energy", "apparentEnergy",
})
"""Quantities whose y axis always includes 0 (currents, powers, energies)."""

_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
_MINUTE, _HOUR, _DAY = 60, 3600, 86400
_TIME_STEPS: tuple[int, ...] = (
    1, 2, 5, 10, 15, 30, _MINUTE, 2 * _MINUTE, 5 * _MINUTE, 10 * _MINUTE, 15 * _MINUTE,
    30 * _MINUTE, _HOUR, 2 * _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR, _DAY, 2 * _DAY,
    7 * _DAY, 14 * _DAY)
"""Tick steps of the time axis up to two weeks (beyond: whole months)."""
_MONTH_STEPS = (1, 2, 3, 6, 12)
_LABEL_CELLS = 6
"""Cells a time label takes (``14:05``, ``15 Jun``), plus a gap, for fitting ticks."""


# ---------------------------------------------------------------------- time axis
def time_label(t: float, span: float, step: float, tz: dt.tzinfo = dt.UTC) -> str:
    """The tick label of ``t`` on an axis spanning ``span`` seconds with ``step`` ticks.

    Within a day: ``14:05`` (``14:05:30`` for sub-minute steps); over days: the date
    (``15 Jun``) at midnight and ``06:00`` elsewhere; with month steps: ``Jun`` (the
    year, ``2026``, in January).
    """
    d = dt.datetime.fromtimestamp(t, tz)
    if step >= 28 * _DAY:
        return str(d.year) if d.month == 1 else d.strftime("%b")
    if step < _MINUTE:
        return d.strftime("%H:%M:%S")
    if span <= _DAY or (d.hour, d.minute) != (0, 0):
        return d.strftime("%H:%M")
    return d.strftime("%d %b")


def _month_ticks(start: float, end: float, max_ticks: int, tz: dt.tzinfo
                 ) -> tuple[list[float], int]:
    first = dt.datetime.fromtimestamp(start, tz)
    for months in _MONTH_STEPS:
        ticks: list[float] = []
        y, m = first.year, first.month
        while True:
            t = dt.datetime(y, m, 1, tzinfo=tz).timestamp()
            if t > end:
                break
            if t >= start and (m - 1) % months == 0:
                ticks.append(t)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        if len(ticks) <= max_ticks:
            return ticks, months
    return ticks[:: max(1, len(ticks) // max_ticks + 1)], 12


def time_ticks(start: float, end: float, width: int, tz: dt.tzinfo = dt.UTC
               ) -> list[tuple[float, str]]:
    """Ticks on round times of the zone ``tz`` between ``start`` and ``end`` for an axis
    ``width`` cells wide: (epoch time, label), as many as fit with room between labels."""
    span = max(end - start, 1e-9)
    max_ticks = max(2, width // (_LABEL_CELLS + 4))
    if span / (14 * _DAY) > max_ticks:
        ticks, months = _month_ticks(start, end, max_ticks, tz)
        return [(t, time_label(t, span, months * 30 * _DAY, tz)) for t in ticks]
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    offset = (dt.datetime.fromtimestamp(start, tz).utcoffset() or dt.timedelta()).total_seconds()
    first = math.ceil((start + offset) / step) * step - offset   # round in local time
    ticks = []
    t = float(first)
    while t <= end + 1e-9:
        ticks.append((t, time_label(t, span, step, tz)))
        t += step
    return ticks


# ---------------------------------------------------------------------- value axis
@dataclass(frozen=True, slots=True)
class YAxis:
    """The value axis: its limits and labelled ticks."""

    lo: float
    hi: float
    ticks: list[float]
    labels: list[str]


def _nice_step(raw: float) -> float:
    exp = math.floor(math.log10(raw)) if raw > 0 else 0
    base = 10.0 ** exp
    return next(n * base for n in _NICE if n * base >= raw - 1e-12)


def _decimals(step: float) -> int:
    d = 0
    while d < 6 and abs(step * 10 ** d - round(step * 10 ** d)) > 1e-9:
        d += 1
    return d


def y_axis(values: Sequence[float], quantity: str, ticks: int = 5,
           precision: int | None = None) -> YAxis:
    """The y axis for ``values`` of ``quantity``: at least ``MIN_REL_SPAN`` of the value and
    ``MIN_STEPS`` display steps tall, 0 included for ``ZERO_BASED`` quantities, limits
    on round ticks. No values: the axis of 0 alone. ``precision``: decimals of the
    values as drawn when not the catalogue's (a sum drawn in kW: 3)."""
    q = BY_KEY.get(quantity)
    if precision is None:
        precision = q.precision if q else 2
    floor_span = MIN_STEPS * 10.0 ** -precision
    zero = quantity in ZERO_BASED
    vmin, vmax = (min(values), max(values)) if values else (0.0, 0.0)
    if zero:
        vmin, vmax = min(vmin, 0.0), max(vmax, 0.0)
    need = max(floor_span, MIN_REL_SPAN * max(abs(vmin), abs(vmax)))
    if vmax - vmin < need:
        if zero and vmin == 0.0:
            vmax = need
        elif zero and vmax == 0.0:
            vmin = -need
        else:
            mid = (vmin + vmax) / 2
            vmin, vmax = mid - need / 2, mid + need / 2
    pad = (vmax - vmin) * HEADROOM
    lo = vmin if zero and vmin == 0.0 else vmin - pad
    hi = vmax if zero and vmax == 0.0 else vmax + pad
    step = _nice_step((hi - lo) / max(1, ticks - 1))
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    n = int(round((hi - lo) / step))
    d = _decimals(step)
    marks = [round(lo + i * step, d) for i in range(n + 1)]
    return YAxis(marks[0], marks[-1], marks,
                 [f"{m:.{d}f}" if abs(m) > step / 2 else "0" for m in marks])


# ---------------------------------------------------------------------- window, cursor
@dataclass(frozen=True, slots=True)
class Window:
    """The time window shown, in epoch seconds."""

    start: float
    end: float

    @property
    def span(self) -> float:
        """Its length in seconds."""
        return self.end - self.start

    def clamp(self, bounds: Window, min_span: float) -> Window:
        """This window moved and cut to lie inside ``bounds``, at least ``min_span`` long
        (or all of ``bounds`` when that is shorter)."""
        span = min(max(self.span, min_span), bounds.span)
        start = min(max(self.start, bounds.start), bounds.end - span)
        return Window(start, start + span)

    def zoom(self, factor: float, center: float, bounds: Window, min_span: float) -> Window:
        """Zoomed by ``factor`` (< 1 in, > 1 out) around ``center``, kept in ``bounds``."""
        share = (center - self.start) / self.span if self.span > 0 else 0.5
        span = self.span * factor
        start = center - share * span
        return Window(start, start + span).clamp(bounds, min_span)

    def pan(self, fraction: float, bounds: Window) -> Window:
        """Moved by ``fraction`` of its span (negative: back in time), kept in ``bounds``."""
        shift = fraction * self.span
        return Window(self.start + shift, self.end + shift).clamp(bounds, 0.0)


def nearest(ts: Sequence[float], t: float) -> int:
    """Index of the time in sorted ``ts`` closest to ``t`` (ties: the earlier); -1 if none."""
    if not ts:
        return -1
    i = bisect.bisect_left(ts, t)
    if i == 0:
        return 0
    if i == len(ts):
        return len(ts) - 1
    return i - 1 if t - ts[i - 1] <= ts[i] - t else i


def time_at(column: int, left: int, width: int, window: Window) -> float:
    """The time under a cell ``column`` of a plot whose data area starts at ``left`` and
    is ``width`` cells wide (columns outside are clamped to its edges)."""
    if width <= 1:
        return window.start
    share = min(max((column - left) / (width - 1), 0.0), 1.0)
    return window.start + share * window.span


def readout(quantity: str, t: float, avg: float, lo: float | None = None,
            hi: float | None = None, tz: dt.tzinfo = dt.UTC) -> str:
    """What the cursor reads: ``15 Jun 2025 14:05:00 UTC · 1.23 A`` and, for a block
    with a spread, ``(min 1.10 A, max 1.40 A)``."""
    text = (f"{dt.datetime.fromtimestamp(t, tz).strftime('%d %b %Y %H:%M:%S %Z')} · "
            f"{format_value(quantity, avg)}")
    if lo is not None and hi is not None and (lo != avg or hi != avg):
        text += f" (min {format_value(quantity, lo)}, max {format_value(quantity, hi)})"
    return text


def band_path(xs: Sequence[float], lo: Sequence[float], hi: Sequence[float]
              ) -> tuple[list[float], list[float]]:
    """One polyline that fills the min/max band: a vertical stroke at every point joined
    along the top and bottom edges alternately (plotext draws lines, not areas)."""
    px: list[float] = []
    py: list[float] = []
    for i, x in enumerate(xs):
        a, b = (lo[i], hi[i]) if i % 2 == 0 else (hi[i], lo[i])
        px += [x, x]
        py += [a, b]
    return px, py


def chart_title(component: Component, index: int, name: str | None, quantity: str) -> str:
    """The chart's title in words: ``Outlet 3 web-01 · current (A)``.

    A name that only repeats the default (``Outlet # 3``, ``L1``, ``BR2``) is left out.
    """
    q = BY_KEY.get(quantity)
    what = (q.label.lower() if q else quantity) + (f" ({q.unit})" if q and q.unit else "")
    if component is Component.TOTAL:
        return f"PDU totals · {what}"
    word = {Component.INPUT: "Input"}.get(component, component.singular.capitalize())
    defaults = {f"Outlet # {index}", f"L{index}", f"BR{index}", f"Sensor {index}", ""}
    part = f"{word} {index}"
    if name and name.strip() not in defaults:
        part += f" {name.strip()}"
    elif component is Component.INPUT:
        part = f"Input L{index}"
    return f"{part} · {what}"
