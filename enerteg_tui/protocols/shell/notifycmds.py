"""Shell notification commands: ``email test`` sends a test e-mail with the current
``config/email`` settings (manual §5.7 "Send test e-mail"), so a script or an operator
can check the mail path without waiting for an alarm."""

from __future__ import annotations

from typing import Any

from .parse import UsageError

__all__ = ["cmd_email"]


async def cmd_email(sh: Any, args: list[str]) -> None:
    """``email test``: send a test e-mail now (admin)."""
    if args != ["test"]:
        raise UsageError("Usage: email test")
    result = await sh.core.notifications.send_test(sh.principal, "email")
    sh.emit({"sent": True, "result": result}, f"Test e-mail sent: {result}")
