"""Scripted use of the topic shell over SSH with OpenSSH's client: exec commands, stdin
scripts, exit codes, pure-JSON stdout, the role matrix for ``put``, the default password."""

from __future__ import annotations

import json

import pytest

from enerteg_tui.core.permissions import SYSTEM

from .conftest import SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


async def test_exec_cat_prints_pure_json_and_exits_0(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("oper", "cd config/snmp_agent; cat _data")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert "enabled" in json.dumps(doc)
    assert "Changed to: /config/snmp_agent" in r.err


async def test_exec_format_json_makes_every_command_json(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("oper", "format json; pwd; ls config; whoami")
    assert r.code == 0, r.err
    decoder = json.JSONDecoder()
    text, docs = r.out.strip(), []
    while text:
        doc, end = decoder.raw_decode(text)
        docs.append(doc)
        text = text[end:].strip()
    assert len(docs) == 3
    assert docs[2]["user"] == "oper" and docs[2]["face"] == "ssh"
    assert docs[2]["from"] == "127.0.0.1"


async def test_exit_codes_failed_command_and_usage_error(ssh_env: SSHEnv) -> None:
    failed = await ssh_env.ssh("oper", "cd no/such/topic; pwd")
    assert failed.code == 1
    assert failed.out == ""           # the script stopped before pwd
    assert "no/such" in failed.err
    usage = await ssh_env.ssh("oper", "cd a b c")
    assert usage.code == 2
    unknown = await ssh_env.ssh("oper", "lss")
    assert unknown.code == 2
    assert "Unknown command" in unknown.err and "ls" in unknown.err


async def test_commands_on_stdin_without_a_pty(ssh_env: SSHEnv) -> None:
    script = "cd config/hostname\ncat _data\n# a comment\npwd\n"
    r = await ssh_env.ssh("oper", None, stdin=script, extra=("-T",))
    assert r.code == 0, r.err
    assert r.out.rstrip().endswith("/config/hostname") or "config/hostname" in r.out
    assert json.loads(r.out[: r.out.rindex("}") + 1])["u"]["hostname"] == "enerteg"


async def test_readonly_put_is_refused_and_changes_nothing(ssh_env: SSHEnv) -> None:
    before = ssh_env.controller.config.get("snmp_agent").model_dump()
    r = await ssh_env.ssh("oper", 'cd config/snmp_agent; put snmpContact="x@example.com"')
    assert r.code == 1
    assert "not allowed" in r.err.lower() or "permission" in r.err.lower()
    assert ssh_env.controller.config.get("snmp_agent").model_dump() == before
    ok = await ssh_env.ssh("boss", 'cd config/snmp_agent; put snmpContact="x@example.com"')
    assert ok.code == 0, ok.err
    assert "Value at config/snmp_agent updated successfully." in ok.err
    assert "SNMP agent: disabled" in ok.err
    assert ssh_env.controller.config.get("snmp_agent").snmpContact == "x@example.com"


async def test_sim_is_admin_only(ssh_env: SSHEnv) -> None:
    refused = await ssh_env.ssh("power", "ls sim")
    assert refused.code == 1
    allowed = await ssh_env.ssh("boss", "ls sim")
    assert allowed.code == 0, allowed.err


async def test_user_management_role_matrix(ssh_env: SSHEnv) -> None:
    refused = await ssh_env.ssh("oper", "user add carol --role readonly --password Str0ng-pass")
    assert refused.code == 1
    ok = await ssh_env.ssh("boss", "user add carol --role readonly --password Str0ng-pass")
    assert ok.code == 0, ok.err
    r = await ssh_env.ssh("carol", "whoami", password="Str0ng-pass")
    assert r.code == 0 and "carol" in r.out


async def test_default_password_exec_is_refused_with_a_way_out(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("admin", "ls", password="admin")
    assert r.code == 1
    assert r.out == ""
    assert "factory default" in r.err and "enerteg user passwd admin" in r.err


async def test_wrong_password_is_refused_and_audited(ssh_env: SSHEnv) -> None:
    r = await ssh_env.ssh("oper", "ls", password="wrong-password")
    assert r.code == 255
    entries = await ssh_env.controller.audit.query(SYSTEM, limit=50)
    assert any(e.action == "login.failed" and "oper" in e.message for e in entries)


async def test_banner_is_shown_before_login(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "cli", {"banner": "Rack room B — staff only"})
    r = await ssh_env.ssh("oper", "pwd", extra=("-o", "LogLevel=INFO"))
    assert "Rack room B — staff only" in r.err
    assert r.code == 0
