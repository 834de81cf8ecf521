"""Switching many outlets at once (manual §6.1): a rack, row or room, a set of PDUs or an
outlet group, one outlet after another.

Why a service of its own: the impact summary a person confirms (how many outlets, which,
the load that will drop, which are already off), the staggered sequence (a gap between
two outlets so inrush never hits a breaker at once; by default the largest fixed outlet
delay of the PDUs involved), the stop at the first failure saying where, and the audit
of the whole run are the same for every face. Each outlet goes through the one
single-outlet path, ``DeviceService.switch``, so its permission check, validation and
audit entry are exactly those of switching it alone; the run itself is checked once
up front with ``core.permissions.require_switch`` and audited at start and end.

A face builds a ``SwitchPlan`` with ``GroupSwitching.plan`` (read permission only: the
impact is information), shows ``SwitchPlan.summary_lines``, asks for confirmation, then
calls ``GroupSwitching.run`` with a progress callback. Documented in docs/ssh.md
(shell ``switch``) and docs/console-management.md.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .audit import AuditLog, Severity
from .devices import DeviceService
from .errors import EnertegError, Invalid, NotFound, shown
from .live import DeviceLive
from .model import DeviceState, OutletAction, OutletState
from .permissions import Action, Principal, require, require_switch
from .quantities import Component
from .structure import Kind, Structure

__all__ = ["OutletStep", "SwitchPlan", "StepResult", "RunResult", "GroupSwitching",
           "parse_outlet_group", "MAX_GAP_S", "ACTION_VERBS"]

MAX_GAP_S = 60.0
"""Longest gap between two outlets a run accepts (the PDU's own delay allows 60 s)."""

MAX_OUTLETS = 2400
"""Most outlets one run switches (100 PDUs × 24 outlets): a bound on a typo'd selection."""

ACTION_VERBS = {OutletAction.ON: "switch on", OutletAction.OFF: "switch off",
                OutletAction.CYCLE: "power-cycle"}
"""What each action does, as a verb phrase for summaries and audit texts."""

_DONE_WORDS = {OutletAction.ON: "switched on", OutletAction.OFF: "switched off",
               OutletAction.CYCLE: "power-cycled"}


@dataclass(frozen=True, slots=True)
class OutletStep:
    """One outlet of a plan, as it was when the plan was made."""

    hex_id: str
    outlet: int
    name: str
    pdu: str
    """The PDU's display name."""
    state: OutletState | None
    """Reported (or pending) state; None when the PDU has not said yet."""
    power_w: float | None
    """The outlet's active power, None for PDUs that do not meter outlets."""

    @property
    def where(self) -> str:
        """``outlet 3 "Web 1" of PDU "Rack PDU A" (1f6c1)``: how messages name it."""
        return f'outlet {self.outlet} "{self.name}" of PDU "{self.pdu}" ({self.hex_id})'


@dataclass(frozen=True, slots=True)
class SwitchPlan:
    """What a run will do, computed before anything moves (the impact summary)."""

    action: OutletAction
    what: str
    """The selection in words: ``rack "Room A / Row 1 / Rack 3"``, ``2 PDUs``, ..."""
    target: str
    """The audit object: ``dc/7``, ``sensor/1f6c1``, ``sensor/1f6c1,sensor/2a0b3``."""
    steps: tuple[OutletStep, ...]
    """Outlets to switch, in order."""
    already: tuple[OutletStep, ...]
    """Outlets left alone because they are already in the state the action leaves them in
    (on for ``on``; off for ``off`` and ``cycle``)."""
    skipped: tuple[str, ...]
    """PDUs of the selection that cannot switch, with the reason."""
    gap_s: float
    """Seconds between two outlets."""
    gap_source: str
    """Where the gap comes from: ``given`` or the PDU whose fixed outlet delay it is."""

    @property
    def load_w(self) -> float:
        """Active power that drops (off, cycle) or is added back (on): metered outlets only."""
        return sum(s.power_w or 0.0 for s in self.steps)

    @property
    def unmetered(self) -> int:
        """Outlets to switch whose load is not measured (not in ``load_w``)."""
        return sum(1 for s in self.steps if s.power_w is None)

    @property
    def duration_s(self) -> float:
        """Time the sequence takes at least (the gaps between outlets)."""
        return max(0, len(self.steps) - 1) * self.gap_s

    def summary_lines(self, names: int = 12) -> list[str]:
        """The impact summary a face shows before asking for confirmation."""
        a = self.action
        lines = [f"{ACTION_VERBS[a].capitalize()} {len(self.steps)} outlet(s) of {self.what}, "
                 f"one every {self.gap_s:g} s ({self.gap_source}); takes about "
                 f"{self.duration_s:.0f} s."]
        if a is not OutletAction.ON:
            load = f"Load that will drop: {self.load_w:.0f} W"
        else:
            load = f"Load last drawn by these outlets: {self.load_w:.0f} W"
        if self.unmetered:
            load += f" (+ {self.unmetered} outlet(s) without metering)"
        lines.append(load + ".")
        if self.steps and names > 0:
            shown_steps = [f"  {s.hex_id} o{s.outlet} {s.name}" + (
                f" ({s.power_w:.0f} W)" if s.power_w is not None else "")
                for s in self.steps[:names]]
            if len(self.steps) > names:
                shown_steps.append(f"  … and {len(self.steps) - names} more")
            lines += ["Outlets, in order:", *shown_steps]
        if self.already:
            word = "on" if a is OutletAction.ON else "off"
            lines.append(f"Already {word} (left alone): {len(self.already)}: " + ", ".join(
                f"{s.hex_id} o{s.outlet}" for s in self.already[:names])
                + (" …" if len(self.already) > names else ""))
        lines += [f"Skipped: {why}" for why in self.skipped]
        return lines

    def to_json(self) -> dict[str, object]:
        """The plan as a document (shell ``--dry-run``, ``format json``)."""
        def step(s: OutletStep) -> dict[str, object]:
            return {"hexId": s.hex_id, "outlet": s.outlet, "name": s.name, "pdu": s.pdu,
                    "state": s.state.value if s.state else None, "powerW": s.power_w}
        return {"action": self.action.value, "what": self.what, "target": self.target,
                "gapSeconds": self.gap_s, "gapSource": self.gap_source,
                "outlets": [step(s) for s in self.steps],
                "alreadyInState": [step(s) for s in self.already],
                "skipped": list(self.skipped), "loadW": round(self.load_w, 1),
                "unmeteredOutlets": self.unmetered}


@dataclass(frozen=True, slots=True)
class StepResult:
    """Progress of a run: one outlet done (``error`` None) or the one that failed."""

    number: int
    """1-based position in the plan."""
    total: int
    step: OutletStep
    error: EnertegError | None = None


@dataclass(slots=True)
class RunResult:
    """How a run ended."""

    plan: SwitchPlan
    done: list[OutletStep] = field(default_factory=list)
    failed: StepResult | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Every outlet of the plan was switched."""
        return self.failed is None and not self.interrupted

    @property
    def not_attempted(self) -> int:
        """Outlets of the plan never sent (after a failure or an interruption)."""
        return len(self.plan.steps) - len(self.done) - (1 if self.failed else 0)

    def message(self) -> str:
        """One sentence on the outcome, naming where a failure stopped the run."""
        a, n = self.plan.action, len(self.plan.steps)
        if self.failed is not None:
            return (f"Stopped at outlet {self.failed.number} of {n}, {self.failed.step.where}: "
                    f"{self.failed.error}. {len(self.done)} outlet(s) {_DONE_WORDS[a]} before it; "
                    f"{self.not_attempted} not attempted.")
        if self.interrupted:
            return (f"Interrupted after {len(self.done)} of {n} outlet(s) {_DONE_WORDS[a]}; "
                    f"{self.not_attempted} not attempted.")
        return f"{len(self.done)} outlet(s) of {self.plan.what} {_DONE_WORDS[a]}."


_GROUP_ITEM = re.compile(r"^([0-9a-fA-F]+)(?::|/o/)([0-9,\-]+)$")


def parse_outlet_group(text: str) -> list[tuple[str, int]]:
    """``1f6c1:1-4,7`` (or ``1f6c1/o/1-4``) → [(hex id, outlet), ...] in the order given.

    Raises ``Invalid`` naming the bad part and the allowed form.
    """
    m = _GROUP_ITEM.match(text.strip())
    allowed = "HEXID:OUTLETS, e.g. 1f6c1:1-4,7"
    if m is None:
        raise Invalid(f"outlet group {shown(text)} is not allowed; allowed is {allowed}",
                      thing="outlets", value=text, allowed=allowed)
    hex_id, spec = m.group(1).lower(), m.group(2)
    out: list[tuple[str, int]] = []
    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise Invalid(f"outlet group {shown(text)}: {shown(part)} is not an outlet number or "
                          f"range; allowed is {allowed}", thing="outlets", value=text,
                          allowed=allowed)
        a, b = int(lo), int(hi) if dash else int(lo)
        if b < a:
            raise Invalid(f"outlet group {shown(text)}: range {part} runs backwards; allowed is "
                          "FROM-TO with FROM ≤ TO", thing="outlets", value=part,
                          allowed="FROM-TO with FROM ≤ TO")
        out += [(hex_id, n) for n in range(a, b + 1)]
    return out


def _outlet_name(live: DeviceLive, n: int) -> str:
    names = live.info.settings.outlets
    return names[n - 1].name if n <= len(names) else f"Outlet # {n}"


class GroupSwitching:
    """Plans and runs the switching of many outlets (see the module docstring).

    Args:
        devices: the single-outlet path (``DeviceService.switch``) and device lookup.
        structure: racks, rows and rooms and the PDUs in them.
        audit: the start and end of each run are audited (each outlet by ``devices``).
        sleep: waits the gap between two outlets (tests may pass a recorder).
    """

    def __init__(self, devices: DeviceService, structure: Structure, audit: AuditLog,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self._devices = devices
        self._structure = structure
        self._audit = audit
        self._sleep = sleep
        self._clock = clock

    # ------------------------------------------------------------------ planning
    def element_by_name(self, kind: str, name: str) -> int:
        """The id of a room, row or rack given by id, name or ``Room / Row / Rack`` path."""
        try:
            k = Kind(kind)
        except ValueError:
            raise Invalid(f"element kind {shown(kind)} is not allowed; allowed is room, row or "
                          "rack", thing="kind", value=kind, allowed="room, row, rack") from None
        els = self._structure.elements(k)
        text = name.strip()
        if text.isdigit() and self._structure.kind_of(int(text)) == k.value:
            return int(text)
        wanted = " / ".join(p.strip() for p in text.split("/")).lower()
        found = [e for e in els if self._structure.path(e).lower() == wanted] or \
                [e for e in els if e.name.lower() == wanted]
        if len(found) != 1:
            known = ", ".join(self._structure.path(e) for e in els[:10]) or "none defined"
            hint = (f"no {k.value} has that name" if not found
                    else f"several {k.value}s have that name; use the path or the id")
            raise NotFound(f"{k.value} {shown(name)}: {hint} ({k.value}s: {known})",
                           thing=k.value, value=name,
                           allowed=f"the id, name or 'Room / Row / Rack' path of a {k.value}")
        return found[0].id

    def plan(self, principal: Principal, action: OutletAction, *, element: int | None = None,
             devices: Sequence[str] = (), outlets: Sequence[tuple[str, int]] = (),
             gap_s: float | None = None) -> SwitchPlan:
        """The impact of switching one selection: exactly one of ``element`` (a room, row
        or rack id), ``devices`` (hex ids) or ``outlets`` ((hex id, outlet) pairs).

        Raises ``Invalid`` for an empty or doubled selection, a bad gap or outlet number,
        ``NotFound`` for an unknown element or PDU. Changes nothing.
        """
        require(principal, Action.READ, "switch")
        given = sum(1 for x in (element is not None, bool(devices), bool(outlets)) if x)
        if given != 1:
            raise Invalid("choose one selection to switch: a room, row or rack, PDUs, or an outlet "
                          "group", thing="selection", value=given,
                          allowed="exactly one of element, devices, outlets")
        if gap_s is not None and not (0 <= gap_s <= MAX_GAP_S):
            raise Invalid(f"gap {gap_s:g} s is not allowed; allowed is 0 to {MAX_GAP_S:g} seconds",
                          thing="gap", value=gap_s, allowed=f"0 to {MAX_GAP_S:g} seconds")
        pairs: list[tuple[DeviceLive, int]] = []
        skipped: list[str] = []
        if element is not None:
            el = self._structure.get(element)
            what = f'{el.kind.value} "{self._structure.path(el)}"'
            target = f"dc/{el.id}"
            hexes = self._structure.devices_in(el.id)
            if not hexes:
                raise Invalid(f"{what} holds no PDU; nothing to switch", thing=el.kind.value,
                              value=el.name, allowed=f"a {el.kind.value} with PDUs assigned")
            pairs = self._whole_devices(hexes, skipped)
        elif devices:
            hexes = list(dict.fromkeys(h.strip().lower() for h in devices))
            lives = [self._devices.get(h) for h in hexes]          # NotFound names a bad one
            what = (f'PDU "{lives[0].info.display_name}" ({lives[0].hex_id})' if len(lives) == 1
                    else f"{len(lives)} PDUs")
            target = ",".join(f"sensor/{h}" for h in hexes)
            pairs = self._whole_devices(hexes, skipped)
        else:
            seen: set[tuple[str, int]] = set()
            for hx, n in outlets:
                live = self._devices.get(hx)
                model = live.info.model
                if not model.switchable:
                    raise Invalid(f'PDU "{live.info.display_name}" ({hx}) has no switchable '
                                  "outlets", thing="outlets", value=f"{hx}:{n}",
                                  allowed="outlets of a PDU with switched outlets")
                if not 1 <= n <= model.outlets:
                    raise Invalid(f"outlet {n} does not exist on PDU {hx}", thing="outlet",
                                  value=n, allowed=f"an outlet number from 1 to {model.outlets}")
                if (hx, n) not in seen:
                    seen.add((hx, n))
                    pairs.append((live, n))
            what = "an outlet group"
            target = ",".join(sorted({f"sensor/{hx}" for hx, _ in outlets}))
            self._check_running({live.hex_id: live for live, _ in pairs}.values(), skipped)
            pairs = [(lv, n) for lv, n in pairs if lv.state is DeviceState.RUNNING]
        if len(pairs) > MAX_OUTLETS:
            raise Invalid(f"{len(pairs)} outlets is more than one run switches; allowed is at most "
                          f"{MAX_OUTLETS}", thing="outlets", value=len(pairs),
                          allowed=f"at most {MAX_OUTLETS}")
        steps: list[OutletStep] = []
        already: list[OutletStep] = []
        for live, n in pairs:
            state = live.pending_outlets.get(n) or live.outlet_states.get(n)
            power = (live.value(Component.OUTLET, n, "activePower")
                     if live.info.model.metered_outlets else None)
            step = OutletStep(live.hex_id, n, _outlet_name(live, n), live.info.display_name,
                              state, power)
            leaves = OutletState.ON if action is OutletAction.ON else OutletState.OFF
            (already if state is leaves else steps).append(step)
        if gap_s is not None:
            gap, source = gap_s, "given"
        else:
            delays = {live.hex_id: live.info.settings.outlet_delay_ms for live, _ in pairs}
            if delays:
                hx = max(delays, key=lambda h: delays[h])
                gap = delays[hx] / 1000.0
                source = f"fixed outlet delay of PDU {hx}"
            else:
                gap, source = 0.0, "no PDU to switch"
        return SwitchPlan(action, what, target, tuple(steps), tuple(already), tuple(skipped),
                          gap, source)

    def _whole_devices(self, hexes: Sequence[str], skipped: list[str]) -> list[tuple[DeviceLive, int]]:
        lives = [self._devices.get(h) for h in hexes]
        out: list[tuple[DeviceLive, int]] = []
        switchable = []
        for live in lives:
            if not live.info.model.switchable:
                skipped.append(f'PDU "{live.info.display_name}" ({live.hex_id}) has no switchable '
                               "outlets")
            else:
                switchable.append(live)
        self._check_running(switchable, skipped)
        for live in switchable:
            if live.state is DeviceState.RUNNING:
                out += [(live, n) for n in range(1, live.info.model.outlets + 1)]
        return out

    @staticmethod
    def _check_running(lives: Iterable[DeviceLive], skipped: list[str]) -> None:
        for live in lives:
            if live.state is not DeviceState.RUNNING:
                skipped.append(f'PDU "{live.info.display_name}" ({live.hex_id}) is '
                               f"{live.state.value.lower()}; its outlets cannot be switched now")

    # ------------------------------------------------------------------ running
    async def run(self, principal: Principal, plan: SwitchPlan,
                  progress: Callable[[StepResult], object] = lambda r: None) -> RunResult:
        """Switch the plan's outlets one by one, ``plan.gap_s`` apart, through the
        single-outlet path; stop at the first failure. ``progress`` hears each outlet
        (done, or the failure). Permission is checked before anything moves; a
        cancellation (Ctrl-C, a closed dialog) stops between outlets and is audited.
        """
        require_switch(principal, plan.action, plan.target)
        if not plan.steps:
            raise Invalid(f"nothing to {ACTION_VERBS[plan.action]} in {plan.what}: "
                          + ("every outlet is already in that state" if plan.already
                             else "no switchable outlet of a running PDU"),
                          thing="selection", value=plan.what,
                          allowed="a selection with an outlet to switch")
        result = RunResult(plan)
        n = len(plan.steps)
        await self._audit.record(
            principal, "outlet.group.start", plan.target,
            f"{ACTION_VERBS[plan.action].capitalize()} {n} outlet(s) of {plan.what}, "
            f"{plan.gap_s:g} s apart, load {plan.load_w:.0f} W"
            + (f" (+ {plan.unmetered} unmetered)" if plan.unmetered else ""),
            severity=Severity.WARNING if plan.action is not OutletAction.ON else Severity.INFO,
            new={"action": plan.action.value, "outlets": n, "gapSeconds": plan.gap_s,
                 "loadW": round(plan.load_w, 1)})
        try:
            for i, step in enumerate(plan.steps, start=1):
                if i > 1 and plan.gap_s > 0:
                    await self._sleep(plan.gap_s)
                try:
                    await self._devices.switch(principal, step.hex_id, step.outlet, plan.action)
                except EnertegError as exc:
                    result.failed = StepResult(i, n, step, exc)
                    progress(result.failed)
                    break
                result.done.append(step)
                progress(StepResult(i, n, step))
        except asyncio.CancelledError:
            result.interrupted = True
            await asyncio.shield(self._finish(principal, result))
            raise
        await self._finish(principal, result)
        return result

    async def _finish(self, principal: Principal, result: RunResult) -> None:
        plan = result.plan
        action = ("outlet.group.done" if result.ok else
                  "outlet.group.failed" if result.failed else "outlet.group.interrupted")
        await self._audit.record(
            principal, action, plan.target, result.message(),
            severity=Severity.INFO if result.ok else Severity.WARNING,
            new={"done": len(result.done), "notAttempted": result.not_attempted,
                 "failedAt": (f"{result.failed.step.hex_id}/o/{result.failed.step.outlet}"
                              if result.failed else None)})
