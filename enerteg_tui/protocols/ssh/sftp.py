"""File transfer over SSH (SFTP, and scp through it): a virtual tree, not the host's disk.

The tree a client sees is five folders, each a directory of the data directory::

    /docs      register lists, MIB, guides          (download)
    /reports   exported reports                     (download)
    /backups   settings backups                     (admin: download)
    /logs      the controller's own log files       (admin: download)
    /upload    restore files, certificates, updates (admin: upload, rename, delete)

Invariants:
* every client path is normalised against ``/``; a ``..`` that would climb above the
  root is refused, and a resolved path (symlinks followed) must stay inside its folder;
* anything that changes a file (open for writing, remove, rename, mkdir, rmdir,
  setstat) is allowed only inside ``/upload`` and only to a principal the core's
  permission check grants ``ADMINISTER``; links are never created;
* reading a folder needs the right ``core.permissions.FOLDER_READ`` names (backups,
  logs and uploads are the administrator's); the root lists only readable folders;
* a login still on the factory-default password may do nothing here;
* a path that is not UTF-8 is refused with a message naming the bad byte;
* uploads are created 0600; a mode beyond owner read/write (setuid, execute, group or
  other access) or an owner change is refused and audited (``file.chmod.refused``);
* uploads are capped at ``MAX_UPLOAD_BYTES``; an upload that passes the cap is
  removed when closed and audited as ``file.upload.refused``, the others as
  ``file.upload`` when the file is closed;
* listing ``/logs`` or fetching ``/logs/enerteg-logs.tar.gz`` first refreshes that
  archive of every log file and the audit log (``core.export.logs``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.sftp import FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_WRITE

from ...core.audit import Severity
from ...core.errors import PermissionDenied
from ...core.export.logs import ARCHIVE_NAME
from ...core.filemodes import DIR_MODE, FILE_MODE, mode_refusal
from ...core.permissions import FOLDER_READ, Action, Principal, allowed, require
from ...core.waiting import wait_event

__all__ = ["ControllerSFTP", "FOLDERS", "make_sftp_factory", "ensure_tree", "MAX_UPLOAD_BYTES"]

log = logging.getLogger(__name__)

FOLDERS: dict[str, str] = {
    "docs": "Register lists, the MIB and guides",
    "reports": "Exported reports",
    "backups": "Settings backups (admin only)",
    "logs": "The controller's log files and audit log (admin only)",
    "upload": ("Restore files, certificates, software update packages and PDU firmware "
               "images (admin only)"),
}
"""The top-level folders of the tree and what each holds."""
WRITABLE = "upload"
MAX_UPLOAD_BYTES = 256 << 20
"""Largest file accepted in /upload."""
_TREE = "/" + ", /".join(FOLDERS)
_LOGS_ARCHIVE = f"/logs/{ARCHIVE_NAME}"
"""The logs archive, made fresh when fetched."""

_README = """EnerTEG controller file tree (SFTP / scp)

{folders}

Download with, for example:  sftp -P PORT admin@controller:/logs/enerteg.log .
Only admins may read /backups, /logs and /upload, and write, only into /upload.
"""


def ensure_tree(data_dir: Path) -> None:
    """Create the tree's folders in ``data_dir`` and the guide in /docs."""
    for name in FOLDERS:
        (data_dir / name).mkdir(parents=True, exist_ok=True)
    readme = data_dir / "docs" / "README.txt"
    if not readme.exists():
        listing = "\n".join(f"  /{name:<8} {text}" for name, text in FOLDERS.items())
        readme.write_text(_README.format(folders=listing))


def _deny(message: str) -> asyncssh.SFTPPermissionDenied:
    return asyncssh.SFTPPermissionDenied(message)


