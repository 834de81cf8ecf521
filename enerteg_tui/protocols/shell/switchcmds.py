"""Shell command ``switch``: a rack, row, room, PDUs or an outlet group on, off or cycled.

``switch on|off|cycle rack|row|room NAME | pdu HEXID... | outlets HEXID:LIST...
[--gap SECONDS] [--yes] [--dry-run]`` builds the plan with the core's
``GroupSwitching.plan`` (the impact summary), asks for confirmation (a typed ``yes`` at a
terminal; ``--yes`` in a script, which otherwise is refused with the impact shown), then
runs it with ``GroupSwitching.run``, printing one line per outlet. A failure stops the
sequence; the error names the outlet and how many were done (exit code 1). Ctrl-C stops
between two outlets (exit code 130). All checks and audit entries are the core's.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import EnertegError, Invalid
from ...core.group_switching import ACTION_VERBS, StepResult, parse_outlet_group
from ...core.i18n import N_, _
from ...core.model import OutletAction
from .parse import UsageError

__all__ = ["cmd_switch", "complete_switch", "USAGE"]

USAGE = ("Usage: switch on|off|cycle rack|row|room NAME | pdu HEXID... | outlets HEXID:LIST... "
         "[--gap SECONDS] [--yes] [--dry-run]")
SELECTIONS = ("rack", "row", "room", "pdu", "outlets")
"""What ``switch`` can select: a DC element, whole PDUs, or an outlet group."""

_DONE = {OutletAction.ON: N_("on"), OutletAction.OFF: N_("off"), OutletAction.CYCLE: N_("cycled")}


def _parse(args: list[str]) -> tuple[OutletAction, str, list[str], float | None, bool, bool]:
    words: list[str] = []
    gap: float | None = None
    yes = dry = False
    i = 0
    while i < len(args):
        w = args[i]
        if w == "--yes":
            yes = True
        elif w == "--dry-run":
            dry = True
        elif w == "--gap" or w.startswith("--gap="):
            _, sep, value = w.partition("=")
            if not sep:
                if i + 1 >= len(args):
                    raise UsageError(f"option --gap needs a value in seconds\n{USAGE}")
                i += 1
                value = args[i]
            try:
                gap = float(value)
            except ValueError:
                raise UsageError(f"--gap {value!r} is not a number of seconds (0 to 60)\n{USAGE}") from None
        elif w.startswith("--"):
            raise UsageError(f"unknown option {w!r}; options are --gap, --yes, --dry-run\n{USAGE}")
        else:
            words.append(w)
        i += 1
    if len(words) < 3:
        raise UsageError(USAGE)
    try:
        action = OutletAction(words[0].lower())
    except ValueError:
        raise UsageError(f"switch action {words[0]!r} does not exist; choose on, off or cycle\n"
                         f"{USAGE}") from None
    kind = words[1].lower()
    if kind not in SELECTIONS:
        raise UsageError(f"switch selection {words[1]!r} does not exist; choose one of "
                         f"{', '.join(SELECTIONS)}\n{USAGE}")
    names = words[2:]
    if kind in ("rack", "row", "room") and len(names) > 1:
        raise UsageError(f"one {kind} name expected, got {len(names)}: {' '.join(names)} "
                         f"(quote a name with spaces)\n{USAGE}")
    return action, kind, names, gap, yes, dry


async def cmd_switch(sh: Any, args: list[str]) -> None:
    """switch ACTION SELECTION ... : plan, confirm, then switch outlet by outlet."""
    action, kind, names, gap, yes, dry = _parse(args)
    svc = sh.core.switching
    if kind in ("rack", "row", "room"):
        plan = svc.plan(sh.principal, action, element=svc.element_by_name(kind, names[0]),
                        gap_s=gap)
    elif kind == "pdu":
        plan = svc.plan(sh.principal, action, devices=names, gap_s=gap)
    else:
        pairs = [p for text in names for p in parse_outlet_group(text)]
        plan = svc.plan(sh.principal, action, outlets=pairs, gap_s=gap)
    summary = "\n".join(plan.summary_lines())
    if dry:
        sh.emit(plan.to_json(), summary)
        return
    if not plan.steps:
        # the core says why (already in state / nothing switchable), before any question
        await svc.run(sh.principal, plan)
    if not yes:
        if not sh.interactive:
            sh.msg(summary)
            raise UsageError("a script must confirm switching: add --yes "
                             "(or --dry-run to see the impact only)")
        from .term import read_line

        sh.out(summary)
        sh.io.write(f"Type yes to {ACTION_VERBS[action]} {len(plan.steps)} outlet(s): ")
        answer = await read_line(sh.io)
        if (answer or "").strip().lower() != "yes":
            sh.msg(_("Switching cancelled; nothing switched."))
            return

    def progress(r: StepResult) -> None:
        s = r.step
        line = f"[{r.number}/{r.total}] {s.hex_id} o{s.outlet} {s.name}: "
        if r.error is None:
            sh.msg(line + _(_DONE[action]))
        else:
            sh.msg(line + _("FAILED"))

    result = await svc.run(sh.principal, plan, progress)
    if result.failed is not None:
        err: EnertegError = result.failed.error or Invalid("failed")
        raise type(err)(result.message(), thing=f"{result.failed.step.hex_id}/o/"
                        f"{result.failed.step.outlet}", value=err.value, allowed=err.allowed)
    sh.emit({"action": action.value, "what": plan.what, "switched": len(result.done),
             "outlets": [f"{s.hex_id}/o/{s.outlet}" for s in result.done]}, result.message())


def complete_switch(sh: Any, words: list[str]) -> list[str]:
    """Tab: the action, the selection kind, then PDU hex ids (``pdu``, ``outlets``)."""
    word = words[-1]
    if len(words) == 2:
        return [w for w in ("on", "off", "cycle") if w.startswith(word)]
    if len(words) == 3:
        return [w for w in SELECTIONS if w.startswith(word)]
    if words[2] in ("pdu", "outlets") and not word.startswith("-"):
        suffix = "" if words[2] == "pdu" else ":"
        return [d.hex_id + suffix for d in sh.core.live.ordered()
                if d.info.model.switchable and d.hex_id.startswith(word.lower())]
    return []
