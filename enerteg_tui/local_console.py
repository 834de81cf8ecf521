"""``enerteg console``: the full-screen console in the local terminal.

Two cases, decided by the data directory's lock:

* a controller is running on it: its ``run.json`` names the SSH port, and the command
  becomes ``ssh -p PORT USER@127.0.0.1`` (the same login, audit and session limits
  as any operator; nothing bypasses authentication because one is on the host);
* no controller is running: one is started in this process for the length of the
  session (no network services), the user logs in at a local prompt (face
  ``local``), the factory password is changed if it must be, and the console runs
  on Textual's own terminal driver. Quitting stops the controller.
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .core.errors import EnertegError, Invalid

__all__ = ["add_console_parser", "running_controller", "console_main"]

FACE = "local"


def add_console_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``console`` on the top-level parser."""
    p = sub.add_parser("console", help="open the full-screen console in this terminal")
    p.add_argument("--data-dir", type=Path, default=Path("./enerteg-data"))
    p.add_argument("--user", default=None,
                   help="login name (default: asked; for a running controller: admin)")
    p.add_argument("--simulate", type=int, metavar="N",
                   help="with no controller running: simulated PDUs (default config/devices)")
    p.add_argument("--seed", type=int, default=0)


def running_controller(data_dir: Path) -> dict[str, Any] | None:
    """The ``run.json`` of a controller holding ``data_dir``'s lock, or None if none runs."""
    lock = data_dir / ".lock"
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads((data_dir / "run.json").read_text())
            except (OSError, ValueError):
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def console_main(args: argparse.Namespace) -> int:
    """Entry of ``enerteg console``; returns the exit code (or replaces the process)."""
    info = running_controller(args.data_dir)
    if info is not None:
        ssh = info.get("ssh") or {}
        if not ssh.get("port"):
            raise Invalid("the controller running on this data directory has no SSH server "
                          "(config/cli enabled is off); enable it to open a console",
                          thing="config/cli enabled", value=False, allowed="true")
        if shutil.which("ssh") is None:
            raise Invalid("the ssh client is not installed; install openssh-client",
                          thing="ssh", value="missing", allowed="OpenSSH's ssh on PATH")
        host = ssh.get("address") or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        user = args.user or "admin"
        known = _local_known_hosts(Path(args.data_dir), host, int(ssh["port"]))
        pin = (["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
               if known is not None else [])
        os.execvp("ssh", ["ssh", *pin, "-p", str(ssh["port"]), f"{user}@{host}"])
    import asyncio
    return asyncio.run(_standalone(args))


def _local_known_hosts(data_dir: Path, host: str, port: int) -> Path | None:
    """A known-hosts file naming the controller's own host keys (read from its data
    directory), so the console on the controller's machine checks the key it knows
    instead of asking to trust it, and never mixes with the user's ~/.ssh/known_hosts
    (a port reused by another controller there reads as "host identification has
    changed"). None when no public key is there."""
    keys = sorted((data_dir / "ssh").glob("ssh_host_*_key.pub"))
    lines = []
    for pub in keys:
        parts = pub.read_text().split()
        if len(parts) >= 2:
            lines.append(f"[{host}]:{port} {parts[0]} {parts[1]}")
    if not lines:
        return None
    path = data_dir / "ssh" / "known_hosts.local"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _ask(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


async def _login(controller: Any, user: str | None) -> Any:
    from .core.users import AuthFailed, LockedOut

    users = controller.users
    for _ in range(3):
        name = user or await asyncio_to_thread(_ask, "login: ")
        password = await asyncio_to_thread(getpass.getpass, "Password: ")
        try:
            return await users.authenticate(name, password, FACE, "tty")
        except LockedOut as exc:
            print(exc)
        except AuthFailed:
            print("Login incorrect")
    return None


async def asyncio_to_thread(fn: Any, *args: Any) -> Any:
    """Blocking terminal input without stopping the controller's loop."""
    import asyncio
    return await asyncio.to_thread(fn, *args)


async def _change_password(controller: Any, principal: Any) -> bool:
    print("You are using the default password; you must set a new one now.")
    for _ in range(3):
        first = await asyncio_to_thread(getpass.getpass, "New password: ")
        second = await asyncio_to_thread(getpass.getpass, "Repeat password: ")
        if first != second:
            print("Passwords do not match.")
            continue
        try:
            await controller.users.change_password(principal, principal.user, first)
        except EnertegError as exc:
            print(exc)
            continue
        print("Password changed.")
        return True
    return False


async def _standalone(args: argparse.Namespace) -> int:
    from .app import ConsoleApp
    from .controller import Controller, ControllerOptions

    controller = Controller(ControllerOptions(data_dir=args.data_dir, simulate=args.simulate,
                                              seed=args.seed, ssh_enabled=False,
                                              log_file=True))
    await controller.start()
    try:
        print(f"No controller runs on {args.data_dir}; started one for this session "
              f"({len(controller.live.devices) or 'discovering'} PDUs).")
        try:
            principal = await _login(controller, args.user)
        except EOFError:
            return 1
        if principal is None:
            return 1
        if await controller.users.must_change(principal.user):
            if not await _change_password(controller, principal):
                return 1
        core = controller.core
        app = ConsoleApp(core, principal, hostname=core.config.get("hostname").hostname)
        try:       # the core's one session admission (limit, audit), as on every face
            session = await core.users.start_session(
                principal, end=lambda reason: app.exit(message=reason))
        except EnertegError as exc:
            print(exc)
            await core.users.logout(principal)
            return 1
        try:
            core.config.appliers.register("hostname", "console")
            await app.run_async()
        finally:
            await core.users.end_session(session)
        return 0
    finally:
        await controller.stop()
