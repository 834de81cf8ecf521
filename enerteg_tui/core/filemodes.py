"""File modes of the data directory: the controller's files are its owner's alone.

The data directory holds password hashes and secrets (``enerteg.db``), the logs, the
backups and uploads; a local unprivileged user on the same machine must not read any
of it. This module owns the modes: the controller sets the process umask to
``PRIVATE_UMASK`` when it starts (so SQLite's database, WAL and shared-memory files,
rotated logs, backups, the mail queue and history are created 0600 and folders 0700,
whoever creates them) and ``tighten`` brings a data directory made by an older
version, or touched by hand, to the same modes (set-id and sticky bits included).
The SFTP face creates uploads ``FILE_MODE`` and refuses a mode beyond
``ALLOWED_FILE_BITS`` (``mode_refusal``). Called by ``Controller.start`` and
``protocols.ssh.sftp``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "DIR_MODE", "FILE_MODE", "ALLOWED_FILE_BITS", "private_umask",
           "tighten", "mode_refusal"]

PRIVATE_UMASK = 0o077
"""Nothing the controller creates is readable or writable by group or others."""
DIR_MODE = 0o700
"""Mode of every folder of the data directory."""
FILE_MODE = 0o600
"""Mode of every file of the data directory, uploads included."""
ALLOWED_FILE_BITS = 0o600
"""The only mode bits a client may set on a file (owner read and write)."""


def private_umask() -> int:
    """Set the process umask to ``PRIVATE_UMASK``; returns the previous one."""
    return os.umask(PRIVATE_UMASK)


def tighten(root: Path) -> int:
    """Give ``root`` and everything under it the private modes; returns files changed.

    Folders become ``DIR_MODE``; files keep at most their owner read/write bits
    (set-id, sticky and execute bits go). Symbolic links are neither followed nor
    changed. A file that vanishes or cannot be changed meanwhile is skipped.
    """
    changed = 0

    def fix(path: str, is_dir: bool) -> None:
        nonlocal changed
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                return
            now = stat.S_IMODE(st.st_mode)
            want = DIR_MODE if is_dir else now & FILE_MODE
            if now != want:
                os.chmod(path, want)
                changed += 1
        except OSError:
            pass

    fix(str(root), True)
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            fix(os.path.join(folder, d), True)
        for f in files:
            fix(os.path.join(folder, f), False)
    return changed


def mode_refusal(permissions: int | None, *, directory: bool = False) -> str | None:
    """Why a requested mode is refused (None when it is allowed).

    Args:
        permissions: the mode a client asks for (file-type bits ignored), or None.
        directory: the mode is for a folder, which may also have owner execute (0700).
    """
    if permissions is None:
        return None
    mode = stat.S_IMODE(permissions)
    limit = DIR_MODE if directory else ALLOWED_FILE_BITS
    extra = mode & ~limit
    if not extra:
        return None
    what = [name for bit, name in ((stat.S_ISUID, "setuid"), (stat.S_ISGID, "setgid"),
                                   (stat.S_ISVTX, "sticky"), (0o100, "execute"),
                                   (0o077, "group/other access")) if extra & bit]
    if directory:
        return (f"mode {mode:04o} is not allowed ({', '.join(what)}); folders in the tree "
                f"are the owner's only, at most {DIR_MODE:04o}")
    return (f"mode {mode:04o} is not allowed ({', '.join(what)}); files in the tree may "
            f"have owner read/write only, at most {ALLOWED_FILE_BITS:04o}")
