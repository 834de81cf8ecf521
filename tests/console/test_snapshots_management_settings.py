"""SVG snapshots of the Settings page: the topic list, a form with a refused value, and
the factory reset confirmation. Nothing is changed in the shared controller (the refused
value and the dialog change nothing by design)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from .conftest import SIZES, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest.fixture
def frozen(frozen_shared):
    return frozen_shared


async def _topic(pilot, topic: str) -> None:
    await pilot.press("f9")
    await settle(pilot)
    table = pilot.app.main.query_one("#topics")
    table.cursor_row = [r.key for r in table.rows].index(topic)
    await pilot.press("enter")
    await settle(pilot)


async def test_settings_topic_list(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f9")
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_settings_form_refused_value(frozen, snap, size):
    async def go(pilot):
        await _topic(pilot, "syslog")
        field = pilot.app.main.query_one("#f-serverPort", Input)
        field.value = "70000"
        field.focus()
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.clear_notifications()
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_settings_factory_reset_dialog(frozen, snap, size):
    async def go(pilot):
        await pilot.press("f9")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


async def test_settings_network_form(frozen, snap, size):
    """The network form of a controller without --manage-host: the service line says the
    host manages its own network; the action button confirms a pending change."""
    async def go(pilot):
        await _topic(pilot, "network")

    assert await snap(make_app(frozen), size, go)
