"""``enerteg user …``: manage local users offline, straight in the data directory.

For the first set-up and for recovery (a forgotten admin password, an admin locked
out by failed logins: ``enerteg user unlock NAME``) without a running controller.
Changes go through the same ``UserService`` as the shell, so the same policy and
messages apply and every change is audited (face ``cli``). A password is read from
standard input when it is not a terminal
(``echo 'N3w-pass!' | enerteg user passwd admin --data-dir DIR``), otherwise asked twice.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from .core.audit import AuditLog
from .core.configuration import Configuration
from .core.errors import Invalid
from .core.events import EventBus
from .core.permissions import Principal, Role
from .core.filemodes import private_umask, tighten
from .core.store import Store, open_data_dir
from .core.users import UserService

__all__ = ["add_user_parser", "run_user_command"]

OFFLINE = Principal(user="root", roles=frozenset({Role.ADMIN}), face="cli", address="local")
"""Who acts for offline user management (the host's administrator)."""


def add_user_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``user`` and its subcommands on the top-level parser."""
    p = sub.add_parser("user", help="manage local users offline (in --data-dir)")
    p.add_argument("--data-dir", type=Path, default=Path("./enerteg-data"))
    us = p.add_subparsers(dest="user_command", required=True)
    a = us.add_parser("add", help="add a user: add NAME --role ROLE [--role ROLE ...]")
    a.add_argument("name")
    a.add_argument("--role", action="append", required=True, dest="roles",
                   help="admin, readonly, power, readwrite, poweron, poweroff (repeatable)")
    pw = us.add_parser("passwd", help="set a user's password")
    pw.add_argument("name")
    d = us.add_parser("del", help="delete a user")
    d.add_argument("name")
    us.add_parser("list", help="list users")
    r = us.add_parser("roles", help="replace a user's roles")
    r.add_argument("name")
    r.add_argument("--role", action="append", required=True, dest="roles")
    k = us.add_parser("key-add", help="add an SSH public key (from a file or - for stdin)")
    k.add_argument("name")
    k.add_argument("keyfile")
    kd = us.add_parser("key-del", help="remove an SSH public key by fingerprint")
    kd.add_argument("name")
    kd.add_argument("fingerprint")
    ul = us.add_parser("unlock", help="clear a user's failed-login lockout from every address")
    ul.add_argument("name")
    # `enerteg user add NAME --role R --data-dir DIR` as well as `enerteg user --data-dir DIR add …`
    for child in (a, pw, d, us.choices["list"], r, k, kd, ul):
        child.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                           help="the controller's data directory (default ./enerteg-data)")


def _read_password(name: str) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass(f"New password for {name}: ")
    second = getpass.getpass("Repeat password: ")
    if first != second:
        raise Invalid("Passwords do not match", thing="password", value="(hidden)",
                      allowed="the same password twice")
    return first


async def run_user_command(args: argparse.Namespace) -> int:
    """Run one ``enerteg user`` subcommand; returns the exit code."""
    umask = private_umask()   # this process may create the data directory and database
    try:
        data = open_data_dir(args.data_dir)
        tighten(data)
        store = await Store.open(data / "enerteg.db")
    finally:
        os.umask(umask)   # the files exist now; their modes stay
    try:
        events = EventBus()
        audit = AuditLog(store, events)
        config = Configuration(store, audit, events)
        await config.load()
        users = UserService(store, audit, policy=lambda: config.get("auth"))
        await users.load()
        cmd = args.user_command
        if cmd == "add":
            users.check_name(args.name)
            info = await users.add(OFFLINE, args.name, _read_password(args.name), args.roles)
            print(f"user {info.name} added with roles "
                  f"{','.join(sorted(r.value for r in info.roles))}")
        elif cmd == "passwd":
            await users.get(args.name)
            await users.change_password(OFFLINE, args.name, _read_password(args.name))
            print(f"password of {args.name} changed")
        elif cmd == "del":
            await users.delete(OFFLINE, args.name)
            print(f"user {args.name} deleted")
        elif cmd == "roles":
            info = await users.set_roles(OFFLINE, args.name, args.roles)
            print(f"roles of {info.name}: {','.join(sorted(r.value for r in info.roles))}")
        elif cmd == "list":
            for u in await users.list(OFFLINE):
                flags = " (must change password)" if u.must_change else ""
                print(f"{u.name:<20} {','.join(sorted(r.value for r in u.roles)):<30} "
                      f"{len(u.keys)} key(s){flags}")
        elif cmd == "key-add":
            text = sys.stdin.read() if args.keyfile == "-" else Path(args.keyfile).read_text()
            fp = await users.add_key(OFFLINE, args.name, text.strip().splitlines()[0] if text.strip() else "")
            print(f"key {fp} added to {args.name}")
        elif cmd == "key-del":
            await users.remove_key(OFFLINE, args.name, args.fingerprint)
            print(f"key {args.fingerprint} removed from {args.name}")
        elif cmd == "unlock":
            n = await users.unlock(OFFLINE, args.name)
            print(f"user {args.name} unlocked ({n} locked address{'' if n == 1 else 'es'} "
                  "cleared)")
        return 0
    finally:
        await store.close()
