"""Installed controller versions beside the running one, and which one a start runs
(manual §3.3, issue 23 item 5).

Why a module of its own: the process owner (``enerteg serve`` in ``cli.py``) decides which
version to start before anything else is imported, and the ``SoftwareUpdate`` service
installs versions and confirms them; both read and write the same few files, defined
here with the standard library only (cheap to import at every start).

Layout under ``<data-dir>/versions/``:

* ``<version>/``: a version installed with ``pip install --no-deps --target`` (its
  ``enerteg_tui`` package; the libraries are the host's, checked before install);
* ``current``: a symlink to the version a start runs; absent = the base installation
  (the ``enerteg_tui`` the ``enerteg`` command was installed with);
* ``previous``: a symlink to the version that ran before ``current`` (absent = base);
* ``boot.json``: the boot attempt of a version not yet confirmed healthy: written by
  ``apply`` (``pending``), turned into ``trying`` by the start that runs it (before the
  exec), into ``failed`` when it cannot start or fails its health check, and removed when
  it is healthy. A start that finds ``trying`` or ``failed`` goes back to ``previous``:
  a new version gets one attempt;
* ``result.json``: how the last update ended (``healthy`` or ``rolled back`` and why),
  audited once by the next controller that starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["VersionStore", "BootChoice", "BOOT_DEADLINE_S", "ENV_VERSION", "ENV_LAUNCH_ARGV",
           "ENV_VERSIONS"]

BOOT_DEADLINE_S = 180.0
"""A new version must be ready and pass its health check within this many seconds of its
start (a first sweep of 100 PDUs and every face up take well under a minute)."""
ENV_VERSION = "ENERTEG_RUNNING_VERSION"
"""Set in the environment of a process started into an installed version (the version)."""
ENV_VERSIONS = "ENERTEG_VERSIONS_DIR"
"""Set with ``ENV_VERSION``: the versions folder (for the boot watchdog)."""
ENV_LAUNCH_ARGV = "ENERTEG_LAUNCH_ARGV"
"""The base installation's command line (JSON), which every restart executes again so
the base's launcher chooses the version."""


@dataclass(frozen=True, slots=True)
class BootChoice:
    """What a start runs: an installed version (``folder``) or the base (None)."""

    version: str | None
    folder: Path | None
    trial: bool
    """The version is on its one boot attempt (not yet confirmed healthy)."""
    rolled_back: str | None = None
    """A version this start went back from, and why (for the log)."""


class VersionStore:
    """The ``versions`` folder of a data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------ reading
    def _link(self, name: str) -> str | None:
        try:
            return os.readlink(self.root / name)
        except OSError:
            return None

    def current(self) -> str | None:
        """The version a start runs (None = the base installation)."""
        return self._link("current")

    def previous(self) -> str | None:
        """The version before ``current`` (None = the base installation)."""
        return self._link("previous")

    def folder(self, version: str) -> Path:
        return self.root / version

    def installed(self) -> list[str]:
        """Versions present, by name."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.root / name).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def boot(self) -> dict[str, Any] | None:
        """The boot attempt under way, if any."""
        return self._read("boot.json")

    def result(self) -> dict[str, Any] | None:
        """How the last update ended, if one did."""
        return self._read("result.json")

    # ------------------------------------------------------------ writing
    def _write(self, name: str, data: dict[str, Any]) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.root / (name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.root / name)

    def _set_link(self, name: str, version: str | None) -> None:
        path = self.root / name
        if version is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        tmp = self.root / (name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(version, tmp)
        os.replace(tmp, path)

    def select(self, version: str, *, previous: str | None, deadline_s: float,
               by: str) -> None:
        """Make ``version`` (installed) the one the next start runs, on trial."""
        self._write("boot.json", {"version": version, "previous": previous, "state": "pending",
                                  "deadlineSeconds": deadline_s, "by": by,
                                  "selectedAt": time.time()})
        self._set_link("previous", previous)
        self._set_link("current", version)

    def mark(self, state: str, reason: str = "", **extra: Any) -> None:
        """Record the boot attempt's progress (``ready``, ``failed``)."""
        boot = self.boot()
        if boot is None:
            return
        boot.update(state=state, reason=reason, **extra)
        self._write("boot.json", boot)

    def confirm(self, version: str | None, detail: str) -> dict[str, Any] | None:
        """The version on trial is healthy: end the attempt, record the result, and remove
        versions other than current and previous. Returns the result, or None when no
        attempt of ``version`` was under way."""
        boot = self.boot()
        if boot is None or boot.get("version") != version:
            return None
        result = {"version": version, "previous": boot.get("previous"), "result": "healthy",
                  "reason": detail, "at": time.time(), "by": boot.get("by"), "audited": False}
        self._write("result.json", result)
        (self.root / "boot.json").unlink()
        keep = {self.current(), self.previous()}
        for name in self.installed():
            if name not in keep:
                shutil.rmtree(self.root / name, ignore_errors=True)
        return result

    def set_audited(self) -> None:
        result = self.result()
        if result is not None and not result.get("audited"):
            result["audited"] = True
            self._write("result.json", result)

    # ------------------------------------------------------------ the launcher
    def choose(self) -> BootChoice:
        """What this start runs, going back to ``previous`` when the version on trial had
        its attempt (``trying``/``ready``: it never confirmed; ``failed``), or when the
        current version's folder is missing. Writes the trial state before returning."""
        rolled: str | None = None
        boot = self.boot()
        current = self.current()
        if boot is not None and boot.get("version") == current and boot.get("state") != "pending":
            reason = boot.get("reason") or (
                f"it did not pass its health check within {boot.get('deadlineSeconds')} s "
                "(the process ended or was stopped before)")
            rolled = f"{current}: {reason}"
            self._rollback(boot, reason)
            current = self.current()
            boot = None
        elif boot is not None and boot.get("version") != current:
            (self.root / "boot.json").unlink()       # a stale attempt of another version
            boot = None
        if current is not None and not (self.folder(current) / "enerteg_tui").is_dir():
            rolled = f"{current}: its folder {self.folder(current)} is missing"
            self._rollback({"version": current, "previous": self.previous()},
                           f"its folder {self.folder(current)} is missing")
            current, boot = self.current(), None
        if current is None:
            return BootChoice(None, None, False, rolled)
        trial = boot is not None
        if trial:
            self.mark("trying", attempts=int((boot or {}).get("attempts", 0)) + 1,
                      startedAt=time.time(), pid=os.getpid())
        return BootChoice(current, self.folder(current), trial, rolled)

    def _rollback(self, boot: dict[str, Any], reason: str) -> None:
        version, back = boot.get("version"), boot.get("previous")
        if back is not None and not (self.folder(back) / "enerteg_tui").is_dir():
            back = None                                 # its folder is gone: the base
        self._write("result.json", {"version": version, "previous": back,
                                    "result": "rolled back", "reason": reason,
                                    "at": time.time(), "by": boot.get("by"), "audited": False})
        self._set_link("current", back)
        self._set_link("previous", None)
        with contextlib.suppress(FileNotFoundError):
            (self.root / "boot.json").unlink()
