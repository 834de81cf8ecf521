"""The PDU firmware page through the console (Textual pilot): reached from Settings with
``f``; an update started from its form with an image in /upload runs over the ring and
the table follows each PDU to ``verified``; a PDU in alarm is refused in the form
(nothing started); a readonly session cannot open the page."""

from __future__ import annotations

from textual.widgets import Input

from enerteg_tui.core.firmware_image import shipped_image
from enerteg_tui.screens.firmware_page import FirmwarePage
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle


def _cells(page: FirmwarePage, column: str) -> list[str]:
    return [str(r.cells[column]) for r in page.table.rows]


async def test_update_from_the_console_follows_every_pdu(ticking) -> None:
    c = ticking
    c.driver.firmware_reboot_s = 0.15
    c.core.paths.upload.mkdir(parents=True, exist_ok=True)
    (c.core.paths.upload / "pdu.etgfw").write_bytes(shipped_image().data)
    alarmed = list(c.live.devices)[2]
    app = make_app(c, clock=c.clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        page = app.main.query_one(FirmwarePage)
        assert _cells(page, "firmware") == ["5.2.1"] * 8
        assert "Images in /upload: pdu.etgfw" in str(page.query_one("#plan").render())

        # a PDU in alarm: the form says why and nothing starts
        await c.rules.create(ADMIN, {"name": "busy", "scope": "pdu", "target": alarmed,
                                     "quantity": "current", "component": "t",
                                     "minDurationSeconds": 0,
                                     "warningAbove": {"enabled": True, "value": 0.01}})
        await wait_for(lambda: any(a.device == alarmed for a in c.alarms.active()), timeout=10)
        await pilot.press("u")
        await settle(pilot)
        form = app.screen
        assert form.query_one("#f-image", Input).value == "/upload/pdu.etgfw"
        form.query_one("#f-image", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form
        assert f"{alarmed} is in alarm" in str(form.query_one("#error").render())
        assert c.firmware.status() is None

        form.query_one("#f-pdus", Input).value = " ".join(
            h for h in c.live.devices if h != alarmed)
        form.query_one("#f-image", Input).focus()
        await pilot.press("enter")
        await wait_for(lambda: c.firmware.status() is not None, timeout=10)
        await wait_for(lambda: c.firmware.status().state != "running", timeout=90)
        await settle(pilot)
        await wait_for(lambda: _cells(page, "progress").count("verified") == 7, timeout=10)
        progress = dict(zip(_cells(page, "hex"), _cells(page, "progress"), strict=True))
        assert progress[alarmed] == "shipped is 5.3.0"
        assert _cells(page, "hex")[0] == next(h for h, d in c.live.devices.items()
                                              if d.info.controller)
        assert "Update to 5.3.0 from /upload/pdu.etgfw: done, 7 of 7 verified" in str(
            page.query_one("#plan").render())
    actions = [a for (a,) in await c.store.fetchall(
        "SELECT action FROM audit WHERE action LIKE 'firmware.update.%'")]
    assert actions.count("firmware.update.pdu") == 7


async def test_readonly_cannot_open_the_page(frozen) -> None:
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.open_place(Place("firmware"))
        await settle(pilot)
        assert not app.main.query(FirmwarePage)
