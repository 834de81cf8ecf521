"""DC structure charts (manual §7.2.3): a site, room, row or rack over 1, 7, 14 or 30 days.

Capacity planners look at how an element's load moved over days, not at one PDU: the
chart sums every PDU of the element (``core.history.dc_series``): current,
active, apparent or reactive power over all phases or one, or residual and neutral
current from the PDUs' totals. Opened with ``g`` from a dashboard as a pop-up, so the
dashboard stays usable at 80×24. Keys: ``1``/``7``/``4``/``3`` for 1, 7, 14 or 30 days,
``p`` cycles all phases/L1/L2/L3, ``q`` cycles the quantity, ``m`` shows the minima
and maxima, esc closes. The query runs in a worker (the screen never waits for it)
and the plot is drawn with plotext like the channel chart (``screens/chart.py``);
an element without history says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual_plotext import PlotextPlot

from ..core.errors import EnertegError
from ..core.quantities import DC_PER_PHASE, DC_QUANTITIES, POWER_QUANTITIES
from ..core.quantities import BY_KEY
from .chart_axes import band_path, time_ticks, y_axis
from .cells import node_zone
from .context import console_context

__all__ = ["DAYS", "LABELS", "PHASES", "DCChartScreen", "DCPlot"]

DAYS: dict[str, int] = {"1": 1, "7": 7, "4": 14, "3": 30}
"""Range keys → days shown (the manual's 1, 7, 14 and 30 days)."""

PHASES: tuple[int | None, ...] = (None, 1, 2, 3)
"""What ``p`` cycles through: all phases summed, then L1, L2, L3."""

LABELS: dict[str, str] = {
    "current": "Current", "activePower": "Active power", "apparentPower": "Apparent power",
    "reactivePower": "Reactive power", "residualCurrent": "Residual current",
    "neutralCurrent": "Neutral current"}
"""Quantity → the name the chart shows."""

PER_PHASE = frozenset(DC_PER_PHASE)
"""Quantities measured per input phase; the others come from the PDUs' totals."""

KILO = frozenset(POWER_QUANTITIES)
"""Quantities drawn in kilo-units (an element's sum of watts is a large number)."""


def phase_text(phase: int | None) -> str:
    """``all phases`` or ``L1``…``L3``."""
    return "all phases" if phase is None else f"L{phase}"


def unit_of(quantity: str) -> tuple[str, float]:
    """The unit a quantity is drawn in and the divisor from its catalogue unit."""
    unit = BY_KEY[quantity].unit or ""
    return (f"k{unit}", 1000.0) if quantity in KILO else (unit, 1.0)


class DCPlot(PlotextPlot):
    """The plot of one DC series (averages; minima and maxima on request)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series: Any = None
        """The loaded ``core.history.Series``, or None while loading."""
        self.chart_title = ""
        self.quantity = DC_QUANTITIES[0]
        self.days = 1
        self.show_minmax = False

    def redraw(self, now: float) -> None:
        """Draw the loaded series on clock time (UTC) up to ``now``; the y axis as the
        channel chart's (``chart_axes.y_axis``: 0 shown, noise kept flat)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        unit, div = unit_of(self.quantity)
        plt.title(f"{self.chart_title} ({unit})" if unit else self.chart_title)
        series = self.series
        if series is not None and series.t:
            end = max(now, series.t[-1])
            start = end - self.days * 86400
            avg = [v / div for v in series.avg]
            lo = [v / div for v in series.lo]
            hi = [v / div for v in series.hi]
            axis = y_axis(avg + (lo + hi if self.show_minmax else []), self.quantity,
                          precision=BY_KEY[self.quantity].precision + (3 if div > 1 else 0))
            left = max(len(label) for label in axis.labels) + 1
            tz = node_zone(self)
            ticks = time_ticks(start, end, max(2, self.size.width - left - 1), tz)
            xs = [t - start for t in series.t]
            plt.xlim(0, end - start)
            plt.ylim(axis.lo, axis.hi)
            plt.yticks(axis.ticks, axis.labels)
            plt.xticks([t - start for t, _ in ticks], [label for _, label in ticks])
            if self.show_minmax:
                bx, by = band_path(xs, lo, hi)
                plt.plot(bx, by, marker="braille", color="gray")
            plt.plot(xs, avg, marker="braille")
            plt.xlabel(dt.datetime.fromtimestamp(end, tz).strftime("%Z"))
        self.refresh()


class DCChartScreen(ModalScreen[None]):
    """Pop-up chart of a structure element (``None``: the whole site).

    Args:
        element_id: the room, row or rack charted; None for the site.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("1", "days('1')", "1 d", show=False),
        Binding("7", "days('7')", "7 d", show=False),
        Binding("4", "days('4')", "14 d", show=False),
        Binding("3", "days('3')", "30 d", show=False),
        Binding("p", "phase", "Phase"),
        Binding("q", "quantity", "Quantity"),
        Binding("m", "minmax", "Min/max"),
    ]

    DEFAULT_CSS = """
    DCChartScreen { align: center middle; }
    DCChartScreen > Vertical {
        width: 95%; height: 90%; border: thick $accent; background: $surface;
    }
    DCChartScreen #controls { height: 1; }
    DCChartScreen #controls Button { margin-right: 1; min-width: 5; width: auto; }
    DCChartScreen #controls Button.-active { text-style: bold reverse; }
    DCChartScreen #status { height: auto; padding: 0 1; }
    DCChartScreen DCPlot { height: 1fr; }
    """

    def __init__(self, element_id: int | None = None) -> None:
        super().__init__()
        self.element_id = element_id
        self.days_key = "1"
        self.phase: int | None = None
        self.quantity = DC_QUANTITIES[0]
        self.show_minmax = False
        structure = console_context(self).core.structure
        self.name_text = "Site"
        """What is charted, as the status line names it."""
        if element_id is not None:
            el = structure.get(element_id)  # NotFound (deleted meanwhile) for the caller
            self.name_text = f"{el.kind.value.capitalize()} {structure.path(el)}"
        self.devices: list[str] = structure.devices_in(element_id)
        """The PDUs summed (those in the element when the chart was opened)."""

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"DC chart · {self.name_text} · {len(self.devices)} PDU(s)"
            box.border_subtitle = "1 7 4 3: 1/7/14/30 days · p phase · q quantity · esc close"
            with Horizontal(id="controls"):
                for key, days in DAYS.items():
                    yield Button(f"{days} d", id=f"d-{key}", compact=True)
                yield Button(self._phase_label(), id="phase", compact=True)
                yield Button(self._quantity_label(), id="quantity", compact=True)
                yield Button("m Min/max", id="minmax", compact=True)
            yield Static("", id="status")
            yield DCPlot(id="plot")

    def on_mount(self) -> None:
        self._controls()
        self.load()

    @property
    def days(self) -> int:
        """The range shown, in days."""
        return DAYS[self.days_key]

    @property
    def plot(self) -> DCPlot:
        """The plot widget."""
        return self.query_one(DCPlot)

    def _controls(self) -> None:
        for key in DAYS:
            self.query_one(f"#d-{key}", Button).set_class(key == self.days_key, "-active")
        for bid, label in (("#phase", self._phase_label()), ("#quantity", self._quantity_label())):
            button = self.query_one(bid, Button)
            if str(button.label) != label:
                button.label = label
                button.refresh(layout=True)  # width: auto follows the new label
        self.query_one("#minmax", Button).set_class(self.show_minmax, "-active")

    def _phase_label(self) -> str:
        return f"p {phase_text(self.phase) if self.quantity in PER_PHASE else 'totals'}"

    def _quantity_label(self) -> str:
        return f"q {LABELS[self.quantity]}"

    # ------------------------------------------------------------------ data
    def load(self) -> None:
        """Query the series in a worker; the status says "loading" meanwhile."""
        plot = self.plot
        plot.series = None
        plot.quantity, plot.days, plot.show_minmax = self.quantity, self.days, self.show_minmax
        phase = phase_text(self.phase) if self.quantity in PER_PHASE else "PDU totals"
        plot.chart_title = f"{LABELS[self.quantity]} · {phase} · last {self.days} d"
        plot.redraw(console_context(self).clock())
        self._status()
        self.run_worker(self._load(self.quantity, self.days, self.phase), exclusive=True,
                        group="dc-chart", exit_on_error=False)

    async def _load(self, quantity: str, days: int, phase: int | None) -> None:
        ctx = console_context(self)
        history = getattr(ctx.core, "history", None)
        if history is None:
            self._say("No history: the history service is not available on this controller")
            return
        try:
            series = await history.dc_series(
                self.devices, quantity, days, phase if quantity in PER_PHASE else None,
                now=ctx.clock())
        except EnertegError as exc:
            self._say(str(exc))
            return
        if (quantity, days, phase) != (self.quantity, self.days, self.phase):
            return  # the choice changed meanwhile; its own load follows
        self.plot.series = series
        self.plot.redraw(ctx.clock())
        self._status()

    def _say(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def _status(self) -> None:
        series = self.plot.series
        what = f"{LABELS[self.quantity]}, last {self.days} day{'s' if self.days > 1 else ''}"
        if not self.devices:
            self._say(f"No PDUs in this element: nothing to chart ({what})")
        elif series is None:
            self._say(f"{what}: loading…")
        elif not series.t:
            self._say(f"{what}: no history yet for {self.name_text} (the history keeps "
                      "minute and hourly blocks from the PDUs' readings)")
        else:
            unit, div = unit_of(self.quantity)
            lo, hi = min(series.lo) / div, max(series.hi) / div
            self._say(f"{what} · {len(series.t)} point(s) · {lo:.2f} … {hi:.2f} {unit}")

    # ------------------------------------------------------------------ actions
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        if bid.startswith("d-"):
            self.action_days(bid[2:])
        elif bid == "phase":
            self.action_phase()
        elif bid == "quantity":
            self.action_quantity()
        elif bid == "minmax":
            self.action_minmax()

    def action_days(self, key: str) -> None:
        """Show the last 1, 7, 14 or 30 days."""
        if key in DAYS and key != self.days_key:
            self.days_key = key
            self._controls()
            self.load()

    def action_phase(self) -> None:
        """Cycle all phases → L1 → L2 → L3 (per-phase quantities only)."""
        if self.quantity not in PER_PHASE:
            self._say(f"{LABELS[self.quantity]} comes from the PDUs' totals; it has no phases "
                      "(q chooses another quantity)")
            return
        self.phase = PHASES[(PHASES.index(self.phase) + 1) % len(PHASES)]
        self._controls()
        self.load()

    def action_quantity(self) -> None:
        """Cycle through the DC quantities (current, powers, residual, neutral)."""
        self.quantity = DC_QUANTITIES[(DC_QUANTITIES.index(self.quantity) + 1)
                                      % len(DC_QUANTITIES)]
        self._controls()
        self.load()

    def action_minmax(self) -> None:
        """Show or hide the minima and maxima besides the averages."""
        self.show_minmax = not self.show_minmax
        self.plot.show_minmax = self.show_minmax
        self.plot.redraw(console_context(self).clock())
        self._controls()

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)
