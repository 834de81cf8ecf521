"""SVG snapshots of the main pages in Czech (issue 23 item 4, manual §5.1): the site
dashboard, the device view, the alarms page and the settings list of a user whose
``language`` preference is ``cs``, at 80x24 and 160x48. The English snapshots of the same
pages (test_snapshots_pages, test_snapshots_management_*) stay as they were."""

from __future__ import annotations

import pytest
import pytest_asyncio

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.screens.tree import Place
from tests.conftest import principal

from .conftest import SIZES, make_app, settle
from .test_alarms_page import raise_alarms

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]

JANA = principal("admin", user="jana")
"""An administrator who reads Czech."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def czech(frozen_shared):
    """The shared controller with open alarms and a Czech user."""
    ids = await raise_alarms(frozen_shared)
    await frozen_shared.alarms.acknowledge(principal("power", user="olga"), ids[-1],
                                           "known: burn-in test")
    await frozen_shared.users.add(SYSTEM, "jana", "Corr3ct-horse", ["admin"])
    await frozen_shared.users.prefs.set(SYSTEM, "jana", {"language": "cs"})
    return frozen_shared


async def test_site_dashboard_cs(czech, snap, size):
    assert await snap(make_app(czech, JANA), size)


async def test_device_view_cs(czech, snap, size):
    hex_id = czech.live.ordered()[0].hex_id

    async def go(pilot):
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)

    assert await snap(make_app(czech, JANA), size, go)


async def test_alarms_cs(czech, snap, size):
    async def go(pilot):
        await pilot.press("f4")
        await settle(pilot)

    assert await snap(make_app(czech, JANA), size, go)


async def test_settings_cs(czech, snap, size):
    async def go(pilot):
        await pilot.press("f9")
        await settle(pilot)

    assert await snap(make_app(czech, JANA), size, go)


async def test_device_list_cs(czech, snap, size):
    async def go(pilot):
        await pilot.press("f3")
        await settle(pilot)

    assert await snap(make_app(czech, JANA), size, go)


async def test_alarms_acknowledge_dialog_cs(czech, snap, size):
    async def go(pilot):
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("space", "space", "a")
        await settle(pilot)

    assert await snap(make_app(czech, JANA), size, go)
