"""The device view's Configuration tab (manual §8.7): a form over a PDU's settings.

General setup (name, extra info, location, feed, Device ID), behaviour (power-up mode,
fixed outlet delay) and the names of inputs, outlets (with individual and power-cycle
delays), branches and sensors. Values go to ``core.devices.update_settings``
as typed; the core validates them with the settings schema, so a bad value gets the
same words as in the shell and changes nothing. Roles without device setup see the
form disabled, with the reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from ..core.errors import EnertegError, PermissionDenied
from ..core.model import DeviceSettings, Feed, PowerUpMode
from ..core.permissions import Action, require
from .context import console_context
from .errors import notify_error, show_error_line
from .forms import TypingStaysInForm
from .unsaved import EditTracker

__all__ = ["POWER_UP_LABELS", "ConfigForm"]

POWER_UP_LABELS: dict[PowerUpMode, str] = {
    PowerUpMode.NO_SWITCHING_ON_POWER_UP: "No switching on power up",
    PowerUpMode.SYSTEM_DELAY: "System-wide outlet delay",
    PowerUpMode.INDIVIDUAL_DELAY: "Individual outlet delay",
    PowerUpMode.NO_SWITCHING_ON_POWER_DOWN: "No switching on power down",
}
"""The manual's words for the power-up modes."""


class Field(Horizontal):
    """A label and its control on one line."""

    DEFAULT_CSS = """
    Field { height: 1; margin: 0 1; }
    Field > Label { width: 26; }
    Field > Input { width: 1fr; max-width: 40; }
    Field > Select { width: 1fr; max-width: 40; }
    """


