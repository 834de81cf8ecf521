"""The culling compositor and the fast key path paint exactly what Textual would (issue 5).

The console runs on the SSH transport's driver into a real terminal emulator (pyte):
after live updates, cursor moves, tab and page changes, the emulator's screen
(built from partial updates only) must equal a full render of the same state. A widget
wrongly skipped by ``CullingCompositor`` would leave stale text on the emulator.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pyte

from enerteg_tui.protocols.console_session import run_console_once
from enerteg_tui.screens.compositor import CullingCompositor
from enerteg_tui.screens.livetable import LiveTable
from enerteg_tui.screens.tree import Place
from tests.conftest import principal
from tests.helpers import wait_for

COLS, ROWS = 100, 30


class PyteTransport:
    """A terminal for the console: frames go into pyte, like an SSH client's screen."""

    def __init__(self) -> None:
        self.driver: Any = None
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.Stream(self.screen)

    def write(self, text: str) -> None:
        self.stream.feed(text)

    @property
    def size(self) -> tuple[int, int]:
        return COLS, ROWS

    def close(self) -> None:
        pass


def _full_render(app: Any) -> list[str]:
    strips = app.screen._compositor.render_strips()
    return [s.text.ljust(COLS)[:COLS] for s in strips][:ROWS]


def _emulated(t: PyteTransport) -> list[str]:
    return [line[:COLS] for line in t.screen.display]


def _clean(app: Any) -> bool:
    """Nothing changed since the last frame: no visible widget, the screen or its
    compositor has a change waiting to be painted."""
    screen = app.screen
    if screen._dirty_widgets or screen._compositor._dirty_regions or screen._layout_required:
        return False
    # (a container may keep repaint regions Textual never collects; it draws no data)
    return not any(w._repaint_regions and not w._nodes
                   for w in screen._compositor.visible_widgets)


async def _settled_pair(app: Any, t: PyteTransport,
                        label: str) -> tuple[list[str], list[str]] | None:
    """(emulator lines, full render lines) taken together at a moment nothing is pending
    (with sweeps every 0.1 s a change can land between two awaits, never inside this);
    None if no such moment came within five seconds (a loaded machine paints late)."""
    for _ in range(500):
        await asyncio.sleep(0.01)
        if _clean(app):
            return _emulated(t), _full_render(app)
    return None


async def test_partial_updates_equal_a_full_render(ticking) -> None:
    """Live values (0.1 s sweeps), cursor keys through the fast path, tab and page
    changes: the emulator always shows what a full render shows."""
    t = PyteTransport()
    checks: list[tuple[str, list[str], list[str]]] = []
    done = asyncio.Event()
    errors: list[Exception] = []
    skipped_before = CullingCompositor.skipped

    async def pump(app: Any) -> None:
        try:
            await wait_for(lambda: getattr(app, "main", None) is not None
                           and app.main.current is not None, timeout=10, step=0.05)
            hex_id = ticking.live.ordered()[0].hex_id
            app.call_later(app.open_place, Place("device", hex_id))
            await asyncio.sleep(1.0)
            app.call_later(lambda: app.screen.query_one("#inputs").focus())
            await asyncio.sleep(0.3)

            async def check(label: str) -> None:
                await asyncio.sleep(0.15)
                # the sweeps (every 0.1 s) pause while the two are compared: on a loaded
                # machine live values otherwise never leave a moment with nothing pending
                await ticking.poller.stop()
                try:
                    pair = await _settled_pair(app, t, label)
                finally:
                    await ticking.poller.start()
                if pair is not None:
                    checks.append((label, *pair))

            await check("device view, live")
            for key in ("\x1b[B", "\x1b[B", "\x1b[A"):
                t.driver.feed(key)
                await check(f"cursor {key!r}")
            await asyncio.sleep(0.5)               # more sweeps, values flash
            await check("after sweeps")
            t.driver.feed("2")                     # Identification tab
            await check("ident tab")
            t.driver.feed("1")                     # back to Information
            await check("info tab")
            t.driver.feed("\x1bOQ")                # F2: site dashboard
            await asyncio.sleep(0.3)
            await check("dashboard")
        except Exception as exc:  # surfaced below: a failure here must fail the test
            errors.append(exc)
        finally:
            done.set()
            app.exit()

    await asyncio.wait_for(
        run_console_once(ticking.core, principal("admin"), t, pump=pump, term="xterm-256color"), 60)
    assert done.is_set()
    assert not errors, errors
    assert len(checks) >= 5, [label for label, *_ in checks]   # of 8 moments
    for label, seen, full in checks:
        assert seen == full, f"{label}: the terminal differs from a full render:\n" + "\n".join(
            f"{i:2} emu |{a}|\n   full|{b}|" for i, (a, b) in enumerate(zip(seen, full)) if a != b)
    assert CullingCompositor.skipped > skipped_before, "no widget was ever culled"


async def test_fast_key_path_keeps_text_keys_for_inputs(frozen) -> None:
    """With a live table focused a bound key runs at once; in the device list's search
    field the same letters are typed, not taken as bindings."""
    from .conftest import make_app, settle

    app = make_app(frozen)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        table = app.screen.query_one("#devices", LiveTable)
        table.focus()
        await settle(pilot)
        before = table.cursor_row
        await pilot.press("down")
        assert table.cursor_row == before + 1
        await pilot.press("slash", "q", "s")
        await settle(pilot)
        from textual.widgets import Input
        search = app.screen.query_one(Input)
        assert search.value == "qs"                   # typed, no quit dialog, no re-sort
        assert len(app.screen_stack) == 2             # default screen + frame only

