"""Fixtures for the history tests: a simulated clock and a history service on a temp dir."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from enerteg_tui.core.history import HistoryService
from enerteg_tui.core.live import LiveState
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.settings import CoreSettings

DAY0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z: a day boundary, so tier periods start cleanly."""


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, t: float = DAY0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def reading(t: float, dev: int = 0) -> dict:
    """Deterministic readings of a small PDU at time ``t``."""
    v = 230 + 2 * math.sin(t / 700 + dev) + ((int(t) * 7919) % 13) / 100
    cur = 4 + 3 * math.sin(t / 5000 + dev) + ((int(t) * 104729) % 17) / 50
    return {
        (Component.INPUT, 1): {"voltage": v, "current": cur, "activePower": v * cur * 0.95},
        (Component.TOTAL, 0): {"current": cur, "energy": t / 3600 * 0.9,
                                "residualCurrent": 3 + (int(t) % 5) / 10},
    }


async def feed(h: HistoryService, clock: Clock, seconds: int, *, step: int = 1,
               devices: tuple[str, ...] = ("aa01",), flush_every: int = 300) -> None:
    """Feed readings every ``step`` s for ``seconds``, flushing like the service does."""
    for _ in range(0, seconds, step):
        for n, d in enumerate(devices):
            h.collector.ingest(d, reading(clock.t, n), clock.t)
        clock.t += step
        if int(clock.t) % flush_every == 0:
            await h.flush()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def history(tmp_path: Path, clock: Clock) -> AsyncIterator[HistoryService]:
    h = HistoryService(tmp_path, LiveState(), lambda: CoreSettings(), clock=clock)
    await h.open()
    yield h
    if h.db is not None:
        await h.db.close()
