"""Shell system commands (manual §5.1.1, issue 19 item 7): ``version``, ``restart``,
``poweroff``, ``reboot``.

``version`` prints ``core.system.version()``; the other three call
``SystemService.request`` with the session's principal (``administer``; poweroff and
reboot only when the controller was started with ``--manage-host``, otherwise the
refusal names the flag). At a terminal they ask ``[y/N]`` first; a script must add
``--yes``. The session then receives the same warning as every other one and ends.
"""

from __future__ import annotations

from typing import Any

from ...core.i18n import _
from .parse import UsageError

__all__ = ["cmd_version", "cmd_restart", "cmd_poweroff", "cmd_reboot", "version_lines"]


def version_lines(info: dict[str, Any]) -> str:
    """The text form of ``version``."""
    lines = [f"EnerTEG controller {info['controller']}",
             f"Python             {info['python']} ({info['platform']})",
             f"Data layout        schema {info['dataLayout']}",
             f"Host management    {'allowed (--manage-host)' if info.get('manageHost') else 'off'}"]
    lines += [f"  {name:<17}{ver}" for name, ver in info["libraries"].items()]
    return "\n".join(lines)


async def cmd_version(sh: Any, args: list[str]) -> None:
    if args:
        raise UsageError("Usage: version")
    info = sh.core.system.version()
    sh.emit(info, version_lines(info))


async def _system(sh: Any, action: str, args: list[str], question: str) -> None:
    if args not in ([], ["--yes"]):
        raise UsageError(f"Usage: {action} [--yes]")
    from ...core.permissions import Action, require

    require(sh.principal, Action.ADMINISTER, f"system/{action}")
    if action != "restart" and not sh.core.system.manage_host:
        await sh.core.system.request(sh.principal, action)  # the refusal naming the flag
    if not args:
        if not sh.interactive:
            raise UsageError(f"a script must confirm: {action} --yes")
        from .term import read_line

        sh.io.write(f"{question} Every session is ended. [y/N] ")
        if ((await read_line(sh.io)) or "").strip().lower() not in ("y", "yes"):
            sh.msg(_("Nothing changed."))
            return
    warning = await sh.core.system.request(sh.principal, action)
    sh.msg(warning)


async def cmd_restart(sh: Any, args: list[str]) -> None:
    await _system(sh, "restart", args, "Restart the controller now?")


async def cmd_poweroff(sh: Any, args: list[str]) -> None:
    await _system(sh, "poweroff", args, "Power off the host now?")


async def cmd_reboot(sh: Any, args: list[str]) -> None:
    await _system(sh, "reboot", args, "Reboot the host now?")
