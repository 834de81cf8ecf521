"""Fixtures of the console tests: a frozen controller, the App, and SVG snapshots in snapshots/.

``frozen`` is a controller on the seeded simulated ring whose clock never moves and
whose sweep interval is an hour, so only the first sweep happens and every value on
screen is the same on every run. Snapshots are taken with ``app.run_test()`` in the
test's own loop (the controller lives there too) and compared by syrupy against SVG
files in the repository's top-level ``snapshots/`` folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pytest_textual_snapshot import SVGImageExtension
from textual.pilot import Pilot
from textual.widgets import Input

from enerteg_tui.app import ConsoleApp
from enerteg_tui.controller import Controller
from enerteg_tui.core.permissions import Principal
from enerteg_tui.core.structure import Kind
from tests.conftest import principal
from tests.helpers import build_controller

FIXED_CLOCK = 1_750_000_000.0
"""2025-06-15 15:06:40 UTC: the time every snapshot shows."""

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "snapshots"
"""Top-level snapshots/ folder of the repository."""

SIZES = [(80, 24), (160, 48)]
"""Every screen is snapshotted at the minimum size and a wide one."""


class ConsoleSVG(SVGImageExtension):
    """pytest-textual-snapshot's SVG extension, writing into snapshots/<test module>/."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOT_DIR / test_location.basename)


async def build_frozen(tmp_path: Path, *, interval: float = 3600.0,
                       clock: Callable[[], float] | None = None) -> Controller:
    """A started controller on 8 simulated PDUs (seed 1) with a frozen clock and a DC tree.

    Structure: room "Hall A" → row "Row 1" → racks "Rack 1" (the controller PDU and
    PDU #1) and "Rack 2" (PDU #3); the rest is unassigned.
    """
    c = await build_controller(tmp_path / "data", pdus=8, interval=interval, seed=1,
                               serial_device="", clock=clock or (lambda: FIXED_CLOCK))
    admin = principal("admin")
    room = await c.structure.create(admin, Kind.ROOM, "Hall A")
    row = await c.structure.create(admin, Kind.ROW, "Row 1", room.id)
    r1 = await c.structure.create(admin, Kind.RACK, "Rack 1", row.id)
    r2 = await c.structure.create(admin, Kind.RACK, "Rack 2", row.id)
    ids = [d.hex_id for d in c.live.ordered()]
    await c.structure.assign(admin, ids[0], r1.id)
    await c.structure.assign(admin, ids[1], r1.id)
    await c.structure.assign(admin, ids[3], r2.id)
    return c


@pytest.fixture
async def frozen(tmp_path: Path) -> AsyncIterator[Controller]:
    """The deterministic controller of the snapshots (one sweep only)."""
    c = await build_frozen(tmp_path)
    yield c
    await c.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def frozen_shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Controller]:
    """One frozen controller for a whole snapshot module (its tests change nothing)."""
    c = await build_frozen(tmp_path_factory.mktemp("console"))
    yield c
    await c.stop()


@pytest.fixture
async def ticking(tmp_path: Path) -> AsyncIterator[Controller]:
    """The same ring and tree on the real clock, sweeping every 0.1 s (live updates, switching)."""
    c = await build_frozen(tmp_path, interval=0.1, clock=time.time)
    yield c
    await c.stop()


def make_app(controller: Controller, who: Principal | str = "admin", **kw: Any) -> ConsoleApp:
    """A console App for ``who`` (a role name or a principal), frozen clock, host ctl-test."""
    p = principal(who) if isinstance(who, str) else who
    kw.setdefault("hostname", "ctl-test")
    kw.setdefault("clock", lambda: FIXED_CLOCK)
    return ConsoleApp(controller.core, p, **kw)


async def settle(pilot: Pilot[Any]) -> None:
    """Let mounting, callbacks and pending refreshes finish; stop cursor blinking."""
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    for inp in pilot.app.screen.query(Input):
        inp.cursor_blink = False
    await pilot.pause()


@pytest.fixture
def snap(snapshot: Any) -> Callable[..., Awaitable[bool]]:
    """``await snap(app, size, run_before)``: run the app, act, compare its SVG screenshot."""
    svg_snapshot = snapshot.use_extension(ConsoleSVG)

    async def compare(app: ConsoleApp, size: tuple[int, int],
                      run_before: Callable[[Pilot[Any]], Awaitable[None]] | None = None) -> bool:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            if run_before is not None:
                await run_before(pilot)
                await settle(pilot)
            svg = app.export_screenshot(title="EnerTEG console")
        ok = bool(svg_snapshot == svg)
        if not ok and os.environ.get("CONSOLE_SNAP_DEBUG"):
            out = Path(os.environ["CONSOLE_SNAP_DEBUG"])
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{snapshot.test_location.testname}.svg").write_text(svg)
        return ok

    return compare
