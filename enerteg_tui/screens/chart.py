"""Measurement chart of one channel (manual §8.5), drawn with plotext via textual-plotext.

Realtime shows the channel's values as they arrive from live state while the chart
is open (no polling: it listens to the event bus). The ranges 4 h / 3 d / week /
month / year ask ``core.history.series(channel, range)`` in a worker (the
query never blocks the screen) and draw the averages, with the minima and maxima
when the min/max toggle is on. A controller without a history service says so.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual_plotext import PlotextPlot

from ..core.events import Batch
from ..core.quantities import BY_KEY, Channel, format_value
from .context import LiveListener, console_context

__all__ = ["RANGES", "ChartScreen"]

RANGES: dict[str, str] = {
    "live": "Realtime",
    "4h": "4 h",
    "3d": "3 d",
    "week": "Week",
    "month": "Month",
    "year": "Year",
}
"""Chart ranges: key → button label (manual §7.2.2)."""

REALTIME_POINTS = 600
"""Realtime values kept while the chart is open (10 minutes at a 1 s sweep)."""


class ChannelPlot(LiveListener, PlotextPlot):
    """The plot; collects realtime values of its channel from the event bus."""

    LIVE_KINDS = ()

    def live_devices(self) -> list[str]:
        """Only the charted PDU's changes wake the plot."""
        return [self.channel.device]

    class Sampled(Message):
        """A new realtime value arrived; handled by ``on_channel_plot_sampled``."""

    class HistoryLoaded(Message):
        """A history range arrived; handled by ``on_channel_plot_history_loaded``."""

    def __init__(self, channel: Channel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.channel = channel
        self.points: deque[tuple[float, float]] = deque(maxlen=REALTIME_POINTS)
        self.range = "live"
        self.show_minmax = False
        self.series: Any = None
        """The loaded history range (``core.history.Series``), or None."""

    def on_mount(self) -> None:
        self._sample()
        self.listen()
        self.redraw()

    def _sample(self) -> bool:
        c = console_context(self).core
        live = c.live.get(self.channel.device)
        if live is None:
            return False
        key = (self.channel.component, self.channel.index)
        v = live.value(self.channel.component, self.channel.index, self.channel.quantity)
        ts = live.group_ts.get(key)
        if v is None or ts is None or (self.points and self.points[-1][0] == ts):
            return False
        self.points.append((ts, v))
        return True

    def on_live_batch(self, batch: Batch) -> None:
        groups = batch.live.get(self.channel.device)
        if groups and (self.channel.component, self.channel.index) in groups and self._sample():
            if self.range == "live":
                self.redraw()
            self.post_message(self.Sampled())

    def redraw(self) -> None:
        """Draw the current range (realtime or history)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        q = BY_KEY[self.channel.quantity]
        plt.title(f"{self.channel.name} [{q.unit or '-'}]  {RANGES[self.range]}")
        if self.range == "live":
            if self.points:
                t0 = self.points[0][0]
                xs = [t - t0 for t, _ in self.points]
                ys = [v for _, v in self.points]
                plt.plot(xs, ys, marker="braille")
                plt.xlabel("seconds since opened")
        else:
            series = self.series
            if series is not None and series.t:
                now = console_context(self).clock()
                unit, label = (86400, "days") if self.range in ("month", "year") else (3600, "hours")
                xs = [(t - now) / unit for t in series.t]
                plt.plot(xs, series.avg, marker="braille", label="avg")
                if self.show_minmax:
                    plt.plot(xs, series.lo, marker="dot", label="min")
                    plt.plot(xs, series.hi, marker="dot", label="max")
                plt.xlabel(f"{label} before now")
        self.refresh()

    @property
    def history(self) -> Any:
        """The controller's history service, or None."""
        return getattr(console_context(self).core, "history", None)

    def load_history(self) -> None:
        """Query the current range in a worker; ``HistoryLoaded`` follows."""
        self.series = None
        if self.history is not None and self.range != "live":
            self.run_worker(self._load(self.range), exclusive=True, group="history")

    async def _load(self, range_key: str) -> None:
        series = await self.history.series(self.channel, range_key)
        if range_key == self.range:
            self.series = series
            self.redraw()
            self.post_message(self.HistoryLoaded())


class ChartScreen(ModalScreen[None]):
    """Pop-up chart of one channel with range buttons and a min/max toggle."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("m", "minmax", "Min/max"),
        Binding("1", "range('live')", "Realtime", show=False),
        Binding("2", "range('4h')", "4 h", show=False),
        Binding("3", "range('3d')", "3 d", show=False),
        Binding("4", "range('week')", "Week", show=False),
        Binding("5", "range('month')", "Month", show=False),
        Binding("6", "range('year')", "Year", show=False),
    ]

    DEFAULT_CSS = """
    ChartScreen { align: center middle; }
    ChartScreen > Vertical {
        width: 95%; height: 90%; border: thick $accent; background: $surface;
    }
    ChartScreen #ranges { height: 1; }
    ChartScreen #ranges Button { margin-right: 1; min-width: 6; }
    ChartScreen #ranges Button.-active { text-style: bold reverse; }
    ChartScreen #status { height: 1; padding: 0 1; }
    ChartScreen ChannelPlot { height: 1fr; }
    """

    range: reactive[str] = reactive("live")
    """The selected range key (see ``RANGES``)."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Chart · {self.channel.device} · {self.channel.name}"
            with Horizontal(id="ranges"):
                for n, (key, label) in enumerate(RANGES.items(), 1):
                    yield Button(f"{n} {label}", id=f"r-{key}", compact=True)
                yield Button("m Min/max", id="minmax", compact=True)
            yield Static("", id="status")
            yield ChannelPlot(self.channel, id="plot")

    def on_mount(self) -> None:
        self._update_status()
        self.query_one(f"#r-{self.range}", Button).add_class("-active")

    def _update_status(self) -> None:
        plot = self.query_one(ChannelPlot)
        status = self.query_one("#status", Static)
        if self.range != "live":
            label = RANGES[self.range]
            if plot.history is None:
                status.update(f"{label}: no history — the history service is not available "
                              "on this controller")
            elif plot.series is None:
                status.update(f"{label}: loading…")
            elif not plot.series.t:
                status.update(f"{label}: no history in this range yet (5-second blocks are "
                              "written every few minutes)")
            else:
                lo, hi = min(plot.series.lo), max(plot.series.hi)
                status.update(f"{label} · {len(plot.series.t)} point(s) · range "
                              f"{format_value(self.channel.quantity, lo)} … "
                              f"{format_value(self.channel.quantity, hi)} · "
                              f"min/max {'on' if plot.show_minmax else 'off'}")
            return
        last = plot.points[-1][1] if plot.points else None
        clock = console_context(self).clock
        status.update(f"Realtime · now {format_value(self.channel.quantity, last)} · "
                      f"{len(plot.points)} point(s) · "
                      f"{time.strftime('%H:%M:%S', time.gmtime(clock()))}Z")

    def on_channel_plot_sampled(self, event: ChannelPlot.Sampled) -> None:
        self._update_status()

    def on_channel_plot_history_loaded(self, event: ChannelPlot.HistoryLoaded) -> None:
        self._update_status()

    def watch_range(self, old: str, new: str) -> None:
        if not self.is_mounted:
            return
        self.query_one(f"#r-{old}", Button).remove_class("-active")
        self.query_one(f"#r-{new}", Button).add_class("-active")
        plot = self.query_one(ChannelPlot)
        plot.range = new
        plot.load_history()
        plot.redraw()
        self._update_status()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        if bid == "minmax":
            self.action_minmax()
        elif bid.startswith("r-"):
            self.range = bid[2:]

    def action_range(self, key: str) -> None:
        self.range = key

    def action_minmax(self) -> None:
        plot = self.query_one(ChannelPlot)
        plot.show_minmax = not plot.show_minmax
        plot.redraw()
        self._update_status()

    def action_close(self) -> None:
        self.dismiss(None)
