"""A kill -9 between flushes loses only the unflushed blocks; the database always opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from enerteg_tui.core.history import HistoryService
from enerteg_tui.core.live import LiveState
from enerteg_tui.core.settings import CoreSettings

from .conftest import DAY0, Clock, feed

V = ("aa01", "i", 1, "voltage")

CHILD = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from tests.history.conftest import Clock, feed, DAY0
    from enerteg_tui.core.history import HistoryService
    from enerteg_tui.core.live import LiveState
    from enerteg_tui.core.settings import CoreSettings

    async def main():
        clock = Clock()
        h = HistoryService(Path(sys.argv[1]), LiveState(), lambda: CoreSettings(), clock=clock)
        await h.open()
        await feed(h, clock, 900)           # flushes at 300, 600 and 900
        await feed(h, clock, 200, flush_every=10**9)  # collected, never flushed
        print("ready", flush=True)
        time.sleep(60)

    asyncio.run(main())
""")


def test_kill_between_flushes_loses_only_unflushed_blocks(tmp_path: Path):
    root = Path(__file__).parents[2]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], cwd=root,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    import asyncio

    async def check() -> None:
        clock = Clock(DAY0 + 1100)
        h = HistoryService(tmp_path, LiveState(), lambda: CoreSettings(), clock=clock)
        await h.open()
        assert h.db is not None
        assert await h.db.store.fetchone("PRAGMA integrity_check") == ("ok",)
        blocks = await h.read(V, 0, DAY0, DAY0 + 2000)
        assert [b.t for b in blocks] == [DAY0 + 5 * i for i in range(180)]  # up to 900 s
        await feed(h, clock, 600)  # the controller runs again
        blocks = await h.read(V, 0, DAY0, clock.t)
        times = [b.t for b in blocks]
        assert times == sorted(set(times))
        assert not [t for t in times if DAY0 + 900 <= t < DAY0 + 1100]  # the lost blocks
        assert len([t for t in times if t >= DAY0 + 1100]) == 120
        await h.stop()

    asyncio.run(check())
