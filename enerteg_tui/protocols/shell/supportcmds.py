"""Shell command ``support``: the time-limited support access (manual §5.1).

``support enable --hours N [--role ROLE]`` opens the ``support`` account for N hours
and prints its one-time password once; ``support disable`` closes it now (its sessions
end); ``support status`` shows whether it is open, until when and who is logged in.
Everything is done and audited by ``core.support.SupportAccess``; this module only
parses and prints.
"""

from __future__ import annotations

from typing import Any

from ...core.i18n import _
from ...core.support import MAX_HOURS, status_text
from ...core.timesync import local_iso_text
from .parse import UsageError, usage_error

__all__ = ["cmd_support", "USAGE"]

USAGE = "support status | enable --hours N [--role ROLE] | disable"


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise usage_error("support enable: --hours {value} is not a number; allowed are "
                           "1 to {max} hours", value=repr(text), max=MAX_HOURS) from None
    if not 1 <= value <= MAX_HOURS:
        raise usage_error("support enable: --hours {value} is not allowed; allowed are "
                           "1 to {max} hours", value=text, max=MAX_HOURS)
    return value


async def cmd_support(sh: Any, args: list[str]) -> None:
    """support status | enable --hours N [--role ROLE] | disable."""
    support = sh.core.support
    if args == ["status"]:
        from ...core.permissions import Action, require

        require(sh.principal, Action.ADMINISTER, "user/support")
        st = support.status()
        sh.emit(st, status_text(st, lambda iso: local_iso_text(sh.core.config, iso)))
    elif args == ["disable"]:
        st = await support.disable(sh.principal)
        sh.emit(st, _("Support access disabled: the support account cannot log in, its "
                      "sessions were ended."))
    elif args and args[0] == "enable":
        opts = dict(zip(args[1::2], args[2::2]))
        if len(args[1:]) % 2 or not set(opts) <= {"--hours", "--role"} or "--hours" not in opts:
            raise UsageError(f"Usage: {USAGE}")
        password, st = await support.enable(sh.principal, _hours(opts["--hours"]),
                                            opts.get("--role", "admin"))
        sh.emit({**st, "password": password},
                status_text(st, lambda iso: local_iso_text(sh.core.config, iso)) + "\n"
                + _("One-time password: {password}\n"
                    "It is shown only now; give it to the support engineer. It stops working "
                    "at the expiry or at `support disable`.").format(password=password))
    else:
        raise UsageError(f"Usage: {USAGE}")
