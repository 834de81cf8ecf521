"""The logs archive: ``<data-dir>/logs/enerteg-logs.tar.gz``, one download for support.

An operator asked for "the logs" should not have to fetch five rotated files and
export the audit log by hand. This module builds one archive holding every file of
the logs folder (``enerteg.log`` and its rotations) plus the audit log as
``audit.csv`` and ``audit.jsonl`` and a ``manifest.json``. It is made on demand: the
SFTP server refreshes it when a client lists ``/logs`` or fetches the archive, and
the shell's ``logs archive`` does the same and prints its path. It is made again
only when a log file or the audit log changed since (sizes and times of the files;
count, last id and comment lengths of the audit log, which grow with every state
change), and an archive younger than ``FRESH_S`` is served as it is, so one download
(stat, then open) builds it once. It is written to a temporary name and renamed, so
a download in progress keeps reading the complete previous archive. Reading and
compressing run in a worker thread. The archive holds the audit log, so it is the
administrator's alone (``administer``, as reading the audit log is), like the log
files themselves; secret values are masked in both (``core.masking``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..filemodes import FILE_MODE
from ..permissions import Action, Principal, require
from ..store import Store

__all__ = ["LogArchive", "ARCHIVE_NAME", "FRESH_S", "ArchiveInfo"]

ARCHIVE_NAME = "enerteg-logs.tar.gz"
"""File name of the archive in the logs folder (SFTP ``/logs/enerteg-logs.tar.gz``)."""
FRESH_S = 2.0
"""An archive made less than this many seconds ago is not made again."""
_FOLDER = "enerteg-logs"
_PAGE = 5000
_AUDIT_COLUMNS = ("id", "time", "severity", "state", "user", "face", "address", "action",
                  "object", "device", "message", "old", "new", "comments")


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """A made archive: where, how big, what it holds."""

    path: Path
    size: int
    files: list[str]
    """Members, without the leading folder."""
    audit_entries: int


class LogArchive:
    """Builds the logs archive on demand.

    Args:
        logs_dir: the logs folder (``<data-dir>/logs``); the archive is written there.
        store: controller database (the ``audit`` table).
        clock: wall clock (the manifest's time).
        fresh_s: an archive younger than this is served without checking.
    """

    def __init__(self, logs_dir: Path, store: Store, clock: Callable[[], float] = time.time,
                 fresh_s: float = FRESH_S) -> None:
        self.logs_dir = logs_dir
        self.fresh_s = fresh_s
        self.path = logs_dir / ARCHIVE_NAME
        self._store = store
        self._clock = clock
        self._lock = asyncio.Lock()
        self._made_at: float | None = None
        self._last: ArchiveInfo | None = None
        self._made_of: tuple[Any, ...] | None = None

    async def refresh(self, principal: Principal, *, force: bool = False) -> ArchiveInfo:
        """Make the archive unless it is current or was made within ``FRESH_S`` (or
        ``force``)."""
        require(principal, Action.ADMINISTER, f"logs/{ARCHIVE_NAME}")
        async with self._lock:
            last = self._last
            if last is not None and not force and self.path.exists():
                assert self._made_at is not None
                if time.monotonic() - self._made_at < self.fresh_s:
                    return last
                made_of = await self._fingerprint()
                if made_of == self._made_of:
                    return last
            rows: list[tuple[Any, ...]] = []
            while True:   # in pages, so a long audit log never holds the loop up
                page = await self._store.fetchall(
                    "SELECT id, ts, severity, state, user, face, address, action, object,"
                    " device, message, old, new, comments FROM audit WHERE id > ?"
                    " ORDER BY id LIMIT ?", (rows[-1][0] if rows else 0, _PAGE))
                rows += page
                if len(page) < _PAGE:
                    break
            made_of = await self._fingerprint()
            info = await asyncio.to_thread(_build, self.logs_dir, self.path, rows,
                                           self._clock())
            self._made_at = time.monotonic()
            self._last, self._made_of = info, made_of
            return info

    async def _fingerprint(self) -> tuple[Any, ...]:
        """What the archive was made of: log files' names, sizes and times, and the
        audit log's count, last id and total comment length."""
        files = await asyncio.to_thread(_log_files_state, self.logs_dir)
        audit = await self._store.fetchone(
            "SELECT COUNT(*), MAX(id), TOTAL(LENGTH(comments)) FROM audit")
        return files, audit


def _log_files_state(logs_dir: Path) -> tuple[tuple[str, int, int], ...]:
    if not logs_dir.is_dir():
        return ()
    out = []
    for p in sorted(logs_dir.iterdir()):
        if p.name == ARCHIVE_NAME or p.name.startswith("."):
            continue
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _audit_files(rows: list[tuple[Any, ...]]) -> tuple[bytes, bytes]:
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(_AUDIT_COLUMNS)
    lines = io.StringIO()
    for r in rows:
        row = list(r)
        row[1] = datetime.fromtimestamp(float(row[1]), UTC).isoformat(timespec="milliseconds")
        w.writerow(["" if v is None else v for v in row])
        doc = dict(zip(_AUDIT_COLUMNS, row, strict=True))
        for key in ("old", "new", "comments"):
            if isinstance(doc[key], str):
                try:
                    doc[key] = json.loads(doc[key])
                except ValueError:
                    pass
        lines.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return text.getvalue().encode(), lines.getvalue().encode()


def _build(logs_dir: Path, path: Path, rows: list[tuple[Any, ...]], now: float) -> ArchiveInfo:
    """Write the archive (worker thread): log files, audit CSV/JSONL, manifest."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    audit_csv, audit_jsonl = _audit_files(rows)
    logs = sorted(p for p in logs_dir.iterdir()
                  if p.is_file() and not p.is_symlink() and p.name != ARCHIVE_NAME
                  and not p.name.startswith("."))
    files: list[str] = []
    tmp = logs_dir / f".{ARCHIVE_NAME}.tmp"
    try:
        with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
            for p in logs:
                try:
                    data = p.read_bytes()   # a snapshot: the live log keeps growing
                except OSError:
                    continue
                _add(tar, p.name, data, p.stat().st_mtime)
                files.append(p.name)
            _add(tar, "audit.csv", audit_csv, now)
            _add(tar, "audit.jsonl", audit_jsonl, now)
            files += ["audit.csv", "audit.jsonl"]
            manifest = {"format": "enerteg-logs/1",
                        "created": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
                        "logFiles": files[:-2], "auditEntries": len(rows)}
            _add(tar, "manifest.json", json.dumps(manifest, indent=1).encode(), now)
            files.append("manifest.json")
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ArchiveInfo(path, path.stat().st_size, files, len(rows))


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(f"{_FOLDER}/{name}")
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
