"""The console's one-line header: host, user and role, alarm counters, ring state, clock.

Redrawn once a second for the clock (from the session's clock, which snapshots
freeze) and on ring events; alarm counts come from ``queries.alarm_counts`` so the
alarms issue only has to give the controller an ``alarms`` service.
"""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from ..core.events import Batch
from ..core.timesync import local_text
from ..core.i18n import _
from .context import LiveListener, console_context
from .queries import alarm_counts, ring_text

__all__ = ["StatusHeader"]

CLOCK_TICK_S = 1.0
"""Header clock resolution."""


class StatusHeader(LiveListener, Widget):
    """Header line of every console screen."""

    LIVE_KINDS = ("ring", "alarm")
    LIVE_VALUES = False
    LIVE_TICK = True

    DEFAULT_CSS = """
    StatusHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    _painted = 0.0
    _line: Strip | None = None

    def on_mount(self) -> None:
        self.listen()
        self.set_interval(CLOCK_TICK_S / 4, self._tick)

    def _tick(self) -> None:
        # the clock moves with each sweep's batch (one frame for data and clock); this
        # timer only keeps it going between slow sweeps
        if time.monotonic() - self._painted >= CLOCK_TICK_S:
            self._paint()

    def _paint(self) -> None:
        self._painted = time.monotonic()
        line = self._render_strip()
        if self._line is None or line.text != self._line.text or line != self._line:
            self._line = line
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line = None

    def render_line(self, y: int) -> Strip:
        """The header as one strip, drawn without Textual's text layout (which cost
        ~2 ms per second per session for one line)."""
        if y:
            return Strip.blank(self.size.width, self.rich_style)
        if self._line is None or self._line.cell_length != self.size.width:
            self._line = self._render_strip()
        return self._line

    def _render_strip(self) -> Strip:
        base = self.rich_style
        segments = Segment.apply_style(self.render().render(self.app.console), base)
        return Strip(segments).adjust_cell_length(self.size.width, base)

    def on_live_batch(self, batch: Batch) -> None:
        self._paint()

    def render(self) -> Text:
        ctx = console_context(self)
        c = ctx.core
        alarms = alarm_counts(c)
        ring, ring_style = ring_text(c)
        # in the zone of config/time; "Z" for UTC (core.timesync.local_text)
        clock, zone = local_text(c.config, ctx.clock(), "%Y-%m-%d %H:%M:%S|%Z").split("|")
        zone = "Z" if zone == "UTC" else f" {zone}"
        left = Text()
        left.append(" EnerTEG ", style="bold reverse")
        left.append(f" {ctx.hostname} ", style="bold")
        left.append(f"{ctx.principal.user}({ctx.principal.role_names}) ")
        width = self.size.width
        right = self._right(alarms.red, alarms.yellow, ring, ring_style, clock + zone)
        if len(left) + len(right) > width:
            # narrow terminal: the time of day is enough
            right = self._right(alarms.red, alarms.yellow, ring, ring_style, clock[11:] + zone)
        pad = max(1, width - len(left) - len(right))
        return Text.assemble(left, " " * pad, right)

    @staticmethod
    def _right(red: int, yellow: int, ring: str, ring_style: str, clock: str) -> Text:
        right = Text()
        right.append(_("Alarms") + " ")
        right.append(f"✖{red}", style="bold red" if red else "")
        right.append(" ")
        right.append(f"▲{yellow}", style="bold yellow" if yellow else "")
        right.append("  ")
        right.append(ring, style=ring_style)
        right.append(f"  {clock} ")
        return right
