"""The export's worker threads give the event loop a turn by handing it back, not by
sleeping a guessed moment (``LoopTurn`` in core/export/rows.py)."""

from __future__ import annotations

import asyncio
import time
from array import array

from enerteg_tui.core.export.rows import PACE_ROWS, ChannelMeta, LoopTurn, Period, encode_rows


async def test_a_turn_returns_once_the_loop_has_run_what_was_ready() -> None:
    loop = asyncio.get_running_loop()
    turn = LoopTurn(loop)
    seen: list[str] = []

    def worker() -> list[str]:
        loop.call_soon_threadsafe(seen.append, "loop ran")
        turn()
        return list(seen)

    assert await asyncio.to_thread(worker) == ["loop ran"]


def test_a_turn_on_a_closed_loop_returns_at_once() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    t0 = time.perf_counter()
    LoopTurn(loop)()
    assert time.perf_counter() - t0 < 0.1


async def test_encoding_gives_the_loop_a_turn_every_pace_rows() -> None:
    n = 2 * PACE_ROWS + 10
    cols = (array("q", range(n)), array("q", [1] * n), array("q", [3] * n), array("q", [2] * n))
    meta = {i: ChannelMeta(device="0A1B2C", device_name="PDU", component="inlet", index=1,
                           quantity="voltage", unit="V", scale=1.0) for i in range(n)}
    loop = asyncio.get_running_loop()
    real = LoopTurn(loop)
    turns: list[float] = []

    def turn() -> None:
        turns.append(time.perf_counter())
        real()

    for fmt, expected in (("csv", 3), ("jsonl", 2)):   # after each slice / every PACE_ROWS
        turns.clear()
        batch = await asyncio.to_thread(encode_rows, [5], Period({5: cols}, 0), meta, fmt, 10,
                                        turn)
        assert batch.rows == n and batch.data.count(b"\n") == n
        assert len(turns) == expected, fmt
