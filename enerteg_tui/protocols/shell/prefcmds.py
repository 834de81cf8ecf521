"""``prefs``: a user's own preferences from the shell (language, change marks, colours).

The console changes them in its "Display preferences" dialog; the shell needs the same
for a user who never opens the console, above all the language (manual §5.1,
docs/language.md). ``core.preferences`` checks, stores and audits; an admin may set
another user's with ``--user NAME``. A new language applies to this shell at once and
to every session started afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.i18n import _, session_language
from .parse import UsageError

__all__ = ["PREFS_USAGE", "cmd_prefs"]

PREFS_USAGE = "Usage: prefs [--user NAME] [language en|cs|default | changeMarks off|subtle|flash | noColor on|off]"


def _shown(value: Any) -> str:
    """A preference's value as ``prefs`` prints it (on/off, "default" for the system's)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value) if value != "" else _("default")


async def cmd_prefs(sh: Any, args: list[str]) -> None:
    """prefs: show them; prefs KEY VALUE: change one."""
    user = sh.principal.user
    if args[:1] == ["--user"]:
        if len(args) < 2:
            raise UsageError(PREFS_USAGE)
        user, args = args[1], args[2:]
    book = sh.core.users.prefs
    if not args:
        prefs = await book.get(user)
        doc = prefs.model_dump()
        lines = [f"{k:<12} {_shown(v)}" for k, v in doc.items()]
        sh.emit({"user": user, **doc}, "\n".join(lines))
        return
    if len(args) != 2:
        raise UsageError(PREFS_USAGE)
    prefs = await book.set(sh.principal, user, {args[0]: args[1]})
    if args[0] == "language" and user == sh.principal.user:
        sh.switch_language(await session_language(sh.core, user))
    sh.msg(_("Preferences of {user} saved.").format(user=user))
    if sh.format == "json":
        sh.out(json.dumps({"user": user, **prefs.model_dump()}, ensure_ascii=False))