class ControllerSFTP(asyncssh.SFTPServer):
    """One SFTP session over the virtual tree, with the logged-in user's rights."""

    def __init__(self, chan: asyncssh.SSHServerChannel, core: Any) -> None:
        super().__init__(chan)
        self._owner = chan.get_connection().get_owner()
        self.core = core
        self.root = Path(core.paths.root).resolve()
        self._writes: dict[int, tuple[str, Any]] = {}
        self._over_cap: set[int] = set()
        """Uploads (ids of their file objects) refused at ``MAX_UPLOAD_BYTES``."""

    @property
    def principal(self) -> Principal | None:
        """Who is logged in on this connection (bound when authentication completed)."""
        return self._owner.principal if self._owner.ready.is_set() else None

    def _blocked(self) -> str | None:
        owner = self._owner
        if self.principal is None:
            return "not logged in"
        if owner.refusal:
            return owner.refusal
        if owner.must_change:
            return "the password is the factory default; log in with ssh -t and set a new one first"
        return None

    # ------------------------------------------------------------------ paths
    def _virtual(self, path: bytes) -> str:
        """Normalise a client path to an absolute virtual path; refuse climbing out."""
        blocked = self._blocked()
        if blocked:
            raise _deny(f"file transfer refused: {blocked}")
        try:
            text = path.decode("utf-8", errors="strict") if path else "/"
        except UnicodeDecodeError as exc:
            shown = path.decode("utf-8", errors="backslashreplace")
            raise asyncssh.SFTPInvalidFilename(
                f"path {shown!r} is not valid UTF-8 (byte 0x{path[exc.start]:02x} at position "
                f"{exc.start}); names in the tree are UTF-8 text") from None
        parts: list[str] = []
        for part in text.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise _deny(f"{text}: path traversal above / is not allowed")
                parts.pop()
            else:
                parts.append(part)
        if parts and parts[0] not in FOLDERS:
            raise asyncssh.SFTPNoSuchFile(f"/{parts[0]}: no such folder; the tree has {_TREE}")
        if parts and not self._may_read(parts[0]):
            try:
                require(self.principal, FOLDER_READ[parts[0]], f"/{parts[0]}")  # type: ignore[arg-type]
            except PermissionDenied as exc:
                raise _deny(f"/{'/'.join(parts)}: {exc}") from None
        return "/" + "/".join(parts)

    def _may_read(self, folder: str) -> bool:
        """Whether the logged-in user may list and download ``folder``."""
        return self.principal is not None and allowed(self.principal, FOLDER_READ[folder])

    def _local(self, vpath: str) -> Path:
        if vpath == "/":
            return self.root
        top, _, rest = vpath[1:].partition("/")
        base = (self.root / top).resolve()
        local = base / rest if rest else base
        real = Path(os.path.realpath(local))
        if real != base and base not in real.parents:
            raise _deny(f"{vpath}: leads outside /{top}; not allowed")
        return local

    def map_path(self, path: bytes) -> bytes:
        return os.fsencode(self._local(self._virtual(path)))

    def _writable(self, path: bytes, what: str) -> str:
        vpath = self._virtual(path)
        if not vpath.startswith(f"/{WRITABLE}/"):
            raise _deny(f"{vpath}: {what} is allowed only inside /{WRITABLE}")
        assert self.principal is not None  # noqa: S101
        try:
            require(self.principal, Action.ADMINISTER, f"/{WRITABLE}")
        except PermissionDenied as exc:
            raise _deny(f"{vpath}: {exc}") from None
        return vpath

    async def _ready(self) -> None:
        # a client may send its first request while auth_completed is still binding
        # the identity; every entry point waits for it (bounded)
        if not await wait_event(self._owner.ready, 10):
            raise TimeoutError("the SSH login did not complete within 10 s")

    # ------------------------------------------------------------------ reading
    async def realpath(self, path: bytes) -> bytes:
        await self._ready()
        return self._virtual(path).encode()

    async def stat(self, path: bytes) -> Any:
        await self._ready()
        await self._fresh_logs(path)
        return super().stat(path)

    async def lstat(self, path: bytes) -> Any:
        await self._ready()
        await self._fresh_logs(path)
        return super().lstat(path)

    async def _fresh_logs(self, path: bytes) -> None:
        """Refresh the logs archive when a client lists /logs or fetches the archive."""
        export = getattr(self.core, "export", None)
        if export is None or self._virtual(path) not in ("/logs", _LOGS_ARCHIVE):
            return
        try:
            await export.logs.refresh(self.principal)
        except Exception:   # the previous archive (if any) is still served
            log.exception("sftp: the logs archive could not be made")

    async def statvfs(self, path: bytes) -> Any:
        await self._ready()
        return super().statvfs(path)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        await self._ready()
        vpath = self._virtual(path)
        await self._fresh_logs(path)
        await self._note(f"sftp ls {vpath}")
        if vpath != "/":
            async for name in super().scandir(path):
                yield name
            return
        for name in (".", ".."):
            yield asyncssh.SFTPName(name.encode(), attrs=asyncssh.SFTPAttrs.from_local(
                os.stat(self.root)))
        for name in FOLDERS:
            if not self._may_read(name):
                continue
            attrs = asyncssh.SFTPAttrs.from_local(os.stat(self.root / name))
            yield asyncssh.SFTPName(name.encode(), attrs=attrs)

    def readlink(self, path: bytes) -> bytes:
        raise _deny(f"{self._virtual(path)}: links are not part of the tree")

    # ------------------------------------------------------------------ writing
    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        await self._ready()
        if pflags & (FXF_WRITE | FXF_CREAT | FXF_TRUNC | FXF_APPEND):
            vpath = self._writable(path, "writing")
            # created 0600 whatever the client asks (OpenSSH sends the local file's mode)
            file_obj = super().open(path, pflags, asyncssh.SFTPAttrs(permissions=FILE_MODE))
            with contextlib.suppress(OSError, AttributeError, ValueError):
                os.fchmod(file_obj.fileno(), FILE_MODE)  # type: ignore[attr-defined]
            self._writes[id(file_obj)] = (vpath, file_obj)
            await self._note(f"sftp put {vpath}")
            return file_obj
        vpath = self._virtual(path)
        await self._fresh_logs(path)
        file_obj = super().open(path, pflags, attrs)
        log.info("sftp: %s downloads %s", self.principal.user if self.principal else "?", vpath)
        await self._note(f"sftp get {vpath}")
        return file_obj

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        if id(file_obj) in self._over_cap or offset + len(data) > MAX_UPLOAD_BYTES:
            self._over_cap.add(id(file_obj))
            vpath = self._writes.get(id(file_obj), ("upload",))[0]
            raise asyncssh.SFTPFailure(
                f"{vpath}: upload larger than {MAX_UPLOAD_BYTES >> 20} MiB "
                f"({MAX_UPLOAD_BYTES} bytes) is not allowed; the partial file is removed")
        return super().write(file_obj, offset, data)  # type: ignore[return-value]

    async def close(self, file_obj: object) -> None:
        entry = self._writes.pop(id(file_obj), None)
        refused = id(file_obj) in self._over_cap
        self._over_cap.discard(id(file_obj))
        super().close(file_obj)
        if entry is None:
            return
        vpath = entry[0]
        local = self._local(vpath)
        if refused:
            with contextlib.suppress(FileNotFoundError):
                local.unlink()
            await self._audit("file.upload.refused", vpath,
                              f"Upload of {vpath} refused: larger than {MAX_UPLOAD_BYTES >> 20} "
                              "MiB; the partial file was removed", severity=Severity.WARNING)
            return
        size = os.stat(local).st_size
        await self._audit("file.upload", vpath, f"File {vpath} uploaded ({size} bytes)")

    async def remove(self, path: bytes) -> None:
        await self._ready()
        vpath = self._writable(path, "deleting")
        super().remove(path)
        await self._audit("file.delete", vpath, f"File {vpath} deleted")

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self._ready()
        old = self._writable(oldpath, "renaming")
        new = self._writable(newpath, "renaming")
        super().rename(oldpath, newpath)
        await self._audit("file.rename", old, f"File {old} renamed to {new}")

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self.rename(oldpath, newpath)

    async def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        await self._ready()
        self._writable(path, "creating folders")
        super().mkdir(path, asyncssh.SFTPAttrs(permissions=DIR_MODE))

    async def rmdir(self, path: bytes) -> None:
        await self._ready()
        self._writable(path, "removing folders")
        super().rmdir(path)

    async def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        await self._ready()
        vpath = self._writable(path, "changing attributes")
        await self._check_attrs(vpath, attrs)
        super().setstat(path, attrs)

    async def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        await self._ready()
        vpath = self._writable(path, "changing attributes")
        await self._check_attrs(vpath, attrs)
        super().lsetstat(path, attrs)

    async def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        entry = self._writes.get(id(file_obj))
        if entry is None:
            raise _deny("changing attributes is allowed only inside /upload")
        await self._check_attrs(entry[0], attrs)
        super().fsetstat(file_obj, attrs)

    async def _check_attrs(self, vpath: str, attrs: asyncssh.SFTPAttrs) -> None:
        """Refuse (and audit) a mode beyond owner read/write or a change of owner."""
        why = mode_refusal(attrs.permissions, directory=self._local(vpath).is_dir())
        if why is None and (attrs.uid is not None or attrs.gid is not None
                            or attrs.owner is not None or attrs.group is not None):
            why = "changing the owner or group is not allowed"
        if why is None:
            return
        await self._audit("file.chmod.refused", vpath, f"Change of {vpath} refused: {why}",
                          severity=Severity.WARNING)
        raise _deny(f"{vpath}: {why}")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise _deny("links are not allowed in the file tree")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise _deny("links are not allowed in the file tree")

    def exit(self) -> None:
        # asyncssh closes an SFTP channel without an exit status; OpenSSH's scp (SFTP
        # mode) then reports failure after a good transfer. sshd sends 0: so do we.
        with contextlib.suppress(Exception):
            self.channel.exit(0)

    async def _note(self, text: str) -> None:
        """A support session's every file action is audited (``core.support``)."""
        if self.principal is not None:
            await self.core.support.note(self.principal, text)

    async def _audit(self, action: str, vpath: str, text: str,
                     severity: Severity = Severity.INFO) -> None:
        if self.principal is not None:
            await self.core.audit.record(self.principal, action, f"sftp{vpath}",
                                               f"{text} by {self.principal.user!r}",
                                               severity=severity)


def make_sftp_factory(service: Any) -> Callable[[asyncssh.SSHServerChannel], ControllerSFTP]:
    """The ``sftp_factory`` for asyncssh: one ``ControllerSFTP`` per SFTP channel."""
    ensure_tree(Path(service.core.paths.root))

    def factory(chan: asyncssh.SSHServerChannel) -> ControllerSFTP:
        return ControllerSFTP(chan, service.core)

    return factory

