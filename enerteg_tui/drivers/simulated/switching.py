"""Outlet relays of one simulated PDU: switching with delays, power loss and power up.

Owns the relay state of every outlet and the asyncio tasks that carry out delayed
switch actions. Invariants: two switch actions of one PDU are at least the
system-wide outlet delay apart (manual §8.7), a newer command for an outlet replaces
its pending one, and every task is tracked so that ``cancel`` (power loss, driver
close) leaves nothing running. A PDU without switchable outlets keeps every relay
on. Called by ``device.SimPdu``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools

from ...core.model import DeviceSettings, OutletAction, PowerUpMode

__all__ = ["OutletBank"]


class OutletBank:
    """The relays of one PDU.

    Args:
        count: number of outlets.
        switchable: whether the relays can be switched at all.
    """

    def __init__(self, count: int, switchable: bool) -> None:
        self.on: list[bool] = [True] * count
        """Relay state per outlet; index 0 is outlet 1."""
        self.switchable = switchable
        self._remembered: list[bool] | None = None
        self._target: list[bool] | None = None
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._final: dict[int, bool] = {}
        self._restoring: set[asyncio.Task[None]] = set()
        self._next_slot = 0.0

    # ------------------------------------------------------------------ commands
    def command(self, outlet: int, action: OutletAction, settings: DeviceSettings) -> None:
        """Accept a switch command; it takes effect after the system-wide delay.

        ON/OFF happen at the next free switching slot (``outlet_delay_ms`` after now, and
        after the previous action); CYCLE switches off at that slot and on again
        ``power_cycle_delay`` seconds later. Must run inside the event loop.
        """
        idx = outlet - 1
        old = self._pending.pop(idx, None)
        if old is not None:
            old.cancel()
        delay = settings.outlet_delay_ms / 1000.0
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(now + delay, self._next_slot)
        self._next_slot = at + delay
        if action is OutletAction.CYCLE:
            cycle = settings.outlets[idx].power_cycle_delay if idx < len(settings.outlets) else 5.0
            steps = [(at, False), (at + cycle, True)]
        else:
            steps = [(at, action is OutletAction.ON)]
        if at <= now:  # no delay configured: the relay moves while we answer
            self.on[idx] = steps[0][1]
            steps = steps[1:]
            if not steps:
                return
        task = loop.create_task(self._run(idx, steps, delay), name=f"sim-outlet-{outlet}")
        self._pending[idx] = task
        self._final[idx] = steps[-1][1]
        task.add_done_callback(functools.partial(self._forget, idx))

    async def _run(self, idx: int, steps: list[tuple[float, bool]], delay: float) -> None:
        loop = asyncio.get_running_loop()
        for i, (at, state) in enumerate(steps):
            if i:  # a later step also waits for a free slot
                at = max(at, self._next_slot)
                self._next_slot = at + delay
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.on[idx] = state

    def _forget(self, idx: int, task: asyncio.Task[None]) -> None:
        if self._pending.get(idx) is task:
            del self._pending[idx]
            self._final.pop(idx, None)

    # ------------------------------------------------------------------ power
    def power_lost(self, mode: PowerUpMode) -> None:
        """The PDU lost its supply: drop pending actions, remember states, open relays."""
        target = self._target if self._restoring else None
        self.cancel()
        if not self.switchable:
            return
        if self._remembered is None:  # a loss during a restore keeps the state it aimed for
            self._remembered = target if target is not None else list(self.on)
        if mode is not PowerUpMode.NO_SWITCHING_ON_POWER_DOWN:
            self.on = [False] * len(self.on)

    def power_restored(self, settings: DeviceSettings) -> None:
        """The supply is back: restore outlets as the PDU's power-up mode says (§8.7)."""
        remembered, self._remembered = self._remembered, None
        if not self.switchable or remembered is None:
            return
        mode = settings.power_up_mode
        if mode in (PowerUpMode.NO_SWITCHING_ON_POWER_UP, PowerUpMode.NO_SWITCHING_ON_POWER_DOWN):
            return
        delay = settings.outlet_delay_ms / 1000.0
        plan: list[tuple[float, int]] = []
        if mode is PowerUpMode.SYSTEM_DELAY:
            wanted = [i for i, was in enumerate(remembered) if was]
            plan = [((k + 1) * delay, i) for k, i in enumerate(wanted)]
        else:  # INDIVIDUAL_DELAY
            for i, was in enumerate(remembered):
                if was:
                    own = settings.outlets[i].delay if i < len(settings.outlets) else 0.0
                    plan.append((own + delay, i))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (synchronous use): restore at once, in order
            for _, i in sorted(plan):
                self.on[i] = True
            return
        self._target = remembered
        task = loop.create_task(self._restore(sorted(plan)), name="sim-power-up")
        self._restoring.add(task)
        task.add_done_callback(self._restoring.discard)

    async def _restore(self, plan: list[tuple[float, int]]) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for offset, i in plan:
            wait = start + offset - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.on[i] = True
        self._next_slot = max(self._next_slot, loop.time())

    # ------------------------------------------------------------------ lifecycle
    def cancel(self) -> None:
        """Cancel every pending action (power loss, ring shrink, driver close)."""
        for task in [*self._pending.values(), *self._restoring]:
            task.cancel()
        self._pending.clear()
        self._final.clear()
        self._restoring.clear()

    async def finish(self) -> None:
        """Complete every accepted action at once, then end the tasks (driver close).

        A PDU carries out what it has accepted without the controller, so the states it
        keeps in its memory are the ones it is heading for.
        """
        tasks = [*self._pending.values(), *self._restoring]
        if self._restoring and self._target is not None:
            for i, was in enumerate(self._target):
                self.on[i] = self.on[i] or was
        for idx, state in self._final.items():
            self.on[idx] = state
        self.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def kept_states(self) -> list[bool]:
        """The relay states the PDU keeps in memory: the last known ones while unpowered."""
        return list(self._remembered if self._remembered is not None else self.on)
