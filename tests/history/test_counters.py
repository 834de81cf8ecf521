"""Issue 14 item 7: the history never stores an energy counter that went down.

A PDU restarted from older memory (or a meter fault) can report a smaller counter than
one already read; such a reading is refused, in the same run and after a restart of
the controller (the floor comes from the stored chunks).
"""

from __future__ import annotations

from pathlib import Path

from enerteg_tui.core.history import HistoryService
from enerteg_tui.core.live import LiveState
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.settings import CoreSettings

from .conftest import DAY0, Clock

E = ("aa01", "t", 0, "energy")
V = ("aa01", "t", 0, "voltage")


def _one(energy: float) -> dict:
    return {(Component.TOTAL, 0): {"energy": energy, "voltage": 230.0}}


async def _maxima(h: HistoryService, key: tuple, t1: float) -> list[float]:
    return [b.max for b in await h.read(key, 0, DAY0, t1)]


async def test_a_decreasing_counter_is_refused_in_one_run(history: HistoryService,
                                                          clock: Clock) -> None:
    values = [100.0, 100.5, 101.0, 90.0, 90.5, 101.5, 102.0]  # a PDU came back 11 kWh behind
    for v in values:
        history.collector.ingest("aa01", _one(v), clock.t)
        clock.t += 5
    await history.flush(final=True)
    maxima = await _maxima(history, E, clock.t)
    assert maxima == sorted(maxima) and 90.0 not in maxima and 90.5 not in maxima
    assert history.collector.refused == 2
    assert len(await history.read(V, 0, DAY0, clock.t)) == len(values)  # others untouched


async def test_the_floor_survives_a_controller_restart(tmp_path: Path) -> None:
    clock = Clock()
    h = HistoryService(tmp_path, LiveState(), lambda: CoreSettings(), clock=clock)
    await h.open()
    for v in (500.0, 500.25, 500.5):
        h.collector.ingest("aa01", _one(v), clock.t)
        clock.t += 5
    await h.stop()

    h = HistoryService(tmp_path, LiveState(), lambda: CoreSettings(), clock=clock)
    await h.open()
    assert h.collector.floors[E] == 500.5
    for v in (499.0, 499.5, 500.5, 501.0):
        h.collector.ingest("aa01", _one(v), clock.t)
        clock.t += 5
    await h.flush(final=True)
    maxima = await _maxima(h, E, clock.t)
    assert maxima == [500.0, 500.25, 500.5, 500.5, 501.0]
    assert h.collector.refused == 2
    await h.stop()
