"""The topic tree (manual §11.1): listing, documents, put through schemas and permissions."""

from __future__ import annotations

import pytest

from enerteg_tui.core.errors import Invalid, NotFound, PermissionDenied, Unsupported
from enerteg_tui.core.model import OutletState
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.topics import normalize
from tests.conftest import ADMIN, READONLY, principal
from tests.helpers import wait_for

MANUAL_SNMP_KEYS = {
    "agentAddress", "snmpLocation", "enabledTrap", "snmpContact", "v3PasswordAuth",
    "snmpVersion", "enabledWrite", "v2cCommunity", "v3PasswordPriv", "v3ProtocolAuth",
    "snmpName", "enabled", "genericMibEnabledSet", "serverTrapPort", "v3User", "agentPort",
    "v3ProtocolPriv", "serverTrapAddress",
}


def test_normalize() -> None:
    assert normalize("/config/snmp_agent/_data") == "config/snmp_agent"
    assert normalize("..", "config/snmp_agent") == "config"
    assert normalize("../syslog", "config/snmp_agent") == "config/syslog"
    assert normalize("/", "config") == ""
    assert normalize("_data", "sensor/1f6c1") == "sensor/1f6c1"


async def test_root_and_config_listing(controller) -> None:
    assert controller.topics.list(ADMIN, "/") == ["alarms/", "certs/", "config/", "dc/", "rules/", "sensor/", "sim/"]
    assert controller.topics.list(READONLY, "/") == ["alarms/", "config/", "dc/", "rules/", "sensor/"]
    names = [n.rstrip("/") for n in controller.topics.list(ADMIN, "config")]
    assert names == ["auth", "backup", "backup_settings", "cli", "core", "devices", "email",
                     "hostname", "http_server", "modbus", "network", "notifications",
                     "snmp_agent", "sppdu5", "sql_export", "syslog", "time"]
    assert controller.topics.list(ADMIN, "config/syslog") == ["_data"]


async def test_snmp_agent_document_as_in_the_manual(controller) -> None:
    doc = controller.topics.get(READONLY, "config/snmp_agent/_data")
    assert set(doc) == {"ts", "u", "new"} and doc["new"] is None
    assert set(doc["u"]) == MANUAL_SNMP_KEYS | {"v2cWriteCommunity", "notificationType",
                                                "trapTargets"}   # ours: docs/snmp.md
    await controller.topics.put(ADMIN, "config/snmp_agent", {"enabled": "enabled",
                                                             "v3PasswordAuth": "authpass123"})
    doc = controller.topics.get(READONLY, "config/snmp_agent")
    assert doc["u"]["enabled"] == "enabled" and doc["u"]["v3PasswordAuth"] == "set"


async def test_sensor_tree(controller) -> None:
    devs = controller.live.ordered()
    listing = controller.topics.list(READONLY, "sensor")
    assert listing[0] == "_data" and "driver_system/" in listing
    assert [f"{d.hex_id}/" for d in devs] == [x for x in listing if x not in ("_data", "driver_system/")]
    big = next(d for d in devs if d.info.model.branches and d.info.model.outlets)
    h = big.hex_id
    entries = controller.topics.list(READONLY, f"/sensor/{h}")
    assert entries[:5] == ["_data", "t/", "i/", "b/", "o/"]
    doc = controller.topics.get(READONLY, f"sensor/{h}")
    assert doc["serial"] == big.info.identification.serial and doc["state"] == "RUNNING"
    assert int(doc["serial"]) == int(h, 16)
    t = controller.topics.get(READONLY, f"sensor/{h}/t")
    assert t["current"] == big.groups[(Component.TOTAL, 0)]["current"]
    phases = controller.topics.list(READONLY, f"sensor/{h}/i")
    assert phases == ["_data"] + [f"{n}/" for n in range(1, big.info.model.phases + 1)]
    l1 = controller.topics.get(READONLY, f"sensor/{h}/i/1")
    assert l1["name"] == "L1" and 200 < l1["voltage"] < 260
    o1 = controller.topics.get(READONLY, f"sensor/{h}/o/1/_data")
    assert o1["name"] == "Outlet # 1" and o1["state"] in ("on", "off")
    st = controller.topics.get(READONLY, f"sensor/{h}/status")
    assert st["state"] == "RUNNING" and st["missedSweeps"] == 0
    misc = controller.topics.get(READONLY, f"sensor/{h}/misc")
    assert misc["identification"]["hexId"] == h
    bus = controller.topics.get(READONLY, "sensor/driver_system")
    assert bus["devices"] == 8 and bus["ringState"] == "closed" and bus["sweeps"] >= 1


async def test_missing_topics_say_what_exists(controller) -> None:
    with pytest.raises(NotFound) as err:
        controller.topics.get(ADMIN, "config/snmp")
    assert "snmp_agent" in str(err.value) and "config/snmp" in str(err.value)
    with pytest.raises(NotFound):
        controller.topics.get(ADMIN, "sensor/zzzzz")
    with pytest.raises(NotFound):
        controller.topics.get(ADMIN, "config")  # a folder without _data


