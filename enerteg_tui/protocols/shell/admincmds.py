"""Shell commands for maintenance (manual §5.1.1): ``backup``, ``restore``, ``factory-reset``.

Each command calls the core ``BackupService`` with the session's principal (the
core checks ``administer``); paths a user types are the SFTP tree's (``/upload/x``,
``/backups/x``) and are resolved inside the data directory only. The factory reset
needs the typed word ``factory-reset``, asked at a terminal or given with
``--confirm factory-reset`` in a script.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ...core.backup import FACTORY_RESET_WORD
from ...core.errors import Invalid, shown
from ...core.i18n import _
from ...core.timesync import local_iso
from .parse import UsageError

__all__ = ["cmd_backup", "cmd_restore", "cmd_factory_reset"]

_FOLDERS = ("upload", "backups")


def _resolve(sh: Any, given: str) -> Path:
    """A tree path (/upload/NAME, /backups/NAME, or a bare NAME in /upload) on disk."""
    data_dir: Path = sh.core.paths.root
    parts = [p for p in given.strip().split("/") if p]
    if len(parts) == 1:
        parts = ["upload", parts[0]]
    if len(parts) != 2 or parts[0] not in _FOLDERS or parts[1] in (".", ".."):
        raise Invalid(f"backup path {shown(given)} is not allowed; give /upload/NAME or /backups/NAME",
                      thing="path", value=given,
                      allowed="/upload/NAME or /backups/NAME (a file in one of those folders)")
    return data_dir / parts[0] / parts[1]


async def cmd_backup(sh: Any, args: list[str]) -> None:
    """backup create | backup list."""
    svc = sh.core.backup
    if args == ["create"]:
        path = await svc.create(sh.principal)
        shown = f"/backups/{path.name}"
        sh.emit({"path": shown, "bytes": path.stat().st_size}, shown)
    elif args == ["list"]:
        from ...core.permissions import Action, require

        require(sh.principal, Action.ADMINISTER, "backup")
        backups = svc.list_backups()
        rows = [{"path": f"/backups/{b.path.name}", "bytes": b.size,
                 "created": dt.datetime.fromtimestamp(b.created, dt.timezone.utc)
                 .isoformat(timespec="seconds")} for b in backups]
        text = "\n".join(f"{local_iso(sh.core.config, b.created)}  {r['bytes']:>10}  {r['path']}"
                         for r, b in zip(rows, backups))
        sh.emit(rows, text or "No backups yet.")
    else:
        raise UsageError("Usage: backup create | backup list")


async def cmd_restore(sh: Any, args: list[str]) -> None:
    """restore PATH: validate the backup, then apply all of it or nothing."""
    if len(args) != 1:
        raise UsageError("Usage: restore PATH (e.g. /upload/enerteg-backup-20260101T000000Z.tar.gz)")
    counts = await sh.core.backup.restore(sh.principal, _resolve(sh, args[0]))
    sh.emit(counts, "Restored: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


async def cmd_factory_reset(sh: Any, args: list[str]) -> None:
    """factory-reset [--confirm factory-reset]."""
    if args and (len(args) != 2 or args[0] != "--confirm"):
        raise UsageError(f"Usage: factory-reset [--confirm {FACTORY_RESET_WORD}]")
    if args:
        word = args[1]
    elif sh.interactive:
        from .term import read_secret

        sh.out("This deletes every setting, user, rule, alarm, the DC structure, the audit log "
               "and the history. The PDUs keep their own configuration. It cannot be undone.")
        word = (await read_secret(sh.io, f"Type {FACTORY_RESET_WORD} to confirm: ")) or ""
    else:
        raise UsageError(f"a script must confirm: factory-reset --confirm {FACTORY_RESET_WORD}")
    await sh.core.backup.factory_reset(sh.principal, word.strip())
    sh.msg(_("Factory reset done; log in again as admin/admin."))
