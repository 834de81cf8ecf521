"""The topic shell (manual §11.1) in script and interactive mode, on a real controller."""

from __future__ import annotations

import asyncio
import json

from enerteg_tui.protocols.shell.commands import complete
from enerteg_tui.protocols.shell.parse import split_statements
from enerteg_tui.protocols.shell.session import ShellSession
from enerteg_tui.protocols.shell.term import MemoryTerm
from tests.conftest import ADMIN, READONLY, principal
from tests.helpers import wait_for


async def run(c, script: str, who=ADMIN) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    sh = ShellSession(c.core, who)
    code = await sh.run_script(script, out.append, err.append)
    return code, "".join(out), "".join(err)


def test_split_statements() -> None:
    assert split_statements("cd a; cat _data\nls") == ["cd a", "cat _data", "ls"]
    assert split_statements('put name="a;b"; pwd') == ['put name="a;b"', "pwd"]
    assert split_statements("# comment\npwd") == ["pwd"]


async def test_manual_example(controller) -> None:
    code, out, err = await run(controller, 'cd config/snmp_agent; put enabled="enabled"; cat _data')
    assert code == 0
    assert "Changed to: /config/snmp_agent" in err
    # the SNMP agent applies it and the put says how that went
    assert "Value at config/snmp_agent updated successfully." in err
    assert "SNMP agent: running on UDP" in err
    assert "Getting data from: config/snmp_agent" in err
    doc = json.loads(out)  # stdout is pure JSON
    assert doc["u"]["enabled"] == "enabled"


async def test_navigation(controller) -> None:
    code, out, _ = await run(controller, "cd sensor; pwd; cd ..; pwd; cd /config/core; cd ../syslog; pwd")
    assert code == 0 and out.split() == ["/sensor", "/", "/config/syslog"]
    code, out, _ = await run(controller, "ls")
    assert code == 0 and out.split() == ["alarms/", "certs/", "config/", "dc/", "rules/", "sensor/", "sim/"]
    h = controller.live.ordered()[0].hex_id
    code, out, _ = await run(controller, f"cat /sensor/{h}/t/_data")
    assert code == 0 and "current" in json.loads(out)
    code, out, _ = await run(controller, f"cd sensor/{h}/i; cat 1")
    assert json.loads(out)["name"] == "L1"


async def test_exit_codes(controller) -> None:
    assert (await run(controller, "pwd"))[0] == 0
    code, out, err = await run(controller, "cd nowhere")
    assert code == 1 and out == "" and "nowhere" in err
    code, _, err = await run(controller, "lss")
    assert code == 2 and "Unknown command: 'lss'" in err and "Did you mean 'ls'" in err
    code, _, err = await run(controller, "put")
    assert code == 2 and "Usage" in err
    code, _, err = await run(controller, 'cat "unterminated')
    assert code == 2
    # a script stops at the first failure
    code, out, _ = await run(controller, "cd nowhere; pwd")
    assert code == 1 and out == ""


async def test_put_errors_and_permissions(controller) -> None:
    code, _, err = await run(controller, "cd config/core; put pollIntervalSeconds=99")
    assert code == 1 and "pollIntervalSeconds" in err and "99" in err and "1 to 60" in err
    code, _, err = await run(controller, "cd config/snmp_agent; put enabled=enabled", who=READONLY)
    assert code == 1 and "Permission denied" in err
    assert controller.config.get("snmp_agent").enabled is False
    code, _, err = await run(controller, "cd /sim", who=principal("readwrite"))
    assert code == 1 and "Permission denied" in err
    code, _, _ = await run(controller, "put /sim pdus=9")
    assert code == 0
    await wait_for(lambda: len(controller.live.devices) == 9, timeout=10)


