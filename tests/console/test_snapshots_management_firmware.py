"""SVG snapshots of the PDU firmware page (issue 23 item 6): a plan under way (the
Controller module PDU verified, the next refused by the PDU, the third transferring,
the rest queued) and the update form. The frozen controller sweeps once, so the plan's
state is set on the service as the store would give it back after a restart: the same
on every run."""

from __future__ import annotations

import pytest
import pytest_asyncio

from enerteg_tui.core.firmware_image import shipped_image
from enerteg_tui.core.firmware_update import FirmwareJob, FirmwareStep, StepState

from .conftest import FIXED_CLOCK, SIZES, build_frozen, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def with_plan(tmp_path_factory):
    """A frozen controller with an image in /upload and a plan a third of the way."""
    c = await build_frozen(tmp_path_factory.mktemp("firmware"))
    upload = c.core.paths.upload
    upload.mkdir(parents=True, exist_ok=True)
    (upload / "SpPdu5-5.3.0.etgfw").write_bytes(shipped_image().data)
    devices = sorted(c.live.devices.values(), key=lambda d: d.info.position)
    job = FirmwareJob(id=1, version="5.3.0", source="/upload/SpPdu5-5.3.0.etgfw",
                      user="admin", forced=False, auto=False, started=FIXED_CLOCK - 300)
    for seq, d in enumerate(devices):
        job.steps.append(FirmwareStep(seq=seq, hex_id=d.hex_id, name=d.info.display_name,
                                      position=d.info.position, controller=d.info.controller,
                                      from_version="5.2.1"))
    job.steps[0].state = StepState.VERIFIED
    job.steps[1].state = StepState.FAILED
    job.steps[1].message = (f"PDU {job.steps[1].hex_id} refused the firmware image: payload "
                            "checksum (SHA-256) does not match the header")
    job.steps[2].state, job.steps[2].percent = StepState.TRANSFERRING, 42
    c.core.firmware.job = job
    yield c
    await c.stop()


async def _open(pilot) -> None:
    await pilot.press("f9")
    await settle(pilot)
    await pilot.press("f")
    await settle(pilot)


async def test_firmware_progress(with_plan, snap, size):
    async def go(pilot):
        await _open(pilot)
        await pilot.press("down")  # the failed PDU: its reason in full below the table
        await settle(pilot)

    assert await snap(make_app(with_plan), size, go)


async def test_firmware_update_form(with_plan, snap, size):
    async def go(pilot):
        await _open(pilot)
        await pilot.press("u")
        await settle(pilot)

    assert await snap(make_app(with_plan), size, go)
