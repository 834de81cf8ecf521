"""Shell command ``ldap test USER``: ask the directory about a user without logging in.

An operator setting up ``config/auth``'s ldap keys needs to see what a login would do
before anyone tries: the shell calls ``UserService.test_directory`` (admin only, audited
there), which binds as ``ldapBindDn`` (or anonymously), finds the user, lists their
groups and the role ``ldapRoleMap`` gives. The exit status is non-zero when the user
would not be admitted, so a script can check a configuration.
"""

from __future__ import annotations

from typing import Any

from ...core.directory import report_text
from ...core.errors import EnertegError
from .parse import UsageError

__all__ = ["cmd_ldap", "USAGE"]

USAGE = "ldap test USER"


async def cmd_ldap(sh: Any, args: list[str]) -> None:
    """ldap test USER: the DN, groups and role a directory login of USER would get."""
    if len(args) != 2 or args[0] != "test" or not args[1]:
        raise UsageError(f"Usage: {USAGE}")
    report = await sh.core.users.test_directory(sh.principal, args[1])
    sh.emit(report, report_text(report))
    if report["result"] != "admitted":
        raise EnertegError(f"ldap test: {args[1]!r} would not be admitted: {report['reason']}",
                           thing="user", value=args[1],
                           allowed="a directory user in a group mapped by ldapRoleMap")