async def test_format_json_makes_every_stdout_json(controller) -> None:
    script = "format json; pwd; cd config; ls; whoami; users; help; network list; cd /config/hostname; put hostname=ctl-a"
    code, out, err = await run(controller, script)
    assert code == 0, err
    decoder = json.JSONDecoder()
    idx, docs = 0, []
    while idx < len(out):
        while idx < len(out) and out[idx].isspace():
            idx += 1
        if idx >= len(out):
            break
        doc, idx = decoder.raw_decode(out, idx)
        docs.append(doc)
    assert docs[0] == {"cwd": "/"} and docs[1] == {"cwd": "/config"}
    assert docs[2]["entries"][0] == "auth/"
    assert docs[3]["user"] == "admin"
    code, out, err = await run(controller, "format json; cd nowhere")
    assert code == 1 and json.loads(err.strip().splitlines()[-1])["type"] == "NotFound"


async def test_network_commands(controller) -> None:
    code, out, _ = await run(controller, "format json; network list")
    names = [i["name"] for i in json.loads(out)]
    assert "lo" in names
    code, out, _ = await run(controller, "network status lo")
    assert code == 0 and "127.0.0.1/8" in out
    code, _, err = await run(controller, "network status nope0")
    assert code == 1 and "nope0" in err
    code, out, err = await run(controller, "network config eth0 dhcp=false ipv4Address=10.0.0.5 prefixLength=24")
    assert code == 0 and "not applied: the host manages its own network" in err and "10.0.0.5" in out
    code, _, err = await run(controller, "network config eth0 ipv4Address=10.0.0.300")
    assert code == 1 and "ipv4Address" in err and "10.0.0.300" in err
    code, out, _ = await run(controller, "network status")
    assert code == 0 and "127.0.0.1/8" in out and "Management: not applied" in out
    for sub in ("apply", "confirm"):
        code, _, err = await run(controller, f"network {sub}")
        assert code == 1 and "--manage-host" in err and f"network {sub}" in err
    code, _, err = await run(controller, "network confirm now")
    assert code == 2 and "Usage: network confirm" in err


async def test_ping_loopback_without_a_ping_program(controller, monkeypatch) -> None:
    """ICMP echo from the controller's process: no ping program on PATH, no child process."""
    import psutil

    monkeypatch.setenv("PATH", "/nonexistent")
    before = {p.pid for p in psutil.Process().children()}  # other fixtures' peers (postgres)
    code, out, _ = await run(controller, "format json; ping 127.0.0.1 -c 2 -W 1")
    doc = json.loads(out)
    assert code == 0 and doc["received"] == 2 and doc["transmitted"] == 2 and doc["loss"] == 0
    assert len(doc["rttMs"]) == 2
    code, out, _ = await run(controller, "ping localhost -c 1 -W 1")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("PING localhost (") and "icmp_seq=1" in lines[1]
    assert "1 packets transmitted, 1 received, 0% packet loss" in out
    assert {p.pid for p in psutil.Process().children()} <= before
    code, _, err = await run(controller, "ping 'bad host;rm'")
    assert code == 1 and "not a host name" in err
    code, _, err = await run(controller, "ping no-such-host.invalid -c 1 -W 1")
    assert code == 1 and "'no-such-host.invalid' is not known" in err
    code, _, err = await run(controller, "ping 127.0.0.1 -c 101")
    assert code == 2 and "-c 101 is out of range; allowed is 1 to 100" in err


async def test_user_management(controller) -> None:
    code, _, err = await run(controller, "user add ops --role power --role readonly --password Ops-pass-1")
    assert code == 0, err
    code, _, err = await run(controller, "user add x --role readonly --password Ops-pass-1",
                             who=principal("readwrite"))
    assert code == 1 and "Permission denied" in err
    code, _, err = await run(controller, "user add '' --role readonly --password Ops-pass-1")
    assert code == 1 and "Login name cannot be empty; allowed are 1 to 32 characters" in err
    code, _, err = await run(controller, "user add y --role readonly --password short")
    assert code == 1 and "Password too short" in err
    code, out, _ = await run(controller, "format json; user list")
    assert {u["name"] for u in json.loads(out)} == {"admin", "ops"}
    assert (await run(controller, "user roles ops poweron"))[0] == 0
    assert (await run(controller, "user del ops"))[0] == 0
    code, _, err = await run(controller, "user del admin")
    assert code == 1 and "last admin" in err


