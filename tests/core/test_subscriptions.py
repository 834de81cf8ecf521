"""core.subscriptions: who may subscribe (ack-alarm), what a destination may be, the
limit, own versus everyone's, kept in the store, audited, gone with the owner and at the
factory reset."""

from __future__ import annotations

from typing import Any

import pytest

from enerteg_tui.core.backup import FACTORY_RESET_WORD
from enerteg_tui.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.subscriptions import MAX_SUBSCRIPTIONS, Subscriptions

PASSWORD = "Subscribe-pass-2026!"


async def test_subscription_rules(make_controller: Any) -> None:
    c = await make_controller(pdus=1)
    subs = c.core.subscriptions
    for name, roles in (("ops", ["poweron"]), ("viewer", ["readonly"]), ("rw", ["readwrite"])):
        await c.users.add(SYSTEM, name, PASSWORD, roles)
    ops = await c.users.principal_for("ops", "redfish", "10.0.0.1")
    viewer = await c.users.principal_for("viewer", "redfish", "10.0.0.1")
    rw = await c.users.principal_for("rw", "redfish", "10.0.0.1")
    with pytest.raises(PermissionDenied):
        await subs.add(viewer, "http://listener/x", protocol="Redfish")
    for bad in ("ftp://listener/x", "listener/x", "http:///x", "http://h:99999/x"):
        with pytest.raises(Invalid) as exc:
            await subs.add(ops, bad, protocol="Redfish")
        assert exc.value.thing == "Destination"
    assert subs.all() == []
    mine = await subs.add(ops, "https://listener:8443/x", protocol="Redfish", context="c1",
                          filters={"ResourceTypes": ["Outlet"], "RegistryPrefixes": []})
    assert mine.filters == {"ResourceTypes": ["Outlet"]}
    other = await subs.add(rw, "http://other/x", protocol="Redfish")
    assert [s.id for s in subs.visible(ops)] == [mine.id]
    assert {s.id for s in subs.visible(SYSTEM)} == {mine.id, other.id}
    with pytest.raises(NotFound):
        await subs.delete(ops, other.id)
    again = Subscriptions(c.store, c.core.audit)
    await again.load()
    assert [(s.id, s.destination, s.context, s.filters) for s in again.all()] == [
        (s.id, s.destination, s.context, s.filters) for s in subs.all()]
    with pytest.raises(Invalid) as exc:
        await subs.update(ops, mine.id, headers={"Content-Length": "1"})
    assert exc.value.thing == "HttpHeaders"
    with pytest.raises(NotFound):
        await subs.update(ops, other.id, context="not mine")
    changed = await subs.update(ops, mine.id, context="c2", headers={"X-Key": "k"})
    assert (changed.context, changed.headers, changed.filters) == ("c2", {"X-Key": "k"},
                                                                   mine.filters)
    await subs.delete(ops, mine.id)
    actions = [e.action for e in await c.audit.query(SYSTEM, limit=50)]
    assert actions.count("subscription.add") == 2 and "subscription.delete" in actions
    # the limit
    for i in range(MAX_SUBSCRIPTIONS - 1):
        await subs.add(SYSTEM, f"http://l{i}/x", protocol="Redfish")
    with pytest.raises(Conflict):
        await subs.add(SYSTEM, "http://one-too-many/x", protocol="Redfish")
    # gone with the owner; all gone at the factory reset
    await c.users.delete(SYSTEM, "rw")
    assert all(s.owner != "rw" for s in subs.all())
    await c.core.backup.factory_reset(SYSTEM, FACTORY_RESET_WORD)
    assert subs.all() == []
    fresh = Subscriptions(c.store, c.core.audit)
    await fresh.load()
    assert fresh.all() == []

