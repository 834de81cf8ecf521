"""Outlet switching (manual §7.3): unlock an outlet, choose on/off/cycle, confirm, send.

The dialog offers each action the session's roles allow and, for the others, says
why not in the core's own words (``core.permissions.switch_refusal``, the same table
``DeviceService.switch`` checks). The command
goes through ``core.devices.switch`` which checks again, sends it to the PDU,
audits it and marks the outlet pending until the PDU reports the new state; the
outlet row shows "pend→on/off" meanwhile.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..core.errors import EnertegError
from ..core.model import OutletAction, OutletState
from ..core.permissions import switch_refusal
from .context import console_context
from .dialogs import ConfirmDialog
from .errors import notify_error

__all__ = ["SwitchDialog", "refusal", "start_switch"]

ACTION_WORDS = {OutletAction.ON: "Switch on", OutletAction.OFF: "Switch off",
                OutletAction.CYCLE: "Power-cycle"}
"""Words per action (confirmation and messages)."""

BUTTON_WORDS = {OutletAction.ON: "On", OutletAction.OFF: "Off", OutletAction.CYCLE: "Cycle"}
"""Short button labels so the dialog fits 80 columns."""

refusal = switch_refusal
"""The core's refusal text for an outlet action, or None if the principal may do it."""


class SwitchDialog(ModalScreen[OutletAction | None]):
    """The unlocked outlet's switch menu: the allowed actions and the refused ones' reasons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "choose('on')", "On"),
        Binding("0", "choose('off')", "Off"),
        Binding("r", "choose('cycle')", "Cycle"),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    SwitchDialog { align: center middle; }
    SwitchDialog > Vertical {
        width: 70; max-width: 98%; height: auto; max-height: 95%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    SwitchDialog #what { margin-bottom: 1; }
    SwitchDialog #buttons { height: auto; }
    SwitchDialog Button { margin-right: 1; }
    SwitchDialog #why { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, hex_id: str, outlet: int) -> None:
        super().__init__()
        self.hex_id = hex_id
        self.outlet = outlet

    def compose(self) -> ComposeResult:
        ctx = console_context(self)
        live = ctx.core.devices.get(self.hex_id)
        names = live.info.settings.outlets
        name = names[self.outlet - 1].name if self.outlet <= len(names) else f"Outlet # {self.outlet}"
        state = live.pending_outlets.get(self.outlet) or live.outlet_states.get(self.outlet)
        what = f"sensor/{self.hex_id}/o/{self.outlet}"
        reasons = []
        with Vertical() as box:
            box.border_title = "Switch outlet (unlocked)"
            yield Static(f'Outlet {self.outlet} "{name}" of PDU "{live.info.display_name}" '
                         f"({self.hex_id}) is {state.value if state else 'unknown'}"
                         f"{' (pending)' if self.outlet in live.pending_outlets else ''}.",
                         id="what")
            with Horizontal(id="buttons"):
                keys = {OutletAction.ON: "1", OutletAction.OFF: "0", OutletAction.CYCLE: "r"}
                for action in OutletAction:
                    why = refusal(ctx.principal, action, what)
                    if why:
                        reasons.append(f"{ACTION_WORDS[action]}: {why}")
                    pointless = (action is OutletAction.ON and state is OutletState.ON) or (
                        action is OutletAction.OFF and state is OutletState.OFF)
                    yield Button(f"{BUTTON_WORDS[action]} ({keys[action]})",
                                 id=f"do-{action.value}", compact=True,
                                 disabled=bool(why) or pointless,
                                 variant="error" if action is not OutletAction.ON else "success")
                yield Button("Cancel (esc)", id="cancel", compact=True)
            yield Static("\n".join(reasons), id="why")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        self.dismiss(OutletAction(bid[3:]) if bid.startswith("do-") else None)

    def action_choose(self, action: str) -> None:
        button = self.query_one(f"#do-{action}", Button)
        if button.disabled:
            self.notify(str(self.query_one("#why", Static).render()) or "Not possible now",
                        title="Refused", severity="warning")
            return
        self.dismiss(OutletAction(action))

    def action_cancel(self) -> None:
        self.dismiss(None)


def start_switch(node: Any, hex_id: str, outlet: int) -> None:
    """Run the unlock → choose → confirm → switch sequence for one outlet."""
    ctx = console_context(node)
    app = node.app
    live = ctx.core.devices.get(hex_id)
    if not live.info.model.switchable:
        app.notify(f'PDU "{live.info.display_name}" ({hex_id}) has no switchable outlets',
                   title="Switch refused", severity="warning")
        return
    if all(refusal(ctx.principal, a, "") for a in OutletAction):
        why = refusal(ctx.principal, OutletAction.ON, f"sensor/{hex_id}/o/{outlet}")
        app.notify(why or "", title="Switch refused", severity="error")
        return

    async def chosen(action: OutletAction | None) -> None:
        if action is None:
            return
        names = live.info.settings.outlets
        name = names[outlet - 1].name if outlet <= len(names) else f"Outlet # {outlet}"
        question = (f'{ACTION_WORDS[action]} outlet {outlet} "{name}" of PDU '
                    f'"{live.info.display_name}" ({hex_id})?')
        if action is not OutletAction.ON:
            question += "\nEquipment on this outlet loses power."

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                app.notify("Switching cancelled", title="Switch")
                return
            try:
                await ctx.core.devices.switch(ctx.principal, hex_id, outlet, action)
            except EnertegError as exc:
                notify_error(app, exc, "Switch refused")
                return
            app.notify(f"{ACTION_WORDS[action]}: outlet {outlet} pending until the PDU reports",
                       title="Switch")

        app.push_screen(ConfirmDialog(question, yes=ACTION_WORDS[action], title="Confirm switching"),
                        confirmed)

    app.push_screen(SwitchDialog(hex_id, outlet), chosen)
