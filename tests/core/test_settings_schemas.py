"""Settings schemas: defaults, secrets, the manual's SNMP keys, and worded refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from enerteg_tui.core.errors import Invalid, NotFound
from enerteg_tui.core.settings import (
    SETTINGS_TOPICS,
    EmailSettings,
    HttpServerSettings,
    NetworkSettings,
    SnmpAgentSettings,
    settings_schema,
)
from enerteg_tui.core.validation import validate_document

TOPIC_NAMES = [
    "auth", "backup", "backup_settings", "cli", "core", "devices", "email", "hostname",
    "http_server", "modbus", "network", "notifications", "snmp_agent", "sppdu5",
    "sql_export", "syslog", "time",
]
"""The folders of the manual's ``ls config`` (§11.1), alphabetical."""

MANUAL_SNMP_EXAMPLE = {
    "agentAddress": "0.0.0.0", "snmpLocation": "", "enabledTrap": "enabled",
    "snmpContact": "", "v3PasswordAuth": "set", "snmpVersion": "snmpV2C",
    "enabledWrite": "disabled", "v2cCommunity": "public", "v3PasswordPriv": "set",
    "v3ProtocolAuth": "MD5", "snmpName": "", "enabled": "enabled",
    "genericMibEnabledSet": "disabled", "serverTrapPort": "162", "v3User": "",
    "agentPort": "161", "v3ProtocolPriv": "DES", "serverTrapAddress": "192.168.9.22",
}
"""``cat _data`` of config/snmp_agent in §11.1.5, key order kept."""

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----"
KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----"

SECRET_VALUES: dict[str, dict[str, Any]] = {
    "auth": {"ldapBindPassword": "bind-pw-1"},
    "backup_settings": {"passphrase": "long enough phrase"},
    "email": {"password": "mail-pw-1"},
    "http_server": {"certificatePem": CERT, "privateKeyPem": KEY,
                    "privateKeyPassword": "key-pw-1", "metricsToken": "scrape-tok-1"},
    "snmp_agent": {"v3PasswordAuth": "auth-pass-1", "v3PasswordPriv": "priv-pass-1",
                   "v2cWriteCommunity": "write-comm-1"},
    "sql_export": {"dbPassword": "db-pw-1"},
}
"""A valid value for every secret key (plus what a secret needs beside it)."""


def check(name: str, data: dict[str, Any]) -> Any:
    return validate_document(f"config/{name}", settings_schema(name), data)


# ------------------------------------------------------------------ the catalogue
def test_topics_are_the_manuals_in_alphabetical_order() -> None:
    assert list(SETTINGS_TOPICS) == TOPIC_NAMES


@pytest.mark.parametrize("name", TOPIC_NAMES)
def test_every_topic_builds_with_defaults_and_round_trips(name: str) -> None:
    schema = SETTINGS_TOPICS[name]
    assert schema.TOPIC == name and schema.TITLE
    model = schema()
    again = schema.model_validate(json.loads(json.dumps(model.stored_dump())))
    assert again == model
    assert schema.SERVICE == SERVICES[name]


SERVICES = {
    "auth": "users", "backup": "backup", "backup_settings": "backup",
    "cli": "ssh, serial console", "core": "poller, history, watchdog, support access", "devices": "driver", "email": "email",
    "hostname": "console, shell, syslog, snmp agent, email, mdns", "http_server": "web server", "modbus": "modbus server",
    "network": "network", "notifications": "audit", "snmp_agent": "snmp agent", "sppdu5": "firmware update",
    "sql_export": "export", "syslog": "syslog", "time": "time sync",
}
"""Who applies each topic in this build (None: stored and checked only; faces say so)."""


@pytest.mark.parametrize("name", TOPIC_NAMES)
def test_every_key_is_described(name: str) -> None:
    for key, info in SETTINGS_TOPICS[name].model_fields.items():
        assert info.description and len(info.description) > 10, (name, key)


