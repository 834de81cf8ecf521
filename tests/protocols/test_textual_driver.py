"""Contract test of ``StreamDriver`` against the installed Textual (its driver API and
``XTermParser`` are private): run it on every Textual upgrade. A tiny app runs on the
driver with a recording transport; keys, a lone ESC, paste, mouse, resize and the
terminal modes on enter and leave must behave."""

from __future__ import annotations

import asyncio

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Static

from enerteg_tui.protocols.terminal_caps import apply_terminal_caps, color_system_for
from enerteg_tui.protocols.textual_driver import (
    ENTER_SEQUENCE,
    LEAVE_SEQUENCE,
    StreamDriver,
    driver_for,
)
from tests.helpers import wait_for


class Recorder:
    """A transport that keeps what was written."""

    def __init__(self, size: tuple[int, int] = (80, 24)) -> None:
        self.out: list[str] = []
        self.size = size
        self.driver: StreamDriver | None = None

    def write(self, text: str) -> None:
        self.out.append(text)

    @property
    def text(self) -> str:
        return "".join(self.out)


class Probe(App[None]):
    """Records the events it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []
        self.pastes: list[str] = []
        self.clicks: list[tuple[int, int]] = []

    def compose(self) -> ComposeResult:
        yield Static("probe ready", id="label")

    def on_key(self, event: events.Key) -> None:
        self.keys.append(event.key)

    def on_paste(self, event: events.Paste) -> None:
        self.pastes.append(event.text)

    def on_click(self, event: events.Click) -> None:
        self.clicks.append((event.screen_x, event.screen_y))


async def _running(transport: Recorder) -> tuple[Probe, asyncio.Task[None]]:
    app = Probe()
    app.driver_class = driver_for(transport)
    task = asyncio.get_running_loop().create_task(app.run_async(size=transport.size))
    await wait_for(lambda: transport.driver is not None and "probe ready" in transport.text)
    return app, task


async def test_modes_keys_escape_paste_mouse_resize_and_exit() -> None:
    transport = Recorder((90, 30))
    app, task = await _running(transport)
    driver = transport.driver
    assert driver is not None and not driver.can_suspend
    assert transport.text.startswith(ENTER_SEQUENCE)
    assert app.size == (90, 30)

    driver.feed("ab")
    driver.feed("\x1b[A")                      # arrow up
    driver.feed("\x1b")                        # a lone ESC: released by the timer
    await wait_for(lambda: app.keys[-1:] == ["escape"])
    assert app.keys == ["a", "b", "up", "escape"]

    driver.feed("\x1b[200~pasted text\x1b[201~")
    await wait_for(lambda: app.pastes == ["pasted text"])

    driver.feed("\x1b[<0;5;3M\x1b[<0;5;3m")   # SGR mouse press + release at (4, 2)
    await wait_for(lambda: app.clicks == [(4, 2)])

    driver.resize(120, 40)
    await wait_for(lambda: app.size == (120, 40))
    driver.resize(0, 0)                         # a broken client: clamped, no crash
    await wait_for(lambda: app.size == (10, 4))

    app.exit()
    await asyncio.wait_for(task, 5)
    assert transport.text.endswith(LEAVE_SEQUENCE)


async def test_input_after_disable_is_ignored() -> None:
    transport = Recorder()
    app, task = await _running(transport)
    assert transport.driver is not None
    transport.driver.disable_input()
    transport.driver.feed("x")
    await asyncio.sleep(0.2)
    assert "x" not in app.keys
    app.exit()
    await asyncio.wait_for(task, 5)


def test_colour_system_follows_the_clients_term() -> None:
    assert color_system_for("xterm-256color") == "256"
    assert color_system_for("xterm-direct") == "truecolor"
    assert color_system_for("xterm", {"COLORTERM": "truecolor"}) == "truecolor"
    assert color_system_for("xterm") == "standard"
    assert color_system_for("screen") == "standard"
    assert color_system_for("vt100") is None
    assert color_system_for("dumb") is None
    assert color_system_for(None) is None
    assert color_system_for("xterm-256color", {"NO_COLOR": "1"}) is None


async def test_no_color_session_writes_no_colours() -> None:
    transport = Recorder()
    app = Probe()
    apply_terminal_caps(app, "xterm-256color", {"NO_COLOR": "1"})
    app.driver_class = driver_for(transport)
    task = asyncio.get_running_loop().create_task(app.run_async(size=transport.size))
    await wait_for(lambda: "probe ready" in transport.text)
    app.exit()
    await asyncio.wait_for(task, 5)
    import re
    colours = re.findall(r"\x1b\[[0-9;]*m", transport.text)
    # Monochrome: only greys (equal r, g, b) or basic attributes
    for sgr in colours:
        for m in re.finditer(r"[34]8;2;(\d+);(\d+);(\d+)", sgr):
            assert m.group(1) == m.group(2) == m.group(3), sgr
