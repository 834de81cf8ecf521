"""A port in use, for every face a settings topic starts (Modbus over TCP, SNMP over UDP):
one log line, the face's status saying why, an alarm through the core's alarm service,
and the alarm cleared when the face listens later (settings applied again, or the quiet
retry), checked with the real peers (pymodbus's client, net-snmp's snmpget)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.helpers import free_port, wait_for

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Face:
    service: str
    topic: str
    port_option: str
    sock_type: int
    condition: str
    logger: str


MODBUS = Face("modbus", "modbus", "modbus_port", socket.SOCK_STREAM, "modbusNotRunning",
              "enerteg_tui.protocols.modbus")
SNMP = Face("snmp", "snmp_agent", "snmp_port", socket.SOCK_DGRAM, "snmpAgentNotRunning",
            "enerteg_tui.protocols.snmp")
FACES = [pytest.param(MODBUS, id="modbus"), pytest.param(SNMP, id="snmp")]


def hold(face: Face, port: int) -> socket.socket:
    """A plain socket holding ``port`` on loopback, as another program would."""
    s = socket.socket(socket.AF_INET, face.sock_type)
    s.bind(("127.0.0.1", port))
    if face.sock_type == socket.SOCK_STREAM:
        s.listen(1)
    return s


async def answers(face: Face, port: int) -> bool:
    """Whether the real peer gets an answer from the face on ``port``."""
    if face is MODBUS:
        from pymodbus.client import AsyncModbusTcpClient
        cl = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
        try:
            if not await cl.connect():
                return False
            rr = await cl.read_holding_registers(0, count=2, device_id=0)
            return not rr.isError() and rr.registers == [0x4554, 0x4547]   # "ETEG"
        finally:
            cl.close()
    if not os.path.exists("/usr/bin/snmpget"):
        return True
    proc = await asyncio.create_subprocess_exec(
        "snmpget", "-v2c", "-c", "public", "-On", "-t", "3", "-r", "1",
        f"udp:127.0.0.1:{port}", ".1.3.6.1.2.1.1.5.0", stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "MIBS": "", "MIBDIRS": ""})
    out, _ = await proc.communicate()
    return proc.returncode == 0 and b".1.3.6.1.2.1.1.5.0" in out


def condition_alarms(c: Any, face: Face) -> list[Any]:
    return [a for a in c.alarms.active() if a.quantity == face.condition]


@pytest.mark.parametrize("face", FACES)
async def test_port_in_use_raises_an_alarm_cleared_when_the_face_listens(
        make_controller: Any, caplog: pytest.LogCaptureFixture, face: Face) -> None:
    port = free_port(face.sock_type)
    holder = hold(face, port)
    try:
        c = await make_controller(pdus=2, bind="127.0.0.1", **{face.port_option: port})
        svc = c.service(face.service)
        with caplog.at_level(logging.INFO, logger=face.logger):
            await c.config.put(SYSTEM, face.topic, {"enabled": "enabled"})
            await wait_for(lambda: "not running" in svc.status.text)
            # the same settings again: still one alarm, one log line, one audit entry
            fut = c.faces.next_report(face.topic)
            await c.config.put(SYSTEM, face.topic, {"enabled": "enabled"})
            assert "in use" in await asyncio.wait_for(fut, 10)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0].getMessage()
        assert "in use" in svc.status.text and not svc.status.running
        assert "in use" in c.faces.text(face.topic)
        alarms = condition_alarms(c, face)
        assert len(alarms) == 1, alarms
        alarm = alarms[0]
        assert alarm.text.startswith(f"{svc.TITLE} not running: cannot listen on ")
        assert f"127.0.0.1:{port}" in alarm.text and "in use" in alarm.text
        assert c.alarms.counts()["warning"] >= 1
        await c.alarms.flush()
        rows = await c.store.fetchall(
            "SELECT action FROM audit WHERE object=? ORDER BY id", (f"alarms/{alarm.id}",))
        assert [r[0] for r in rows] == ["alarm.raise"]
    finally:
        holder.close()
    # the port is free: applying the settings again starts the face and clears the alarm
    await c.config.put(SYSTEM, face.topic, {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running)
    assert not condition_alarms(c, face)
    assert not c.alarms.get(alarm.id).active
    assert await answers(face, port)
    await c.alarms.flush()
    rows = await c.store.fetchall(
        "SELECT action, message FROM audit WHERE object=? ORDER BY id", (f"alarms/{alarm.id}",))
    assert [r[0] for r in rows] == ["alarm.raise", "alarm.clear"]
    assert "running on" in rows[1][1]


@pytest.mark.parametrize("face", FACES)
async def test_a_face_retries_quietly_and_disabling_clears_the_alarm(
        make_controller: Any, caplog: pytest.LogCaptureFixture, face: Face) -> None:
    port = free_port(face.sock_type)
    holder = hold(face, port)
    c = await make_controller(pdus=2, bind="127.0.0.1", **{face.port_option: port})
    svc = c.service(face.service)
    svc.retry_seconds = 0.05
    try:
        with caplog.at_level(logging.INFO, logger=face.logger):
            await c.config.put(SYSTEM, face.topic, {"enabled": "enabled"})
            await wait_for(lambda: len(condition_alarms(c, face)) == 1)
            # several retries fail while the port is held (each reports again): no new
            # log line, no new alarm, no new audit entry
            first = svc.status.text
            for _ in range(3):
                fut = c.faces.next_report(face.topic)
                assert await asyncio.wait_for(fut, 10) == first
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert len(condition_alarms(c, face)) == 1
        rows = await c.store.fetchall(
            "SELECT COUNT(*) FROM audit WHERE action=?", (f"{face.service}.error",))
        assert rows[0][0] == 1
    finally:
        holder.close()
    # freed: the retry starts the face without any settings change
    await wait_for(lambda: svc.status.running)
    assert not condition_alarms(c, face)
    assert await answers(face, port)
    # held again and disabled: no alarm, the face is off on purpose
    await c.config.put(SYSTEM, face.topic, {"enabled": "disabled"})
    await wait_for(lambda: not svc.status.running)
    holder = hold(face, port)
    try:
        await c.config.put(SYSTEM, face.topic, {"enabled": "enabled"})
        await wait_for(lambda: len(condition_alarms(c, face)) == 1)
        await c.config.put(SYSTEM, face.topic, {"enabled": "disabled"})
        await wait_for(lambda: svc.status.text.startswith("disabled"))
        assert not condition_alarms(c, face)
    finally:
        holder.close()