def test_settings_schema_unknown_name_lists_the_topics() -> None:
    with pytest.raises(NotFound) as err:
        settings_schema("nope")
    msg = str(err.value)
    assert "'nope'" in msg
    for name in TOPIC_NAMES:
        assert name in msg
    assert err.value.thing == "nope"


def test_documentation_lists_every_key() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "settings.md").read_text(encoding="utf-8")
    for name, schema in SETTINGS_TOPICS.items():
        assert f"## `{name}`" in doc, name
        for key in schema.model_fields:
            assert f"`{key}`" in doc, (name, key)
    for key in ("dhcp", "ipv4Address", "prefixLength", "gateway", "dns", "llaFallback"):
        assert f"`{key}`" in doc, key


# ------------------------------------------------------------------ secrets
@pytest.mark.parametrize("name", sorted(SECRET_VALUES))
def test_public_dump_shows_secrets_as_set_or_empty(name: str) -> None:
    schema = SETTINGS_TOPICS[name]
    secrets = schema.secret_fields()
    assert secrets
    assert all(schema().public_dump()[k] == "" for k in secrets)
    model = check(name, SECRET_VALUES[name])
    public, stored = model.public_dump(), model.stored_dump()
    for key in secrets:
        assert public[key] == "set"
        assert stored[key] == SECRET_VALUES[name][key]
    assert not any(v in json.dumps(public) for k, v in SECRET_VALUES[name].items()
                   if k in secrets)


def test_the_expected_keys_are_secrets() -> None:
    found = {n: set(s.secret_fields()) for n, s in SETTINGS_TOPICS.items() if s.secret_fields()}
    assert found == {
        "auth": {"ldapBindPassword"},
        "backup_settings": {"passphrase"},
        "email": {"password"},
        "http_server": {"privateKeyPem", "privateKeyPassword", "metricsToken"},
        "snmp_agent": {"v3PasswordAuth", "v3PasswordPriv", "v2cWriteCommunity"},
        "sql_export": {"dbPassword"},
    }


@pytest.mark.parametrize(("name", "changes"), [
    ("snmp_agent", {"v3PasswordAuth": "abc12"}),
    ("snmp_agent", {"v3PasswordPriv": "x" * 200}),
    ("backup_settings", {"passphrase": "pw12"}),
    ("http_server", {"certificatePem": CERT, "privateKeyPem": "pw-looking-key"}),
])
def test_refused_secret_is_not_echoed(name: str, changes: dict[str, Any]) -> None:
    with pytest.raises(Invalid) as err:
        check(name, changes)
    msg = str(err.value)
    key, bad = next((k, v) for k, v in changes.items() if k in SETTINGS_TOPICS[name].secret_fields())
    assert key in msg and bad not in msg and "***" in msg
    assert err.value.value == "***"


def test_concatenated_certificate_and_key_are_split() -> None:
    """§5.2: certificate and key may be pasted as one concatenated PEM."""
    model = HttpServerSettings(certificatePem=f"{CERT}\n{KEY}\n")
    assert model.certificatePem == CERT and model.privateKeyPem == KEY
    assert "PRIVATE KEY" not in json.dumps(model.public_dump())


# ------------------------------------------------------------------ SNMP agent
def test_snmp_agent_has_the_manuals_keys_in_order_then_ours() -> None:
    keys = list(SnmpAgentSettings().public_dump())
    assert keys[:len(MANUAL_SNMP_EXAMPLE)] == list(MANUAL_SNMP_EXAMPLE)
    assert keys[len(MANUAL_SNMP_EXAMPLE):] == ["v2cWriteCommunity", "notificationType", "trapTargets"]


def test_snmp_agent_defaults() -> None:
    d = SnmpAgentSettings().public_dump()
    assert d["agentAddress"] == "0.0.0.0" and d["snmpVersion"] == "snmpV2C"
    assert d["enabled"] == "disabled" and d["enabledWrite"] == "disabled"
    assert d["v2cCommunity"] == "public" and d["v3ProtocolAuth"] == "MD5"
    assert d["v3ProtocolPriv"] == "DES" and d["serverTrapAddress"] == ""
    assert d["agentPort"] == 161 and d["serverTrapPort"] == 162


