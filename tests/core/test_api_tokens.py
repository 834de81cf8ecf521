"""core.api_tokens: made, shown once, stored hashed, expiring, revoked, per-user rights,
and a deleted user's tokens dead even if the name comes back."""

from __future__ import annotations

from typing import Any

import pytest

from enerteg_tui.core.errors import Invalid, NotFound, PermissionDenied
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.users import AuthFailed

PASSWORD = "Token-pass-2026!"


async def test_token_lifecycle(make_controller: Any) -> None:
    c = await make_controller(pdus=1)
    core = c.core
    await c.users.add(SYSTEM, "ops", PASSWORD, ["readonly"])
    await c.users.add(SYSTEM, "other", PASSWORD, ["readonly"])
    ops = await c.users.principal_for("ops", "rest", "10.0.0.1")
    info, text = await core.tokens.create(ops, "ci", days=1)
    assert text.startswith(f"ent_{info.id}_") and info.user == "ops"
    rows = await c.store.fetchall("SELECT * FROM api_token")
    assert text.split("_", 2)[2] not in str(rows)               # only the hash is kept
    who = await core.tokens.authenticate(text, "rest", "10.0.0.1")
    assert who.user == "ops" and who.face == "rest"
    with pytest.raises(PermissionDenied):
        await core.tokens.create(ops, "x", user="other")
    with pytest.raises(NotFound):                              # not another's, even to see
        await core.tokens.revoke(await c.users.principal_for("other", "rest", ""), info.id)
    with pytest.raises(Invalid) as exc:
        await core.tokens.create(ops, "bad name!")
    assert exc.value.thing == "name"
    assert [t.id for t in await core.tokens.list(SYSTEM)] == [info.id]
    # expiry, by the core's clock
    now = core.clock()
    core.tokens._clock = lambda: now + 86400 + 1
    with pytest.raises(AuthFailed):
        await core.tokens.authenticate(text, "rest", "10.0.0.1")
    core.tokens._clock = lambda: now
    await core.tokens.revoke(ops, info.id)
    with pytest.raises(AuthFailed):
        await core.tokens.authenticate(text, "rest", "10.0.0.1")
    # a deleted user's token does not come back with a new user of the same name
    _, text2 = await core.tokens.create(SYSTEM, "old", user="other")
    await c.users.delete(SYSTEM, "other")
    with pytest.raises(AuthFailed):
        await core.tokens.authenticate(text2, "rest", "")
    core.users._clock = lambda: now + 5            # the new account is younger
    await c.users.add(SYSTEM, "other", PASSWORD, ["admin"])
    with pytest.raises(AuthFailed):
        await core.tokens.authenticate(text2, "rest", "")
    actions = [e.action for e in await c.audit.query(SYSTEM, limit=50)]
    assert actions.count("token.create") == 2 and actions.count("token.revoke") == 1
