"""Pilot tests of the console frame: header, tree, palette, navigation, quit, shell key, size."""

from __future__ import annotations

from enerteg_tui.core.model import Health
from enerteg_tui.screens.dashboard import DashboardPage
from enerteg_tui.screens.device_list import DeviceListPage
from enerteg_tui.screens.device_view import DevicePage
from enerteg_tui.screens.header import StatusHeader
from enerteg_tui.screens.main import MainScreen
from enerteg_tui.screens.tree import Place, StructureTree
from tests.conftest import principal
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


async def test_header_shows_host_user_role_alarms_ring_clock(frozen):
    app = make_app(frozen, "power")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = str(app.screen.query_one(StatusHeader).render())
        for part in ("ctl-test", "power(power)", "✖0", "▲0", "Ring OK", "15:06:40Z"):
            assert part in text, (part, text)


async def test_alarm_shows_in_header_tree_dashboard_and_device_view(ticking):
    """A real rule raises a warning: header counter, yellow tree, dashboard list, cell colour."""
    dev = ticking.live.ordered()[0]
    await ticking.rules.create(principal("admin"), {
        "name": "console test", "scope": "pdu", "target": dev.hex_id, "quantity": "current",
        "component": "t", "minDurationSeconds": 0,
        "warningAbove": {"enabled": True, "value": 0.5}})
    app = make_app(ticking)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        header = app.screen.query_one(StatusHeader)
        await wait_for(lambda: "▲1" in str(header.render()), timeout=5)
        tree = app.screen.query_one(StructureTree)
        await wait_for(lambda: tree._health.get(Place("site")) is Health.WARNING, timeout=5)
        await wait_for(lambda: "console test" in str(page(app).query_one("#alarms").render()))
        await app.open_place(Place("device", dev.hex_id))
        await settle(pilot)
        cell = page(app).query_one("#inputs").row("current").cells["total"]
        assert str(cell).startswith("▲")


async def test_ring_break_shows_in_header_and_cut_off_pdu_turns_tree_red(ticking):
    inj = ticking.driver.fault_injector()
    app = make_app(ticking)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        ring = inj.ring_document()
        inj.apply_ring(ring.model_copy(update={"ring_breaks": [1, 4]}))
        header = app.screen.query_one(StatusHeader)
        await wait_for(lambda: "Ring broken at PDU 1–2, 4–5" in str(header.render()), timeout=5)
        tree = app.screen.query_one(StructureTree)
        await wait_for(lambda: tree._health.get(Place("site")) is Health.CRITICAL, timeout=5)
        # escalates upward: a cut-off PDU in Rack 2 colours Rack 2, Row 1, Hall A red
        rack2 = next(e for e in ticking.structure.elements() if e.name == "Rack 2")
        assert tree._health[Place("element", rack2.id)] is Health.CRITICAL


async def test_tree_lists_structure_and_opens_dashboards(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(StructureTree)
        labels = {str(n.label) for n in tree._tree_nodes.values()}
        assert any("Hall A" in s for s in labels) and any("Unassigned" in s for s in labels)
        assert any("Rack 2" in s for s in labels)
        tree.focus()
        rack1 = next(e for e in frozen.structure.elements() if e.name == "Rack 1")
        tree.select_place(Place("element", rack1.id))
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        p = page(app)
        assert isinstance(p, DashboardPage) and p.element_id == rack1.id
        rows = p.query_one("#devices").rows
        assert len(rows) == 2


async def test_function_keys_and_back(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(page(app), DashboardPage)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(page(app), DeviceListPage)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(page(app), DevicePage)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(page(app), DeviceListPage)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(page(app), DashboardPage) and page(app).element_id is None


async def test_palette_opens_device_by_hex_id(frozen):
    hex_id = frozen.live.ordered()[2].hex_id
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*hex_id)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        p = page(app)
        assert isinstance(p, DevicePage) and p.hex_id == hex_id


async def test_palette_opens_screen_by_name(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Devices")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(page(app), DeviceListPage)


async def test_quit_asks_first(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, MainScreen)
        await pilot.press("ctrl+q")
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_shell_key_calls_transport_hook(frozen):
    calls = []

    async def shell():
        calls.append("shell")

    app = make_app(frozen, on_open_shell=shell)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
    assert calls == ["shell"]
    # without a hook the key does nothing (and is not offered)
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        assert app.check_action("open_shell", ()) is False


async def test_too_small_then_resized(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(70, 20)) as pilot:
        await settle(pilot)
        assert app.main.has_class("-too-small")
        assert app.main.query_one("#too-small").display
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not app.main.has_class("-too-small")


async def test_subscriptions_closed_when_app_exits(frozen):
    before = frozen.events.subscriber_count
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert frozen.events.subscriber_count > before
        await pilot.press("f3")
        await settle(pilot)
    assert frozen.events.subscriber_count == before


async def test_ctrl_c_asks_whether_to_leave(frozen):
    """Issue 18 item 9: ctrl+c, the terminal habit, asks as q does; "Stay" stays."""
    from enerteg_tui.screens.dialogs import ConfirmDialog

    async with make_app(frozen).run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, ConfirmDialog)
        assert pilot.app.is_running