def test_manual_example_validates_and_ports_become_numbers() -> None:
    stored = {**MANUAL_SNMP_EXAMPLE, "v3PasswordAuth": "auth-pass-1",
              "v3PasswordPriv": "priv-pass-1"}
    model = check("snmp_agent", stored)
    assert model.serverTrapPort == 162 and model.agentPort == 161
    assert model.enabled is True and model.enabledTrap is True
    public = model.public_dump()
    assert public["v3PasswordAuth"] == "set" and public["enabled"] == "enabled"


def test_snmp_ports_empty_means_default_and_trap_ip_port_is_split() -> None:
    model = check("snmp_agent", {"agentPort": "", "serverTrapAddress": "10.0.0.9:1162"})
    assert model.agentPort == 161
    assert (model.serverTrapAddress, model.serverTrapPort) == ("10.0.0.9", 1162)
    model = check("snmp_agent", {"serverTrapAddress": "2001:db8::7"})
    assert model.serverTrapAddress == "2001:db8::7" and model.serverTrapPort == 162


# ------------------------------------------------------------------ toggles and coercions
@pytest.mark.parametrize(("given", "expect"), [
    ("enabled", True), ("disabled", False), (True, True), (False, False),
    ("true", True), ("false", False), ("Enabled", True),
])
@pytest.mark.parametrize(("name", "key"), [
    ("snmp_agent", "enabledWrite"), ("core", "autoRestart"), ("modbus", "allowWrite"),
    ("backup", "scheduleEnabled"),
])
def test_toggle_accepts_the_manuals_words_and_booleans(
    name: str, key: str, given: Any, expect: bool
) -> None:
    model = check(name, {key: given})
    assert getattr(model, key) is expect
    assert model.public_dump()[key] == ("enabled" if expect else "disabled")


def test_choices_ignore_letter_case_and_email_delay_accepts_words() -> None:
    assert check("syslog", {"protocol": "tcp", "facility": "local7"}).facility == "Local7"
    model = check("email", {"delayTimer": "15 min", "tls": "TLS"})
    assert model.delayTimer == 900 and model.tls == "tls"
    assert check("email", {"delayTimer": "1 hour"}).delayTimer == 3600
    assert check("email", {"delayTimer": "300"}).delayTimer == 300


def test_lists_accept_comma_separated_text() -> None:
    assert check("time", {"ntpServers": "a.example.org, 10.0.0.1"}).ntpServers == [
        "a.example.org", "10.0.0.1"]
    model = check("network", {"interfaces": {"eth0": {"dns": "1.1.1.1,2001:db8::53"}}})
    assert model.interfaces["eth0"].dns == ["1.1.1.1", "2001:db8::53"]


def test_email_recipients_are_normalised() -> None:
    model = check("email", {"recipients": " user1@mail.com , user2@mail.com "})
    assert model.recipients == "user1@mail.com,user2@mail.com"


def test_static_interface_and_defaults_of_network() -> None:
    assert NetworkSettings().public_dump()["interfaces"]["eth0"]["dhcp"] == "enabled"
    model = check("network", {"interfaces": {"eth0": {
        "dhcp": "false", "ipv4Address": "10.1.2.3", "prefixLength": "24",
        "gateway": "10.1.2.1"}}})
    assert model.public_dump()["interfaces"]["eth0"]["dhcp"] == "disabled"


def test_settings_models_are_frozen_and_a_change_is_a_new_validated_model() -> None:
    model = EmailSettings()
    for name, value in (("enabled", True), ("serverPort", 0), ("serverPort", 2525)):
        with pytest.raises(ValidationError) as err:
            setattr(model, name, value)
        assert err.value.errors()[0]["type"] == "frozen_instance"
    assert model.enabled is False and model.serverPort == 587
    nested = check("network", {}).interfaces["eth0"]
    with pytest.raises(ValidationError):
        nested.dhcp = "disabled"
    # the way to change: validate the merged keys; a refusal names the rule, nothing changes
    with pytest.raises(ValidationError):
        EmailSettings.model_validate(model.model_dump() | {"enabled": True})
    changed = EmailSettings.model_validate(model.model_dump() | {"serverPort": 2525})
    assert changed.serverPort == 2525 and model.serverPort == 587


