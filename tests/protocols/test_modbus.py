"""The Modbus TCP server through real clients (pymodbus's client, mbpoll, raw sockets) on
loopback: started and stopped by config/modbus, the shell's report, the register map
read from live state on every unit, exceptions (0x0B, 0x02, 0x03, 0x01), writes with
arm + command and their audit trail, the generated doc and the CSV in /docs."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.errors import EnertegError
from enerteg_tui.core.model import DeviceState, OutletState
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.quantities import Component
from enerteg_tui.protocols.modbus.errors import EXCEPTION_CODE, exception_code
from enerteg_tui.protocols.modbus.regmap import MAP_PATH, load_map, render_markdown
from tests.helpers import free_port, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MAP = load_map()


async def server(make_controller: Any, pdus: int = 4, **settings: Any) -> tuple[Any, int]:
    """A controller whose Modbus server listens on a free loopback port."""
    port = free_port()
    options = {"interval": 0.2, **settings.pop("controller", {})}
    c = await make_controller(pdus=pdus, modbus_port=port, bind="127.0.0.1", **options)
    await c.config.put(SYSTEM, "modbus", {"enabled": "enabled", **settings})
    svc = c.service("modbus")
    await wait_for(lambda: svc.status.running)
    return c, port


async def client(port: int) -> Any:
    from pymodbus.client import AsyncModbusTcpClient
    cl = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
    assert await cl.connect()
    return cl


def words_f32(words: list[int]) -> float:
    return struct.unpack(">f", struct.pack(">HH", *words))[0]


def text_of(words: list[int]) -> str:
    return struct.pack(f">{len(words)}H", *words).rstrip(b"\0").decode()


def by_unit(c: Any) -> dict[int, Any]:
    return {d.info.settings.device_id: d for d in c.live.devices.values()}


async def raw(port: int, frame: bytes, timeout: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(frame)
        await writer.drain()
        head = await asyncio.wait_for(reader.readexactly(7), timeout)
        length = struct.unpack(">H", head[4:6])[0]
        return head + await asyncio.wait_for(reader.readexactly(length - 1), timeout)
    finally:
        writer.close()


def mbap(unit: int, pdu: bytes, tid: int = 1) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


# ------------------------------------------------------------------ start, stop, status
async def test_settings_start_and_stop_the_server_without_restart(make_controller: Any) -> None:
    c, port = await server(make_controller)
    cl = await client(port)
    rr = await cl.read_holding_registers(0, count=4, device_id=0)
    assert not rr.isError() and text_of(rr.registers[:2]) == "ETEG" and rr.registers[2:] == [1, 1]
    cl.close()
    svc = c.service("modbus")
    await c.config.put(SYSTEM, "modbus", {"enabled": "disabled"})
    await wait_for(lambda: not svc.status.running)
    assert svc.status.text.startswith("disabled")
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    await c.config.put(SYSTEM, "modbus", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running)
    cl = await client(port)
    rr = await cl.read_input_registers(0, count=2, device_id=255)
    assert text_of(rr.registers) == "ETEG"
    cl.close()


async def test_port_in_use_is_one_log_line_and_an_audit_entry(
        make_controller: Any, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    try:
        c = await make_controller(pdus=2, modbus_port=port, bind="127.0.0.1")
        with caplog.at_level(logging.INFO, logger="enerteg_tui.protocols.modbus"):
            await c.config.put(SYSTEM, "modbus", {"enabled": "enabled"})
            svc = c.service("modbus")
            await wait_for(lambda: "not running" in svc.status.text)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and not errors[0].exc_info
        assert f"127.0.0.1:{port}" in errors[0].getMessage()
        assert "in use" in svc.status.text and not svc.status.running
        rows = await c.store.fetchall(
            "SELECT action, message FROM audit WHERE action='modbus.error'")
        assert rows and "in use" in rows[0][1]
        sweeps = c.live.bus.sweeps
        await wait_for(lambda: c.live.bus.sweeps > sweeps)
    finally:
        holder.close()


async def test_shell_says_whether_the_server_runs_and_why_not(make_controller: Any) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    port = free_port()
    c = await make_controller(pdus=2, modbus_port=port, bind="127.0.0.1")

    async def shell(script: str) -> tuple[int, str, str]:
        out: list[str] = []
        err: list[str] = []
        code = await ShellSession(c.core, ADMIN).run_script(script, out.append, err.append)
        return code, "".join(out), "".join(err)

    code, out, err = await shell("cat config/modbus")
    assert code == 0 and "Modbus server: disabled (config/modbus enabled=disabled)" in err
    code, out, err = await shell("put config/modbus enabled=enabled")
    assert code == 0, err
    assert (f"Modbus server: running on TCP 127.0.0.1:{port} (read-only, at most 32 "
            "connections)") in err
    code, out, err = await shell("put config/modbus allowWrite=enabled")
    assert "writes allowed" in err
    await shell("put config/modbus enabled=disabled")
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    try:
        code, out, err = await shell("put config/modbus enabled=enabled")
        assert code == 0
        assert (f"Modbus server: not running: cannot listen on TCP 127.0.0.1:{port}: "
                "Address already in use") in err
        code, out, err = await shell("cat config/modbus")
        assert "Address already in use" in err
    finally:
        holder.close()


async def test_connection_cap_and_idle_timeout(make_controller: Any) -> None:
    port = free_port()
    c = await make_controller(pdus=2, interval=0.2, modbus_port=port, bind="127.0.0.1")
    svc = c.service("modbus")
    await c.config.put(SYSTEM, "modbus", {"enabled": "enabled", "maxConnections": 2,
                                          "idleTimeoutSeconds": 1})
    await wait_for(lambda: svc.status.running)
    frame = mbap(0, struct.pack(">BHH", 3, 0, 2))
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    for _, w in conns:
        w.write(frame)
    answered = 0
    for r, _ in conns:
        try:
            data = await asyncio.wait_for(r.read(64), 2)
        except (ConnectionError, asyncio.TimeoutError):
            data = b""
        answered += bool(data)
    assert answered == 2                      # the third was closed at once
    # the open two are closed once idle for 1 s
    for r, _ in conns[:2]:
        assert await asyncio.wait_for(r.read(64), 3) == b""
    for _, w in conns:
        w.close()
    assert svc.server.refused == 1
    # a fresh client is served again
    assert (await raw(port, frame))[7] == 3


# ------------------------------------------------------------------ reads
async def test_every_block_of_every_pdu_reads_live_values(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=20,
                           controller={"equipment": "full", "interval": 600})  # values hold still
    cl = await client(port)
    units = by_unit(c)
    assert len(units) == 20
    extents = MAP.extents["pdu"]
    for unit, dev in units.items():
        blocks: dict[int, list[int]] = {}
        for start, end in extents:
            for a in range(start, end, 125):
                n = min(125, end - a)
                rr = await cl.read_holding_registers(a, count=n, device_id=unit)
                assert not rr.isError(), (unit, a, rr)
                for i, w in enumerate(rr.registers):
                    blocks[a + i] = w
        assert blocks[5] == unit and blocks[6] == dev.info.position + 1
        assert blocks[9] == dev.info.model.outlets
        assert text_of([blocks[50 + i] for i in range(16)]) == dev.info.settings.name
        assert text_of([blocks[98 + i] for i in range(8)]) == dev.info.identification.serial[:16]
        assert (blocks[18] << 16 | blocks[19]) == MAP.crc
        # measured values equal the live values (float32 precision; energy in 0.01 kWh)
        for (comp, index), group in list(dev.groups.items()):
            base = {Component.TOTAL: 1000, Component.INPUT: 1000, Component.BRANCH: 2000,
                    Component.OUTLET: 10000, Component.SENSOR: 4000}[comp] + index * 100
            if comp is Component.SENSOR:
                continue
            for key, off in (("current", 6), ("activePower", 14), ("powerFactor", 20)):
                if key in group:
                    got = words_f32([blocks[base + off], blocks[base + off + 1]])
                    assert got == pytest.approx(group[key], rel=1e-6), (unit, comp, index, key)
            if "energy" in group:
                got = blocks[base + 30] << 16 | blocks[base + 31]
                assert got == round(group["energy"] * 100)
        # absent components: NaN and 0xFFFF state
        o = dev.info.model.outlets + 1
        if o <= 99:
            nan = words_f32([blocks[10000 + o * 100], blocks[10000 + o * 100 + 1]])
            assert math.isnan(nan) and blocks[10000 + o * 100 + 34] == 0xFFFF
    cl.close()


async def test_values_equal_the_shells_cat_on_a_20_pdu_ring(make_controller: Any) -> None:
    """Every measured quantity of every element of every PDU, read over Modbus, equals what
    ``cat sensor/<hex>/...`` shows, within the map's type (float32, 0.01 kWh)."""
    import json

    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    port = free_port()
    c = await make_controller(pdus=20, interval=600, modbus_port=port, bind="127.0.0.1",
                              equipment="full")          # one sweep: values hold still
    await c.config.put(SYSTEM, "modbus", {"enabled": "enabled"})
    await wait_for(lambda: c.service("modbus").status.running)
    cl = await client(port)

    async def cat(path: str) -> Any:
        out: list[str] = []
        code = await ShellSession(c.core, ADMIN).run_script(f"cat {path}", out.append,
                                                            lambda _: None)
        assert code == 0
        return json.loads("".join(out))

    offsets = {row["name"]: int(row["offset"]) for row in MAP.rows
               if row["block"] == "outlets" and row["source"].startswith("q:")}
    bases = {"t": 1000, "i": 1000, "b": 2000, "o": 10000}
    compared = 0
    for unit, dev in by_unit(c).items():
        docs = [await cat(f"sensor/{dev.hex_id}/t")]
        for el in ("i", "b", "o"):
            docs += [dict(d, el=el) for d in (await cat(f"sensor/{dev.hex_id}/{el}/_data"))["items"]]
        docs[0]["el"] = "t"
        for doc in docs:
            start = bases[doc["el"]] + doc["index"] * 100
            rr = await cl.read_input_registers(start, count=64, device_id=unit)
            assert not rr.isError(), (unit, start)
            regs = rr.registers
            for key, off in offsets.items():
                shown = doc.get(key)
                if key in ("energy", "apparentEnergy"):
                    got = regs[off] << 16 | regs[off + 1]
                    if shown is None:
                        assert got == 0xFFFFFFFF
                    else:
                        assert got == round(shown * 100), (unit, doc["el"], doc["index"], key)
                else:
                    got = words_f32(regs[off:off + 2])
                    if shown is None:
                        assert math.isnan(got), (unit, doc["el"], doc["index"], key)
                    else:
                        assert got == pytest.approx(shown, rel=1e-6, abs=1e-6), (
                            unit, doc["el"], doc["index"], key)
                compared += 1
            if doc["el"] == "o" and doc.get("switchable"):
                assert regs[36] == {"on": 1, "off": 0}[doc["state"]]
        sensors = (await cat(f"sensor/{dev.hex_id}/s/_data"))["items"]
        for doc in sensors:
            rr = await cl.read_holding_registers(4000 + doc["index"] * 100, count=4, device_id=unit)
            assert words_f32(rr.registers[:2]) == pytest.approx(doc["value"], rel=1e-6)
            assert rr.registers[2] == {"temperature": 1, "humidity": 2}[doc["type"]]
    assert compared > 20 * 16 * 20
    cl.close()


