"""The topic shell's commands (manual §11.1.1) and Tab completion.

Each command is one async function taking the session and its words; the table
``COMMANDS`` gives its usage and one-line help, which ``help`` prints. Commands read
and change topics only through the core ``Topics`` service with the session's
principal, so the shell holds no business rule and every permission is the core's.
Network commands live in ``netcmds.py``; user management in ``usercmds.py``;
backup, restore and factory reset in ``admincmds.py``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...core.documents import loads
from ...core.errors import EnertegError, Invalid, NotFound, shown
from ...core.i18n import NP_, N_, _, pgettext
from ...core.safetext import escape_control
from ...core.timesync import local_iso
from ...core.topics import normalize
from .parse import UsageError

__all__ = ["COMMANDS", "Command", "ExitShell", "run_command", "complete", "columns"]


class ExitShell(Exception):
    """Raised by ``exit``/``logout`` to end the session."""

Handler = Callable[[Any, list[str]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    """One shell command: handler, usage line, one-line help, completion kind."""

    handler: Handler
    usage: str
    summary: str
    group: str
    complete: str = ""
    """What Tab completes for arguments: path, key, format, command, network, user,
    switch, update."""


def columns(items: list[str], width: int = 80) -> str:
    """Items in columns that fit ``width``, as ``ls`` prints them."""
    if not items:
        return ""
    col = max(len(i) for i in items) + 2
    per_row = max(1, width // col)
    rows = [items[i:i + per_row] for i in range(0, len(items), per_row)]
    return "\n".join("".join(x.ljust(col) for x in row).rstrip() for row in rows)


def _width(sh: Any) -> int:
    return sh.io.size[0] if sh.io is not None else 80


def _shown(path: str) -> str:
    return "/" + path


# ------------------------------------------------------------------ navigation
async def cmd_pwd(sh: Any, args: list[str]) -> None:
    if args:
        raise UsageError("Usage: pwd")
    sh.emit({"cwd": _shown(sh.cwd)}, _shown(sh.cwd))


async def cmd_cd(sh: Any, args: list[str]) -> None:
    if len(args) > 1:
        raise UsageError("Usage: cd <path>")
    target = normalize(args[0] if args else "/", sh.cwd)
    sh.core.topics.node(sh.principal, target)  # NotFound / PermissionDenied
    sh.cwd = target
    sh.msg(_("Changed to: {path}").format(path=_shown(target)))
    if sh.format == "json":
        sh.out(json.dumps({"cwd": _shown(target)}))


async def cmd_ls(sh: Any, args: list[str]) -> None:
    if len(args) > 1:
        raise UsageError("Usage: ls [path]")
    target = normalize(args[0] if args else "", sh.cwd)
    entries = sh.core.topics.list(sh.principal, target)
    sh.emit({"path": _shown(target), "entries": entries}, columns(entries, _width(sh)))


async def cmd_cat(sh: Any, args: list[str]) -> None:
    if len(args) > 1:
        raise UsageError("Usage: cat [path | _data]")
    target = normalize(args[0] if args else "", sh.cwd)
    doc = sh.core.topics.get(sh.principal, target)
    sh.msg(_("Getting data from: {path}").format(path=target or '/'))
    face = _face_topic(target)
    if face and sh.core.faces.text(face) is not None:
        sh.msg(f"{_face_title(face)}: {sh.core.faces.text(face)}")
    sh.out(json.dumps(doc, indent=2, ensure_ascii=False))


def _face_topic(target: str) -> str | None:
    """``snmp_agent`` for ``config/snmp_agent``: a settings topic a face follows."""
    parts = target.strip("/").split("/")
    return parts[1] if len(parts) == 2 and parts[0] == "config" else None


def _face_title(topic: str) -> str:
    from ...core.settings import SETTINGS_TOPICS
    schema = SETTINGS_TOPICS.get(topic)
    return _(str(getattr(schema, "TITLE", topic)))


def _parse_assignments(words: list[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for w in words:
        key, sep, value = w.partition("=")
        if not sep or not key:
            raise UsageError(f"Usage: put key=\"value\" [key2=value2 ...]; {shown(w)} is not key=value")
        changes[key] = value
    return changes


def _put_message(sh: Any, target: str, changes: dict[str, Any]) -> str:
    """What a successful put says: updated, or stored but not active in this build."""
    parts = target.split("/")
    if len(parts) == 2 and parts[0] == "config":
        note = sh.core.config.appliers.effect(parts[1], changes)
        if note is not None:
            return f"Value at {target} {note}." if note.startswith("stored") else (
                f"Value at {target} updated; {note}.")
    return _("Value at {path} updated successfully.").format(path=target or '/')


async def cmd_put(sh: Any, args: list[str]) -> None:
    if not args:
        raise UsageError('Usage: put [path] key="value" [key2=true ...]')
    target = sh.cwd
    if "=" not in args[0]:
        target = normalize(args[0], sh.cwd)
        args = args[1:]
        if not args:
            raise UsageError('Usage: put [path] key="value" [key2=true ...]')
    changes = _parse_assignments(args)
    face = _face_topic(target)
    report = sh.core.faces.next_report(face) if face else None
    doc = await sh.core.topics.put(sh.principal, target, changes)
    sh.msg(_put_message(sh, target, changes))
    if report is not None and face:
        # the face applies the change itself (start, stop, rebind): say how that went
        sh.msg(f"{_face_title(face)}: {await sh.core.faces.wait(face, report)}")
    if sh.format == "json":
        sh.out(json.dumps(doc, indent=2, ensure_ascii=False))


async def cmd_edit(sh: Any, args: list[str]) -> None:
    from .editor import edit_document

    if len(args) > 1:
        raise UsageError("Usage: edit [_data]")
    if not sh.interactive:
        raise UsageError("edit needs an interactive terminal (ssh -t); scripts use put")
    target = normalize(args[0] if args else "", sh.cwd)
    topics = sh.core.topics
    doc = topics.get(sh.principal, target)
    if topics.schema_for(sh.principal, target) is None or "u" not in doc:
        raise Invalid(f"topic {_shown(target)} cannot be edited", thing="topic", value=target,
                      allowed="a settings document (config/<name>, sensor/<hexid>/config, sim/)")
    # json.dumps escapes C0 controls but not C1 (U+0080–U+009F): escape those too
    original = escape_control(json.dumps(doc["u"], indent=2, ensure_ascii=False)) + "\n"

    async def validate(text: str) -> str | None:
        try:
            data = loads(text, f"{target}/_data")
        except EnertegError as exc:
            return str(exc)
        except ValueError as exc:
            return f"not valid JSON: {exc}"
        if not isinstance(data, dict):
            return "the document must be a JSON object of key: value"
        try:
            await topics.put(sh.principal, target, data, replace=True)
        except EnertegError as exc:
            return str(exc)
        return None

    result = await edit_document(sh.io, original, title=f"{target}/_data", validate=validate)
    if result.saved:
        saved = json.loads(result.text)
        changed = {k: v for k, v in saved.items() if doc["u"].get(k) != v}
        sh.msg(_put_message(sh, target, changed))
    else:
        sh.msg(_("No changes saved."))


# ------------------------------------------------------------------ session
async def cmd_format(sh: Any, args: list[str]) -> None:
    if len(args) != 1 or args[0] not in ("text", "json"):
        raise UsageError("Usage: format text|json")
    sh.format = args[0]
    sh.msg(_("Output format: {format}").format(format=args[0]))


async def cmd_whoami(sh: Any, args: list[str]) -> None:
    import datetime as dt

    if args:
        raise UsageError("Usage: whoami")
    p = sh.principal
    since = dt.datetime.fromtimestamp(p.since, dt.timezone.utc).isoformat(timespec="seconds")
    data = {"user": p.user, "roles": sorted(r.value for r in p.roles), "source": p.source,
            "face": p.face, "from": p.address or "-", "loginTime": since,
            "controller": sh.core.system.version()["controller"]}
    readable = {**data, "loginTime": local_iso(sh.core.config, p.since)}
    sh.emit(data, "\n".join(f"{k:<10} {', '.join(v) if isinstance(v, list) else v}"
                            for k, v in readable.items()))


async def cmd_users(sh: Any, args: list[str]) -> None:
    import datetime as dt
    import time

    if args:
        raise UsageError("Usage: users")
    now = time.time()
    rows = []
    for s in sh.core.users.sessions.list():
        p = s.principal
        rows.append({"user": p.user, "source": p.source, "face": p.face,
                     "from": p.address or "-",
                     "since": dt.datetime.fromtimestamp(p.since, dt.timezone.utc)
                     .isoformat(timespec="seconds"), "idleSeconds": int(now - s.last_activity)})
    text = [f"{'USER':<16} {'SOURCE':<6} {'FACE':<14} {'FROM':<22} {'SINCE':<26} IDLE"]
    sessions = sh.core.users.sessions.list()
    text += [f"{r['user']:<16} {r['source']:<6} {r['face']:<14} {r['from']:<22} "
             f"{local_iso(sh.core.config, s.principal.since):<26} "
             f"{r['idleSeconds'] // 60}m{r['idleSeconds'] % 60:02d}s"
             for r, s in zip(rows, sessions)]
    sh.emit(rows, "\n".join(text))


async def cmd_help(sh: Any, args: list[str]) -> None:
    if len(args) > 1:
        raise UsageError("Usage: help [command]")
    if args:
        cmd = COMMANDS.get(args[0])
        if cmd is None:
            raise NotFound(_unknown(args[0]), thing="command", value=args[0],
                           allowed=", ".join(COMMANDS))
        sh.emit({"command": args[0], "usage": cmd.usage, "help": cmd.summary},
                f"{cmd.usage}\n  {_(cmd.summary)}")
        return
    groups: dict[str, list[tuple[str, Command]]] = {}
    for name, cmd in COMMANDS.items():
        groups.setdefault(cmd.group, []).append((name, cmd))
    lines: list[str] = []
    for group, cmds in groups.items():
        lines.append(pgettext("group", group))
        lines += [f"  {c.usage:<44} {_(c.summary)}" for _n, c in cmds]
    sh.emit([{"command": n, "usage": c.usage, "help": c.summary, "group": c.group}
             for n, c in COMMANDS.items()], "\n".join(lines))


async def cmd_exit(sh: Any, args: list[str]) -> None:

    raise ExitShell()


_UNKNOWN = N_("Unknown command: '{word}'.")
_DID_YOU_MEAN = N_("Did you mean '{command}'?")
_SEE_HELP = N_("Type 'help' for the list of commands.")


def _unknown(word: str, tr: Callable[[str], str] = _) -> str:
    """The refusal of an unknown command word with the closest command, in the session's
    language (``tr`` = ``_``) or in English for machine formats (``tr`` = ``str``)."""
    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.5)
    hint = (tr(_DID_YOU_MEAN).format(command=close[0]) if close else tr(_SEE_HELP))
    return tr(_UNKNOWN).format(word=word) + " " + hint


def _build() -> dict[str, Command]:
    from . import (admincmds, certcmds, dccmds, devicecmds, exportcmds, firmwarecmds, ldapcmds,
                   netcmds, notifycmds, prefcmds, reportcmds, supportcmds, switchcmds, systemcmds,
                   timecmds, tokencmds, updatecmds, usercmds)

    nav, net, user, admin = N_("Navigation"), N_("Network"), N_("User"), N_("Maintenance")
    table = {
        "pwd": Command(cmd_pwd, "pwd", "Show current path", nav),
        "cd": Command(cmd_cd, "cd <path>", "Change path (relative or absolute)", nav, "path"),
        "ls": Command(cmd_ls, "ls [path]", "List contents (sub-topics/ and _data)", nav, "path"),
        "cat": Command(cmd_cat, "cat [path | _data]", "Get JSON contents of a path or _data", nav, "path"),
        "edit": Command(cmd_edit, "edit [_data]", "Edit _data in a vim-like editor (:wq saves, :q! quits)", nav, "path"),
        "put": Command(cmd_put, 'put [path] key="value" [key2=true ...]', "Change keys of the _data here", nav, "key"),
        "reset-peaks": Command(devicecmds.cmd_reset_peaks, devicecmds.USAGE.removeprefix("Usage: "),
                               "Reset a PDU's peak values (all, or one component/element)", N_("Devices")),
        "mkdir": Command(dccmds.cmd_mkdir, "mkdir dc/<room>[/<row>[/<rack>]]",
                         "Create a room, row or rack (edit-structure)", nav, "path"),
        "rmdir": Command(dccmds.cmd_rmdir, "rmdir dc/<room>[/<row>[/<rack>]]",
                         "Delete an empty room, row or rack (edit-structure)", nav, "path"),
        "rm": Command(certcmds.cmd_rm, certcmds.RM_USAGE,
                      "Delete a stored certificate (put certs/new imports)", admin, "path"),
        "forget": Command(devicecmds.cmd_forget, devicecmds.FORGET_USAGE,
                          "Forget a PDU that left the ring (closes its alarms; admin)", admin),
        "switch": Command(switchcmds.cmd_switch, switchcmds.USAGE.removeprefix("Usage: "),
                          "Switch a rack, row, room, PDUs or an outlet group, outlet by outlet",
                          NP_("group", "Power"), "switch"),
        "ping": Command(netcmds.cmd_ping, "ping <host> [-c COUNT] [-W TIMEOUT]", "Ping a host name or IP address", net),
        "network": Command(netcmds.cmd_network, netcmds.NETWORK_USAGE.removeprefix("Usage: "),
                           "Show, configure, apply and confirm network interfaces", net,
                           "network"),
        "email": Command(notifycmds.cmd_email, "email test",
                         "Send a test e-mail with config/email (admin)", net),
        "whoami": Command(cmd_whoami, "whoami", "Show detailed user information", user),
        "users": Command(cmd_users, "users", "Show users logged in now, on every face", user),
        "ldap": Command(ldapcmds.cmd_ldap, ldapcmds.USAGE,
                        "Test the directory: find a user, their groups and role (admin)", user),
        "support": Command(supportcmds.cmd_support, supportcmds.USAGE,
                           "Time-limited access for the manufacturer's support (admin)", user),
        "passwd": Command(usercmds.cmd_passwd, "passwd", "Change your own password", user),
        "unlock": Command(usercmds.cmd_unlock, "unlock NAME",
                          "Clear a user's failed-login lockout (admin)", user),
        "user": Command(usercmds.cmd_user, "user list|add|roles|del|passwd|unlock|keys|key-add|key-del ...",
                        "Manage users and their roles and keys (admin)", user, "user"),
        "token": Command(tokencmds.cmd_token, "token create NAME [--days N] | list | revoke ID",
                         "Make, list or revoke your API tokens (REST API)", user),
        "backup": Command(admincmds.cmd_backup, "backup create|list",
                          "Make a backup into /backups (prints its path), or list them", admin),
        "restore": Command(admincmds.cmd_restore, "restore PATH",
                           "Restore a backup from /upload (all or nothing)", admin),
        "factory-reset": Command(admincmds.cmd_factory_reset, "factory-reset [--confirm factory-reset]",
                                 "Delete all data and configuration (typed confirmation)", admin),
        "export": Command(exportcmds.cmd_export, "export status|now",
                          "Show the history export, or export now (admin)", admin),
        "report": Command(reportcmds.cmd_report, reportcmds.USAGE.removeprefix("Usage: "),
                          "Make an energy/power report into /reports (prints its path)", admin),
        "logs": Command(exportcmds.cmd_logs, "logs archive",
                        "Make /logs/enerteg-logs.tar.gz (log files and audit log)", admin),
        "version": Command(systemcmds.cmd_version, "version",
                           "Controller, Python and library versions, data layout", admin),
        "restart": Command(systemcmds.cmd_restart, "restart [--yes]",
                           "Restart the controller (ends every session; admin)", admin),
        "poweroff": Command(systemcmds.cmd_poweroff, "poweroff [--yes]",
                            "Power off the host (needs serve --manage-host; admin)", admin),
        "reboot": Command(systemcmds.cmd_reboot, "reboot [--yes]",
                          "Reboot the host (needs serve --manage-host; admin)", admin),
        "update": Command(updatecmds.cmd_update, updatecmds.USAGE.removeprefix("Usage: "),
                          "Software update from /upload: check, apply (restarts), status (admin)",
                          admin, "update"),
        "date": Command(timecmds.cmd_date, timecmds.DATE_USAGE.removeprefix("Usage: "),
                        "Show the time (config/time zone) and sync state; set it (admin, "
                        "--manage-host)", admin),
        "time": Command(timecmds.cmd_time, timecmds.TIME_USAGE.removeprefix("Usage: "),
                        "Show the clock's NTP sync state and offset, or check now", admin),
        "firmware": Command(firmwarecmds.cmd_firmware,
                            firmwarecmds.USAGE.removeprefix("Usage: "),
                            "Update the PDUs' firmware from /upload, show progress (admin)",
                            admin),
        "prefs": Command(prefcmds.cmd_prefs, prefcmds.PREFS_USAGE.removeprefix("Usage: "),
                         "Show or change your preferences (language, change marks, colours)", user),
        "format": Command(cmd_format, "format text|json", "Set output format", user, "format"),
        "help": Command(cmd_help, "help [command]", "List commands, or explain one", user, "command"),
        "exit": Command(cmd_exit, "exit", "Log out", user),
        "logout": Command(cmd_exit, "logout", "Log out", user),
    }
    return table


COMMANDS: dict[str, Command] = {}
"""Command name → Command, in the order ``help`` lists them."""


def _commands() -> dict[str, Command]:
    if not COMMANDS:
        COMMANDS.update(_build())
    return COMMANDS


async def run_command(sh: Any, words: list[str]) -> None:
    """Run one command; raises ``UsageError`` or ``EnertegError`` on failure."""
    table = _commands()
    cmd = table.get(words[0])
    if cmd is None:
        raise UsageError(_unknown(words[0]), english=_unknown(words[0], str))
    await cmd.handler(sh, words[1:])


# ------------------------------------------------------------------ completion
def complete(sh: Any, line: str, cursor: int) -> list[str]:
    """Candidates for the word under the cursor: commands, topic paths, ``put`` keys."""
    table = _commands()
    before = line[:cursor]
    words = before.split(" ")
    word = words[-1]
    if len(words) == 1:
        return sorted(n for n in table if n.startswith(word))
    cmd = table.get(words[0])
    kind = cmd.complete if cmd else ""
    if kind == "path" or (kind == "key" and "=" not in word and len(words) == 2 and "/" in word):
        return _complete_path(sh, word)
    if kind == "key":
        return _complete_key(sh, word)
    if kind == "format":
        return [w for w in ("text", "json") if w.startswith(word)]
    if kind == "command":
        return sorted(n for n in table if n.startswith(word))
    if kind == "network" and len(words) == 2:
        return [w for w in ("status", "list", "config", "apply", "confirm")
                if w.startswith(word)]
    if kind == "update":
        if len(words) == 2:
            return [w for w in ("status", "check", "apply") if w.startswith(word)]
        if len(words) == 3 and words[1] in ("check", "apply"):
            from ...core.permissions import Action, allowed
            if not allowed(sh.principal, Action.ADMINISTER):
                return []                       # /upload is the administrators'
            return [n for n in sh.core.software.packages() if n.startswith(word)]
        return []
    if kind == "switch":
        from .switchcmds import complete_switch
        return complete_switch(sh, words)
    if kind == "user" and len(words) == 2:
        return [w for w in ("list", "add", "roles", "del", "passwd", "keys", "key-add", "key-del")
                if w.startswith(word)]
    return []


def _complete_path(sh: Any, word: str) -> list[str]:
    head, _, tail = word.rpartition("/")
    folder = normalize(head or ("/" if word.startswith("/") else ""), sh.cwd) if head or word.startswith("/") else sh.cwd
    try:
        entries = sh.core.topics.list(sh.principal, "/" + folder)
    except EnertegError:
        return []
    prefix = head + "/" if head or word.startswith("/") else ""
    return [prefix + e for e in entries if e.startswith(tail)]


def _complete_key(sh: Any, word: str) -> list[str]:
    try:
        schema = sh.core.topics.schema_for(sh.principal, sh.cwd)
    except EnertegError:
        return []
    if schema is None:
        keys = ["state=", "name=", "delay=", "powerCycleDelay="] if sh.cwd.count("/") == 3 else []
    else:
        keys = [(f.alias or n) + "=" for n, f in schema.model_fields.items()]
    return sorted(k for k in keys if k.startswith(word))