async def test_interactive_session_with_history_and_completion(controller) -> None:
    term = MemoryTerm()
    sh = ShellSession(controller.core, ADMIN, hostname="ctl")
    task = asyncio.create_task(sh.run_interactive(term))
    term.feed("cd config/snmp_agent\r")
    await wait_for(lambda: "admin@ctl:config/snmp_agent> " in term.output)
    term.feed("put enabled=enabled\r")
    await wait_for(lambda: "SNMP agent: running on UDP" in term.output)
    term.feed("\x1b[A")  # up arrow recalls the last line
    await wait_for(lambda: term.screen()[term.cursor[0]].rstrip().endswith("put enabled=enabled"))
    term.feed("\x15cat _d\t\r")  # ctrl-u, tab completes _data
    await wait_for(lambda: '"snmpVersion"' in term.output)
    term.feed("exit\r")
    assert await asyncio.wait_for(task, 5) == 0
    assert (await controller.users.history("admin"))[-4:] == [
        "cd config/snmp_agent", "put enabled=enabled", "cat _data", "exit"]


async def test_interactive_edit(controller) -> None:
    term = MemoryTerm()
    sh = ShellSession(controller.core, ADMIN, hostname="ctl")
    task = asyncio.create_task(sh.run_interactive(term))
    term.feed("cd /config/core\redit _data\r")
    await wait_for(lambda: "pollIntervalSeconds" in "".join(term.screen()))
    # go to the pollIntervalSeconds line, change its value to 99 (invalid) and try :wq
    term.feed("/pollIntervalSeconds\r")
    await asyncio.sleep(0.1)
    term.feed("$hx")  # cursor on last char, then delete the value's last digit
    await asyncio.sleep(0.1)
    term.feed("i99")
    await asyncio.sleep(0.1)
    term.feed("\x1b")
    await asyncio.sleep(0.1)
    term.feed(":wq\r")
    await wait_for(lambda: "1 to 60" in "".join(term.screen()))
    term.feed(":q!\r")
    await wait_for(lambda: "No changes saved." in term.output)
    assert controller.config.get("core").pollIntervalSeconds == 5
    term.feed("exit\r")
    await asyncio.wait_for(task, 5)


def test_completion(controller) -> None:
    sh = ShellSession(controller.core, ADMIN)
    assert complete(sh, "ca", 2) == ["cat"]
    assert complete(sh, "cd con", 6) == ["config/"]
    assert "snmp_agent/" in [c.rsplit("/", 2)[-2] + "/" for c in complete(sh, "cd config/sn", 12)]
    sh.cwd = "config/snmp_agent"
    assert "enabled=" in complete(sh, "put en", 6)
    assert complete(sh, "format j", 8) == ["json"]


def test_update_completion(controller) -> None:
    upload = controller.core.paths.upload
    upload.mkdir(exist_ok=True)
    (upload / "enerteg-0.2.0.etgpkg").write_bytes(b"x")
    (upload / "backup.etgbak").write_bytes(b"x")
    sh = ShellSession(controller.core, ADMIN)
    assert complete(sh, "upd", 3) == ["update"]
    assert complete(sh, "update ", 7) == ["status", "check", "apply"]
    assert complete(sh, "update apply e", 14) == ["enerteg-0.2.0.etgpkg"]
    readonly = ShellSession(controller.core, principal("readonly"))
    assert complete(readonly, "update apply e", 14) == []


def test_switch_completion(controller) -> None:
    sh = ShellSession(controller.core, ADMIN)
    assert complete(sh, "sw", 2) == ["switch"]
    assert complete(sh, "switch o", 8) == ["on", "off"]
    assert complete(sh, "switch off r", 12) == ["rack", "row", "room"]
    switched = [d.hex_id for d in controller.live.ordered() if d.info.model.switchable]
    assert complete(sh, "switch off pdu ", 15) == switched
    assert complete(sh, "switch off outlets ", 19) == [h + ":" for h in switched]
