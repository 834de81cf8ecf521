"""PDU firmware updates over the ring (manual §7.4, ``config/sppdu5`` firmwareAutoUpdate).

Exists because the controller, not the operator, carries a firmware image to every PDU
on the databus: the Controller module PDU first, then each daisy-chained PDU in ring
order, never two at once (one serial bus, and a ring must never lose two PDUs to
reboots at a time). A plan (``FirmwareJob``: the image, its steps one per PDU) is kept
in the store (tables ``firmware_job``/``firmware_step``, migration 5) at every change
of a step's state, so a controller restarted mid-update resumes it: a PDU whose
transfer was cut off is sent the image again from its start (the PDU dropped the
partial image), a PDU that was rebooting is verified. Each step goes queued →
transferring n % → rebooting → verified, or failed with the reason (the PDU's refusal,
a timeout, no answer after the reboot). Polling goes on during a transfer: the driver
sends one block per bus transaction and each block waits until no sweep runs
(``bus_free``), so a sweep is stretched by at most the one block under way when it
starts (bench/firmware.py measures it).

Who may: ``administer`` (checked here for every face); a PDU with an active alarm is
refused unless forced; an image older than a PDU's firmware needs force too. Every
start, PDU result, cancel and end is audited as ``firmware.update.*``. With
``firmwareAutoUpdate`` on, the service starts a plan with the image shipped in the
package (``firmware_image.shipped_image``) for the PDUs running an older version at
the end of a sweep when no plan runs (a PDU in alarm waits; a PDU that failed is not
retried until the controller restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from .audit import AuditLog, Severity
from .errors import Conflict, EnertegError, Invalid, NotFound, shown
from .events import Event, EventBus
from .firmware_image import FirmwareImage, parse_image, shipped_image, version_key
from .live import LiveState
from .model import DeviceState
from .permissions import SYSTEM, Action, Principal, require
from .store import Store

__all__ = ["FirmwareDriver", "FirmwareService", "FirmwareJob", "FirmwareStep", "StepState",
           "EVENT_KIND", "IMAGE_SUFFIX"]

log = logging.getLogger(__name__)

EVENT_KIND = "firmware"
"""Event kind published at every change of the plan (faces refresh their view on it)."""
IMAGE_SUFFIX = ".etgfw"
"""File name ending of firmware images in ``/upload``."""
REBOOT_TIMEOUT_S = 120.0
"""Seconds a PDU may take after activation to answer with the new version."""


class FirmwareDriver(Protocol):
    """What the service needs of a driver (``drivers.base.Driver`` satisfies it)."""

    async def update_firmware(self, hex_id: str, image: bytes,
                              progress: Callable[[int, int], None] | None = None,
                              pace: Callable[[], Awaitable[None]] | None = None) -> None: ...


class StepState(str, Enum):
    """Where one PDU stands in a plan."""

    QUEUED = "queued"
    TRANSFERRING = "transferring"
    REBOOTING = "rebooting"
    VERIFIED = "verified"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (StepState.VERIFIED, StepState.FAILED, StepState.CANCELLED)


@dataclass(slots=True)
class FirmwareStep:
    """One PDU of a plan."""

    seq: int
    hex_id: str
    name: str
    position: int
    controller: bool
    from_version: str
    state: StepState = StepState.QUEUED
    percent: int = 0
    message: str = ""

    @property
    def text(self) -> str:
        """``transferring 40 %``, ``failed: why``: the state as people read it."""
        if self.state is StepState.TRANSFERRING:
            return f"transferring {self.percent} %"
        if self.state in (StepState.FAILED, StepState.CANCELLED) and self.message:
            return f"{self.state.value}: {self.message}"
        return self.state.value

    def as_dict(self) -> dict[str, Any]:
        return {"hexId": self.hex_id, "name": self.name, "position": self.position,
                "controller": self.controller, "fromVersion": self.from_version,
                "state": self.state.value, "percent": self.percent, "message": self.message}


@dataclass(slots=True)
class FirmwareJob:
    """One update plan: an image and the PDUs it goes to, in order."""

    id: int
    version: str
    source: str
    user: str
    forced: bool
    auto: bool
    started: float
    state: str = "running"
    """``running``, ``done`` (every PDU verified), ``failed`` or ``cancelled``."""
    finished: float | None = None
    steps: list[FirmwareStep] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "source": self.source,
                "user": self.user, "forced": self.forced, "auto": self.auto,
                "started": self.started, "finished": self.finished, "state": self.state,
                "steps": [s.as_dict() for s in self.steps]}


class FirmwareService:
    """Plans, runs, resumes and reports PDU firmware updates.

    Args:
        store: the controller database (plans survive a restart).
        driver: sends images (``update_firmware``).
        live: which PDUs answer, their identification (firmware version) and position.
        alarms: ``active()``: a PDU with an active alarm is refused unless forced.
        config: ``sppdu5`` firmwareAutoUpdate.
        audit: ``firmware.update.*`` entries.
        events: ``firmware`` events for the faces; sweep ends pace the waits.
        upload: the ``/upload`` folder images are read from.
        shipped: the image shipped with the controller (None: the package's).
        reboot_timeout: seconds a PDU may take to answer with the new version.
        bus_free: awaited before each block (``Poller.idle.wait``): blocks travel
            between sweeps, so a transfer stretches a sweep by one block at most.
        rebooting: ``Poller.rebooting``: holds the PDU while it restarts into the new
            firmware, so its expected silence raises no "unreachable" alarm.
    """

    def __init__(self, store: Store, driver: FirmwareDriver, live: LiveState, alarms: Any,
                 config: Any, audit: AuditLog, events: EventBus, *, upload: Path,
                 clock: Callable[[], float] = time.time,
                 shipped: FirmwareImage | None = None,
                 reboot_timeout: float = REBOOT_TIMEOUT_S,
                 bus_free: Callable[[], Awaitable[Any]] | None = None,
                 rebooting: set[str] | None = None) -> None:
        self._store = store
        self._driver = driver
        self._live = live
        self._alarms = alarms
        self._config = config
        self._audit = audit
        self._events = events
        self._upload = upload
        self._clock = clock
        self._shipped = shipped
        self.reboot_timeout = reboot_timeout
        self._bus_free = bus_free
        self._rebooting = rebooting if rebooting is not None else set()
        self.job: FirmwareJob | None = None
        """The latest plan (running or finished), or None."""
        self._image: FirmwareImage | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._auto_failed: set[tuple[str, str]] = set()
        """(PDU, version) auto-update failed for in this run: not retried until a restart."""
        self.transfers = 0
        """PDU transfers started since start (tests count them)."""
        self._planning = asyncio.Lock()
        """Two requests at once (two admins, or one and auto-update) plan one at a time,
        so the second sees the first's plan running and is refused."""

    # ------------------------------------------------------------------ lifecycle
    @property
    def shipped(self) -> FirmwareImage:
        """The image shipped with this controller (what auto-update installs)."""
        if self._shipped is None:
            self._shipped = shipped_image()
        return self._shipped

    async def load(self) -> None:
        """Read the latest plan from the store."""
        row = await self._store.fetchone(
            "SELECT id, version, source, user, forced, auto, started, state, finished, image"
            " FROM firmware_job ORDER BY id DESC LIMIT 1")
        if row is None:
            return
        job = FirmwareJob(id=row[0], version=row[1], source=row[2], user=row[3],
                          forced=bool(row[4]), auto=bool(row[5]), started=row[6], state=row[7],
                          finished=row[8])
        for s in await self._store.fetchall(
                "SELECT seq, hex_id, name, position, controller, from_version, state, message"
                " FROM firmware_step WHERE job_id=? ORDER BY seq", (job.id,)):
            job.steps.append(FirmwareStep(seq=s[0], hex_id=s[1], name=s[2], position=s[3],
                                          controller=bool(s[4]), from_version=s[5],
                                          state=StepState(s[6]), message=s[7]))
        self.job = job
        if job.running:
            try:
                self._image = parse_image(bytes(row[9]), job.source)
            except Invalid as exc:  # the stored copy is damaged: end the plan, say why
                log.warning("firmware: stored image of plan %d unusable: %s", job.id, exc)
                self._image = None

    async def start(self, first_sweep: asyncio.Event | None = None) -> None:
        """Resume a plan left running by the last controller run, and watch for
        auto-update (once ``first_sweep`` is set: the PDUs must be known first)."""
        self._config.appliers.register("sppdu5", "firmware update")
        self._watch = asyncio.create_task(self._follow(first_sweep), name="firmware-watch")

    async def stop(self) -> None:
        """Stop; a running plan stays ``running`` in the store and resumes at next start."""
        for task in (self._watch, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._watch = self._task = None

    async def _follow(self, first_sweep: asyncio.Event | None) -> None:
        if first_sweep is not None:
            await first_sweep.wait()
        job = self.job
        if job is not None and job.running:
            if self._image is None:
                await self._finish(job, "failed", "the stored image is damaged")
            else:
                log.info("firmware: resuming plan %d (version %s)", job.id, job.version)
                await self._audit.record(SYSTEM, "firmware.update.resume", "firmware",
                                         f"Firmware update to {job.version} resumed after a "
                                         f"restart ({self._remaining(job)} PDU(s) to go)")
                self._launch(job)
        with self._events.subscribe(kinds={"sweep", "settings"}, live=False, paced=True) as sub:
            while True:
                try:
                    await self._auto_update()
                except Exception:  # noqa: BLE001 - auto-update never stops the controller
                    log.exception("firmware: auto-update check failed")
                await sub.get()

    # ------------------------------------------------------------------ reading
    def status(self) -> FirmwareJob | None:
        """The latest plan, running or finished (faces read it; only the service changes it)."""
        return self.job

    def upload_images(self) -> list[str]:
        """Names of the firmware images in ``/upload``, sorted."""
        try:
            return sorted(p.name for p in self._upload.iterdir()
                          if p.is_file() and p.name.endswith(IMAGE_SUFFIX))
        except OSError:
            return []

    def read_image(self, given: str) -> tuple[FirmwareImage, str]:
        """The image named ``given``: ``shipped``, or a file in ``/upload`` (``NAME`` or
        ``/upload/NAME``), checked. Returns the image and how it is named.

        Raises:
            Invalid: another folder, or a damaged image. NotFound: no such file.
        """
        if given == "shipped":
            return self.shipped, f"shipped {self.shipped.version}"
        parts = [p for p in given.strip().split("/") if p]
        if len(parts) == 2 and parts[0] == "upload":
            parts = parts[1:]
        if len(parts) != 1 or parts[0] in (".", ".."):
            raise Invalid(f"firmware image path {shown(given)} is not allowed; give "
                          "/upload/NAME (an image put there with SFTP) or 'shipped'",
                          thing="image", value=given, allowed="/upload/NAME or shipped")
        path = self._upload / parts[0]
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            have = ", ".join(self.upload_images()) or "none"
            raise NotFound(f"firmware image /upload/{parts[0]} does not exist (images in "
                           f"/upload: {have})", thing="image", value=given,
                           allowed=f"a {IMAGE_SUFFIX} file in /upload, or shipped") from None
        except OSError as exc:
            raise Invalid(f"firmware image /upload/{parts[0]} cannot be read: "
                          f"{exc.strerror or exc}", thing="image", value=given,
                          allowed="a readable file") from None
        return parse_image(data, f"/upload/{parts[0]}"), f"/upload/{parts[0]}"

    # ------------------------------------------------------------------ commands
    async def update(self, principal: Principal, given: str, targets: list[str] | None = None,
                     *, force: bool = False) -> FirmwareJob:
        """Plan and start an update with the image ``given`` (see ``read_image``) for
        ``targets`` (hex ids; None: every PDU that does not run the image's version).

        Raises:
            PermissionDenied: needs ``administer``.
            Invalid: bad image or path; an unknown PDU.
            NotFound: no such image.
            Conflict: a plan is running; a PDU in alarm, silent or running newer firmware
                without ``force``; nothing to update.
        """
        require(principal, Action.ADMINISTER, "firmware/update")
        image, source = self.read_image(given)
        return await self._plan(principal, image, source, targets, force=force, auto=False)

    async def cancel(self, principal: Principal) -> FirmwareJob:
        """Stop the running plan: a transfer under way is broken off (the PDU drops the
        partial image and keeps its firmware); PDUs not yet done are ``cancelled``.

        Raises:
            PermissionDenied: needs ``administer``. Conflict: no plan runs.
        """
        require(principal, Action.ADMINISTER, "firmware/cancel")
        job = self.job
        if job is None or not job.running:
            raise Conflict("no firmware update is running; nothing to cancel",
                           thing="firmware", value="cancel", allowed="a running update")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for step in job.steps:
            if not step.state.final:
                was = step.state
                step.state = StepState.CANCELLED
                step.message = (f"cancelled by {principal.user} while {was.value}" +
                                ("; the PDU finishes its reboot into the new firmware"
                                 if was is StepState.REBOOTING else ""))
                await self._save_step(job, step)
        await self._finish(job, "cancelled", f"cancelled by {principal.user}", principal)
        return job

    # ------------------------------------------------------------------ planning
    def _in_alarm(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in self._alarms.active():
            counts[a.device] = counts.get(a.device, 0) + 1
        return counts

    async def _plan(self, principal: Principal, image: FirmwareImage, source: str,
                    targets: list[str] | None, *, force: bool, auto: bool) -> FirmwareJob:
        async with self._planning:
            return await self._plan_locked(principal, image, source, targets, force=force,
                                           auto=auto)

    async def _plan_locked(self, principal: Principal, image: FirmwareImage, source: str,
                           targets: list[str] | None, *, force: bool,
                           auto: bool) -> FirmwareJob:
        if self.job is not None and self.job.running:
            raise Conflict(f"a firmware update to {self.job.version} is running; wait for it "
                           "or 'firmware cancel' it", thing="firmware", value="update",
                           allowed="one update at a time")
        devices = self._live.devices
        if targets is not None:
            unknown = [h for h in targets if h not in devices]
            if unknown:
                raise Invalid(f"PDU(s) {', '.join(unknown)} not on the ring", thing="PDU",
                              value=unknown[0], allowed=", ".join(devices) or "no PDU known")
            chosen = list(dict.fromkeys(targets))
        else:
            chosen = [h for h, d in devices.items()
                      if d.info.identification.firmware_version != image.version]
            if not chosen:
                raise Conflict(f"every PDU already runs firmware {image.version}; nothing to "
                               "update", thing="firmware", value=image.version,
                               allowed="an image of another version, or named PDUs")
        problems: list[str] = []
        alarms = self._in_alarm()
        want = version_key(image.version) or ()
        for h in chosen:
            d = devices[h]
            if d.state is not DeviceState.RUNNING:
                problems.append(f"{h} does not answer ({d.state.value.lower()})")
                continue
            if force:
                continue
            if alarms.get(h):
                problems.append(f"{h} is in alarm ({alarms[h]} active)")
            have = version_key(d.info.identification.firmware_version) or ()
            if have > want:
                problems.append(f"{h} runs newer firmware "
                                f"{d.info.identification.firmware_version}")
        if problems:
            hint = "" if force else "; --force updates PDUs in alarm or with newer firmware"
            raise Conflict(f"firmware update to {image.version} refused: {'; '.join(problems)}"
                           f"{hint}", thing="PDU", value=problems[0],
                           allowed="answering PDUs without active alarms")
        order = sorted(chosen, key=lambda h: (not devices[h].info.controller,
                                              devices[h].info.position))
        now = self._clock()
        job = FirmwareJob(id=0, version=image.version, source=source, user=principal.user,
                          forced=force, auto=auto, started=now)
        for seq, h in enumerate(order):
            info = devices[h].info
            job.steps.append(FirmwareStep(seq=seq, hex_id=h, name=info.display_name,
                                          position=info.position, controller=info.controller,
                                          from_version=info.identification.firmware_version))
        async with self._store.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO firmware_job (version, source, user, forced, auto, started, state,"
                " image) VALUES (?,?,?,?,?,?,?,?)",
                (job.version, source, job.user, int(force), int(auto), now, job.state,
                 image.data))
            job.id = int(cur.lastrowid or 0)
            await tx.executemany(
                "INSERT INTO firmware_step (job_id, seq, hex_id, name, position, controller,"
                " from_version, state, message) VALUES (?,?,?,?,?,?,?,?,?)",
                [(job.id, s.seq, s.hex_id, s.name, s.position, int(s.controller),
                  s.from_version, s.state.value, s.message) for s in job.steps])
            entry = await self._audit.insert(
                tx, principal, "firmware.update.auto" if auto else "firmware.update.start",
                "firmware",
                f"Firmware update to {image.version} ({source}, sha256 {image.digest[:16]}) "
                f"planned for {len(order)} PDU(s) in this order: {', '.join(order)}"
                + (" (forced)" if force else ""),
                severity=Severity.WARNING if force else Severity.INFO,
                new={"version": image.version, "pdus": order, "forced": force})
        self._audit.announce(entry)
        self.job, self._image = job, image
        self._publish(job)
        self._launch(job)
        return job

    # ------------------------------------------------------------------ running
    def _launch(self, job: FirmwareJob) -> None:
        self._task = asyncio.create_task(self._run(job), name=f"firmware-{job.id}")

    def _remaining(self, job: FirmwareJob) -> int:
        return sum(1 for s in job.steps if not s.state.final)

    def _publish(self, job: FirmwareJob, step: FirmwareStep | None = None) -> None:
        """Announce a change: the event's data is a snapshot (the plan's state, the step,
        the PDUs updating at that moment), so a reader later sees what was, not what is."""
        busy = [s.hex_id for s in job.steps
                if s.state in (StepState.TRANSFERRING, StepState.REBOOTING)]
        self._events.publish(Event(EVENT_KIND, step.hex_id if step else "plan", {
            "job": job.id, "state": job.state, "busy": busy,
            "step": step.as_dict() if step is not None else None}))

    async def _save_step(self, job: FirmwareJob, step: FirmwareStep) -> None:
        await self._store.execute(
            "UPDATE firmware_step SET state=?, message=? WHERE job_id=? AND seq=?",
            (step.state.value, step.message, job.id, step.seq))
        self._publish(job, step)

    async def _run(self, job: FirmwareJob) -> None:
        try:
            for step in job.steps:
                if step.state.final:
                    continue
                await self._run_step(job, step)
                if step.state is StepState.FAILED and step.controller:
                    for rest in job.steps:
                        if not rest.state.final:
                            rest.state = StepState.CANCELLED
                            rest.message = "the Controller module PDU's update failed"
                            await self._save_step(job, rest)
            ok = all(s.state is StepState.VERIFIED for s in job.steps)
            await self._finish(job, "done" if ok else "failed",
                               f"{sum(s.state is StepState.VERIFIED for s in job.steps)} of "
                               f"{len(job.steps)} PDU(s) verified")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug ends the plan, said, not the controller
            log.exception("firmware: plan %d failed", job.id)
            await self._finish(job, "failed", f"internal error: {exc}")

    async def _run_step(self, job: FirmwareJob, step: FirmwareStep) -> None:
        assert self._image is not None
        live = self._live.devices.get(step.hex_id)
        if step.state is StepState.REBOOTING:  # resumed after a restart during the reboot
            await self._verify(job, step, after_polls=0)
            return
        if live is None or live.state is not DeviceState.RUNNING:
            why = "not on the ring" if live is None else live.state.value.lower()
            await self._fail(job, step, f"the PDU does not answer ({why})")
            return
        step.state, step.percent, step.message = StepState.TRANSFERRING, 0, ""
        await self._save_step(job, step)
        self.transfers += 1

        def progress(sent: int, total: int) -> None:
            pct = sent * 100 // total
            if pct != step.percent:
                step.percent = pct
                self._publish(job, step)

        try:
            await self._driver.update_firmware(step.hex_id, self._image.data, progress,
                                               self._bus_free)
        except EnertegError as exc:
            await self._fail(job, step, exc.message)
            return
        polls = live.polls
        step.state, step.percent = StepState.REBOOTING, 100
        await self._save_step(job, step)
        await self._verify(job, step, after_polls=polls)

    async def _verify(self, job: FirmwareJob, step: FirmwareStep, *, after_polls: int) -> None:
        """Wait (sweep by sweep) until the PDU answers a poll (one more than
        ``after_polls``, its count at activation) with the new version; meanwhile its
        silence is expected (``Poller.rebooting``)."""
        self._rebooting.add(step.hex_id)
        try:
            await self._wait_verified(job, step, after_polls)
        finally:
            self._rebooting.discard(step.hex_id)

    async def _wait_verified(self, job: FirmwareJob, step: FirmwareStep,
                             after_polls: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reboot_timeout
        with self._events.subscribe(kinds={"sweep"}, live=False, paced=True) as sub:
            while True:
                live = self._live.devices.get(step.hex_id)
                if (live is not None and live.state is DeviceState.RUNNING
                        and live.polls > after_polls
                        and live.info.identification.firmware_version == job.version):
                    step.state, step.message = StepState.VERIFIED, ""
                    await self._save_step(job, step)
                    await self._audit.record(
                        SYSTEM, "firmware.update.pdu", f"devices/{step.hex_id}",
                        f"PDU {step.hex_id} ({step.name}) updated from {step.from_version} "
                        f"to {job.version}", device=step.hex_id)
                    return
                left = deadline - loop.time()
                if left <= 0:
                    seen = live.info.identification.firmware_version if live else "nothing"
                    await self._fail(job, step, f"did not answer with firmware {job.version} "
                                                f"within {self.reboot_timeout:g} s after "
                                                f"activation (reports {seen})")
                    return
                await sub.get(timeout=left)

    async def _fail(self, job: FirmwareJob, step: FirmwareStep, why: str) -> None:
        step.state, step.message = StepState.FAILED, why
        await self._save_step(job, step)
        if job.auto:
            self._auto_failed.add((step.hex_id, job.version))
        await self._audit.record(SYSTEM, "firmware.update.failed", f"devices/{step.hex_id}",
                                 f"Firmware update of PDU {step.hex_id} to {job.version} "
                                 f"failed: {why}", severity=Severity.ERROR, device=step.hex_id)

    async def _finish(self, job: FirmwareJob, state: str, why: str,
                      principal: Principal = SYSTEM) -> None:
        job.state, job.finished = state, self._clock()
        await self._store.execute("UPDATE firmware_job SET state=?, finished=? WHERE id=?",
                                  (state, job.finished, job.id))
        action = "firmware.update.cancel" if state == "cancelled" else "firmware.update.done"
        await self._audit.record(principal, action, "firmware",
                                 f"Firmware update to {job.version} {state}: {why}",
                                 severity=Severity.INFO if state == "done" else Severity.WARNING)
        self._publish(job)

    # ------------------------------------------------------------------ auto-update
    async def _auto_update(self) -> None:
        if not self._config.get("sppdu5").firmwareAutoUpdate:
            return
        if self.job is not None and self.job.running:
            return
        image = self.shipped
        want = version_key(image.version) or ()
        alarms = self._in_alarm()
        older = [h for h, d in self._live.devices.items()
                 if d.state is DeviceState.RUNNING and not alarms.get(h)
                 and (h, image.version) not in self._auto_failed
                 and (version_key(d.info.identification.firmware_version) or ()) < want]
        if older:
            await self._plan(SYSTEM, image, f"shipped {image.version}", older, force=False,
                             auto=True)

