"""The system commands in the console (manual §5.1.1): restart the controller, power off
or reboot the host, from the command palette.

Why a module of its own: the palette offers them to admins only (``administer``); each
is refused at once in the core's words when the core would refuse it (poweroff and
reboot without ``--manage-host``: ``SystemService.check``), otherwise asked behind a
confirmation dialog and then handed to ``core.system.request``, the same call the
shell's ``restart``/``poweroff``/``reboot`` make (audited, every session warned, the
process owner stops and re-executes or runs the host command).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.errors import EnertegError
from ..core.permissions import Action
from .context import console_context
from .errors import notify_error

__all__ = ["SYSTEM_COMMANDS", "system_entries", "start_system_command"]

SYSTEM_COMMANDS: dict[str, tuple[str, str, str]] = {
    "restart": ("Restart controller",
                "Stop the controller cleanly and start it again (every session ends)",
                "Restart the controller now?\n\nEvery session (console, shell, SFTP) is "
                "warned and ends; log in again when it is back."),
    "poweroff": ("Power off host",
                 "Power off the machine the controller runs on (needs --manage-host)",
                 "Power off the host now?\n\nThe controller stops and the machine powers "
                 "off; it needs someone on site to come back."),
    "reboot": ("Reboot host",
               "Reboot the machine the controller runs on (needs --manage-host)",
               "Reboot the host now?\n\nThe controller stops, the machine restarts; log in "
               "again when it is back."),
}
"""action → (palette text, palette help, confirmation question)."""


def system_entries(app: Any) -> Iterator[tuple[str, str, str]]:
    """(text, help, action) of the system commands this session may see (admins only)."""
    if not console_context(app.screen).may(Action.ADMINISTER):
        return
    for action, (text, help, _) in SYSTEM_COMMANDS.items():
        yield text, help, action


def start_system_command(app: Any, action: str) -> None:
    """Refuse at once (the core's words), or ask and then ask the core to do it."""
    from .dialogs import ConfirmDialog

    ctx = console_context(app.screen)
    text, _, question = SYSTEM_COMMANDS[action]
    try:
        ctx.core.system.check(ctx.principal, action)
    except EnertegError as exc:
        notify_error(app.screen, exc, f"{text} refused")
        return

    async def answered(yes: bool | None) -> None:
        if not yes:
            app.notify(f"{text}: cancelled; nothing done", title=text)
            return
        try:
            warning = await ctx.core.system.request(ctx.principal, action)
        except EnertegError as exc:
            notify_error(app.screen, exc, f"{text} refused")
            return
        app.notify(warning, title=text, severity="warning", timeout=30)

    app.push_screen(ConfirmDialog(question, yes=text, no="Cancel", title=text), answered)
