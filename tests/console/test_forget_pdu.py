"""Pilot test of forgetting a PDU from its device page (issue 19 item 4): ``f`` is refused
while the PDU answers; once it left the ring a confirmation is asked, ``n`` keeps it, ``y``
forgets it, its alarms are closed and the console goes back to the site."""

from __future__ import annotations

from enerteg_tui.core.model import DeviceState
from enerteg_tui.screens.device_view import DevicePage
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


async def test_forget_from_device_page(ticking):
    c = ticking
    gone = c.live.ordered()[-1].hex_id
    app = make_app(c)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await app.open_place(Place("device", gone))
        await settle(pilot)
        assert isinstance(page(app), DevicePage)
        await pilot.press("f")                       # still answering: refused, no dialog
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("still answers" in str(n.message) for n in app._notifications)

        inj = c.driver.fault_injector()
        inj.apply_device(gone, inj.device_document(gone).model_copy(update={"reachable": False}))
        await wait_for(lambda: c.live.get(gone).state is DeviceState.UNREACHABLE, timeout=30)
        await wait_for(lambda: any(a.device == gone for a in c.alarms.active()), timeout=30)

        await pilot.press("f")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), timeout=10)
        await pilot.press("n")                       # keep it
        await settle(pilot)
        assert c.live.get(gone) is not None

        await pilot.press("f")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), timeout=10)
        assert gone in str(app.screen.question)
        await pilot.press("y")
        await wait_for(lambda: c.live.get(gone) is None, timeout=10)
        await wait_for(lambda: not isinstance(page(app), DevicePage), timeout=10)
        assert not [a for a in c.alarms.open_alarms() if a.device == gone]
        assert any("forgotten" in str(n.message) for n in app._notifications)


async def test_remove_disconnected_sensor_from_device_page(ticking):
    from enerteg_tui.core.quantities import Component
    from enerteg_tui.screens.livetable import LiveTable

    c = ticking
    dev = next(d for d in c.live.ordered() if d.info.sensors)
    app = make_app(c)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await app.open_place(Place("device", dev.hex_id))
        await settle(pilot)
        table = page(app).query_one("#sensors", LiveTable)
        table.focus()
        table.cursor_row = 0
        await settle(pilot)
        await pilot.press("f")                       # connected: refused, no dialog
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("is connected" in str(n.message) for n in app._notifications)

        inj = c.driver.fault_injector()
        inj.apply_device(dev.hex_id, inj.device_document(dev.hex_id).model_copy(
            update={"sensors_disconnected": [1]}))
        await wait_for(lambda: not c.live.get(dev.hex_id).groups.get((Component.SENSOR, 1)),
                       timeout=30)
        table.focus()
        await pilot.press("f")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), timeout=10)
        assert "sensor 1" in str(app.screen.question)
        await pilot.press("y")
        await wait_for(lambda: c.live.get(dev.hex_id).info.sensors[0].value == "removed",
                       timeout=30)
        assert isinstance(page(app), DevicePage)