# ------------------------------------------------------------------ refusals
BAD = [
    # topic, changes, words the message must hold (key, value, what is allowed)
    ("auth", {"minPasswordLength": 3}, ["minPasswordLength", "3", "4 to 128"]),
    ("auth", {"ldapUrl": "http://dc.example.com"}, ["ldapUrl", "http://dc", "ldap://", "ldaps://"]),
    ("auth", {"ldapEnabled": "enabled"}, ["ldapUrl", "required while ldapEnabled"]),
    ("auth", {"ldapRoleMap": {"ops": "superuser"}}, ["ldapRoleMap.ops", "superuser", "'admin'", "'poweroff'"]),
    ("auth", {"ldapBindDnTemplate": "uid=someone"}, ["ldapBindDnTemplate", "uid=someone", "{0}"]),
    ("backup", {"intervalHours": 0}, ["intervalHours", "0", "1 to 720"]),
    ("backup", {"retentionCount": 400}, ["retentionCount", "400", "1 to 365"]),
    ("backup", {"scheduleEnabled": "sometimes"}, ["scheduleEnabled", "sometimes", "enabled"]),
    ("backup_settings", {"includeLogs": "maybe"}, ["includeLogs", "maybe", "disabled"]),
    ("backup_settings", {"passphrase": "short"}, ["passphrase", "at least 8 characters"]),
    ("cli", {"port": 70000}, ["port", "70000", "0 to 65535"]),
    ("cli", {"idleTimeoutMinutes": -1}, ["idleTimeoutMinutes", "-1", "0 to 1440"]),
    ("cli", {"serialBaud": 4800}, ["serialBaud", "4800", "9600", "115200"]),
    ("cli", {"listenAddress": "not a host"}, ["listenAddress", "not a host", "IPv4/IPv6 address or host name"]),
    ("cli", {"banner": "x" * 2000}, ["banner", "at most 1024 characters"]),
    ("core", {"pollIntervalSeconds": 0}, ["pollIntervalSeconds", "0", "1 to 60"]),
    ("core", {"language": "de"}, ["language", "de", "'en'", "'cs'"]),
    ("core", {"historyFlushSeconds": 5}, ["historyFlushSeconds", "5", "10 to 3600"]),
    ("devices", {"driver": "modbus"}, ["driver", "modbus", "'simulated'"]),
    ("devices", {"pollTimeoutMs": 20}, ["pollTimeoutMs", "20", "50 to 10000"]),
    ("devices", {"simulatedPdus": "many"}, ["simulatedPdus", "many", "whole number"]),
    ("email", {"recipients": "ops@example.com,not-an-address"}, ["recipients", "not-an-address", "e-mail address"]),
    ("email", {"sender": "pdu@"}, ["sender", "pdu@", "e-mail address"]),
    ("email", {"delayTimer": "2 min"}, ["delayTimer", "2 min", "60, 300, 900, 1800 or 3600"]),
    ("email", {"tls": "ssl"}, ["tls", "ssl", "'none', 'starttls' or 'tls'"]),
    ("email", {"minSeverity": "Debug"}, ["minSeverity", "Debug", "'Info'", "'Error'"]),
    ("email", {"enabled": "enabled"}, ["serverAddress", "required while e-mail is enabled"]),
    ("hostname", {"hostname": "-rack"}, ["hostname", "-rack", "RFC 1123"]),
    ("hostname", {"hostname": "rack_1"}, ["hostname", "rack_1", "letters, digits or hyphens"]),
    ("http_server", {"httpsPort": 0}, ["httpsPort", "0", "1 to 65535"]),
    ("http_server", {"certificatePem": "not pem"}, ["certificatePem", "not pem", "-----BEGIN CERTIFICATE-----"]),
    ("http_server", {"certificatePem": CERT}, ["privateKeyPem", "required when certificatePem is set"]),
    ("http_server", {"enabled": "enabled", "insecureEnabled": "disabled", "httpsEnabled": "disabled"}, ["insecureEnabled", "disabled", "httpsEnabled"]),
    ("modbus", {"port": 0}, ["port", "0", "1 to 65535"]),
    ("modbus", {"listenAddress": "10.0.0.999.1"}, ["listenAddress", "10.0.0.999.1", "IPv4/IPv6 address or host name"]),
    ("network", {"interfaces": {"eth0": {"dhcp": "disabled"}}}, ["interfaces.eth0.ipv4Address", "required when dhcp is disabled"]),
    ("network", {"interfaces": {"eth0": {"ipv4Address": "10.0.0.300"}}}, ["interfaces.eth0.ipv4Address", "10.0.0.300", "IPv4 address"]),
    ("network", {"interfaces": {"eth0": {"prefixLength": 33}}}, ["interfaces.eth0.prefixLength", "33", "0 to 32"]),
    ("network", {"interfaces": {"eth0": {"dhcp": "off", "ipv4Address": "10.0.0.2"}}}, ["interfaces.eth0.prefixLength", "1 to 32"]),
    ("network", {"interfaces": {"eth0": {"dns": ["8.8.8.8", "dns.example"]}}}, ["interfaces.eth0.dns[1]", "dns.example", "IPv4 or IPv6 address"]),
    ("network", {"interfaces": {"eth 0": {}}}, ["interfaces.eth 0", "interface name"]),
    ("network", {"interfaces": {"eth0": {"mtu": 1500}}}, ["interfaces.eth0.mtu", "unknown key"]),
    ("notifications", {"infoDays": -1}, ["infoDays", "-1", "0 to 3650"]),
    ("notifications", {"closedErrorDays": 4000}, ["closedErrorDays", "4000", "0 to 3650"]),
    ("snmp_agent", {"snmpVersion": "snmpV1"}, ["snmpVersion", "snmpV1", "'snmpV2C', 'snmpV3' or 'snmpV2CV3'"]),
    ("snmp_agent", {"serverTrapPort": 70000}, ["serverTrapPort", "70000", "1 to 65535"]),
    ("snmp_agent", {"v3ProtocolAuth": "SHA1"}, ["v3ProtocolAuth", "SHA1", "'MD5'", "'SHA512'"]),
    ("snmp_agent", {"v3ProtocolPriv": "3DES"}, ["v3ProtocolPriv", "3DES", "'AES256'"]),
    ("snmp_agent", {"agentAddress": "agent address"}, ["agentAddress", "agent address", "IPv4/IPv6 address or host name"]),
    ("snmp_agent", {"enabled": "enabled", "snmpVersion": "snmpV3"}, ["v3User", "required when snmpVersion is snmpV3"]),
    ("snmp_agent", {"enabled": "enabled", "enabledTrap": "enabled"}, ["serverTrapAddress", "required when enabledTrap"]),
    ("snmp_agent", {"enabled": "enabled", "snmpVersion": "snmpV2CV3", "v3User": "ops", "v3PasswordPriv": "priv-pass-1"}, ["v3PasswordAuth", "required when v3PasswordPriv is set"]),
    ("snmp_agent", {"enabled": "enabled", "v2cCommunity": ""}, ["v2cCommunity", "required when snmpVersion is snmpV2C"]),
    ("snmp_agent", {"snmpLocation": "L" * 300}, ["snmpLocation", "at most 255 characters"]),
    ("snmp_agent", {"community": "private"}, ["community", "unknown key"]),
    ("sppdu5", {"baudRate": 1200}, ["baudRate", "1200", "9600"]),
    ("sppdu5", {"serialPort": "COM1"}, ["serialPort", "COM1", "/dev/"]),
    ("sppdu5", {"serialPort": ""}, ["serialPort", "/dev/ttyS1"]),
    ("sql_export", {"target": "mysql"}, ["target", "mysql", "'csv', 'json' or 'postgresql'"]),
    ("sql_export", {"intervalSeconds": 30}, ["intervalSeconds", "30", "60 to 86400"]),
    ("sql_export", {"dbTable": "history; drop"}, ["dbTable", "history; drop", "SQL table name"]),
    ("sql_export", {"directory": "exports/../../etc"}, ["directory", "exports/../../etc", "absolute directory path"]),
    ("sql_export", {"enabled": "enabled", "target": "postgresql"}, ["dbHost", "required when target is postgresql"]),
    ("syslog", {"serverPort": 70000}, ["serverPort", "70000", "0 to 65535"]),
    ("syslog", {"protocol": "SCTP"}, ["protocol", "SCTP", "'UDP' or 'TCP'"]),
    ("syslog", {"facility": "Local8"}, ["facility", "Local8", "'Kern'", "'Local7'"]),
    ("syslog", {"minSeverity": "Critical"}, ["minSeverity", "Critical", "'Debug'", "'Always'"]),
    ("syslog", {"enabled": "enabled"}, ["serverAddress", "required while syslog is enabled"]),
    ("syslog", {"serverAddress": "logs example"}, ["serverAddress", "logs example", "IPv4/IPv6 address or host name"]),
    ("syslog", {"appName": "ener teg"}, ["appName", "ener teg", "RFC 5424"]),
    ("time", {"timezone": "Mars/Olympus"}, ["timezone", "Mars/Olympus", "IANA time zone"]),
    ("time", {"ntpServers": ["pool.ntp.org", "bad server"]}, ["ntpServers[1]", "bad server", "IPv4/IPv6 address or host name"]),
    ("time", {"ntpServers": []}, ["ntpServers", "at least one NTP server"]),
    ("time", {"ntpEnabled": "yes please"}, ["ntpEnabled", "yes please", "enabled"]),
]


