"""Device IDs are unique: the core refuses a settings write that gives a PDU the Device ID
of another, through every face that writes settings (the topic shell's ``put``, a Modbus
write, and the console's form in tests/console/test_device_pages.py), naming the ID and
the PDU holding it, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.conftest import ADMIN
from tests.helpers import free_port, wait_for

pytestmark = pytest.mark.e2e


async def test_shell_put_of_a_taken_device_id_is_refused_naming_the_holder(
        make_controller: Any) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    c = await make_controller(pdus=3, interval=600)
    a, b = c.live.ordered()[:2]
    taken, own = a.info.settings.device_id, b.info.settings.device_id

    async def shell(script: str) -> tuple[int, str, str]:
        out: list[str] = []
        err: list[str] = []
        code = await ShellSession(c.core, ADMIN).run_script(script, out.append, err.append)
        return code, "".join(out), "".join(err)

    code, out, err = await shell(f"put sensor/{b.hex_id}/config deviceId={taken}")
    assert code != 0
    assert f"Device ID {taken} is already the Device ID of PDU" in err, err
    assert a.hex_id in err and "must be unique" in err and "Traceback" not in err
    assert b.info.settings.device_id == own
    assert c.driver.device(b.hex_id).settings.device_id == own
    rows = await c.store.fetchall(
        "SELECT COUNT(*) FROM audit WHERE action='device.settings' AND device=?", (b.hex_id,))
    assert rows[0][0] == 0
    # the same value it already has, and a free one, are accepted
    code, out, err = await shell(f"put sensor/{b.hex_id}/config deviceId={own}")
    assert code == 0, err
    free = max(d.info.settings.device_id for d in c.live.devices.values()) + 1
    code, out, err = await shell(f"put sensor/{b.hex_id}/config deviceId={free}")
    assert code == 0, err
    assert b.info.settings.device_id == free


async def test_modbus_cannot_write_a_device_id(make_controller: Any) -> None:
    """The map keeps the Device ID read-only (the unit id itself): a write answers 0x02
    and changes nothing, so Modbus can never make two PDUs share one."""
    from pymodbus.client import AsyncModbusTcpClient
    port = free_port()
    c = await make_controller(pdus=2, modbus_port=port, bind="127.0.0.1", interval=600)
    await c.config.put(SYSTEM, "modbus", {"enabled": "enabled", "allowWrite": "enabled"})
    await wait_for(lambda: c.service("modbus").status.running)
    a, b = c.live.ordered()[:2]
    unit, taken = b.info.settings.device_id, a.info.settings.device_id
    cl = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
    assert await cl.connect()
    try:
        rr = await cl.read_holding_registers(5, count=1, device_id=unit)
        assert rr.registers == [unit]
        wr = await cl.write_register(5, taken, device_id=unit)
        assert wr.isError() and wr.exception_code == 0x02
        rr = await cl.read_holding_registers(5, count=1, device_id=unit)
        assert rr.registers == [unit]
    finally:
        cl.close()
    assert b.info.settings.device_id == unit