async def test_values_are_read_per_request_and_fc03_equals_fc04(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=2, controller={"interval": 600})
    cl = await client(port)
    unit, dev = next(iter(by_unit(c).items()))
    dev.groups[(Component.TOTAL, 0)]["activePower"] = 1234.5   # no sweep will overwrite it
    hr = await cl.read_holding_registers(1000, count=64, device_id=unit)
    ir = await cl.read_input_registers(1000, count=64, device_id=unit)
    assert words_f32(hr.registers[14:16]) == 1234.5
    assert hr.registers[:14] == ir.registers[:14]
    cl.close()


async def test_requests_during_a_sweep_are_answered_in_order(make_controller: Any) -> None:
    """While the poller sweeps, reads (the fast path) and writes (through pymodbus) wait in
    the pacer's one queue and are answered, each client's in its own order, with the same
    words and exception codes as between sweeps."""
    c, port = await server(make_controller, pdus=2, allowWrite="enabled",
                           controller={"interval": 600})
    unit, dev = next(iter(by_unit(c).items()))
    quiet = [await raw(port, mbap(unit, struct.pack(">BHH", fc, a, n), tid=9))
             for fc, a, n in ((3, 1000, 64), (4, 0, 20), (3, 7000, 1), (3, 0, 126))]
    pacer = c.service("modbus").server.pacer
    c.poller.sweeping = True              # as in a sweep (none runs: interval 600 s)
    try:
        async def session(k: int) -> list[bytes]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            out = []
            for i, (fc, a, n) in enumerate(((3, 1000, 64), (4, 0, 20), (3, 7000, 1),
                                            (3, 0, 126))):
                writer.write(mbap(unit, struct.pack(">BHH", fc, a, n), tid=k * 100 + i))
                await writer.drain()
                head = await asyncio.wait_for(reader.readexactly(7), 5)
                body = await reader.readexactly(struct.unpack(">H", head[4:6])[0] - 1)
                assert struct.unpack(">H", head[:2])[0] == k * 100 + i
                out.append(head[2:] + body)
            # a write through pymodbus's path waits in the same queue
            name = "paced".encode().ljust(32, b"\0")
            writer.write(mbap(unit, struct.pack(">BHHB", 16, 50, 16, 32) + name, tid=7))
            head = await asyncio.wait_for(reader.readexactly(7), 5)
            body = await reader.readexactly(struct.unpack(">H", head[4:6])[0] - 1)
            assert body[0] == 16, body
            writer.close()
            return out

        answers = await asyncio.gather(*(session(k) for k in range(5)))
        assert pacer.task is not None
    finally:
        c.poller.sweeping = False
    for got in answers:
        assert got == [q[2:] for q in quiet]    # same answer (the tid aside) as between sweeps
    assert [q[7:9] for q in quiet[2:]] == [bytes([0x83, 0x02]), bytes([0x83, 0x03])]
    assert dev.info.settings.name == "paced"
    assert not pacer.queue


