"""Persistence of the simulated PDUs' own memory: counters, settings, outlet states.

Owns the on-disk format of the state file (``sim-ring.json`` in the data directory)
and its atomic write. A real PDU keeps its energy counters, settings and relay
states in its own flash; the simulator keeps them here, keyed by serial number.
Invariants: a write is atomic (temporary file, fsync, rename), so a crash leaves the
old or the new file, never half; a file that cannot be read is moved aside with a
warning and the ring starts fresh, never crashes. Called by
``driver.SimulatedDriver`` (load on ``open``, write on ``close`` and periodically,
the write in a worker thread).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "VERSION", "load_state", "write_state"]

log = logging.getLogger(__name__)

FORMAT = "enerteg-sim-ring"
"""Value of the file's ``format`` key."""
VERSION = 1
"""Version of the file layout."""


def load_state(path: Path) -> dict[str, dict[str, Any]]:
    """The saved memory of every PDU, by serial number (as text).

    Args:
        path: the state file.

    Returns:
        Per-PDU entries; empty when the file does not exist or cannot be used (then a
        warning is logged and the bad file is kept as ``<name>.corrupt``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("simulator: cannot read state file %s (%s); starting fresh", path, exc)
        return {}
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        pdus = data.get("pdus")
        if not isinstance(pdus, dict) or not all(isinstance(v, dict) for v in pdus.values()):
            raise ValueError("'pdus' is not an object of PDU entries")
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        aside = path.with_name(path.name + ".corrupt")
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        log.warning("simulator: state file %s is corrupt (%s); kept as %s, starting fresh",
                    path, exc, aside.name)
        return {}
    return {str(k): v for k, v in pdus.items()}


def write_state(path: Path, pdus: dict[str, dict[str, Any]], saved_at: float) -> None:
    """Write the memory of every PDU atomically (temporary file, fsync, rename).

    Args:
        path: the state file.
        pdus: per-PDU entries by serial number (as text), JSON-ready.
        saved_at: wall-clock time recorded in the file.

    Raises:
        OSError: the directory is not writable (the caller logs it).
    """
    doc = {"format": FORMAT, "version": VERSION, "savedAt": saved_at, "pdus": pdus}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable where possible
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