async def test_put_errors_name_key_value_and_allowed(controller) -> None:
    cases = [
        ({"pollIntervalSeconds": "0"}, ["pollIntervalSeconds", "0", "1 to 60"]),
        ({"pollIntervalSeconds": "fast"}, ["pollIntervalSeconds", "fast", "whole number"]),
        ({"autoRestart": "maybe"}, ["autoRestart", "maybe", "enabled"]),
        ({"bogus": "1"}, ["bogus", "unknown key"]),
    ]
    before = controller.topics.get(ADMIN, "config/core")
    for changes, words in cases:
        with pytest.raises(Invalid) as err:
            await controller.topics.put(ADMIN, "config/core", changes)
        for w in words:
            assert w in str(err.value), (changes, str(err.value))
    assert controller.topics.get(ADMIN, "config/core") == before


async def test_put_types_text_by_schema(controller) -> None:
    await controller.topics.put(ADMIN, "config/core", {"pollIntervalSeconds": "7"})
    assert controller.config.get("core").pollIntervalSeconds == 7
    await controller.topics.put(ADMIN, "config/hostname", {"hostname": "rack-ctl-1"})
    await controller.topics.put(ADMIN, "config/network", {"interfaces.eth0.dhcp": "false",
                                                          "interfaces.eth0.ipv4Address": "10.1.2.3",
                                                          "interfaces.eth0.prefixLength": "24"})
    eth0 = controller.topics.get(ADMIN, "config/network")["u"]["interfaces"]["eth0"]
    assert eth0["dhcp"] == "disabled" and eth0["ipv4Address"] == "10.1.2.3"


async def test_readonly_put_is_refused_and_changes_nothing(controller) -> None:
    before = controller.topics.get(ADMIN, "config/snmp_agent")
    with pytest.raises(PermissionDenied):
        await controller.topics.put(READONLY, "config/snmp_agent", {"enabled": "enabled"})
    with pytest.raises(PermissionDenied):  # refused before validation
        await controller.topics.put(READONLY, "config/snmp_agent", {"enabled": "nonsense"})
    assert controller.topics.get(ADMIN, "config/snmp_agent") == before
    with pytest.raises(PermissionDenied):
        await controller.topics.put(ADMIN, "sensor/driver_system", {"x": 1})


async def test_sim_is_admin_only(controller) -> None:
    for who in ("readonly", "readwrite", "power"):
        with pytest.raises(PermissionDenied):
            controller.topics.get(principal(who), "sim")
    doc = controller.topics.get(ADMIN, "sim")["u"]
    assert doc["pdus"] == 8 and doc["ringBreaks"] == []
    with pytest.raises(Invalid) as err:
        await controller.topics.put(ADMIN, "sim", {"pdus": "0"})
    assert "pdus" in str(err.value)


async def test_device_config_through_topics(controller) -> None:
    h = controller.live.ordered()[1].hex_id
    await controller.topics.put(principal("readwrite"), f"sensor/{h}/config",
                                {"name": "Rack 7 PDU A", "feed": "A", "location": "Hall 2"})
    await wait_for(lambda: controller.topics.get(ADMIN, f"sensor/{h}")["name"] == "Rack 7 PDU A")
    with pytest.raises(PermissionDenied):
        await controller.topics.put(principal("power"), f"sensor/{h}/config", {"name": "x"})
    with pytest.raises(Invalid) as err:
        await controller.topics.put(ADMIN, f"sensor/{h}/config", {"feed": "E"})
    assert "feed" in str(err.value) and "'E'" in str(err.value)
    with pytest.raises(Invalid) as err:
        await controller.topics.put(ADMIN, f"sensor/{h}/config", {"deviceId": "300"})
    assert "deviceId" in str(err.value) and "1 to 247" in str(err.value)


async def test_switch_outlet_through_topics(controller) -> None:
    dev = next(d for d in controller.live.ordered() if d.info.model.switchable)
    h = dev.hex_id
    with pytest.raises(PermissionDenied):
        await controller.topics.put(principal("poweron"), f"sensor/{h}/o/1", {"state": "off"})
    await controller.topics.put(principal("poweroff"), f"sensor/{h}/o/1", {"state": "off"})
    await wait_for(lambda: dev.outlet_states.get(1) is OutletState.OFF, timeout=10)
    await wait_for(lambda: 1 not in dev.pending_outlets, timeout=10)
    o1 = controller.topics.get(ADMIN, f"sensor/{h}/o/1")
    assert o1["state"] == "off" and o1["current"] == 0
    await controller.topics.put(principal("poweron"), f"sensor/{h}/o/1", {"state": "on"})
    await wait_for(lambda: dev.outlet_states.get(1) is OutletState.ON, timeout=10)
    with pytest.raises(Invalid):
        await controller.topics.put(ADMIN, f"sensor/{h}/o/1", {"state": "toggle"})
    metered = [d for d in controller.live.ordered() if not d.info.model.switchable and d.info.model.outlets]
    if metered:
        with pytest.raises(Unsupported):
            await controller.topics.put(ADMIN, f"sensor/{metered[0].hex_id}/o/1", {"state": "off"})
