"""System commands (manual §5.1.1, issue 19 item 7): version, restart, poweroff, reboot.

Owns what a face may ask of the controller process and its host: ``version_info`` (the
controller, Python, key libraries, the data layout's schema version) and ``request``
(restart the controller; power off or reboot the host). A request is checked
(``administer``; the host actions only when the controller was started with
``--manage-host``), audited, announced to every session (which ends them), and then
handed to the process owner: ``stop_requested`` is set and ``requested`` says what
for. The owner (``enerteg serve`` in ``cli.py``) stops cleanly and then re-executes
itself or runs the host command; the core never exits the process itself.
"""

from __future__ import annotations

import asyncio
import platform
import sys
from importlib import metadata
from typing import Any, Literal

from .audit import AuditLog, Severity
from .errors import Invalid, Unsupported
from .permissions import Action, Principal, require
from .store import MIGRATIONS

__all__ = ["SystemService", "SystemAction", "MANAGE_HOST_FLAG", "LIBRARIES", "version_info"]

SystemAction = Literal["restart", "poweroff", "reboot"]
MANAGE_HOST_FLAG = "--manage-host"
"""The ``enerteg serve`` flag that allows powering off and rebooting the host."""
LIBRARIES = ("textual", "asyncssh", "pydantic", "aiosqlite", "pysnmp", "pymodbus",
             "XlsxWriter", "argon2-cffi", "cryptography")
"""Libraries whose versions ``version`` reports: the faces and the storage they run on."""
GRACE_S = 1.0
"""How long the asking session keeps its connection after the warning (to read it)."""


def version_info() -> dict[str, Any]:
    """Controller, Python and library versions and the database schema version."""
    from .. import __version__

    libs: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = "not installed"
    return {"controller": __version__,
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": f"{sys.platform} {platform.machine()}",
            "dataLayout": max(n for n, _ in MIGRATIONS), "libraries": libs}


class SystemService:
    """Version information and the controller's restart / the host's poweroff and reboot.

    Args:
        audit: every request is audited.
        sessions: ``users.sessions`` (each session is told and ended).
        manage_host: the controller was started with ``--manage-host``.
    """

    def __init__(self, audit: AuditLog, sessions: Any, *, manage_host: bool = False) -> None:
        self._audit = audit
        self._sessions = sessions
        self.manage_host = manage_host
        """Whether poweroff and reboot of the host are allowed."""
        self.requested: SystemAction | None = None
        """What the process owner is asked to do once stopped."""
        self.stop_requested = asyncio.Event()
        """Set by ``request``; ``enerteg serve`` waits on it beside SIGTERM."""

    def version(self) -> dict[str, Any]:
        """``version_info()`` plus whether this controller may manage its host."""
        return {**version_info(), "manageHost": self.manage_host}

    def check(self, principal: Principal, action: str) -> None:
        """Refuse ``action`` now, as ``request`` would, without doing anything: a face
        calls it before asking for confirmation (the console's system commands).

        Raises:
            PermissionDenied, Invalid, Unsupported: as ``request``.
        """
        if action not in ("restart", "poweroff", "reboot"):
            raise Invalid(f"system action {action!r} does not exist; allowed are restart, "
                          "poweroff, reboot", thing="action", value=action,
                          allowed="restart, poweroff, reboot")
        require(principal, Action.ADMINISTER, f"system/{action}")
        if action != "restart" and not self.manage_host:
            raise Unsupported(
                f"{action} of the host is not allowed: this controller was started without "
                f"{MANAGE_HOST_FLAG}; start it with 'enerteg serve {MANAGE_HOST_FLAG}' to allow "
                "poweroff and reboot (restart of the controller needs no flag)",
                thing=action, value="no " + MANAGE_HOST_FLAG, allowed=MANAGE_HOST_FLAG)
        if self.requested is not None:
            raise Unsupported(f"a {self.requested} is already under way", thing=action,
                              value=self.requested, allowed="one request at a time")

    async def request(self, principal: Principal, action: str, *,
                      reason: str | None = None) -> str:
        """Ask for a restart of the controller, or a poweroff or reboot of the host;
        ``reason`` replaces "<action> by <user>" in the warning (a software update).

        Returns:
            The warning every session was sent.

        Raises:
            PermissionDenied: needs ``administer``.
            Invalid: an unknown action.
            Unsupported: poweroff/reboot without ``--manage-host``, or a request already
                under way.
        """
        self.check(principal, action)
        what = {"restart": "The controller restarts now",
                "poweroff": "The host powers off now",
                "reboot": "The host reboots now"}[action]
        warning = (f"{what} ({reason or f'{action} by {principal.user}'}); "
                   "log in again when it is back.")
        await self._audit.record(principal, f"system.{action}", "system", warning,
                                 severity=Severity.WARNING)
        self.requested = action  # type: ignore[assignment]
        self._sessions.end_all(warning, last=principal.session, grace_s=GRACE_S)
        loop = asyncio.get_running_loop()
        loop.call_later(GRACE_S + 0.2, self.stop_requested.set)  # after the warning went out
        return warning
