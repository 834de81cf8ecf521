"""SVG snapshots of the Alarms page (manual §9.1): the open alarms and the acknowledge dialog.

The module's controller gets two real rules once (a warning on every PDU's total
current, an alert on one phase of the first PDU), evaluated at the frozen time, and one
alarm acknowledged with a comment, so the table shows every state the manual names.
"""

from __future__ import annotations

import pytest
import pytest_asyncio

from tests.conftest import principal

from .conftest import SIZES, make_app, settle
from .test_alarms_page import raise_alarms

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def with_alarms(frozen_shared):
    """The shared controller with open alarms, one of them acknowledged."""
    ids = await raise_alarms(frozen_shared)
    await frozen_shared.alarms.acknowledge(principal("power", user="olga"), ids[-1],
                                           "known: burn-in test")
    return frozen_shared


@pytest.fixture
def frozen(with_alarms):
    return with_alarms


async def test_alarms_open_list(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f4")
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_alarms_acknowledge_dialog(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("space", "space", "a")
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)
