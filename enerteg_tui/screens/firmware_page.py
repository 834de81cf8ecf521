"""The PDU firmware page (manual §7.4, issue 23 item 6), for administrators.

Reached from the Settings page (``f``). A table lists every PDU on the ring in update
order (the Controller module PDU first): its firmware and, when the latest update plan
includes it, its progress (queued, transferring n %, rebooting, verified, failed: why).
The line above says what the controller ships, whether auto-update is on
(``config/sppdu5`` firmwareAutoUpdate) and the plan's state. ``u`` starts an update
with an image uploaded over SFTP into ``/upload`` (or the shipped one) for all PDUs or
the ones named, ``x`` cancels the running one: the same core calls as the shell's
``firmware update``/``firmware cancel`` (the core checks ``administer``, refuses a PDU
in alarm unless forced, audits). The page follows the service's ``firmware`` events.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..core.errors import EnertegError
from ..core.events import Batch
from ..core.firmware_update import EVENT_KIND, FirmwareJob, FirmwareStep, StepState
from ..core.permissions import Action, require
from ..core.timesync import local_text
from .dialogs import ConfirmDialog
from .forms import FormDialog, FormField
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .tree import Place

__all__ = ["COLUMNS", "FirmwarePage", "PLACE"]

PLACE = Place("firmware")
"""Where the page lives (opened from the Settings page with ``f``)."""

COLUMNS = (
    Column("pos", "Pos", 3),
    Column("hex", "PDU", 6, "left"),
    Column("name", "Name", 20, "left"),
    Column("firmware", "Firmware", 8, "left"),
    Column("progress", "Update", 34, "left"),
)
"""Firmware table columns."""

_STYLE = {StepState.VERIFIED: "green", StepState.FAILED: "bold red",
          StepState.CANCELLED: "yellow", StepState.TRANSFERRING: "bold cyan",
          StepState.REBOOTING: "bold cyan"}


class FirmwarePage(Page):
    """Every PDU's firmware and the latest update plan's progress."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "update", "Update"),
        Binding("x", "cancel_update", "Cancel update"),
    ]

    DEFAULT_CSS = """
    FirmwarePage LiveTable { height: 1fr; }
    FirmwarePage #plan { height: auto; padding: 0 1; }
    FirmwarePage #detail { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }
    FirmwarePage #message { height: auto; padding: 0 1; }
    FirmwarePage #message.-error { color: $error; text-style: bold; }
    """

    LIVE_KINDS = (EVENT_KIND,)
    LIVE_VALUES = False

    def __init__(self, ref: str | None = None) -> None:
        super().__init__()
        self.place = PLACE

    def compose(self) -> ComposeResult:
        yield PageTitle("PDU firmware", id="title")
        yield Static("", id="plan")
        yield LiveTable(COLUMNS, id="firmware")
        yield Static("", id="detail")
        yield Static("", id="message")

    def on_mount(self) -> None:
        self.reload()
        self.listen()

    def focus_first(self) -> None:
        self.table.focus(scroll_visible=False)

    @property
    def table(self) -> LiveTable:
        """The PDU table."""
        return self.query_one(LiveTable)

    def on_live_batch(self, batch: Batch) -> None:
        self.reload()

    def reload(self) -> None:
        """Show the ring and the latest plan."""
        core = self.ctx.core
        fw = core.firmware
        job = fw.status()
        steps: dict[str, FirmwareStep] = {s.hex_id: s for s in job.steps} if job else {}
        devices = core.live.devices
        order = sorted(devices, key=lambda h: (h not in steps, steps[h].seq if h in steps else 0,
                                               not devices[h].info.controller,
                                               devices[h].info.position))
        shipped = fw.shipped.version
        rows = []
        for h in order:
            info = devices[h].info
            have = info.identification.firmware_version
            step = steps.get(h)
            if step is not None:
                progress = Text(step.text, style=_STYLE.get(step.state, ""))
            elif have == shipped:
                progress = Text("runs the shipped version", style="dim")
            else:
                progress = Text(f"shipped is {shipped}")
            rows.append(Row(key=h, cells={
                "pos": str(info.position), "hex": h, "name": info.display_name,
                "firmware": have, "progress": progress}))
        keep = self.table.current.key if self.table.current else None
        self.table.set_rows(rows)
        keys = [r.key for r in self.table.rows]
        if keep in keys:
            self.table.cursor_row = keys.index(keep)
        auto = "on" if core.config.get("sppdu5").firmwareAutoUpdate else "off"
        title = Text("PDU firmware", style="bold")
        title.append(f" · shipped {shipped} · auto-update {auto}")
        self.query_one("#title", PageTitle).update(title)
        self.query_one("#plan", Static).update(self._plan_text(job))
        self._describe()

    def _describe(self) -> None:
        """The highlighted PDU in full (a failure's reason does not fit its cell)."""
        row = self.table.current
        job = self.ctx.core.firmware.status()
        live = self.ctx.core.live.devices.get(str(row.key)) if row is not None else None
        text = Text()
        if live is not None:
            info = live.info
            text.append(f"{info.hex_id} {info.display_name}", style="bold")
            text.append(f" (position {info.position}"
                        + (", Controller module PDU" if info.controller else "")
                        + f"): firmware {info.identification.firmware_version}")
            step = next((s for s in job.steps if s.hex_id == info.hex_id), None) if job else None
            if step is not None:
                text.append(f"; step {step.seq + 1} of {len(job.steps)}, from "
                            f"{step.from_version}: {step.text}")
        self.query_one("#detail", Static).update(text)

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        self._describe()

    def _plan_text(self, job: FirmwareJob | None) -> Text:
        if job is None:
            images = self.ctx.core.firmware.upload_images()
            return Text("No update has run. Images in /upload: "
                        + (", ".join(images) if images else "none (put one there over SFTP)"))
        done = sum(s.state is StepState.VERIFIED for s in job.steps)
        who = "auto-update" if job.auto else f"by {job.user}"
        text = Text(f"Update to {job.version} from {job.source}: ")
        text.append(job.state, style="bold" if job.running else "")
        text.append(f", {done} of {len(job.steps)} verified (started "
                    f"{local_text(self.ctx.core.config, job.started, '%Y-%m-%d %H:%M')} {who}"
                    + (", forced" if job.forced else "") + ")")
        return text

    # ------------------------------------------------------------------ actions
    def action_update(self) -> None:
        """Start an update: image, PDUs, force."""
        ctx = self.ctx
        try:
            require(ctx.principal, Action.ADMINISTER, "firmware update")
        except EnertegError as exc:
            self.say_error(exc)
            return

        async def submit(v: dict[str, str]) -> str | None:
            targets = v["pdus"].replace(",", " ").split()
            chosen = None if targets in ([], ["all"]) else [t.lower() for t in targets]
            try:
                job = await ctx.core.firmware.update(ctx.principal, v["image"].strip(), chosen,
                                                     force=v["force"] == "yes")
            except EnertegError as exc:
                return str(exc)
            self.say(f"Update to {job.version} started for {len(job.steps)} PDU(s)")
            return None

        def done(changed: bool | None) -> None:
            if changed:
                self.reload()

        images = ctx.core.firmware.upload_images()
        self.app.push_screen(FormDialog("Update PDU firmware", [
            FormField("image", "Image: /upload/NAME (uploaded over SFTP) or shipped",
                      value=f"/upload/{images[0]}" if images else "shipped"),
            FormField("pdus", "PDUs: all, or hex ids", value="all"),
            FormField("force", "Force (PDUs in alarm or with newer firmware)",
                      choices=["no", "yes"], value="no"),
        ], submit, ok="Update"), done)

    def action_cancel_update(self) -> None:
        """Cancel the running update after a confirmation."""
        ctx = self.ctx
        job = ctx.core.firmware.status()
        if job is None or not job.running:
            self.say("No update is running")
            return

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say("Update goes on")
                return
            try:
                await ctx.core.firmware.cancel(ctx.principal)
            except EnertegError as exc:
                self.say_error(exc)
                return
            self.say(f"Update to {job.version} cancelled")
            self.reload()

        self.app.push_screen(ConfirmDialog(
            f"Cancel the update to {job.version}? A transfer under way is broken off (the "
            "PDU keeps its firmware); PDUs not yet updated stay as they are.",
            yes="Cancel update", no="Go on", title="Cancel firmware update"), confirmed)
