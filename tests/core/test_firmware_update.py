"""PDU firmware updates over the ring (issue 23 item 6, manual §7.4): the image format,
the simulated PDU's own checks, the plan's order and progress, alarms, restart, relays.

Order, progress and "never two at once" are checked by counting the service's
``firmware`` events, never by timing them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enerteg_tui.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from enerteg_tui.core.firmware_image import (
    HEADER_SIZE,
    build_image,
    parse_image,
    shipped_image,
)
from enerteg_tui.core.firmware_update import EVENT_KIND, StepState
from enerteg_tui.core.model import OutletAction
from enerteg_tui.drivers.simulated import SimulatedDriver
from tests.conftest import ADMIN, READONLY
from tests.helpers import wait_for

OLD = "5.2.1"
NEW = "5.3.0"
REBOOT_S = 0.15


def _payload(n: int = 5000) -> bytes:
    return bytes((i * 7 + 3) % 256 for i in range(n))


def bad_checksum(image: bytes) -> bytes:
    spoiled = bytearray(image)
    spoiled[-1] ^= 0x55
    return bytes(spoiled)


def bad_header(image: bytes) -> bytes:
    spoiled = bytearray(image)
    spoiled[30] ^= 0x01  # a byte of the version field: the header CRC32 no longer matches
    return bytes(spoiled)


# ------------------------------------------------------------------ the format
def test_image_round_trip_and_damage_named() -> None:
    data = build_image("6.0.1", _payload())
    img = parse_image(data, "x.etgfw")
    assert (img.version, img.header.family, img.header.hardware) == ("6.0.1", "SpPdu5", 5)
    assert img.payload == _payload() and len(data) == HEADER_SIZE + 5000
    with pytest.raises(Invalid, match="x.etgfw: payload checksum .SHA-256. does not match"):
        parse_image(bad_checksum(data), "x.etgfw")
    with pytest.raises(Invalid, match=r"header checksum \(CRC32\) does not match"):
        parse_image(bad_header(data), "x.etgfw")
    with pytest.raises(Invalid, match="not a firmware image"):
        parse_image(b"PK\x03\x04" + data[4:], "x.etgfw")
    with pytest.raises(Invalid, match="payload is 4999 bytes, the header says 5000"):
        parse_image(data[:-1], "x.etgfw")
    with pytest.raises(Invalid, match="too short for a header"):
        parse_image(data[:20], "x.etgfw")
    assert shipped_image().version == NEW


# ------------------------------------------------------------------ the simulated PDU
async def test_simulated_pdu_refuses_bad_images_and_keeps_everything() -> None:
    d = SimulatedDriver(pdus=2, seed=1, bus_latency_ms=0, firmware_reboot_s=REBOOT_S)
    await d.open()
    try:
        switched = [h for h in d.device_ids() if d.device(h).model.switchable]
        hex_id = switched[0]
        pdu = d.device(hex_id)
        await d.switch_outlet(hex_id, 2, OutletAction.OFF)
        await wait_for(lambda: not pdu.outlets.on[1])
        relays = list(pdu.outlets.on)
        good = shipped_image().data
        cases = {
            "bad header": bad_header(good),
            "payload checksum (SHA-256) does not match": bad_checksum(good),
            "it is for SpPdu5 hardware 4": build_image("6.0.0", _payload(), hardware=4),
            "it is for Other hardware 5": build_image("6.0.0", _payload(), family="Other"),
        }
        for why, image in cases.items():
            with pytest.raises(Invalid, match=f"PDU {hex_id} refused the firmware image: .*"
                                              f"{why.replace('(', '.').replace(')', '.')}"):
                await d.update_firmware(hex_id, image)
            assert pdu.firmware.version == OLD and pdu.firmware.led_ring == "green"
            assert pdu.identification.firmware_version == OLD
            assert pdu.outlets.on == relays
            assert hex_id in (await d.discover()).reachable
        assert len(pdu.firmware.refusals) == len(cases) and pdu.firmware.updates == 0

        # a good image: blocks with progress, offline while rebooting, relays latched
        seen: list[int] = []
        await d.update_firmware(hex_id, good, lambda sent, total: seen.append(sent))
        assert seen == sorted(seen) and seen[-1] == len(good) and len(seen) > 10
        assert pdu.firmware.rebooting and pdu.firmware.led_ring == "blue"
        faults = d.fault_injector()
        doc = faults.device_document(hex_id)
        assert doc.led_ring == "blue"  # what sim/<hexid>/_data shows (manual §7.4)
        faults.apply_device(hex_id, doc.model_copy(update={"led_ring": "green"}))
        assert faults.device_document(hex_id).led_ring == "blue"  # a status: writes ignored
        assert hex_id not in (await d.discover()).reachable
        assert pdu.outlets.on == relays
        await wait_for(lambda: not pdu.firmware.rebooting, timeout=10)
        info = next(i for i in (await d.discover()).devices if i.hex_id == hex_id)
        assert info.identification.firmware_version == NEW
        assert pdu.outlets.on == relays and pdu.firmware.led_ring == "green"
        sample = await d.poll(hex_id)
        assert [s.value for s in sample.outlet_states.values()] == [
            "on" if r else "off" for r in relays]
    finally:
        await d.close()


async def test_firmware_version_survives_in_the_pdus_memory(tmp_path) -> None:
    path = tmp_path / "sim.json"
    d = SimulatedDriver(pdus=1, seed=2, bus_latency_ms=0, state_path=path, firmware_reboot_s=5)
    await d.open()
    hex_id = d.device_ids()[0]
    await d.update_firmware(hex_id, shipped_image().data)
    await d.close()  # a PDU rebooting at close finishes its reboot
    again = SimulatedDriver(pdus=1, seed=2, bus_latency_ms=0, state_path=path)
    await again.open()
    assert again.device(hex_id).identification.firmware_version == NEW
    await again.close()


# ------------------------------------------------------------------ the service
async def _ring(make_controller, pdus: int = 3, **kw: Any):
    c = await make_controller(pdus=pdus, interval=0.05, **kw)
    c.driver.firmware_reboot_s = REBOOT_S
    return c


def put_upload(c, name: str, data: bytes) -> None:
    """Put an image in /upload as SFTP does."""
    c.paths.upload.mkdir(exist_ok=True)
    (c.paths.upload / name).write_bytes(data)


def _states(c) -> dict[str, str]:
    job = c.firmware.status()
    return {s.hex_id: s.state.value for s in job.steps} if job else {}


async def _record(c, until_done: bool = True) -> list[tuple[str, str, int]]:
    """Every firmware event as (hex id, state, percent) until the plan ends."""
    log: list[tuple[str, str, int]] = []
    with c.events.subscribe(kinds={EVENT_KIND}, live=False) as sub:
        while True:
            batch = await sub.get(timeout=30)
            assert batch.events, "no firmware event within 30 s"
            state = "running"
            for ev in batch.events:
                snap = ev.data
                assert len(snap["busy"]) <= 1, f"two PDUs updating at once: {snap['busy']}"
                if snap["step"] is not None:
                    st = snap["step"]
                    log.append((st["hexId"], st["state"], st["percent"]))
                state = snap["state"]
            if state != "running" and until_done:
                return log


async def test_good_image_updates_the_ring_in_order_with_progress(make_controller, tmp_path) -> None:
    c = await _ring(make_controller)
    put_upload(c, "new.etgfw", shipped_image().data)
    ids = list(c.live.devices)
    controller_pdu = next(h for h, d in c.live.devices.items() if d.info.controller)
    switched = [h for h in ids if c.driver.device(h).model.switchable]
    for h in switched:
        await c.driver.switch_outlet(h, 1, OutletAction.OFF)
    await wait_for(lambda: all(not c.driver.device(h).outlets.on[0] for h in switched))
    relays = {h: list(c.driver.device(h).outlets.on) for h in ids}
    during: list[bool] = []

    def check_relays(_live) -> None:  # every poll during the plan: relays unchanged
        during.append(all(c.driver.device(h).outlets.on == relays[h] for h in ids))

    c.poller.add_device_listener(check_relays)
    # a rebooting PDU is silent: expected, so even with stale-after 1 it is no alarm
    c.poller.stale_after = 1
    silent: list[str] = []
    discover = c.driver.discover

    async def watching_discover():
        scan = await discover()
        silent.extend(h for h in ids if h not in scan.reachable
                      and c.driver.device(h).firmware.rebooting)
        return scan

    c.driver.discover = watching_discover
    states: set[str] = set()
    c.poller.add_sweep_listener(
        lambda: states.update(d.state.value for d in c.live.devices.values()))
    sweeps_before = c.live.bus.sweeps
    recorder = asyncio.create_task(_record(c))
    await asyncio.sleep(0)
    job = await c.firmware.update(ADMIN, "/upload/new.etgfw", None)
    assert [s.hex_id for s in job.steps][0] == controller_pdu
    assert [s.position for s in job.steps] == sorted(s.position for s in job.steps)
    log = await asyncio.wait_for(recorder, 60)
    order = list(dict.fromkeys(h for h, state, _ in log if state == "transferring"))
    assert order == [s.hex_id for s in job.steps] and len(order) == 3
    for h in order:  # each PDU: transferring with rising percent, rebooting, verified
        mine = [(state, pct) for hx, state, pct in log if hx == h]
        pcts = [p for state, p in mine if state == "transferring"]
        assert pcts == sorted(pcts) and len(pcts) >= 10 and pcts[-1] == 100
        assert [s for s, _ in mine if s != "transferring"] == ["rebooting", "verified"]
    # one PDU after the other: the next starts only once the previous is verified
    done_at = {h: log.index((h, "verified", 100)) for h in order}
    first_at = {h: next(i for i, e in enumerate(log) if e[0] == h) for h in order}
    assert done_at[order[0]] < first_at[order[1]] and done_at[order[1]] < first_at[order[2]]
    assert c.firmware.status().state == "done"
    assert {d.info.identification.firmware_version for d in c.live.devices.values()} == {NEW}
    assert during and all(during), "a relay moved during the update"
    assert {h: c.driver.device(h).outlets.on for h in ids} == relays
    assert c.live.bus.sweeps > sweeps_before  # polling went on
    assert silent, "no sweep saw a PDU rebooting"
    assert not [a for a in c.alarms.active() if a.device in ids]
    assert states == {"RUNNING"}  # never stale nor unreachable at any sweep's end
    actions = [a for (a,) in await c.store.fetchall(
        "SELECT action FROM audit WHERE action LIKE 'firmware.update.%' ORDER BY id")]
    assert actions == ["firmware.update.start"] + ["firmware.update.pdu"] * 3 + [
        "firmware.update.done"]


async def test_bad_image_refused_by_the_pdu_changes_nothing(make_controller) -> None:
    c = await _ring(make_controller)
    hex_id = next(iter(c.live.devices))
    # the controller refuses a damaged file before it occupies the bus
    put_upload(c, "bad.etgfw", bad_checksum(shipped_image().data))
    with pytest.raises(Invalid, match="firmware image /upload/bad.etgfw: payload checksum"):
        await c.firmware.update(ADMIN, "bad.etgfw", None)
    assert c.firmware.status() is None
    # an image for other hardware passes the controller's format check: the PDU refuses it
    put_upload(c, "hw4.etgfw", build_image("6.0.0", _payload(), hardware=4))
    recorder = asyncio.create_task(_record(c))
    await asyncio.sleep(0)
    await c.firmware.update(ADMIN, "hw4.etgfw", [hex_id])
    await asyncio.wait_for(recorder, 60)
    [step] = c.firmware.status().steps
    assert step.state is StepState.FAILED
    assert f"PDU {hex_id} refused the firmware image: it is for SpPdu5 hardware 4" in step.text
    assert c.firmware.status().state == "failed"
    assert c.live.devices[hex_id].info.identification.firmware_version == OLD
    assert c.driver.device(hex_id).firmware.updates == 0
    with pytest.raises(NotFound, match=r"/upload/nope.etgfw does not exist \(images in "
                                       r"/upload: bad.etgfw, hw4.etgfw\)"):
        await c.firmware.update(ADMIN, "nope.etgfw")
    with pytest.raises(Invalid, match="give /upload/NAME"):
        await c.firmware.update(ADMIN, "/etc/passwd")
    with pytest.raises(PermissionDenied):
        await c.firmware.update(READONLY, "shipped")


async def test_pdu_in_alarm_refused_unless_forced(make_controller) -> None:
    c = await _ring(make_controller)
    hex_id = list(c.live.devices)[1]
    await c.rules.create(ADMIN, {"name": "busy", "scope": "pdu", "target": hex_id,
                                 "quantity": "current", "component": "t",
                                 "minDurationSeconds": 0,
                                 "warningAbove": {"enabled": True, "value": 0.01}})
    await wait_for(lambda: any(a.device == hex_id for a in c.alarms.active()), timeout=10)
    with pytest.raises(Conflict, match=f"{hex_id} is in alarm .1 active.; --force updates"):
        await c.firmware.update(ADMIN, "shipped", None)
    assert c.firmware.status() is None and c.firmware.transfers == 0
    recorder = asyncio.create_task(_record(c))
    await asyncio.sleep(0)
    job = await c.firmware.update(ADMIN, "shipped", [hex_id], force=True)
    assert job.forced
    await asyncio.wait_for(recorder, 60)
    assert _states(c) == {hex_id: "verified"}


async def test_restart_mid_update_resumes(make_controller, tmp_path) -> None:
    data = tmp_path / "data"
    c = await _ring(make_controller, data_dir=data, latency=4.0)
    job = await c.firmware.update(ADMIN, "shipped", None)
    order = [s.hex_id for s in job.steps]
    await wait_for(lambda: _states(c).get(order[1]) == "transferring", timeout=30)
    await c.stop()
    assert c.driver.device(order[1]).identification.firmware_version == OLD
    c2 = await _ring(make_controller, data_dir=data, latency=4.0)
    assert c2.firmware.status().id == job.id
    await wait_for(lambda: c2.firmware.status().state != "running", timeout=60)
    assert c2.firmware.status().state == "done", _states(c2)
    assert c2.firmware.transfers == 2  # order[1] again from its start, then order[2]
    assert c2.driver.device(order[0]).firmware.updates == 0  # not sent twice
    assert {d.info.identification.firmware_version for d in c2.live.devices.values()} == {NEW}
    resumed = await c2.store.fetchall("SELECT message FROM audit WHERE action="
                                      "'firmware.update.resume'")
    assert len(resumed) == 1 and "2 PDU(s) to go" in resumed[0][0]


async def test_auto_update_installs_the_shipped_image(make_controller) -> None:
    c = await _ring(make_controller)
    sweeps = c.live.bus.sweeps
    await wait_for(lambda: c.live.bus.sweeps >= sweeps + 3)
    assert c.firmware.status() is None  # off by default
    await c.topics.put(ADMIN, "config/sppdu5", {"firmwareAutoUpdate": "enabled"})
    await wait_for(lambda: c.firmware.status() is not None, timeout=10)
    assert c.firmware.status().auto
    await wait_for(lambda: c.firmware.status().state != "running", timeout=60)
    assert c.firmware.status().state == "done"
    assert {d.info.identification.firmware_version for d in c.live.devices.values()} == {NEW}
    sweeps = c.live.bus.sweeps
    await wait_for(lambda: c.live.bus.sweeps >= sweeps + 3)
    assert c.firmware.transfers == 3  # nothing older left: no second plan
    actions = [a for (a,) in await c.store.fetchall(
        "SELECT action FROM audit WHERE action LIKE 'firmware.update.%' ORDER BY id")]
    assert actions[0] == "firmware.update.auto" and actions[-1] == "firmware.update.done"


async def test_cancel_stops_the_plan(make_controller) -> None:
    c = await _ring(make_controller, latency=4.0)
    job = await c.firmware.update(ADMIN, "shipped", None)
    first = job.steps[0].hex_id
    await wait_for(lambda: _states(c).get(first) == "transferring", timeout=30)
    await c.firmware.cancel(ADMIN)
    assert c.firmware.status().state == "cancelled"
    assert set(_states(c).values()) == {"cancelled"}
    assert c.driver.device(first).firmware.version == OLD
    assert not c.driver.device(first).firmware.receiving  # partial image dropped
    with pytest.raises(Conflict, match="no firmware update is running"):
        await c.firmware.cancel(ADMIN)


async def test_two_requests_at_once_start_one_plan(make_controller) -> None:
    c = await _ring(make_controller, latency=4.0)
    results = await asyncio.gather(c.firmware.update(ADMIN, "shipped", None),
                                   c.firmware.update(ADMIN, "shipped", None),
                                   return_exceptions=True)
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 1 and "a firmware update to 5.3.0 is running" in str(refused[0])
    assert (await c.store.fetchone("SELECT COUNT(*) FROM firmware_job"))[0] == 1
    await c.firmware.cancel(ADMIN)


async def test_blocks_travel_between_sweeps(make_controller) -> None:
    """Polling goes on during a transfer and a sweep waits for one block at most: count
    the blocks the PDU received while a sweep ran, per sweep."""
    c = await _ring(make_controller, pdus=4, latency=2.0)
    target = list(c.live.devices)[2]
    pdu = c.driver.device(target)
    in_sweep: list[int] = []
    receive = pdu.firmware.receive

    def counting(offset: int, block: bytes) -> None:
        if c.poller.sweeping:
            in_sweep.append(c.live.bus.sweeps)
        receive(offset, block)

    pdu.firmware.receive = counting  # type: ignore[method-assign]
    sweeps = c.live.bus.sweeps
    await c.firmware.update(ADMIN, "shipped", [target])
    await wait_for(lambda: c.firmware.status().state != "running", timeout=60)
    assert c.firmware.status().state == "done"
    assert c.live.bus.sweeps > sweeps + 2  # the others were polled throughout
    per_sweep = {n: in_sweep.count(n) for n in in_sweep}
    assert all(v == 1 for v in per_sweep.values()), per_sweep
