"""Settings topics: validate, permission, atomic apply, audit, restart."""

from __future__ import annotations

import pytest

from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.core.errors import Invalid, NotFound, PermissionDenied
from tests.conftest import ADMIN, READONLY, principal


async def test_put_changes_validates_and_audits(controller) -> None:
    sub = controller.events.subscribe(kinds={"settings"})
    new = await controller.config.put(ADMIN, "syslog", {"enabled": "enabled",
                                                        "serverAddress": "logs.example.net",
                                                        "protocol": "TCP"})
    assert new.enabled is True and new.protocol == "TCP"
    assert [e.subject for e in sub.take().events] == ["syslog"]
    entry = (await controller.audit.query(ADMIN, AuditFilter(text="config/syslog")))[0]
    assert entry.new["serverAddress"] == "logs.example.net" and entry.old["enabled"] == "disabled"


async def test_bad_value_changes_nothing(controller) -> None:
    before = controller.config.public("syslog")
    with pytest.raises(Invalid) as err:
        await controller.config.put(ADMIN, "syslog", {"serverPort": 70000, "protocol": "UDP"})
    msg = str(err.value)
    assert "serverPort" in msg and "70000" in msg and "65535" in msg
    assert controller.config.public("syslog") == before


async def test_readonly_may_not_change_settings(controller) -> None:
    with pytest.raises(PermissionDenied):
        await controller.config.put(READONLY, "core", {"pollIntervalSeconds": 2})
    with pytest.raises(PermissionDenied):
        await controller.config.put(principal("readwrite"), "core", {"pollIntervalSeconds": 2})


async def test_unknown_topic(controller) -> None:
    with pytest.raises(NotFound) as err:
        await controller.config.put(ADMIN, "nope", {"a": 1})
    assert "snmp_agent" in str(err.value)


async def test_secret_is_never_shown_and_set_keeps_it(controller) -> None:
    await controller.config.put(ADMIN, "email", {"password": "s3cret-pass"})
    assert controller.config.public("email")["password"] == "set"
    assert controller.config.get("email").password == "s3cret-pass"
    await controller.config.put(ADMIN, "email", {"password": "set", "subject": "PDU alarm"})
    assert controller.config.get("email").password == "s3cret-pass"
    rows = await controller.store.fetchall("SELECT old, new, message FROM audit")
    assert "s3cret" not in repr(rows)


async def test_interval_change_reaches_the_poller(make_controller) -> None:
    c = await make_controller(interval=None)
    assert c.poller.interval == 5
    await c.config.put(ADMIN, "core", {"pollIntervalSeconds": 2})
    from tests.helpers import wait_for
    await wait_for(lambda: c.poller.interval == 2)


async def test_settings_survive_restart(make_controller, tmp_path) -> None:
    c = await make_controller(data_dir=tmp_path / "d")
    await c.config.put(ADMIN, "snmp_agent", {"enabled": "enabled", "snmpLocation": "Prague"})
    await c.stop()
    c2 = await make_controller(data_dir=tmp_path / "d")
    assert c2.config.public("snmp_agent")["snmpLocation"] == "Prague"
    assert c2.config.get("snmp_agent").enabled is True
