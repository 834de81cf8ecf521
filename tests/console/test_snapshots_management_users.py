"""SVG snapshots of the Users page (manual §5.9): the admin list and the add dialog with an error.

The module's controller gets two extra users once (so the list shows several roles);
the add dialog is refused by the core (bad login name), so nothing else changes.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from textual.widgets import Input

from tests.conftest import ADMIN

from .conftest import SIZES, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def with_users(frozen_shared):
    """The shared controller with an operator and a viewer added once."""
    await frozen_shared.users.add(ADMIN, "operator", "Operator-pass-1", ["power"])
    await frozen_shared.users.add(ADMIN, "viewer", "Viewer-pass-1", ["readonly"])
    return frozen_shared


@pytest.fixture
def frozen(with_users):
    return with_users


async def test_users_admin_list(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f10")
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_users_add_dialog_error(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f10")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = pilot.app.screen
        for key, text in {"name": "Bad Name", "password": "Some-pass-1",
                          "again": "Some-pass-1"}.items():
            form.query_one(f"#f-{key}", Input).value = text   # roles: readonly, ticked
        form.query_one("#f-name", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)