@pytest.mark.parametrize(("name", "changes", "words"), BAD,
                         ids=[f"{n}-{'-'.join(c)}" for n, c, _ in BAD])
def test_bad_values_are_refused_with_key_value_and_allowed(
    name: str, changes: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(Invalid) as err:
        check(name, changes)
    msg = str(err.value)
    assert msg.startswith(f"config/{name}: ")
    for word in words:
        assert word in msg, (word, msg)
    assert err.value.thing and err.value.allowed


def test_every_topic_has_at_least_two_refusals_in_the_table() -> None:
    counts = {name: sum(1 for n, _, _ in BAD if n == name) for name in TOPIC_NAMES}
    assert min(counts.values()) >= 2, counts


@pytest.mark.parametrize(("name", "changes"), [
    ("syslog", {"enabled": "enabled", "serverAddress": "logs.example.net", "protocol": "TCP"}),
    ("snmp_agent", {"enabled": "enabled", "snmpVersion": "snmpV3", "v3User": "ops",
                    "v3PasswordAuth": "auth-pass-1", "v3PasswordPriv": "priv-pass-1",
                    "v3ProtocolAuth": "sha256", "v3ProtocolPriv": "aes"}),
    ("email", {"enabled": "enabled", "serverAddress": "smtp.example.com",
               "sender": "pdu@example.com", "recipients": "ops@example.com"}),
    ("auth", {"ldapEnabled": "enabled", "ldapUrl": "ldaps://dc.example.com:3269",
              "ldapBindDnTemplate": "(uid={0})", "ldapRoleMap": {"pdu-admins": "admin"}}),
    ("sql_export", {"enabled": "enabled", "target": "postgresql", "dbHost": "db.example.com"}),
    ("hostname", {"hostname": "rack-ctl-1.dc.example.com"}),
    ("time", {"timezone": "Europe/Prague", "ntpEnabled": "disabled", "ntpServers": []}),
    ("cli", {"port": 2022, "listenAddress": "::", "serialDevice": "/dev/ttyS0"}),
])
def test_complete_settings_are_accepted(name: str, changes: dict[str, Any]) -> None:
    check(name, changes)
