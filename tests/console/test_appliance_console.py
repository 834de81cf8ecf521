"""Console side of the appliance (issue 23): the clock's sync state on the Settings page
for config/time, and the header's clock in the zone of config/time."""

from __future__ import annotations

from textual.widgets import Static

from enerteg_tui.screens.header import StatusHeader as Header
from tests.appliance.conftest import ntp_server  # noqa: F401  (fixture)
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle
from .test_settings_page import open_topic


async def test_settings_time_shows_sync_state_and_offset(make_controller, ntp_server) -> None:  # noqa: F811
    c = await make_controller(pdus=2, ntp_port=ntp_server.port)
    ntp_server.offset = 0.5
    await c.topics.put(ADMIN, "config/time", {"ntpServers": "127.0.0.1"})
    await wait_for(lambda: "from 127.0.0.1" in (c.core.faces.text("time") or ""), timeout=15)
    async with make_app(c).run_test(size=(160, 48)) as pilot:
        form = await open_topic(pilot, "time")
        line = str(form.query_one("#service", Static).render())
        assert "time sync" in line and "Now: synchronised, offset +0.5" in line
        assert "from 127.0.0.1" in line


async def test_header_clock_is_in_the_configured_zone(make_controller) -> None:
    c = await make_controller(pdus=2)
    async with make_app(c).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "Z " in str(pilot.app.screen.query_one(Header).render())     # UTC: ...:SSZ
        await c.topics.put(ADMIN, "config/time", {"timezone": "Asia/Kolkata"})
        await settle(pilot)
        text = str(pilot.app.screen.query_one(Header).render())
        assert " IST " in text and "Z " not in text
