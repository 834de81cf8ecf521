"""Switching a whole room, row or rack, a set of PDUs or an outlet group (manual §6.1).

``u`` (Switch) on an element's dashboard, on the device list with PDUs marked (space),
or in the device view's outlet table with several outlets marked opens
``GroupSwitchDialog`` for that selection: unlocked, it
offers on, off and cycle as the session's roles allow (the refused ones say why, in the
core's words, as the single-outlet dialog does); choosing one shows the impact the core
computed (``GroupSwitching.plan``: outlets, names, load that will drop, outlets already
off, PDUs skipped) with the gap between two outlets, editable; confirming runs the
sequence (``GroupSwitching.run``) in a worker and shows each outlet as it is switched.
A failure stops the sequence and the dialog says where; ``s``/escape stops it between
two outlets. Every check and audit entry is the core's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static
from textual.worker import Worker, WorkerState

from ..core.errors import EnertegError
from ..core.group_switching import ACTION_VERBS, RunResult, StepResult, SwitchPlan
from ..core.model import OutletAction, OutletState
from ..core.permissions import switch_refusal
from .context import console_context
from .errors import notify_error, show_error_line

__all__ = ["GroupSwitchDialog", "start_group_switch"]

PROGRESS_LINES = 5
"""Outlet lines the progress view keeps (the newest); the audit log has them all."""
IMPACT_NAMES = 6
"""Outlets named in the impact before "… and N more" (the dialog fits 80 × 24)."""

_KEYS = {OutletAction.ON: "1", OutletAction.OFF: "0", OutletAction.CYCLE: "r"}
_WORDS = {OutletAction.ON: "On", OutletAction.OFF: "Off", OutletAction.CYCLE: "Cycle"}
_DONE = {OutletAction.ON: "on", OutletAction.OFF: "off", OutletAction.CYCLE: "cycled"}


class GroupSwitchDialog(ModalScreen[RunResult | None]):
    """Choose an action, read the impact, confirm, watch the outlets switch one by one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "choose('on')", "On", show=False),
        Binding("0", "choose('off')", "Off", show=False),
        Binding("r", "choose('cycle')", "Cycle", show=False),
        Binding("y", "confirm", "Switch", show=False),
        Binding("n", "cancel", "Cancel", show=False),
        Binding("s", "stop", "Stop", show=False),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    GroupSwitchDialog { align: center middle; }
    GroupSwitchDialog > Vertical {
        width: 76; max-width: 98%; height: auto; max-height: 95%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    GroupSwitchDialog .row { height: auto; }
    GroupSwitchDialog Button { margin-right: 1; }
    GroupSwitchDialog #why { color: $text-muted; }
    GroupSwitchDialog #impact { margin: 1 0; }
    GroupSwitchDialog #gap-row Label { padding: 0 1 0 0; }
    GroupSwitchDialog #gap { width: 12; }
    GroupSwitchDialog #error { color: $error; display: none; }
    GroupSwitchDialog #progress { margin-top: 1; }
    GroupSwitchDialog #outcome { text-style: bold; margin-top: 1; }
    """

    def __init__(self, element_id: int | None = None, *, devices: Sequence[str] = (),
                 outlets: Sequence[tuple[str, int]] = ()) -> None:
        """Exactly one selection: a room, row or rack id, PDUs (hex ids) or outlets
        ((hex id, outlet) pairs), as ``GroupSwitching.plan`` takes them."""
        super().__init__()
        self.element_id = element_id
        self.devices = tuple(devices)
        self.outlets = tuple(outlets)
        self.stage = "choose"
        """choose → confirm → running → done."""
        self.plan: SwitchPlan | None = None
        self.result: RunResult | None = None
        self._lines: list[str] = []
        self._default_gap = 0.0
        """The gap the core proposed (the PDUs' fixed outlet delay): typed back = not given."""
        self._worker: Worker[RunResult] | None = None

    # ------------------------------------------------------------------ layout
    def _selection(self) -> dict[str, Any]:
        """The keyword arguments of ``GroupSwitching.plan`` naming this selection."""
        return {"element": self.element_id, "devices": self.devices, "outlets": self.outlets}

    def _describe(self) -> tuple[str, str, str, int]:
        """(dialog title, the selection in a sentence, the audit object for refusals,
        switched outlets in the selection)."""
        core = console_context(self).core
        live = core.live.get

        def off(d: Any, n: int) -> bool:
            return (d.pending_outlets.get(n) or d.outlet_states.get(n)) is OutletState.OFF

        if self.outlets:
            pairs = [(d, n) for h, n in self.outlets
                     if (d := live(h)) is not None and d.info.model.switchable]
            pdus = {d.hex_id: d for d, _ in pairs}
            where = (f'PDU "{pairs[0][0].info.display_name}" ({pairs[0][0].hex_id})'
                     if len(pdus) == 1 else f"{len(pdus)} PDUs")
            names = ", ".join(f"o{n}" for _, n in pairs[:12]) + (" …" if len(pairs) > 12 else "")
            return ("Switch outlets", f"{len(pairs)} marked outlet(s) of {where}: {names}; "
                    f"{sum(off(d, n) for d, n in pairs)} off now.",
                    ",".join(sorted(f"sensor/{h}" for h in pdus)), len(pairs))
        if self.devices:
            lives = [d for h in self.devices if (d := live(h)) is not None]
            head = f"{len(lives)} marked PDU(s)"
            target = ",".join(f"sensor/{h}" for h in self.devices)
            title = "Switch PDUs"
        else:
            assert self.element_id is not None
            el = core.structure.get(self.element_id)
            lives = [d for h in core.structure.devices_in(el.id) if (d := live(h))]
            head = (f'{el.kind.value.capitalize()} "{core.structure.path(el)}": '
                    f"{len(lives)} PDU(s)")
            target, title = f"dc/{el.id}", f"Switch {el.kind.value}"
        switchable = [d for d in lives if d.info.model.switchable]
        outlets = sum(d.info.model.outlets for d in switchable)
        n_off = sum(1 for d in switchable for n in range(1, d.info.model.outlets + 1) if off(d, n))
        return (title, f"{head}, {outlets} switched outlet(s), {n_off} off now.", target,
                outlets)

    def compose(self) -> ComposeResult:
        ctx = console_context(self)
        title, sentence, what, outlets = self._describe()
        reasons = []
        with Vertical() as box:
            box.border_title = f"{title} (unlocked)"
            yield Static(sentence, id="what")
            with Horizontal(id="choose", classes="row"):
                for action in OutletAction:
                    why = switch_refusal(ctx.principal, action, what)
                    if why:
                        reasons.append(f"{_WORDS[action]}: {why}")
                    yield Button(f"{_WORDS[action]} ({_KEYS[action]})", id=f"do-{action.value}",
                                 compact=True, disabled=bool(why) or not outlets,
                                 variant="success" if action is OutletAction.ON else "error")
                yield Button("Cancel (esc)", id="cancel", compact=True)
            yield Static("\n".join(reasons), id="why")
            yield Static("", id="impact")
            with Horizontal(id="gap-row", classes="row"):
                yield Label("Gap between outlets (s):")
                yield Input(id="gap", compact=True)
            yield Static("", id="error")
            with Horizontal(id="confirm", classes="row"):
                yield Button("Switch (y)", id="yes", variant="warning", compact=True)
                yield Button("Cancel (n)", id="no", compact=True)
            yield Static("", id="progress")
            yield Static("", id="outcome")
            with Horizontal(id="running", classes="row"):
                yield Button("Stop (s)", id="stop", variant="error", compact=True)
                yield Button("Close (esc)", id="close", compact=True)

    def on_mount(self) -> None:
        self._show()
        self.query_one("#cancel", Button).focus()

    def _show(self) -> None:
        stage = self.stage
        self.query_one("#choose").display = stage == "choose"
        self.query_one("#why").display = stage == "choose"
        self.query_one("#impact").display = stage != "choose"
        self.query_one("#gap-row").display = stage == "confirm"
        self.query_one("#confirm").display = stage == "confirm"
        self.query_one("#progress").display = stage in ("running", "done")
        self.query_one("#outcome").display = stage == "done"
        self.query_one("#running").display = stage in ("running", "done")
        self.query_one("#stop").display = stage == "running"
        self.query_one("#close").display = stage == "done"

    # ------------------------------------------------------------------ stages
    def action_choose(self, action: str) -> None:
        if self.stage != "choose":
            return
        button = self.query_one(f"#do-{action}", Button)
        if button.disabled:
            self.notify(str(self.query_one("#why", Static).render()) or "Nothing to switch here",
                        title="Refused", severity="warning")
            return
        ctx = console_context(self)
        try:
            plan = ctx.core.switching.plan(ctx.principal, OutletAction(action),
                                           **self._selection())
        except EnertegError as exc:
            notify_error(self, exc, "Switch refused")
            return
        if not plan.steps:
            self.notify(f"Nothing to {ACTION_VERBS[plan.action]}: every switched outlet of "
                        f"{plan.what} is already {'on' if plan.action is OutletAction.ON else 'off'}",
                        title="Switch", severity="warning")
            return
        self.plan = plan
        self.stage = "confirm"
        self._default_gap = plan.gap_s
        self.query_one("#gap", Input).value = f"{plan.gap_s:g}"
        self._impact(plan)
        self.query_one("#yes", Button).label = (f"{ACTION_VERBS[plan.action].capitalize()} "
                                                f"{len(plan.steps)} outlet(s) (y)")
        self._show()
        self.query_one("#no", Button).focus()

    def _impact(self, plan: SwitchPlan, *, names: int = IMPACT_NAMES) -> None:
        lines = plan.summary_lines(names=names)
        if plan.action is not OutletAction.ON and names:
            lines.append("Equipment on these outlets loses power.")
        self.query_one("#impact", Static).update("\n".join(lines))

    def _replan(self) -> SwitchPlan | None:
        """The plan with the gap typed in the dialog; None (error shown) if refused."""
        assert self.plan is not None
        ctx = console_context(self)
        error = self.query_one("#error", Static)
        text = self.query_one("#gap", Input).value.strip()
        try:
            gap = float(text)
        except ValueError:
            show_error_line(error, f"gap {text!r} is not a number; allowed is 0 to 60 seconds")
            return None
        try:
            plan = ctx.core.switching.plan(ctx.principal, self.plan.action,
                                           **self._selection(),
                                           gap_s=None if gap == self._default_gap else gap)
        except EnertegError as exc:
            show_error_line(error, exc)
            return None
        error.display = False
        return plan

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.stage == "confirm" and event.input.id == "gap":
            plan = self._replan()
            if plan is not None:
                self._impact(plan)

    def action_confirm(self) -> None:
        if self.stage != "confirm":
            return
        plan = self._replan()
        if plan is None:
            return
        if not plan.steps:
            self.notify("Nothing left to switch: the outlets changed meanwhile", title="Switch",
                        severity="warning")
            self.dismiss(None)
            return
        self.plan = plan
        self._impact(plan, names=0)            # the list gives way to the progress
        self.stage = "running"
        self._show()
        self.query_one("#stop", Button).focus()
        self._progress(f"Starting: {len(plan.steps)} outlet(s), {plan.gap_s:g} s apart")
        self._worker = self.run_worker(self._run(plan), exit_on_error=False)

    async def _run(self, plan: SwitchPlan) -> RunResult:
        ctx = console_context(self)
        return await ctx.core.switching.run(ctx.principal, plan, self._step)

    def _step(self, r: StepResult) -> None:
        s = r.step
        state = _DONE[self.plan.action] if r.error is None and self.plan else "FAILED"
        self._progress(f"[{r.number}/{r.total}] {s.hex_id} o{s.outlet} {s.name}: {state}")

    def _progress(self, line: str) -> None:
        self._lines = (self._lines + [line])[-PROGRESS_LINES:]
        self.query_one("#progress", Static).update("\n".join(self._lines))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        outcome = self.query_one("#outcome", Static)
        if event.state is WorkerState.SUCCESS:
            self.result = event.worker.result
            text = self.result.message() if self.result else ""
            ok = self.result is not None and self.result.ok
        elif event.state is WorkerState.CANCELLED:
            text, ok = "Stopped between two outlets; the rest was not switched.", False
        else:
            err = event.worker.error
            text = str(err) if isinstance(err, EnertegError) else "Switching failed (see the log)"
            ok = False
        outcome.update(text)
        outcome.styles.color = "green" if ok else "red"
        self.stage = "done"
        self._show()
        self.query_one("#close", Button).focus()
        self.app.notify(text, title="Switch", severity="information" if ok else "error")

    # ------------------------------------------------------------------ buttons
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        if bid.startswith("do-"):
            self.action_choose(bid[3:])
        elif bid == "yes":
            self.action_confirm()
        elif bid == "stop":
            self.action_stop()
        else:
            self.action_cancel()

    def action_stop(self) -> None:
        if self.stage == "running" and self._worker is not None:
            self._worker.cancel()

    def action_cancel(self) -> None:
        if self.stage == "running":
            self.action_stop()
            return
        if self.stage == "confirm":
            self.app.notify("Switching cancelled; nothing switched", title="Switch")
        self.dismiss(self.result)


def start_group_switch(node: Any, element_id: int | None = None, *,
                       devices: Sequence[str] = (), outlets: Sequence[tuple[str, int]] = (),
                       done: Callable[[RunResult | None], object] | None = None) -> None:
    """Open the switch dialog of a room, row or rack, of PDUs or of outlets, or say why
    not. ``done`` hears the dialog's result when it closes (the pages clear their marks)."""
    ctx = console_context(node)
    if all(switch_refusal(ctx.principal, a, "") for a in OutletAction):
        target = (f"dc/{element_id}" if element_id is not None
                  else ",".join(sorted({f"sensor/{h}" for h in devices}
                                       | {f"sensor/{h}" for h, _ in outlets})))
        why = switch_refusal(ctx.principal, OutletAction.ON, target)
        node.app.notify(why or "", title="Switch refused", severity="error")
        return
    node.app.push_screen(GroupSwitchDialog(element_id, devices=devices, outlets=outlets), done)
