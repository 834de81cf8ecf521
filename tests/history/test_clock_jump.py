"""The history across a clock jump (issue 23 item 1): with the wall clock faked forward
and backward while readings arrive and flushes run, every 5-second, 1-minute and hourly
block is in the database exactly once: none lost, none duplicated; a period lived twice
(the clock set back over it) keeps one block per start whose minimum and maximum cover
both passes."""

from __future__ import annotations

from enerteg_tui.core.history import HistoryService
from enerteg_tui.core.quantities import Component

from .conftest import DAY0, Clock, feed, reading

V = ("aa01", "i", 1, "voltage")


def _starts(points) -> list[float]:
    return [p.t for p in points]


async def _all(history: HistoryService, tier: int, t0: float, t1: float):
    return await history.read(V, tier, t0, t1)


async def test_forward_jump_loses_and_duplicates_nothing(history: HistoryService,
                                                         clock: Clock) -> None:
    await feed(history, clock, 900)                  # DAY0 .. +900, flushed at 300/600/900
    before = await _all(history, 0, DAY0, DAY0 + 900)
    clock.t += 3 * 3600 + 17          # three hours later, an odd second (within the 4 h
    #                                   that the 5-second tier is kept: older blocks expire)
    jumped = clock.t
    await feed(history, clock, 600, flush_every=60)
    await history.flush(final=True)
    got = _starts(await _all(history, 0, DAY0, jumped + 700))
    first = [DAY0 + 5 * i for i in range(180)]
    j0 = (jumped // 5) * 5
    second = [j0 + 5 * i for i in range(int((jumped + 600 - j0 + 4) // 5))]
    assert got == first + second
    assert len(got) == len(set(got))
    # blocks written before the jump are unchanged by it
    assert await _all(history, 0, DAY0, DAY0 + 900) == before
    minutes = _starts(await history.read(V, 1, DAY0, jumped + 700))
    m0 = (jumped // 60) * 60
    assert minutes == ([DAY0 + 60 * i for i in range(15)]
                       + [m0 + 60 * i for i in range(int((jumped + 600 - m0 + 59) // 60))])
    hours = _starts(await history.read(V, 2, DAY0, jumped + 700))
    assert hours == sorted({DAY0, (jumped // 3600) * 3600, ((jumped + 599) // 3600) * 3600})


async def test_backward_jump_merges_the_overlap(history: HistoryService, clock: Clock) -> None:
    await feed(history, clock, 900)                  # DAY0 .. +900, flushed
    first = {p.t: p for p in await _all(history, 0, DAY0, DAY0 + 900)}
    clock.t = DAY0 + 300                             # set back ten minutes
    await feed(history, clock, 300)                  # lives DAY0+300 .. +600 again
    await feed(history, clock, 600, flush_every=10**9)   # runs on, not flushed yet
    await history.flush(final=True)
    got = await _all(history, 0, DAY0, DAY0 + 2000)
    starts = _starts(got)
    assert starts == [DAY0 + 5 * i for i in range(240)]    # up to +1200, each once
    by_t = {p.t: p for p in got}
    for t in range(int(DAY0) + 300, int(DAY0) + 600, 5):   # the overlap: both passes
        again = [reading(float(s))[(Component.INPUT, 1)]["voltage"] for s in range(t, t + 5)]
        assert by_t[t].min <= min(first[t].min, min(again)) + 0.01
        assert by_t[t].max >= max(first[t].max, max(again)) - 0.01
    for t in range(int(DAY0), int(DAY0) + 300, 5):          # before the overlap: untouched
        assert by_t[t] == first[t]
    minutes = _starts(await history.read(V, 1, DAY0, DAY0 + 2000))
    assert minutes == [DAY0 + 60 * i for i in range(20)]
    assert _starts(await history.read(V, 2, DAY0, DAY0 + 7200)) == [DAY0]
