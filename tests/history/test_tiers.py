"""History tiers: roll-ups equal their inputs, restarts, clock jumps, queries (issue 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enerteg_tui.core.errors import Invalid
from enerteg_tui.core.history import TIERS, HistoryService
from enerteg_tui.core.history.collector import round_div
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.live import LiveState
from enerteg_tui.core.settings import CoreSettings

from .conftest import DAY0, Clock, feed

V = ("aa01", "i", 1, "voltage")
E = ("aa01", "t", 0, "energy")


def _check_rollup(fine, coarse, step: int, scale: float) -> None:
    """Each coarse block is min/max/mean-of-averages of the fine blocks inside it."""
    assert coarse, "no coarse blocks"
    for c in coarse:
        inside = [p for p in fine if c.t <= p.t < c.t + step]
        assert inside, f"coarse block at {c.t} has no inputs"
        assert c.min == min(p.min for p in inside)
        assert c.max == max(p.max for p in inside)
        want = round_div(sum(round(p.avg * scale) for p in inside), len(inside)) / scale
        assert c.avg == pytest.approx(want, abs=1e-9)


async def test_rollups_equal_min_max_avg_of_inputs(history: HistoryService, clock: Clock):
    await feed(history, clock, 2 * 86400 + 600, step=5)
    end = clock.t
    t5 = await history.read(V, 0, end - 4 * 3600, end)
    assert len(t5) > 2000 and all(b.t - a.t == 5 for a, b in zip(t5, t5[1:]))
    m1 = await history.read(V, 1, end - 4 * 3600, end - 3600)
    _check_rollup(t5, m1, 60, 100)
    m1_day = await history.read(V, 1, DAY0, DAY0 + 86400)
    h1 = await history.read(V, 2, DAY0, DAY0 + 86400)
    assert len(h1) == 24
    _check_rollup(m1_day, h1, 3600, 100)
    h1_two = await history.read(V, 2, DAY0, DAY0 + 2 * 86400)
    d1 = await history.read(V, 3, DAY0, DAY0 + 2 * 86400)
    assert len(d1) == 2
    _check_rollup(h1_two, d1, 86400, 100)
    # the database roll-up gives the same chunks as the in-memory one
    before = await history.read(V, 2, DAY0, DAY0 + 86400)
    await history.rollup_period(2, int(DAY0))
    assert await history.read(V, 2, DAY0, DAY0 + 86400) == before
    # 5 s blocks older than their retention are gone
    assert not await history.read(V, 0, DAY0, DAY0 + 3600)


async def test_restart_inside_a_period_leaves_no_gap_or_duplicate(tmp_path: Path, clock: Clock):
    core = CoreSettings()
    h = HistoryService(tmp_path, LiveState(), lambda: core, clock=clock)
    await h.open()
    await feed(h, clock, 1800 + 7)
    await h.stop()
    down_from = clock.t
    clock.t += 33  # the controller is down for 33 s, inside one hour and one 5-min chunk
    h = HistoryService(tmp_path, LiveState(), lambda: core, clock=clock)
    await h.open()
    await feed(h, clock, 3 * 3600)
    blocks = await h.read(V, 0, DAY0, clock.t)
    times = [b.t for b in blocks]
    assert times == sorted(set(times))
    missing = sorted(set(range(int(DAY0), int(clock.t) - 5, 5)) - set(int(t) for t in times))
    assert missing and all(down_from - 5 <= t < down_from + 33 for t in missing), missing
    # the hour with the restart was recomputed from the 5 s tier: equal to its inputs
    m1 = await h.read(V, 1, DAY0, DAY0 + 3600)
    assert len(m1) == 60
    _check_rollup(blocks, m1, 60, 100)
    await h.stop()


async def test_clock_jumps_do_not_corrupt_tiers(history: HistoryService, clock: Clock):
    await feed(history, clock, 2 * 3600)
    clock.t -= 1800  # set back half an hour
    await feed(history, clock, 3600)
    # blocks of the repeated half hour: one per time, the newer readings
    pts = await history.read(V, 0, DAY0 + 5400, DAY0 + 7200)
    assert len(pts) == 360
    clock.t += 30 * 86400  # and a month forward
    await feed(history, clock, 3600)
    clock.t -= 30 * 86400  # and back again
    await feed(history, clock, 600)
    for tier in range(len(TIERS)):
        pts = await history.read(V, tier, DAY0 - 86400, clock.t + 40 * 86400)
        times = [p.t for p in pts]
        assert times == sorted(set(times)), f"tier {tier} has duplicate or unsorted blocks"
        assert all(p.min <= p.avg <= p.max for p in pts)
    assert await history.read(V, 2, DAY0 + 30 * 86400, DAY0 + 31 * 86400)  # the future hours


async def test_queries_ranges_and_dc_aggregates(history: HistoryService, clock: Clock):
    devices = ("aa01", "aa02", "aa03")
    await feed(history, clock, 2 * 86400, step=10, devices=devices)
    s = await history.series(V, "4h")
    assert 0 < len(s.t) <= 360 and all(lo <= a <= hi for a, lo, hi in zip(s.avg, s.lo, s.hi))
    last = await history.read(V, 0, clock.t - 60, clock.t + 1)
    assert last[-1].t >= clock.t - 10  # the open block counts: current to the last 5 s
    for rng in ("3d", "week", "month", "year"):
        assert (await history.series(V, rng)).t
    one = await history.dc_series(list(devices), "current", 7, phase=1)
    per = [await history.read(("aa0%d" % i, "i", 1, "current"), 2, clock.t - 7 * 86400,
                              clock.t + 1) for i in (1, 2, 3)]
    assert one.avg[0] == pytest.approx(sum(p[0].avg for p in per))
    assert (await history.dc_series(list(devices), "residualCurrent", 1)).t
    with pytest.raises(Invalid, match="1, 7, 14 or 30"):
        await history.dc_series(list(devices), "current", 3)
    with pytest.raises(Invalid, match="range 'decade'"):
        await history.series(V, "decade")


async def test_energy_counter_survives_as_min_max(history: HistoryService, clock: Clock):
    await feed(history, clock, 3 * 3600, step=5)
    h1 = await history.read(E, 2, DAY0, DAY0 + 3 * 3600)
    assert len(h1) == 3
    assert h1[-1].max - h1[0].min == pytest.approx((clock.t - 5 - DAY0) / 3600 * 0.9, abs=0.02)


async def test_a_reading_that_arrives_after_its_block_was_flushed_is_combined(
        history: HistoryService, clock: Clock):
    """A poll stamped just before a flush boundary but ingested after the flush opens a
    second block with the same start: it is combined with the stored one, not put in
    its place (which lost every other sample of that block)."""
    key = (Component.INPUT, 1)
    for i, v in enumerate((230.0, 231.0, 232.0, 233.0)):          # 4 readings in [0, 5) s
        history.collector.ingest("aa01", {key: {"voltage": v}}, DAY0 + i)
    clock.t = DAY0 + 5.2
    await history.flush()
    [stored] = await history.read(("aa01", "i", 1, "voltage"), 0, DAY0, DAY0 + 5)
    assert (stored.min, stored.max) == (230.0, 233.0)
    history.collector.ingest("aa01", {key: {"voltage": 229.0}}, DAY0 + 4.5)   # late
    history.collector.ingest("aa01", {key: {"voltage": 230.0}}, DAY0 + 5.5)   # next block
    clock.t = DAY0 + 10.2
    await history.flush()
    blocks = await history.read(("aa01", "i", 1, "voltage"), 0, DAY0, DAY0 + 10)
    assert [b.t for b in blocks] == [DAY0, DAY0 + 5]
    first = blocks[0]
    assert (first.min, first.max) == (229.0, 233.0)           # nothing of the block is lost
    assert first.min <= first.avg <= first.max
