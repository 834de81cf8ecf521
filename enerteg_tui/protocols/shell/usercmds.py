"""Shell commands for users: ``passwd`` (one's own) and ``user …`` (admin: manual §5.9).

Passwords are asked without echo at a terminal (twice for a new one). Scripts may
pass ``--password`` to ``user add``/``user passwd``; such lines are never kept in the
shell history, and the logs show the password masked (``core.masking``). Every change goes through the core ``UserService`` (policy, last
admin, audit).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...core.errors import Invalid
from ...core.i18n import _, ngettext
from .parse import UsageError, usage_error

__all__ = ["cmd_passwd", "cmd_user", "cmd_unlock"]

USER_USAGE = ("Usage: user list | user add NAME --role ROLE [--role ROLE ...] [--password P] | "
              "user roles NAME ROLE[,ROLE...] | user del NAME | user passwd NAME [--password P] | "
              "user unlock NAME | user keys NAME | user key-add NAME 'ssh-ed25519 AAAA...' | user key-del NAME FINGERPRINT")


async def _new_password(sh: Any, given: str | None, who: str) -> str:
    from .term import read_secret

    if given is not None:
        return given
    if not sh.interactive:
        raise usage_error("a password for {who} is needed: give --password in a script, or run "
                           "this at a terminal (ssh -t)", who=who)
    first = await read_secret(sh.io, _("New password for {who}: ").format(who=who))
    second = await read_secret(sh.io, _("Repeat password: "))
    if first is None or second is None or first == "":
        raise Invalid("Password not changed", thing="password", value="", allowed="a password")
    if first != second:
        raise Invalid("Passwords do not match", thing="password", value="(hidden)",
                      allowed="the same password twice")
    return first


async def cmd_passwd(sh: Any, args: list[str]) -> None:
    """Change one's own password (current one asked first)."""
    from .term import read_secret

    if args:
        raise UsageError("Usage: passwd")
    if not sh.interactive:
        raise usage_error("passwd needs a terminal (ssh -t host passwd); admins can use "
                           "'user passwd NAME --password P'")
    old = await read_secret(sh.io, _("Current password: "))
    if old is None or old == "":
        raise Invalid("Password not changed", thing="password", value="", allowed="a password")
    new = await _new_password(sh, None, sh.principal.user)
    await sh.core.users.change_password(sh.principal, sh.principal.user, new, old=old)
    sh.msg(_("Password changed."))


def _opts(args: list[str]) -> tuple[list[str], list[str], str | None]:
    pos, roles, password = [], [], None
    it = iter(args)
    for a in it:
        if a == "--role":
            roles.append(next(it, ""))
        elif a == "--password":
            password = next(it, None)
            if password is None:
                raise usage_error("--password needs a value")
        else:
            pos.append(a)
    return pos, roles, password


def _user_line(d: dict[str, Any]) -> str:
    """One user of ``user list`` as a person reads it (the JSON keeps its English keys)."""
    line = f"{d['name']:<20} {','.join(d['roles']):<32} " + ngettext(
        "{count} key(s)", "{count} key(s)", d["keys"]).format(count=d["keys"])
    if d["mustChangePassword"]:
        line += "  " + _("(must change password)")
    if d["lockedFrom"]:
        line += "  " + _("(locked from {addresses})").format(addresses=", ".join(d["lockedFrom"]))
    if d.get("supportAccess", "disabled") != "disabled":
        line += "  " + _("(support access until {expires})").format(expires=d["supportAccess"])
    elif "supportAccess" in d:
        line += "  " + _("(support access disabled)")
    return line


async def cmd_user(sh: Any, args: list[str]) -> None:
    """user list|add|roles|del|passwd|keys|key-add|key-del."""
    if not args:
        raise UsageError(USER_USAGE)
    users = sh.core.users
    sub, (pos, roles, password) = args[0], _opts(args[1:])
    me = sh.principal
    if sub == "list" and not pos:
        rows = await users.list(me)
        data = [{"name": u.name, "roles": sorted(r.value for r in u.roles), "keys": len(u.keys),
                 "mustChangePassword": u.must_change,
                 "updated": dt.datetime.fromtimestamp(u.updated, dt.timezone.utc)
                 .isoformat(timespec="seconds")} for u in rows]
        support = sh.core.support
        for d in data:
            d["lockedFrom"] = sorted(users.lockout.locked_sources(d["name"]))
            if support.is_account(d["name"]):
                st = support.status()
                d["supportAccess"] = st["expires"] if st["enabled"] else "disabled"
        sh.emit(data, "\n".join(_user_line(d) for d in data))
    elif sub == "add" and len(pos) == 1:
        users.check_name(pos[0])
        if not roles:
            raise usage_error("user add NAME --role ROLE: at least one --role is needed")
        info = await users.add(me, pos[0], await _new_password(sh, password, pos[0]), roles)
        sh.msg(_("User {name} added with roles {roles}.").format(
            name=info.name, roles=",".join(sorted(r.value for r in info.roles))))
    elif sub == "roles" and len(pos) == 2:
        info = await users.set_roles(me, pos[0], [r for r in pos[1].split(",") if r])
        sh.msg(_("Roles of {name}: {roles}.").format(
            name=info.name, roles=",".join(sorted(r.value for r in info.roles))))
    elif sub == "del" and len(pos) == 1:
        await users.delete(me, pos[0])
        sh.msg(_("User {name} deleted.").format(name=pos[0]))
    elif sub == "passwd" and len(pos) == 1:
        await users.get(pos[0])
        await users.change_password(me, pos[0], await _new_password(sh, password, pos[0]))
        sh.msg(_("Password of {name} changed.").format(name=pos[0]))
    elif sub == "unlock" and len(pos) == 1:
        await cmd_unlock(sh, pos)
    elif sub == "keys" and len(pos) == 1:
        from ...core.users import public_key_fingerprint

        if pos[0] != me.user:
            from ...core.permissions import Action, require
            require(me, Action.ADMINISTER, f"user/{pos[0]}")
        info = await users.get(pos[0])
        data = [{"fingerprint": public_key_fingerprint(k), "key": k} for k in info.keys]
        sh.emit(data, "\n".join(f"{d['fingerprint']}  {d['key'][:60]}" for d in data) or _("(no keys)"))
    elif sub == "key-add" and len(pos) >= 2:
        fp = await users.add_key(me, pos[0], " ".join(pos[1:]))
        sh.msg(_("Key {fingerprint} added to {name}.").format(fingerprint=fp, name=pos[0]))
    elif sub == "key-del" and len(pos) == 2:
        await users.remove_key(me, pos[0], pos[1])
        sh.msg(_("Key {fingerprint} removed from {name}.").format(fingerprint=pos[1], name=pos[0]))
    else:
        raise UsageError(USER_USAGE)


async def cmd_unlock(sh: Any, args: list[str]) -> None:
    """unlock NAME: clear a user's failed-login lockout from every address (admin)."""
    if len(args) != 1:
        raise UsageError("Usage: unlock NAME")
    n = await sh.core.users.unlock(sh.principal, args[0])
    sh.msg(ngettext("User {name} unlocked ({count} locked address cleared).",
                    "User {name} unlocked ({count} locked addresses cleared).", n)
           .format(name=args[0], count=n))