async def test_pipelined_and_split_requests_are_all_answered_in_order(
        make_controller: Any) -> None:
    """Four requests in one segment (reads and a write; pymodbus alone answered the first
    and dropped the rest), then one request split over three segments."""
    c, port = await server(make_controller, pdus=2, allowWrite="enabled",
                           controller={"interval": 600})
    unit, dev = next(iter(by_unit(c).items()))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        name = "piped".encode().ljust(32, b"\0")
        writer.write(mbap(unit, struct.pack(">BHH", 3, 0, 2), tid=1)
                     + mbap(unit, struct.pack(">BHHB", 16, 50, 16, 32) + name, tid=2)
                     + mbap(unit, struct.pack(">BHH", 4, 50, 3), tid=3)
                     + mbap(unit, b"\x41\x00", tid=4))
        await writer.drain()
        got = []
        for _ in range(4):
            head = await asyncio.wait_for(reader.readexactly(7), 5)
            body = await reader.readexactly(struct.unpack(">H", head[4:6])[0] - 1)
            got.append((struct.unpack(">H", head[:2])[0], body))
        assert [t for t, _ in got] == [1, 2, 3, 4]
        assert got[0][1] == b"\x03\x04" + b"ETEG"
        assert got[1][1][0] == 16
        assert got[2][1] == b"\x04\x06" + b"piped\0"     # the write came first
        assert got[3][1] == bytes([0xC1, 0x01])
        frame = mbap(unit, struct.pack(">BHH", 3, 5, 1), tid=5)
        for part in (frame[:3], frame[3:9], frame[9:]):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.05)
        head = await asyncio.wait_for(reader.readexactly(7), 5)
        body = await reader.readexactly(struct.unpack(">H", head[4:6])[0] - 1)
        assert struct.unpack(">H", head[:2])[0] == 5 and body == b"\x03\x02" + struct.pack(
            ">H", unit)
    finally:
        writer.close()
    assert dev.info.settings.name == "piped"