class ConfigForm(TypingStaysInForm, VerticalScroll):
    """Settings form of one PDU; ctrl+s saves through the device service."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "save", "Save"), Binding("ctrl+r", "revert", "Revert")]

    DEFAULT_CSS = """
    ConfigForm { height: 1fr; }
    ConfigForm .section { text-style: bold; color: $accent; margin: 1 1 0 1; }
    ConfigForm #config-note { margin: 0 1; color: $warning; }
    ConfigForm #config-error { margin: 0 1; color: $error; text-style: bold; }
    ConfigForm #config-buttons { height: 1; margin: 1 1; }
    ConfigForm #config-buttons Button { margin-right: 2; }
    ConfigForm .outlet > Input { max-width: 12; margin-right: 1; }
    ConfigForm .outlet > Input.wide { max-width: 24; }
    """

    def __init__(self, hex_id: str) -> None:
        super().__init__(id="config-form")
        self.hex_id = hex_id
        self.edits = EditTracker(self)
        """What the fields held when last filled, saved or reverted (screens/unsaved.py)."""

    def compose(self) -> ComposeResult:
        ctx = console_context(self)
        live = ctx.core.devices.get(self.hex_id)
        s = live.info.settings
        note = ""
        try:
            require(ctx.principal, Action.DEVICE_SETUP, f"sensor/{self.hex_id}/config")
        except PermissionDenied as exc:
            note = f"Read only. {exc}"
        yield Static(note, id="config-note")
        yield Static("", id="config-error")
        yield Label("General setup", classes="section")
        yield self._text("Name", "name", s.name)
        yield self._text("Extra info", "extraInfo", s.extra_info)
        yield self._text("Location", "location", s.location)
        with Field():
            yield Label("Feed")
            yield Select([(f.value, f.value) for f in Feed], value=s.feed.value,
                         allow_blank=False, compact=True, id="f-feed")
        yield self._text("Device ID (SNMP, Modbus)", "deviceId", str(s.device_id))
        yield Label("Behaviour", classes="section")
        with Field():
            yield Label("Power-up mode")
            yield Select([(POWER_UP_LABELS[m], m.value) for m in PowerUpMode],
                         value=s.power_up_mode.value, allow_blank=False, compact=True,
                         id="f-powerUpMode")
        yield self._text("Fixed outlet delay (ms)", "outletDelayMs", str(s.outlet_delay_ms))
        if s.input_names:
            yield Label("Inputs", classes="section")
            for n, name in enumerate(s.input_names, 1):
                yield self._text(f"Input {n} name", f"in-{n}", name)
        if s.outlets:
            yield Label("Outlets: name · delay (s) · power-cycle delay (s)", classes="section")
            for n, o in enumerate(s.outlets, 1):
                with Field(classes="outlet"):
                    yield Label(f"Outlet {n}")
                    yield Input(o.name, compact=True, id=f"f-out-{n}-name", classes="wide")
                    yield Input(f"{o.delay:g}", compact=True, id=f"f-out-{n}-delay")
                    yield Input(f"{o.power_cycle_delay:g}", compact=True, id=f"f-out-{n}-cycle")
        if s.branch_names:
            yield Label("Branches", classes="section")
            for n, name in enumerate(s.branch_names, 1):
                yield self._text(f"Branch {n} name", f"br-{n}", name)
        if s.sensor_names:
            yield Label("Environment sensors", classes="section")
            for n, name in enumerate(s.sensor_names, 1):
                yield self._text(f"Sensor {n} name", f"sn-{n}", name)
        with Horizontal(id="config-buttons"):
            yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
            yield Button("Revert (ctrl+r)", id="revert", compact=True)

    def on_mount(self) -> None:
        self.call_after_refresh(self.edits.mark_clean)
        note = self.query_one("#config-note", Static)
        note.display = bool(str(note.render()))
        self.query_one("#config-error", Static).display = False
        if not console_context(self).may(Action.DEVICE_SETUP):
            for w in self.query("Input, Select, Button"):
                w.disabled = True

    def _text(self, label: str, key: str, value: str) -> Field:
        return Field(Label(label), Input(value, compact=True, id=f"f-{key}"))

    def _val(self, key: str) -> str:
        return self.query_one(f"#f-{key}", Input).value

    def changes(self) -> dict[str, Any]:
        """The form's values as settings changes (text as typed; the core validates)."""
        s: DeviceSettings = console_context(self).core.devices.get(self.hex_id).info.settings
        out: dict[str, Any] = {
            "name": self._val("name"),
            "extraInfo": self._val("extraInfo"),
            "location": self._val("location"),
            "feed": self.query_one("#f-feed", Select).value,
            "deviceId": self._val("deviceId"),
            "powerUpMode": self.query_one("#f-powerUpMode", Select).value,
            "outletDelayMs": self._val("outletDelayMs"),
        }
        if s.input_names:
            out["inputNames"] = [self._val(f"in-{n}") for n in range(1, len(s.input_names) + 1)]
        if s.outlets:
            out["outlets"] = [
                {"name": self._val(f"out-{n}-name"), "delay": self._val(f"out-{n}-delay"),
                 "powerCycleDelay": self._val(f"out-{n}-cycle")}
                for n in range(1, len(s.outlets) + 1)]
        if s.branch_names:
            out["branchNames"] = [self._val(f"br-{n}") for n in range(1, len(s.branch_names) + 1)]
        if s.sensor_names:
            out["sensorNames"] = [self._val(f"sn-{n}") for n in range(1, len(s.sensor_names) + 1)]
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_revert()

    @work(exclusive=True, group="config-save")
    async def action_save(self) -> None:
        ctx = console_context(self)
        error = self.query_one("#config-error", Static)
        try:
            await ctx.core.devices.update_settings(ctx.principal, self.hex_id, self.changes())
        except EnertegError as exc:
            show_error_line(error, exc)
            notify_error(self, exc, "Settings not saved")
            return
        error.update("")
        error.display = False
        self.edits.mark_clean()
        self.notify("Settings saved to the PDU", title="Configuration")

    async def action_revert(self) -> None:
        """Reload the form from the PDU's current settings."""
        await self.recompose()
        self.on_mount()
