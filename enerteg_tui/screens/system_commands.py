"""The system commands in the console (manual §5.1.1): restart the controller, power off
or reboot the host, the software update (issue 23 item 5) and the support access
(manual §5.1 remote management, issue 23 item 7), from the command palette.

Why a module of its own: the palette offers them to admins only (``administer``); each
is refused at once in the core's words when the core would refuse it (poweroff and
reboot without ``--manage-host``: ``SystemService.check``), otherwise asked behind a
confirmation dialog and then handed to ``core.system.request``, the same call the
shell's ``restart``/``poweroff``/``reboot`` make (audited, every session warned, the
process owner stops and re-executes or runs the host command).

The software update entries: "Software update status" shows ``core.software.status``
(running and selected versions, the update under way or how the last one ended, the
packages in /upload), and one "Apply software update <file>" per package in /upload:
verified first by ``core.software.check`` (a refusal is shown in the core's words and
nothing happens), then asked behind a confirmation naming the versions, then
``core.software.apply`` (installs beside the running version and restarts into it).

The support access entries: "Support access status", "Open support access for N hours"
(1, 4 or 24; refused at once in the core's words while ``remoteManagement`` is
disabled, otherwise asked, then ``core.support.enable``, whose one-time password is
shown once in a ``ShownOnce`` dialog) and "Close support access now" while it is open;
the same core calls as the shell's ``support``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.errors import EnertegError
from ..core.i18n import N_, _, ngettext
from ..core.permissions import Action
from .context import console_context
from .errors import notify_error

__all__ = ["SYSTEM_COMMANDS", "system_entries", "start_system_command", "UPDATE_STATUS",
           "UPDATE_APPLY", "SUPPORT_STATUS", "SUPPORT_OPEN", "SUPPORT_CLOSE", "SUPPORT_HOURS"]

UPDATE_STATUS = "update-status"
UPDATE_APPLY = "update:"
"""Action prefix of applying a package: ``update:<file in /upload>``."""
SUPPORT_STATUS = "support-status"
SUPPORT_OPEN = "support-open:"
"""Action prefix of opening the support access: ``support-open:<hours>``."""
SUPPORT_CLOSE = "support-close"
SUPPORT_HOURS = (1, 4, 24)
"""The durations the palette offers (the shell's ``support enable --hours N`` takes any
from 1 to 72)."""

SYSTEM_COMMANDS: dict[str, tuple[str, str, str]] = {
    "restart": (N_("Restart controller"),
                N_("Stop the controller cleanly and start it again (every session ends)"),
                N_("Restart the controller now?\n\nEvery session (console, shell, SFTP) is "
                   "warned and ends; log in again when it is back.")),
    "poweroff": (N_("Power off host"),
                 N_("Power off the machine the controller runs on (needs --manage-host)"),
                 N_("Power off the host now?\n\nThe controller stops and the machine powers "
                    "off; it needs someone on site to come back.")),
    "reboot": (N_("Reboot host"),
               N_("Reboot the machine the controller runs on (needs --manage-host)"),
               N_("Reboot the host now?\n\nThe controller stops, the machine restarts; log in "
                  "again when it is back.")),
}
"""action → (palette text, palette help, confirmation question): English message ids,
translated where shown."""


def system_entries(app: Any) -> Iterator[tuple[str, str, str]]:
    """(text, help, action) of the system commands this session may see (admins only)."""
    if not console_context(app.screen).may(Action.ADMINISTER):
        return
    for action, (text, help, _question) in SYSTEM_COMMANDS.items():
        yield _(text), _(help), action
    software = console_context(app.screen).core.software
    yield (_("Software update status"), _("Running and selected versions, the update under way "
           "or how the last one ended, packages in /upload"), UPDATE_STATUS)
    for name in software.packages():
        yield (_("Apply software update {file}").format(file=name),
               _("Verify, install beside the running version and restart into it (rolled back "
                 "if it is not healthy)"), UPDATE_APPLY + name)
    support = console_context(app.screen).core.support
    yield (_("Support access status"), _("Whether the support account is open, until when, "
           "its sessions"), SUPPORT_STATUS)
    if support.enabled:
        yield (_("Close support access now"), _("The support account can no longer log in; its "
               "sessions end"), SUPPORT_CLOSE)
    for hours in SUPPORT_HOURS:
        yield (ngettext("Open support access for {count} hour", "Open support access for {count} hours",
                        hours).format(count=hours),
               _("A one-time password for the support account, shown once; it closes itself "
                 "(config/core remoteManagement must be enabled)"), f"{SUPPORT_OPEN}{hours}")


def start_system_command(app: Any, action: str) -> None:
    """Refuse at once (the core's words), or ask and then ask the core to do it."""
    from .dialogs import ConfirmDialog

    if action == UPDATE_STATUS or action.startswith(UPDATE_APPLY):
        _software(app, action)
        return
    if action in (SUPPORT_STATUS, SUPPORT_CLOSE) or action.startswith(SUPPORT_OPEN):
        _support(app, action)
        return
    ctx = console_context(app.screen)
    text, _help, question = (_(s) for s in SYSTEM_COMMANDS[action])
    refused = _("{what} refused").format(what=text)
    try:
        ctx.core.system.check(ctx.principal, action)
    except EnertegError as exc:
        notify_error(app.screen, exc, refused)
        return

    async def answered(yes: bool | None) -> None:
        if not yes:
            app.notify(_("{what}: cancelled; nothing done").format(what=text), title=text)
            return
        try:
            warning = await ctx.core.system.request(ctx.principal, action)
        except EnertegError as exc:
            notify_error(app.screen, exc, refused)
            return
        app.notify(warning, title=text, severity="warning", timeout=30)

    app.push_screen(ConfirmDialog(question, yes=text, no=_("Cancel"), title=text), answered)


def _software(app: Any, action: str) -> None:
    """The status (a notification), or an apply behind a confirmation."""
    from ..core.software_update import status_text
    from ..core.timesync import local_text
    from .dialogs import ConfirmDialog

    ctx = console_context(app.screen)
    software = ctx.core.software
    if action == UPDATE_STATUS:
        try:
            st = software.status(ctx.principal)
        except EnertegError as exc:
            notify_error(app.screen, exc, _("Software update status"))
            return
        app.notify(status_text(st, lambda ts: local_text(ctx.core.config, ts)),
                   title=_("Software update status"), timeout=30, markup=False)
        return
    name = action[len(UPDATE_APPLY):]
    title = _("Apply software update")

    async def checked() -> None:
        try:
            info = await software.check(ctx.principal, name, audit=False)
        except EnertegError as exc:
            notify_error(app.screen, exc, _("{what} refused").format(what=title))
            return
        question = _("Install version {version} from {file} (running {running}) and restart "
                     "into it now?\n\nSigned by key {key}. The running version is kept: if the "
                     "new one is not ready and healthy within {seconds} s, the controller goes "
                     "back to it on its own. Every session (console, shell, SFTP) ends; log "
                     "in again when it is back.").format(
            version=info.version, file=name, running=software.running_version, key=info.key_id,
            seconds=f"{software.boot_deadline_s:g}")
        app.push_screen(ConfirmDialog(question, yes=_("Install and restart"), no=_("Cancel"),
                                      title=title), answered)

    async def answered(yes: bool | None) -> None:
        if not yes:
            app.notify(_("{what}: cancelled; nothing installed").format(what=title), title=title)
            return
        app.notify(_("Verifying and installing {file}…").format(file=name), title=title, timeout=30)
        try:
            warning = await software.apply(ctx.principal, name)
        except EnertegError as exc:
            notify_error(app.screen, exc, _("{what} failed").format(what=title))
            return
        app.notify(warning, title=title, severity="warning", timeout=30)

    app.run_worker(checked(), exclusive=False, group="software-update")


def _support(app: Any, action: str) -> None:
    """The support access: its status (a notification), opening it behind a confirmation
    (the one-time password shown once), closing it behind a confirmation."""
    from ..core.support import status_text
    from .dialogs import ConfirmDialog, ShownOnce

    ctx = console_context(app.screen)
    support = ctx.core.support
    title = _("Support access")
    if action == SUPPORT_STATUS:
        try:
            from ..core.permissions import require
            require(ctx.principal, Action.ADMINISTER, "user/support")
        except EnertegError as exc:
            notify_error(app.screen, exc, title)
            return
        from ..core.timesync import local_iso_text
        app.notify(status_text(support.status(),
                               lambda iso: local_iso_text(ctx.core.config, iso)),
                   title=title, timeout=30, markup=False)
        return
    if action == SUPPORT_CLOSE:
        async def closed(yes: bool | None) -> None:
            if not yes:
                app.notify(_("{what}: cancelled; still open").format(what=title), title=title)
                return
            try:
                await support.disable(ctx.principal)
            except EnertegError as exc:
                notify_error(app.screen, exc, _("{what} not closed").format(what=title))
                return
            app.notify(_("Support access closed: the support account cannot log in, its "
                         "sessions were ended."), title=title)

        app.push_screen(ConfirmDialog(_("Close the support access now?\n\nThe support "
                                        "account can no longer log in and its sessions end."),
                                      yes=_("Close it"), no=_("Cancel"), title=title), closed)
        return
    hours = float(action[len(SUPPORT_OPEN):])
    try:
        support.check_enable(ctx.principal, hours)
    except EnertegError as exc:
        notify_error(app.screen, exc, _("{what} refused").format(what=title))
        return

    async def opened(yes: bool | None) -> None:
        if not yes:
            app.notify(_("{what}: cancelled; nothing opened").format(what=title), title=title)
            return
        try:
            password, st = await support.enable(ctx.principal, hours)
        except EnertegError as exc:
            notify_error(app.screen, exc, _("{what} refused").format(what=title))
            return
        from ..core.timesync import local_iso_text
        until = local_iso_text(ctx.core.config, st["expires"])
        app.push_screen(ShownOnce(
            _("Support access until {until}").format(until=until),
            _("Account {account} (role {role}) may log in with this password until {until}; "
              "it stops working then or when the access is closed. Give it to the support "
              "engineer.").format(account=st["account"], role=st["role"], until=until),
            password))

    app.push_screen(ConfirmDialog(
        _("Open the support account for {hours} h?\n\nA one-time password is shown once; "
          "every action of the account is audited, and the access closes itself at the "
          "expiry.").format(hours=f"{hours:g}"),
        yes=_("Open it"), no=_("Cancel"), title=title), opened)