async def test_controller_unit_has_ring_directory(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=5)
    cl = await client(port)
    rr = await cl.read_holding_registers(200, count=8, device_id=0)
    assert rr.registers[0] == 5
    rr = await cl.read_holding_registers(300, count=100, device_id=255)
    ordered = sorted(c.live.devices.values(), key=lambda d: d.info.position)
    assert rr.registers[:5] == [d.info.settings.device_id for d in ordered]
    assert rr.registers[5:] == [0] * 95
    bits = await cl.read_holding_registers(400, count=16, device_id=0)
    for d in ordered:
        i = d.info.settings.device_id
        assert bits.registers[i // 16] >> (i % 16) & 1
    cl.close()


async def test_exceptions_unknown_unit_stale_gap_and_count(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=3)
    cl = await client(port)
    units = by_unit(c)
    unknown = next(i for i in range(1, 248) if i not in units)
    rr = await cl.read_holding_registers(0, count=2, device_id=unknown)
    assert rr.isError() and rr.exception_code == 0x0B
    rr = await cl.read_holding_registers(0, count=2, device_id=250)
    assert rr.exception_code == 0x0B
    unit, dev = next(iter(units.items()))
    # across a gap (header 0-49 + identification 50-199 are adjacent; 200 is a gap)
    rr = await cl.read_holding_registers(190, count=20, device_id=unit)
    assert rr.exception_code == 0x02
    rr = await cl.read_holding_registers(7000, count=1, device_id=unit)
    assert rr.exception_code == 0x02
    # quantity 0 and 126: 0x03 (raw frames: pymodbus's client refuses to send them)
    for n in (0, 126):
        resp = await raw(port, mbap(unit, struct.pack(">BHH", 3, 0, n)))
        assert resp[7:9] == bytes([0x83, 0x03])
    # unknown function code: 0x01, coils 0x01
    assert (await raw(port, mbap(unit, b"\x41\x00")))[7:9] == bytes([0xC1, 0x01])
    rr = await cl.read_coils(0, count=1, device_id=unit)
    assert rr.exception_code == 0x01
    # the brief's layout keeps no coils or discrete inputs (outlet states are the relay
    # word, alarm bits the state words): FC02, FC05, FC15 answer 0x01 too, on every unit
    for u in (unit, 0):
        rr = await cl.read_discrete_inputs(0, count=8, device_id=u)
        assert rr.exception_code == 0x01
        rr = await cl.write_coil(0, True, device_id=u)
        assert rr.exception_code == 0x01
        rr = await cl.write_coils(0, [True, False], device_id=u)
        assert rr.exception_code == 0x01
    # a PDU that stops answering: 0x0B, never old numbers
    dev.state = DeviceState.STALE
    rr = await cl.read_holding_registers(1000, count=10, device_id=unit)
    assert rr.exception_code == 0x0B
    cl.close()


async def test_a_device_id_two_pdus_share_answers_0x0b_until_fixed(make_controller: Any) -> None:
    """The core refuses a duplicate Device ID, so only the ring can report one (a PDU set
    up on its own display): an alarm per shared ID, 0x0B for it, cleared when fixed."""
    from tests.conftest import ADMIN
    c, port = await server(make_controller, pdus=3)
    cl = await client(port)
    a, b = list(c.live.devices.values())[:2]
    shared, own = a.info.settings.device_id, b.info.settings.device_id
    sim = c.driver.device(b.hex_id)
    sim.apply_settings(sim.settings.model_copy(update={"device_id": shared}))
    await wait_for(lambda: b.info.settings.device_id == shared)
    await wait_for(lambda: any(x.quantity == "duplicateDeviceId" for x in c.alarms.active()))
    alarm = next(x for x in c.alarms.active() if x.quantity == "duplicateDeviceId")
    assert alarm.index == shared and a.hex_id in alarm.text and b.hex_id in alarm.text
    assert f"Device ID {shared} is reported by 2 PDUs" in alarm.text
    rr = await cl.read_holding_registers(0, count=6, device_id=shared)
    assert rr.exception_code == 0x0B         # which PDU would answer? neither
    rr = await cl.read_holding_registers(0, count=6, device_id=own)
    assert rr.exception_code == 0x0B
    # the controller unit's presence bitmap leaves the shared ID out
    rr = await cl.read_holding_registers(400 + shared // 16, count=1, device_id=0)
    assert not rr.registers[0] & (1 << shared % 16)
    await c.devices.update_settings(ADMIN, b.hex_id, {"deviceId": own})
    await wait_for(lambda: not any(x.quantity == "duplicateDeviceId"
                                   for x in c.alarms.active()))
    rr = await cl.read_holding_registers(0, count=6, device_id=own)
    assert rr.registers[5] == own
    # FC43 (read device identification) names the controller
    from pymodbus.pdu.mei_message import ReadDeviceInformationRequest
    resp = await cl.execute(False, ReadDeviceInformationRequest(read_code=1, object_id=0,
                                                                dev_id=0))
    assert resp.information[0] == b"EnerTEG" and resp.information[1] == b"ETEG-RING"
    cl.close()


# ------------------------------------------------------------------ mbpoll
@pytest.mark.skipif(not os.path.exists("/usr/bin/mbpoll"), reason="mbpoll not installed")
async def test_mbpoll_reads_floats_big_endian_words(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=2, controller={"interval": 600})
    unit, dev = next(iter(by_unit(c).items()))
    dev.groups[(Component.INPUT, 1)]["voltage"] = 230.5         # no sweep will overwrite it
    args = ["mbpoll", "-m", "tcp", "-a", str(unit), "-0", "-t", "4:float", "-r", "1100",
            "-c", "1", "-1", "-p", str(port), "127.0.0.1"]
    proc = await asyncio.create_subprocess_exec(*args[:-1], "-B", args[-1],
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err
    assert "[1100]: \t230.5" in out.decode() or "[1100]: 230.5" in out.decode().replace("\t", "")
    # without -B mbpoll takes the low word first: not our value
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0 and "230.5" not in out.decode()
    # an unknown unit through mbpoll: the gateway exception, named
    proc = await asyncio.create_subprocess_exec(
        "mbpoll", "-m", "tcp", "-a", "247", "-0", "-r", "0", "-c", "2", "-1", "-p", str(port),
        "127.0.0.1", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert "Target device failed to respond" in (out + err).decode()
    # coils (-t 0) and discrete inputs (-t 1): not in the map, "Illegal function"
    for table in ("0", "1"):
        proc = await asyncio.create_subprocess_exec(
            "mbpoll", "-m", "tcp", "-a", str(unit), "-0", "-t", table, "-r", "0", "-c", "8",
            "-1", "-p", str(port), "127.0.0.1", stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert "Illegal function" in (out + err).decode(), (out + err).decode()


# ------------------------------------------------------------------ writes
async def test_writes_off_answer_illegal_function_and_change_nothing(
        make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=2)
    cl = await client(port)
    unit, dev = next(iter(by_unit(c).items()))
    name = dev.info.settings.name
    rr = await cl.write_registers(50, [0x4142] + [0] * 15, device_id=unit)
    assert rr.isError() and rr.exception_code == 0x01
    rr = await cl.write_register(900, 0xA5A5, device_id=unit)
    assert rr.exception_code == 0x01
    assert dev.info.settings.name == name
    cl.close()


async def test_switching_needs_arm_then_command_and_is_audited(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=3, allowWrite="enabled",
                           controller={"equipment": "full"})
    cl = await client(port)
    unit, dev = next((u, d) for u, d in by_unit(c).items() if d.info.model.switchable)
    await wait_for(lambda: dev.outlet_states.get(3) is OutletState.ON)
    # command without arming: 0x03, status 16, nothing switched
    rr = await cl.write_register(901, (1 << 8) | 3, device_id=unit)
    assert rr.isError() and rr.exception_code == 0x03
    st = await cl.read_holding_registers(900, count=4, device_id=unit)
    assert st.registers[2] == 16 and dev.outlet_states[3] is OutletState.ON
    # wrong key: 0x03
    rr = await cl.write_register(900, 0x1234, device_id=unit)
    assert rr.exception_code == 0x03
    # arm + command switches outlet 3 off
    rr = await cl.write_register(900, 0xA5A5, device_id=unit)
    assert not rr.isError(), rr
    st = await cl.read_holding_registers(900, count=1, device_id=unit)
    assert 1 <= st.registers[0] <= 10
    rr = await cl.write_register(901, (1 << 8) | 3, device_id=unit)
    assert not rr.isError(), rr
    await wait_for(lambda: dev.outlet_states.get(3) is OutletState.OFF)
    st = await cl.read_holding_registers(900, count=4, device_id=unit)
    assert st.registers[1:] == [(1 << 8) | 3, 2, 1]
    # one command per arming
    rr = await cl.write_register(901, (2 << 8) | 3, device_id=unit)
    assert rr.exception_code == 0x03
    rows = await c.store.fetchall(
        "SELECT action, user, face, address FROM audit WHERE action='outlet.off'")
    assert rows and tuple(rows[-1][1:]) == ("modbus", "modbus", "127.0.0.1")
    cl.close()


async def test_names_and_settings_written_through_the_core(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=2, allowWrite="enabled")
    cl = await client(port)
    unit, dev = next(iter(by_unit(c).items()))
    raw_name = "Rack 7 PDU".encode().ljust(32, b"\0")
    rr = await cl.write_registers(50, list(struct.unpack(">16H", raw_name)), device_id=unit)
    assert not rr.isError(), rr
    assert dev.info.settings.name == "Rack 7 PDU"
    rr = await cl.read_holding_registers(50, count=16, device_id=unit)
    assert text_of(rr.registers) == "Rack 7 PDU"
    # part of a string: 0x03; a read-only field: 0x02; bad feed: 0x03
    rr = await cl.write_registers(50, [0x4142] * 4, device_id=unit)
    assert rr.exception_code == 0x03
    rr = await cl.write_register(98, 1, device_id=unit)
    assert rr.exception_code == 0x02
    rr = await cl.write_register(173, 9, device_id=unit)
    assert rr.exception_code == 0x03
    rr = await cl.write_register(173, 2, device_id=unit)
    assert not rr.isError() and dev.info.settings.feed.value == "B"
    # outlet delay out of range: the core refuses (Invalid → 0x03), nothing changes
    before = dev.info.settings.outlet_delay_ms
    rr = await cl.write_register(175, 60001, device_id=unit)
    assert rr.exception_code == 0x03 and dev.info.settings.outlet_delay_ms == before
    # an outlet's name (offset 48 of its record) and locate
    label = list(struct.unpack(">16H", "Web 2".encode().ljust(32, b"\0")))
    rr = await cl.write_registers(10000 + 2 * 100 + 48, label, device_id=unit)
    assert not rr.isError() and dev.info.settings.outlets[1].name == "Web 2"
    rr = await cl.read_holding_registers(10200 + 48, count=16, device_id=unit)
    assert text_of(rr.registers) == "Web 2"
    rr = await cl.write_registers(10000 + 99 * 100 + 48, label, device_id=unit)
    assert rr.exception_code == 0x02         # no outlet 99 on this PDU
    rr = await cl.write_register(176, 1, device_id=unit)
    assert not rr.isError()
    # an outlet's delays (0.1 s): FC06 echoes the value written
    rr = await cl.write_register(10200 + 38, 25, device_id=unit)
    assert not rr.isError() and rr.registers == [25]
    assert dev.info.settings.outlets[1].delay == 2.5
    rr = await cl.write_register(10200 + 39, 0, device_id=unit)
    assert rr.exception_code == 0x03         # power-cycle delay below 1 s: the core refuses
    rr = await cl.read_holding_registers(10200 + 38, count=2, device_id=unit)
    assert rr.registers == [25, round(dev.info.settings.outlets[1].power_cycle_delay * 10)]
    # invalid UTF-8: 0x03
    rr = await cl.write_registers(66, [0xFFFE] + [0] * 15, device_id=unit)
    assert rr.exception_code == 0x03
    # the controller unit has nothing writable
    rr = await cl.write_register(200, 1, device_id=0)
    assert rr.exception_code == 0x02
    rows = await c.store.fetchall(
        "SELECT user, face, address FROM audit WHERE action='device.settings'")
    assert rows and tuple(rows[-1]) == ("modbus", "modbus", "127.0.0.1")
    cl.close()


# ------------------------------------------------------------------ map, docs, errors
def test_map_has_no_overlaps_and_records_fit_one_request() -> None:
    for scope in ("pdu", "controller"):
        for f in MAP.fields[scope]:
            assert MAP.block_of(scope, f.address, f.regs), f.point
    for base in (1000, 1100, 2100, 4100, 10100):
        fields = MAP.fields_in("pdu", base, 100)
        assert max(f.address + f.regs for f in fields) - base <= 64
    assert MAP.fields_in("pdu", 11206, 2)[0].point == "o12_current"


def test_map_rows_are_well_formed_and_cover_the_quantity_catalogue() -> None:
    from enerteg_tui.core.quantities import BY_KEY, COMPONENT_QUANTITIES
    from enerteg_tui.protocols.modbus.face import _GETTERS
    from enerteg_tui.protocols.modbus.regmap import type_regs
    for row in MAP.rows:
        assert row["access"] in ("R", "RW") and row["description"], row
        assert type_regs(row["type"]) >= 1
        src = row["source"]
        assert (src[2:] in BY_KEY) if src.startswith("q:") else (src in _GETTERS), row
    mapped = {(row["element"], row["source"][2:]) for row in MAP.rows
              if row["source"].startswith("q:")}
    for comp, keys in COMPONENT_QUANTITIES.items():
        if comp.value == "s":
            continue                       # sensors: one value whose type says which
        for key in keys:
            assert (comp.value, key) in mapped, (comp, key)


def test_generated_doc_matches_the_map() -> None:
    doc = (ROOT / "docs" / "modbus-registers.md").read_text(encoding="utf-8")
    assert doc == render_markdown(MAP), "run scripts/modbus-doc.py"


async def test_csv_in_sftp_docs_is_the_servers_map(make_controller: Any) -> None:
    c, port = await server(make_controller, pdus=2)
    docs = c.core.paths.root / "docs"
    assert (docs / MAP_PATH.name).read_bytes() == MAP_PATH.read_bytes()
    assert (docs / "modbus-registers.md").read_text() == render_markdown(MAP)
    points = (docs / "modbus_points.csv").read_text().splitlines()
    assert "1-247,o12_current,11206,float32,2,,A,R,\"3,4\"" in points
    assert "1-247,id_name,50,str32,16,,,RW,\"3,4,6,16\"" in points
    assert len(points) == 1 + len(MAP.fields["pdu"]) + len(MAP.fields["controller"])
    cl = await client(port)
    rr = await cl.read_holding_registers(18, count=2, device_id=0)
    assert rr.registers[0] << 16 | rr.registers[1] == MAP.crc
    cl.close()


def test_error_table_covers_the_error_tree() -> None:
    import enerteg_tui.core.errors as errors
    classes = [v for v in vars(errors).values()
               if isinstance(v, type) and issubclass(v, EnertegError)]
    for cls in classes:
        assert any(k in EXCEPTION_CODE for k in cls.__mro__), cls
    assert exception_code(errors.Invalid("x")) == 0x03
    assert exception_code(errors.DriverTimeout("x")) == 0x0B


# ------------------------------------------------------------------ hostile frames
def _hostile(rnd: Any, unit: int, i: int) -> bytes:
    """One malformed (or hostile) Modbus TCP frame."""
    kind = i % 6
    tid = i & 0xFFFF
    if kind == 0:        # MBAP length that disagrees with the frame (short, zero, huge)
        pdu = struct.pack(">BHH", 3, 0, 10)
        length = rnd.choice((0, 1, 2, 3, 255, 0xFFFF))
        return struct.pack(">HHHB", tid, 0, length, unit) + pdu
    if kind == 1:        # function codes nobody offers
        fc = rnd.choice([c for c in range(1, 128) if c not in (3, 4, 6, 16)])
        return mbap(unit, bytes([fc]) + bytes(rnd.randrange(256) for _ in range(4)), tid)
    if kind == 2:        # huge quantities and addresses
        fc = rnd.choice((3, 4))
        return mbap(unit, struct.pack(">BHH", fc, rnd.randrange(65536),
                                      rnd.choice((0, 126, 2000, 65535))), tid)
    if kind == 3:        # FC16 whose byte count lies
        return mbap(unit, struct.pack(">BHHB", 16, 50, 123, 255) + b"\x41" * 20, tid)
    if kind == 4:        # random bytes, random length
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
    # unknown units and the protocol id of another protocol
    return struct.pack(">HHHB", tid, rnd.randrange(1, 65536), 6, rnd.randrange(248, 255)) + \
        struct.pack(">BHH", 3, 0, 2)


async def test_ten_thousand_malformed_frames_leave_the_server_answering(
        make_controller: Any, caplog: pytest.LogCaptureFixture) -> None:
    import random
    c, port = await server(make_controller, pdus=4)
    unit = next(iter(by_unit(c)))
    good = mbap(unit, struct.pack(">BHH", 3, 0, 4))
    expected = await raw(port, good)
    rnd = random.Random(17)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    sweeps = c.live.bus.sweeps
    half_open = []
    with caplog.at_level(logging.WARNING):
        sent = 0
        while sent < 10_000:
            # a burst of 100 frames per connection, read what comes back, then hang up
            # (every tenth connection is left half-open: opened, half a header, silence)
            if sent % 1000 == 0:
                _, idle = await asyncio.open_connection("127.0.0.1", port)
                idle.write(b"\x00\x01\x00")
                half_open.append(idle)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(_hostile(rnd, unit, sent + k) for k in range(100)))
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(65536), 0.05)
            except (asyncio.TimeoutError, ConnectionError):
                pass
            writer.close()
            sent += 100
        # the server still answers a good request exactly as before
        resp = await raw(port, good)
        assert resp[7:] == expected[7:]
    for w in half_open:
        w.close()
    # no traceback per frame: pymodbus's own per-frame warnings are silenced, ours are few
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(noisy) <= 5, [r.getMessage() for r in noisy[:5]]
    assert not any(r.exc_info for r in noisy)
    await wait_for(lambda: c.live.bus.sweeps > sweeps + 2)
    elapsed = loop.time() - t0
    assert c.live.bus.sweeps - sweeps >= int(elapsed / 0.2 / 2), (elapsed, c.live.bus.sweeps - sweeps)
