"""``token create|list|revoke``: a user's API tokens for the REST API (docs/rest.md).

The token text is printed once, by ``create``; the controller keeps only its hash
(``core.api_tokens``). Every user manages their own tokens; an admin anyone's
(``--user NAME``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...core.api_tokens import TokenInfo
from ...core.i18n import _
from ...core.timesync import local_iso
from .parse import UsageError, usage_error

__all__ = ["cmd_token", "TOKEN_USAGE"]

TOKEN_USAGE = ("Usage: token create NAME [--days N] [--user USER] | token list [--user USER] | "
               "token revoke ID")


def _when(ts: float | None, none: str) -> str:
    if ts is None:
        return none
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def token_doc(t: TokenInfo) -> dict[str, Any]:
    """A token as ``token list`` and the API show it (never its secret)."""
    return {"id": t.id, "user": t.user, "name": t.name, "created": _when(t.created, ""),
            "expires": _when(t.expires, "never"), "lastUsed": _when(t.last_used, "never")}


def _opts(args: list[str]) -> tuple[list[str], dict[str, str]]:
    pos: list[str] = []
    opts: dict[str, str] = {}
    it = iter(args)
    for a in it:
        if a in ("--days", "--user"):
            value = next(it, None)
            if value is None:
                raise UsageError(f"{a} needs a value. {TOKEN_USAGE}")
            opts[a[2:]] = value
        else:
            pos.append(a)
    return pos, opts


async def cmd_token(sh: Any, args: list[str]) -> None:
    """token create|list|revoke."""
    if not args:
        raise UsageError(TOKEN_USAGE)
    tokens = sh.core.tokens
    sub, (pos, opts) = args[0], _opts(args[1:])
    if sub == "create" and len(pos) == 1:
        days_text = opts.get("days", "90")
        if not days_text.isdigit():
            raise usage_error("--days {value}: a whole number of days (0 = never expires)", value=repr(days_text))
        info, text = await tokens.create(sh.principal, pos[0], days=int(days_text),
                                         user=opts.get("user"))
        doc = {**token_doc(info), "token": text}
        sh.emit(doc, _("API token {id} for {user}, expires {expires}:\n{token}\n"
                       "Copy it now: it is not shown again.").format(
                     id=info.id, user=info.user, token=text,
                     expires=local_iso(sh.core.config, info.expires, _("never"))))
    elif sub == "list" and not pos:
        infos = await tokens.list(sh.principal, opts.get("user"))
        data = [token_doc(t) for t in infos]
        c = sh.core.config
        never = _("never")
        sh.emit(data, "\n".join(f"{d['id']}  {d['user']:<16} {d['name']:<24} "
                                + _("expires {expires} last used {used}").format(
                                    expires=f"{local_iso(c, t.expires, never):<25}",
                                    used=local_iso(c, t.last_used, never))
                                for d, t in zip(data, infos))
                or _("(no API tokens)"))
    elif sub == "revoke" and len(pos) == 1 and not opts:
        info = await tokens.revoke(sh.principal, pos[0])
        sh.msg(_("API token {id} ({name}) of {user} revoked.").format(
            id=info.id, name=info.name, user=info.user))
    else:
        raise UsageError(TOKEN_USAGE)
