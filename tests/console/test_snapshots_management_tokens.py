"""SVG snapshots of the API tokens page (Users → a): an admin's list of three tokens of
two users (one never used, one expired, one never expiring) and the dialog that shows a
new token's text once. Ids and secrets are fixed for the snapshot (the core draws them
at random), times come from the frozen clock; the module has its own controller."""

from __future__ import annotations

import pytest
import pytest_asyncio
from textual.widgets import Input

from enerteg_tui.core import api_tokens
from tests.conftest import ADMIN

from .conftest import FIXED_CLOCK, SIZES, build_frozen, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]

DAY = 86400.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def with_tokens(tmp_path_factory):
    """A frozen controller with a viewer and three tokens with fixed ids and times."""
    c = await build_frozen(tmp_path_factory.mktemp("tokens"))
    await c.users.add(ADMIN, "viewer", "Viewer-pass-1", ["readonly"])
    tokens = c.core.tokens
    made = [await tokens.create(ADMIN, "ansible", days=90),
            await tokens.create(ADMIN, "grafana-events", days=0, user="viewer"),
            await tokens.create(ADMIN, "old-dcim", days=30)]
    fixed = [("1a2b3c4d", FIXED_CLOCK - 2 * DAY, FIXED_CLOCK - 3600),
             ("5e6f7a8b", FIXED_CLOCK - 10 * DAY, None),
             ("9c0d1e2f", FIXED_CLOCK - 40 * DAY, FIXED_CLOCK - 35 * DAY)]
    for (info, _text), (tid, created, used) in zip(made, fixed):
        expires = None if info.expires is None else created + (info.expires - info.created)
        await c.store.execute("UPDATE api_token SET id=?, created=?, expires=?, last_used=? "
                              "WHERE id=?", (tid, created, expires, used, info.id))
    yield c
    await c.stop()


async def _open(pilot) -> None:
    await pilot.press("f10")
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)


async def test_tokens_list(with_tokens, snap, size):
    async def go(pilot):
        await _open(pilot)
        await pilot.press("down")
        await settle(pilot)

    assert await snap(make_app(with_tokens), size, go)


async def test_token_shown_once(with_tokens, snap, size, monkeypatch):
    monkeypatch.setattr(api_tokens.secrets, "token_hex", lambda n: "0f1e2d3c")
    monkeypatch.setattr(api_tokens.secrets, "token_urlsafe",
                        lambda n: "Xq7vR2mK9pL4sT8wY1zB6nC3dF5gH0jA2eU7iO9kM4q")

    async def go(pilot):
        await _open(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = pilot.app.screen
        form.query_one("#f-name", Input).value = "prometheus"
        form.query_one("#f-name", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)

    assert await snap(make_app(with_tokens), size, go)
    await with_tokens.core.tokens.revoke(ADMIN, "0f1e2d3c")   # the next size makes it again
