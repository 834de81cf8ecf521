"""The chart arithmetic (issue 18 item 6): clock-time ticks, a y axis that does not zoom
noise into a cliff, the cursor lookup, zoom and pan, the band, titles in words."""

from __future__ import annotations

import calendar

from enerteg_tui.core.quantities import Component
from enerteg_tui.screens.chart_axes import (
    Window, band_path, chart_title, nearest, readout, time_at, time_label, time_ticks, y_axis,
)

T0 = calendar.timegm((2025, 6, 15, 14, 3, 20))
"""Sunday 15 June 2025 14:03:20 UTC."""


def labels(ticks):
    return [label for _, label in ticks]


def test_four_hours_read_as_clock_times_on_round_hours() -> None:
    ticks = time_ticks(T0 - 4 * 3600, T0, width=70)
    assert labels(ticks) == ["11:00", "12:00", "13:00", "14:00"]
    assert all(t % 3600 == 0 for t, _ in ticks)


def test_realtime_minutes_and_seconds() -> None:
    assert labels(time_ticks(T0 - 300, T0, width=70)) == [
        "13:59", "14:00", "14:01", "14:02", "14:03"]
    assert labels(time_ticks(T0 - 30, T0, width=70))[0].count(":") == 2   # 14:02:50


def test_days_show_dates_at_midnight_and_hours_between() -> None:
    got = labels(time_ticks(T0 - 3 * 86400, T0, width=70))
    assert "13 Jun" in got and "14 Jun" in got and "15 Jun" in got
    assert "12:00" in got
    week = labels(time_ticks(T0 - 7 * 86400, T0, width=70))
    assert all(" Jun" in w for w in week) and len(week) <= 7


def test_a_year_reads_as_months_and_the_new_year() -> None:
    got = labels(time_ticks(T0 - 366 * 86400, T0, width=150))
    assert "2025" in got and "Jul" in got and "Dec" in got
    narrow = time_ticks(T0 - 366 * 86400, T0, width=40)
    assert 2 <= len(narrow) <= 4


def test_ticks_fit_the_width() -> None:
    for span in (60, 3600, 4 * 3600, 86400, 3 * 86400, 31 * 86400, 366 * 86400):
        for width in (30, 70, 150):
            ticks = time_ticks(T0 - span, T0, width)
            assert 1 <= len(ticks) <= max(2, width // 10), (span, width, ticks)
            assert all(T0 - span <= t <= T0 for t, _ in ticks)


def test_time_label_formats() -> None:
    midnight = calendar.timegm((2025, 6, 15, 0, 0, 0))
    assert time_label(midnight, 86400, 3600) == "00:00"
    assert time_label(midnight, 3 * 86400, 6 * 3600) == "15 Jun"
    assert time_label(calendar.timegm((2026, 1, 1, 0, 0, 0)), 366 * 86400, 30 * 86400) == "2026"


def test_voltage_noise_stays_flat() -> None:
    axis = y_axis([230.1, 230.4, 229.9, 230.3], "voltage")
    assert axis.hi - axis.lo >= 0.05 * 230          # ±0.3 V of noise is a small wiggle
    assert axis.lo < 229.9 and axis.hi > 230.4
    assert axis.lo > 200                             # but the axis does not start at 0


def test_current_and_power_show_zero() -> None:
    axis = y_axis([1.21, 1.22, 1.23], "current")
    assert axis.lo == 0 and axis.hi >= 1.23 and "0" in axis.labels
    power = y_axis([150.0, 151.0], "activePower")
    assert power.lo == 0 and power.hi >= 151
    reactive = y_axis([-10.6, -9.2], "reactivePower")
    assert reactive.hi == 0 and reactive.lo <= -10.6


def test_a_switched_off_outlet_is_not_a_cliff() -> None:
    axis = y_axis([0.0, 0.0, 0.0], "current")
    assert axis.lo == 0 and 0.1 <= axis.hi <= 0.2    # ten display steps, some headroom
    assert y_axis([], "voltage").hi > y_axis([], "voltage").lo


def test_y_ticks_are_round_and_labelled_alike() -> None:
    axis = y_axis([1.234, 7.91], "current")
    steps = {round(b - a, 9) for a, b in zip(axis.ticks, axis.ticks[1:])}
    assert len(steps) == 1
    assert len({len(label.split(".")[-1]) for label in axis.labels if "." in label}) <= 1
    assert axis.ticks[0] == axis.lo and axis.ticks[-1] == axis.hi


def test_nearest_point() -> None:
    ts = [0.0, 10.0, 20.0, 30.0]
    assert nearest(ts, -5) == 0 and nearest(ts, 99) == 3
    assert nearest(ts, 14) == 1 and nearest(ts, 16) == 2 and nearest(ts, 15) == 1
    assert nearest([], 1) == -1


def test_zoom_and_pan_stay_inside_the_data() -> None:
    bounds = Window(0.0, 1000.0)
    w = bounds.zoom(0.5, 500.0, bounds, min_span=10)
    assert (w.start, w.end) == (250.0, 750.0)
    w2 = w.zoom(0.5, 250.0, bounds, min_span=10)     # around the left edge
    assert (w2.start, w2.end) == (250.0, 500.0)
    assert w.pan(-10, bounds) == Window(0.0, 500.0)   # cannot leave the data
    assert w.pan(0.25, bounds) == Window(375.0, 875.0)
    tiny = bounds.zoom(1e-6, 500.0, bounds, min_span=10)
    assert tiny.span == 10
    assert w.zoom(100, 500.0, bounds, min_span=10) == bounds


def test_mouse_column_to_time() -> None:
    w = Window(100.0, 200.0)
    assert time_at(10, 10, 51, w) == 100.0
    assert time_at(60, 10, 51, w) == 200.0
    assert time_at(35, 10, 51, w) == 150.0
    assert time_at(0, 10, 51, w) == 100.0 and time_at(99, 10, 51, w) == 200.0


def test_readout_names_time_value_and_spread() -> None:
    assert readout("current", T0, 1.234) == "15 Jun 2025 14:03:20 UTC · 1.23 A"
    assert readout("current", T0, 1.2, 1.1, 1.4).endswith("(min 1.10 A, max 1.40 A)")


def test_band_path_strokes_every_point() -> None:
    xs, ys = band_path([0, 1, 2], [1, 2, 3], [5, 6, 7])
    assert xs == [0, 0, 1, 1, 2, 2] and ys == [1, 5, 6, 2, 3, 7]


def test_titles_in_words() -> None:
    assert chart_title(Component.OUTLET, 3, "web-01", "current") == "Outlet 3 web-01 · current (A)"
    assert chart_title(Component.OUTLET, 3, "Outlet # 3", "current") == "Outlet 3 · current (A)"
    assert chart_title(Component.INPUT, 1, "L1", "voltage") == "Input L1 · voltage (V)"
    assert chart_title(Component.TOTAL, 0, None, "activePower") == "PDU totals · active power (W)"
    assert chart_title(Component.OUTLET, 2, "db", "powerFactor") == "Outlet 2 db · power factor"
