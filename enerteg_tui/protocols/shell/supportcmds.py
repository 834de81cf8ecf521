"""Shell command ``support``: the time-limited support access (manual §5.1).

``support enable --hours N [--role ROLE]`` opens the ``support`` account for N hours
and prints its one-time password once; ``support disable`` closes it now (its sessions
end); ``support status`` shows whether it is open, until when and who is logged in.
Everything is done and audited by ``core.support.SupportAccess``; this module only
parses and prints.
"""

from __future__ import annotations

from typing import Any

from ...core.support import MAX_HOURS
from ...core.timesync import local_iso_text
from .parse import UsageError

__all__ = ["cmd_support", "USAGE"]

USAGE = "support status | enable --hours N [--role ROLE] | disable"


def _status_text(st: dict[str, Any], config: Any) -> str:
    if not st["enabled"]:
        return (f"Support access: disabled (account {st['account']!r} "
                + ("exists, cannot log in)" if st["exists"] else "not created yet)"))
    hours, rest = divmod(st["secondsLeft"], 3600)
    lines = [f"Support access: enabled until {local_iso_text(config, st['expires'])} "
             f"({hours} h {rest // 60} min left)",
             f"Account:        {st['account']} (role {st['role']}, enabled by "
             f"{st['enabledBy']})"]
    for s in st["sessions"]:
        lines.append(f"Session:        {s['face']} from {s['address'] or '-'} since "
                     f"{local_iso_text(config, s['since'])}")
    if not st["sessions"]:
        lines.append("Sessions:       none")
    return "\n".join(lines)


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"support enable: --hours {text!r} is not a number; allowed are "
                         f"1 to {MAX_HOURS} hours") from None
    if not 1 <= value <= MAX_HOURS:
        raise UsageError(f"support enable: --hours {text} is not allowed; allowed are "
                         f"1 to {MAX_HOURS} hours")
    return value


async def cmd_support(sh: Any, args: list[str]) -> None:
    """support status | enable --hours N [--role ROLE] | disable."""
    support = sh.core.support
    if args == ["status"]:
        from ...core.permissions import Action, require

        require(sh.principal, Action.ADMINISTER, "user/support")
        st = support.status()
        sh.emit(st, _status_text(st, sh.core.config))
    elif args == ["disable"]:
        st = await support.disable(sh.principal)
        sh.emit(st, "Support access disabled: the support account cannot log in, its "
                    "sessions were ended.")
    elif args and args[0] == "enable":
        opts = dict(zip(args[1::2], args[2::2]))
        if len(args[1:]) % 2 or not set(opts) <= {"--hours", "--role"} or "--hours" not in opts:
            raise UsageError(f"Usage: {USAGE}")
        password, st = await support.enable(sh.principal, _hours(opts["--hours"]),
                                            opts.get("--role", "admin"))
        sh.emit({**st, "password": password},
                f"{_status_text(st, sh.core.config)}\nOne-time password: {password}\n"
                "It is shown only now; give it to the support engineer. It stops working "
                "at the expiry or at `support disable`.")
    else:
        raise UsageError(f"Usage: {USAGE}")
