"""Reset peaks (issue 17): one core call, ``DeviceService.reset_peaks``, permission-checked
and audited, reached from the topic shell (``reset-peaks``) and the Modbus write map
(identification offset 127 for the whole PDU, record offset 40 for one element), checked
with the real shell session and pymodbus's client against the simulated PDUs."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.quantities import Component
from tests.conftest import ADMIN, READONLY
from tests.helpers import free_port, wait_for

pytestmark = pytest.mark.e2e


async def peaked(c: Any) -> Any:
    """A switched PDU whose current peaks sit well above its present currents: a load
    factor of 3 for a few sweeps, then back to 1."""
    dev = next(d for d in c.live.ordered() if d.info.model.switchable and d.info.model.outlets)
    sim = c.driver.device(dev.hex_id)
    sim.load_factor = 3.0
    sweeps = c.live.bus.sweeps
    await wait_for(lambda: c.live.bus.sweeps >= sweeps + 2)
    sim.load_factor = 1.0
    sweeps = c.live.bus.sweeps
    await wait_for(lambda: c.live.bus.sweeps >= sweeps + 2)
    return dev


def peak_and_current(dev: Any, comp: Component, index: int) -> tuple[float, float]:
    g = dev.groups[(comp, index)]
    return g["currentPeak"], g["current"]


def outlet_with_load(dev: Any) -> int:
    return next(n for n in range(1, dev.info.model.outlets + 1)
                if peak_and_current(dev, Component.OUTLET, n)[0]
                > peak_and_current(dev, Component.OUTLET, n)[1] * 1.5 + 0.01)


async def shell(c: Any, who: Any, script: str) -> tuple[int, str, str]:
    from enerteg_tui.protocols.shell.session import ShellSession
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, who).run_script(script, out.append, err.append)
    return code, "".join(out), "".join(err)


async def test_shell_resets_one_outlet_then_all_and_is_audited(make_controller: Any) -> None:
    c = await make_controller(pdus=4, interval=0.1)
    dev = await peaked(c)
    hx = dev.hex_id
    n = outlet_with_load(dev)
    other = next(k for k in range(1, dev.info.model.outlets + 1) if k != n)
    before_other = peak_and_current(dev, Component.OUTLET, other)[0]
    code, out, err = await shell(c, READONLY, f"reset-peaks {hx} o {n}")
    assert code != 0 and "device-setup" in err
    code, out, err = await shell(c, ADMIN, f"reset-peaks {hx} o {n}")
    assert code == 0, err
    assert f"Peaks of PDU {hx} reset: outlet {n}" in out
    peak, cur = peak_and_current(dev, Component.OUTLET, n)
    assert peak == cur                                    # shown at once
    # the PDU itself reset it: the next readings stay near the present current
    sweeps = c.live.bus.sweeps
    await wait_for(lambda: c.live.bus.sweeps >= sweeps + 2)
    peak, cur = peak_and_current(dev, Component.OUTLET, n)
    assert peak < cur * 1.3 + 0.02
    assert peak_and_current(dev, Component.OUTLET, other)[0] >= before_other  # untouched
    rows = await c.store.fetchall(
        "SELECT user, message FROM audit WHERE action='device.reset-peaks' AND device=?", (hx,))
    assert rows == [("admin", f'Peak values of PDU "{dev.info.display_name}" ({hx}) reset: '
                               f"outlet {n}")]
    # bad input names the thing and what is allowed, and changes nothing
    outlets = dev.info.model.outlets
    code, out, err = await shell(c, ADMIN, f"reset-peaks {hx} o {outlets + 1}")
    assert code != 0 and f"outlet {outlets + 1} does not exist" in err
    assert f"outlet 1 to {outlets}" in err
    code, out, err = await shell(c, ADMIN, f"reset-peaks {hx} s 1")
    assert code != 0 and "component 's' has no peaks" in err
    code, out, err = await shell(c, ADMIN, "reset-peaks")
    assert code == 2 and "Usage: reset-peaks HEXID" in err
    code, out, err = await shell(c, ADMIN, "reset-peaks nosuch")
    assert code != 0 and "'nosuch' does not exist" in err
    # everything
    code, out, err = await shell(c, ADMIN, f"format json\nreset-peaks {hx}")
    assert code == 0 and '"reset": "all peaks"' in out
    for (comp, _), g in dev.groups.items():
        if "currentPeak" in g:
            assert g["currentPeak"] == g["current"], comp
    rows = await c.store.fetchall(
        "SELECT COUNT(*) FROM audit WHERE action='device.reset-peaks' AND device=?", (hx,))
    assert rows[0][0] == 2


async def test_modbus_write_resets_peaks_through_the_core(make_controller: Any) -> None:
    from pymodbus.client import AsyncModbusTcpClient
    port = free_port()
    c = await make_controller(pdus=4, interval=0.1, modbus_port=port, bind="127.0.0.1")
    await c.config.put(SYSTEM, "modbus", {"enabled": "enabled"})
    svc = c.service("modbus")
    await wait_for(lambda: svc.status.running)
    dev = await peaked(c)
    unit = dev.info.settings.device_id
    n = outlet_with_load(dev)
    cl = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
    assert await cl.connect()
    try:
        rec = 10000 + 100 * n
        wr = await cl.write_register(rec + 40, 1, device_id=unit)
        assert wr.isError() and wr.exception_code == 0x01       # writes are off
        await c.config.put(SYSTEM, "modbus", {"allowWrite": "enabled"})
        wr = await cl.write_register(rec + 40, 2, device_id=unit)
        assert wr.isError() and wr.exception_code == 0x03       # only 1 means reset
        rows = await c.store.fetchall(
            "SELECT COUNT(*) FROM audit WHERE action='device.reset-peaks'")
        assert rows[0][0] == 0
        wr = await cl.write_register(rec + 40, 1, device_id=unit)
        assert not wr.isError(), wr
        rr = await cl.read_holding_registers(rec + 6, count=4, device_id=unit)
        cur, peak = struct.unpack(">ff", struct.pack(">4H", *rr.registers))
        assert peak < cur * 1.3 + 0.02
        rr = await cl.read_holding_registers(rec + 40, count=1, device_id=unit)
        assert rr.registers == [0]
        rows = await c.store.fetchall(
            "SELECT user, face, address, message FROM audit WHERE action='device.reset-peaks'")
        assert len(rows) == 1 and rows[0][:3] == ("modbus", "modbus", "127.0.0.1")
        assert rows[0][3].endswith(f"reset: outlet {n}")
        # an outlet the PDU lacks: 0x02; the whole PDU at identification offset 127
        missing = 10000 + 100 * (dev.info.model.outlets + 1) + 40
        if dev.info.model.outlets < 99:
            wr = await cl.write_register(missing, 1, device_id=unit)
            assert wr.isError() and wr.exception_code == 0x02
        wr = await cl.write_register(177, 1, device_id=unit)
        assert not wr.isError(), wr
        rows = await c.store.fetchall(
            "SELECT message FROM audit WHERE action='device.reset-peaks' ORDER BY id")
        assert rows[-1][0].endswith("reset: all peaks") and len(rows) == 2
        g = dev.groups[(Component.TOTAL, 0)]
        assert g["currentPeak"] < g["current"] * 1.3 + 0.02
    finally:
        cl.close()
