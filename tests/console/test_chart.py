"""The measurement chart through the real keys and mouse (issue 18 item 6): a title in
words, clock-time ticks, 0 shown for a current, the cursor's read-out, zoom and pan,
the history ranges with the min/max band."""

from __future__ import annotations

import re

from textual.events import MouseScrollUp

from enerteg_tui.core.quantities import Channel, Component
from enerteg_tui.screens.chart import ChannelPlot, ChartScreen
from enerteg_tui.screens.chart_axes import readout
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle


def status(app) -> str:
    return str(app.screen.query_one("#status").render())


async def open_outlet_chart(app, pilot, hex_id: str, outlet: int, quantity: str) -> ChannelPlot:
    await app.open_place(Place("device", hex_id))
    await settle(pilot)
    app.push_screen(ChartScreen(Channel(hex_id, Component.OUTLET, outlet, quantity)))
    await settle(pilot)
    assert isinstance(app.screen, ChartScreen)
    return app.screen.query_one(ChannelPlot)


async def test_chart_opened_with_keys_reads_as_words_and_clock_time(ticking) -> None:
    hex_id = ticking.live.ordered()[0].hex_id
    app = make_app(ticking)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.open_place(Place("device", hex_id))
        await settle(pilot)
        await pilot.press("down", "down", "right", "right", "right", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ChartScreen)
        plot = app.screen.query_one(ChannelPlot)
        assert plot.title_text == "Input L1 · current (A)"
        await wait_for(lambda: len(plot.points) >= 3, timeout=10)
        plot.redraw()
        axis, ticks = plot.drawn
        assert axis.lo == 0 and axis.labels[0] == "0"          # a current shows 0
        assert ticks and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", label) for _, label in ticks)


async def test_cursor_reads_out_time_and_value_zoom_and_pan(ticking) -> None:
    hex_id = ticking.live.ordered()[0].hex_id
    app = make_app(ticking)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        plot = await open_outlet_chart(app, pilot, hex_id, 1, "voltage")
        await wait_for(lambda: len(plot.points) >= 12, timeout=30)
        await pilot.press("1")                                # realtime (already)
        await pilot.press("left")                              # the cursor appears...
        first = plot.cursor_t
        assert first is not None and status(app).startswith("▸ ")
        await pilot.press("left")                              # ...and moves a point back
        ts, vs, _, _ = plot.data()
        c = plot.cursor_index()
        assert plot.cursor_t < first and ts[c] == plot.cursor_t
        assert status(app) == f"▸ {readout('voltage', ts[c], vs[c])}"
        assert re.search(r"\d\d \w{3} \d{4} \d\d:\d\d:\d\d UTC · \d+\.\d\d V", status(app))
        axis, _ = plot.drawn
        assert axis.hi - axis.lo >= 0.05 * 230 * 0.9            # noise is not a cliff

        whole = plot.view()
        await pilot.press("plus")
        assert plot.window is not None and plot.view().span < whole.span * 0.6
        zoomed = plot.view()
        await pilot.press("left_square_bracket")
        assert plot.view().start <= zoomed.start
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert plot.view().start >= zoomed.start or plot.view().end == plot.bounds().end
        await pilot.press("minus", "minus", "minus")
        assert plot.window is None                             # back to the whole range
        await pilot.press("plus", "0")
        assert plot.window is None and plot.cursor_t is None
        assert not status(app).startswith("▸")


async def test_mouse_hover_moves_the_cursor_and_the_wheel_zooms(ticking) -> None:
    hex_id = ticking.live.ordered()[0].hex_id
    app = make_app(ticking)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        plot = await open_outlet_chart(app, pilot, hex_id, 1, "voltage")
        await wait_for(lambda: len(plot.points) >= 12, timeout=15)
        plot.redraw()
        left, width = plot.area
        await pilot.hover(ChannelPlot, offset=(left, plot.size.height // 2))
        await settle(pilot)
        assert plot.cursor_t == plot.data()[0][0]              # the left edge: the first point
        plot.redraw()
        n = len(plot.points)                                   # realtime keeps growing
        await pilot.hover(ChannelPlot, offset=(left + width - 1, plot.size.height // 2))
        assert plot.cursor_t == plot.data()[0][plot.cursor_index()]
        assert plot.cursor_index() >= n - 2                    # the right edge: the last
        assert status(app).startswith("▸ ")
        await pilot.click(ChannelPlot, offset=(left + width // 2, 3))
        assert plot.cursor_t is not None
        span = plot.view().span
        plot.post_message(MouseScrollUp(plot, left + width // 2, 5, 0, 0, 0, False, False,
                                        False))                # the wheel, as the driver sends it
        await wait_for(lambda: plot.window is not None)
        assert plot.view().span < span


async def test_history_range_with_minmax_band_and_named_outlet(ticking) -> None:
    live = ticking.live.ordered()[0]
    hex_id = live.hex_id
    outlets = live.info.settings.model_dump(mode="json", by_alias=True)["outlets"]
    outlets[2]["name"] = "web-01"
    await ticking.devices.update_settings(ADMIN, hex_id, {"outlets": outlets})
    app = make_app(ticking)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        plot = await open_outlet_chart(app, pilot, hex_id, 3, "current")
        assert plot.title_text == "Outlet 3 web-01 · current (A)"
        assert str(app.screen.query_one("Vertical").border_title).startswith("Chart · ")
        await pilot.press("2")                                 # 4 h from the history
        await wait_for(lambda: plot.series is not None and "loading" not in status(app),
                       timeout=20)
        await pilot.press("m")
        assert plot.show_minmax
        assert app.screen.query_one("#minmax").has_class("-active")
        _, ticks = plot.drawn
        bounds = plot.bounds()
        assert bounds.span == 4 * 3600
        assert all(re.fullmatch(r"\d\d:\d\d", label) for _, label in ticks)
        assert 3 <= len(ticks) <= 8
        if plot.series.t:                                      # blocks written so far
            await pilot.press("right")
            assert status(app).startswith("▸ ")
        for key, span in (("3", 3 * 86400), ("4", 7 * 86400)):
            await pilot.press(key)
            await wait_for(lambda: plot.series is not None, timeout=20)
            assert plot.bounds().span == span
            _, ticks = plot.drawn
            assert any(re.fullmatch(r"\d\d \w{3}", label) for _, label in ticks), ticks
        await pilot.press("6")
        await wait_for(lambda: plot.series is not None, timeout=20)
        _, ticks = plot.drawn
        assert all(re.fullmatch(r"[A-Z][a-z]{2}|\d{4}", label) for _, label in ticks), ticks
