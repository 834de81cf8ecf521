"""Measurement chart of one channel (manual §7.2.2, §8.5), drawn with plotext via textual-plotext.

Realtime shows the channel's values as they arrive from live state while the chart
is open (no polling: it listens to the event bus). The ranges 4 h / 3 d / week /
month / year ask ``core.history.series(channel, range)`` in a worker (the
query never blocks the screen) and draw the averages, with the minima and maxima as a
band when the min/max toggle is on. A controller without a history service says so.

The axes, the cursor, zoom and pan are computed by ``screens.chart_axes`` (clock-time
ticks, a y axis that keeps noise flat and shows 0 for currents and powers); this
module only feeds it the series and draws what it returns. Keys: ``1``–``6`` range,
←/→ cursor (reads out the exact time and value, the web's hover pop-up), ``+``/``-``
zoom, ``[``/``]`` pan, ``0`` whole range, ``m`` min/max band, esc close. The mouse:
hover or click moves the cursor, the wheel zooms.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual_plotext import PlotextPlot

from ..core.events import Batch
from ..core.history import RANGES as HISTORY_RANGES
from ..core.quantities import Channel, Component, format_value
from .chart_axes import Window, YAxis, band_path, chart_title, nearest, readout, time_at, time_ticks, y_axis
from .cells import node_zone
from .context import LiveListener, console_context

__all__ = ["RANGES", "ChannelPlot", "ChartScreen", "part_name"]

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
ZOOM_STEP = 0.5
"""``+`` halves the time window, ``-`` doubles it."""
PAN_STEP = 0.25
"""``[`` and ``]`` move the window by a quarter of its width."""
MIN_POINTS_SHOWN = 4
"""Zooming in stops when the window holds about this many points."""


def part_name(info: Any, component: Component, index: int) -> str | None:
    """The name the operator gave the part (outlet, input, branch, sensor), if any."""
    s = info.settings
    names = {Component.INPUT: s.input_names, Component.BRANCH: s.branch_names,
             Component.SENSOR: s.sensor_names}.get(component)
    if component is Component.OUTLET:
        return s.outlets[index - 1].name if 0 < index <= len(s.outlets) else None
    if names is not None and 0 < index <= len(names):
        return str(names[index - 1])
    return None


class ChannelPlot(LiveListener, PlotextPlot):
    """The plot; collects realtime values of its channel from the event bus, and holds
    the time window, the cursor and the loaded history range."""

    LIVE_KINDS = ()

    def live_devices(self) -> list[str]:
        """Only the charted PDU's changes wake the plot."""
        return [self.channel.device]

    class Sampled(Message):
        """A new realtime value arrived; handled by ``on_channel_plot_sampled``."""

    class HistoryLoaded(Message):
        """A history range arrived; handled by ``on_channel_plot_history_loaded``."""

    class CursorMoved(Message):
        """The cursor or the window moved; handled by ``on_channel_plot_cursor_moved``."""

    def __init__(self, channel: Channel, *, title: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.channel = channel
        self.title_text = title or chart_title(channel.component, channel.index, None,
                                               channel.quantity)
        """The chart's title in words (``Outlet 3 web-01 · current (A)``)."""
        self.points: deque[tuple[float, float]] = deque(maxlen=REALTIME_POINTS)
        self.range = "live"
        self.show_minmax = False
        self.series: Any = None
        """The loaded history range (``core.history.Series``), or None."""
        self.loaded_at = 0.0
        """The clock when the history range was asked for (its right edge)."""
        self.window: Window | None = None
        """The time window shown; None = the whole range (realtime: following new values)."""
        self.cursor_t: float | None = None
        """The time the cursor is on; None = no cursor."""
        self.area = (0, 1)
        """(first column, width) of the data area in the last drawing, for the mouse."""
        self.drawn: tuple[YAxis, list[tuple[float, str]]] | None = None
        """The y axis and the time ticks of the last drawing."""

    def on_mount(self) -> None:
        self._sample()
        self.listen()
        self.redraw()

    # ------------------------------------------------------------------ data
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

    def data(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """(times, averages, minima, maxima) of the range shown (realtime: min = max = value)."""
        if self.range == "live":
            ts = [t for t, _ in self.points]
            vs = [v for _, v in self.points]
            return ts, vs, vs, vs
        s = self.series
        if s is None or not s.t:
            return [], [], [], []
        return list(s.t), list(s.avg), list(s.lo), list(s.hi)

    def bounds(self) -> Window:
        """The whole range: realtime from the first to the last value, a history range
        its span up to now (or up to its last block, if that is later)."""
        ts = self.data()[0]
        if self.range == "live":
            if not ts:
                now = console_context(self).clock()
                return Window(now - 60, now)
            return Window(ts[0], ts[-1]) if ts[-1] - ts[0] >= 1 else Window(ts[-1] - 1, ts[-1])
        end = max(self.loaded_at, ts[-1] if ts else 0.0)
        return Window(end - HISTORY_RANGES[self.range].span_s, end)

    def view(self) -> Window:
        """The window shown: the zoomed one, or the whole range."""
        bounds = self.bounds()
        return self.window.clamp(bounds, 0.0) if self.window is not None else bounds

    def min_span(self) -> float:
        """The narrowest window zooming in reaches (a few points, at least 1 s)."""
        ts = self.data()[0]
        gap = (ts[-1] - ts[0]) / (len(ts) - 1) if len(ts) > 1 else 1.0
        return max(1.0, gap * MIN_POINTS_SHOWN)

    def cursor_index(self) -> int:
        """Index (into ``data()``) of the point under the cursor; -1 without one."""
        if self.cursor_t is None:
            return -1
        return nearest(self.data()[0], self.cursor_t)

    # ------------------------------------------------------------------ live
    def on_live_batch(self, batch: Batch) -> None:
        groups = batch.live.get(self.channel.device)
        if groups and (self.channel.component, self.channel.index) in groups and self._sample():
            if self.range == "live":
                self.redraw()
            self.post_message(self.Sampled())

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Draw the current range, window, band and cursor."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        ts, avg, lo, hi = self.data()
        w = self.view()
        zoomed = " · zoomed" if self.window is not None else ""
        plt.title(f"{self.title_text} · {RANGES[self.range]}{zoomed}")
        i0 = max(0, nearest(ts, w.start) - 1) if ts else 0
        i1 = min(len(ts), nearest(ts, w.end) + 2) if ts else 0
        band = self.show_minmax and self.range != "live"
        shown = avg[i0:i1] + (lo[i0:i1] + hi[i0:i1] if band else [])
        axis = y_axis(shown, self.channel.quantity)
        left = max(len(label) for label in axis.labels) + 1
        width = max(2, self.size.width - left - 1)
        self.area = (left, width)
        plt.xlim(0, w.span)
        plt.ylim(axis.lo, axis.hi)
        plt.yticks(axis.ticks, axis.labels)
        tz = node_zone(self)
        ticks = time_ticks(w.start, w.end, width, tz)
        plt.xticks([t - w.start for t, _ in ticks], [label for _, label in ticks])
        self.drawn = (axis, ticks)
        plt.xlabel(dt.datetime.fromtimestamp(w.end, tz).strftime("%Z"))
        if not ts[i0:i1]:                   # plotext draws no ticks without data:
            plt.plot([0.0], [axis.lo], marker=" ")  # the empty range still shows its times
        else:
            xs = [t - w.start for t in ts[i0:i1]]
            if band:
                bx, by = band_path(xs, lo[i0:i1], hi[i0:i1])
                plt.plot(bx, by, marker="braille", color="gray")
            plt.plot(xs, avg[i0:i1], marker="braille")
            c = self.cursor_index()
            if c >= 0 and w.start <= ts[c] <= w.end:
                x = ts[c] - w.start
                plt.vline(x, "gray")
                plt.scatter([x], [avg[c]], marker="●")
        self.refresh()

    # ------------------------------------------------------------------ cursor, window
    def move_cursor(self, steps: int) -> None:
        """Move the cursor ``steps`` points (it appears on the last point shown); the
        window follows it when it leaves."""
        ts = self.data()[0]
        if not ts:
            return
        w = self.view()
        c = self.cursor_index()
        if c < 0 or not (w.start <= ts[c] <= w.end):
            c = nearest(ts, w.end) if steps < 0 or c < 0 else nearest(ts, w.start)
            c = min(max(c, 0), len(ts) - 1)
        else:
            c = min(max(c + steps, 0), len(ts) - 1)
        self.cursor_t = ts[c]
        if self.window is not None and not (w.start <= ts[c] <= w.end):
            shift = ts[c] - (w.end if ts[c] > w.end else w.start)
            self.window = Window(w.start + shift, w.end + shift).clamp(self.bounds(), 0.0)
        self._moved()

    def cursor_at_column(self, column: int) -> None:
        """Put the cursor on the point nearest to a cell column of the plot (mouse)."""
        ts = self.data()[0]
        if ts:
            left, width = self.area
            t = ts[nearest(ts, time_at(column, left, width, self.view()))]
            if t != self.cursor_t:          # a mouse move within one point draws nothing
                self.cursor_t = t
                self._moved()

    def zoom(self, factor: float) -> None:
        """Zoom the time axis by ``factor`` around the cursor (or the window's middle)."""
        w = self.view()
        center = self.cursor_t if self.cursor_t is not None else (w.start + w.end) / 2
        bounds = self.bounds()
        new = w.zoom(factor, center, bounds, self.min_span())
        self.window = None if new == bounds else new
        self._moved()

    def pan(self, fraction: float) -> None:
        """Move the window by ``fraction`` of its width (only when zoomed in)."""
        if self.window is not None:
            self.window = self.view().pan(fraction, self.bounds())
            self._moved()

    def reset_view(self) -> None:
        """The whole range again, without a cursor."""
        self.window = None
        self.cursor_t = None
        self._moved()

    def _moved(self) -> None:
        self.redraw()
        self.post_message(self.CursorMoved())

    def readout(self) -> str | None:
        """The cursor's time and value (with min and max of a block), or None."""
        c = self.cursor_index()
        if c < 0:
            return None
        ts, avg, lo, hi = self.data()
        return readout(self.channel.quantity, ts[c], avg[c], lo[c], hi[c], node_zone(self))

    # ------------------------------------------------------------------ mouse
    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self.data()[0]:
            self.cursor_at_column(event.x)

    def on_click(self, event: events.Click) -> None:
        self.cursor_at_column(event.x)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.cursor_at_column(event.x)
        self.zoom(ZOOM_STEP)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.zoom(1 / ZOOM_STEP)

    # ------------------------------------------------------------------ history
    @property
    def history(self) -> Any:
        """The controller's history service, or None."""
        return getattr(console_context(self).core, "history", None)

    def load_history(self) -> None:
        """Query the current range in a worker; ``HistoryLoaded`` follows."""
        self.series = None
        self.loaded_at = console_context(self).clock()
        if self.history is not None and self.range != "live":
            self.run_worker(self._load(self.range), exclusive=True, group="history")

    async def _load(self, range_key: str) -> None:
        series = await self.history.series(self.channel, range_key)
        if range_key == self.range:
            self.series = series
            self.redraw()
            self.post_message(self.HistoryLoaded())


class ChartScreen(ModalScreen[None]):
    """Pop-up chart of one channel: range buttons, min/max band, cursor, zoom and pan."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("m", "minmax", "Min/max"),
        Binding("left", "cursor(-1)", "Cursor", show=False),
        Binding("right", "cursor(1)", "Cursor", show=False),
        Binding("shift+left", "cursor(-10)", "Cursor ×10", show=False),
        Binding("shift+right", "cursor(10)", "Cursor ×10", show=False),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", show=False),
        Binding("minus", "zoom(2)", "Zoom out", show=False),
        Binding("left_square_bracket", "pan(-0.25)", "Pan back", show=False),
        Binding("right_square_bracket", "pan(0.25)", "Pan on", show=False),
        Binding("0", "whole", "Whole range", show=False),
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
        live = console_context(self).core.live.get(channel.device)
        info = live.info if live is not None else None
        name = part_name(info, channel.component, channel.index) if info is not None else None
        self.title_text = chart_title(channel.component, channel.index, name, channel.quantity)
        """The chart's title in words."""
        self.device_text = info.display_name if info is not None else channel.device

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Chart · {self.device_text}"  # the plot's title says what
            box.border_subtitle = "←→ cursor · +/- zoom · [ ] pan · 0 all · m min/max · esc"
            with Horizontal(id="ranges"):
                for n, (key, label) in enumerate(RANGES.items(), 1):
                    yield Button(f"{n} {label}", id=f"r-{key}", compact=True)
                yield Button("m Min/max", id="minmax", compact=True)
            yield Static("", id="status")
            yield ChannelPlot(self.channel, title=self.title_text, id="plot")

    def on_mount(self) -> None:
        self._update_status()
        self.query_one(f"#r-{self.range}", Button).add_class("-active")

    @property
    def plot(self) -> ChannelPlot:
        """The plot widget."""
        return self.query_one(ChannelPlot)

    def _update_status(self) -> None:
        plot = self.plot
        status = self.query_one("#status", Static)
        cursor = plot.readout()
        if cursor is not None:
            status.update(f"▸ {cursor}")
            return
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
                      f"{dt.datetime.fromtimestamp(clock(), node_zone(self)):%H:%M:%S %Z}")

    def on_channel_plot_sampled(self, event: ChannelPlot.Sampled) -> None:
        self._update_status()

    def on_channel_plot_history_loaded(self, event: ChannelPlot.HistoryLoaded) -> None:
        self._update_status()

    def on_channel_plot_cursor_moved(self, event: ChannelPlot.CursorMoved) -> None:
        self._update_status()

    def watch_range(self, old: str, new: str) -> None:
        if not self.is_mounted:
            return
        self.query_one(f"#r-{old}", Button).remove_class("-active")
        self.query_one(f"#r-{new}", Button).add_class("-active")
        plot = self.plot
        plot.range = new
        plot.window = None
        plot.cursor_t = None
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
        """Show a range: realtime, 4 h, 3 d, week, month, year."""
        self.range = key

    def action_minmax(self) -> None:
        """Show or hide the minima and maxima (a band behind the averages)."""
        plot = self.plot
        plot.show_minmax = not plot.show_minmax
        self.query_one("#minmax", Button).set_class(plot.show_minmax, "-active")
        plot.redraw()
        self._update_status()

    def action_cursor(self, steps: int) -> None:
        """Move the cursor by points; it reads out time and value in the status line."""
        self.plot.move_cursor(steps)

    def action_zoom(self, factor: float) -> None:
        """Zoom the time axis in (< 1) or out (> 1) around the cursor."""
        self.plot.zoom(factor)

    def action_pan(self, fraction: float) -> None:
        """Move the zoomed window back (< 0) or on (> 0) in time."""
        self.plot.pan(fraction)

    def action_whole(self) -> None:
        """The whole range again, cursor off."""
        self.plot.reset_view()
        self._update_status()

    def action_close(self) -> None:
        """Back to the page."""
        self.dismiss(None)
