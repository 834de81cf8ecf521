"""Start ``enerteg serve`` from an installed version, with a boot watchdog (issue 23 item 5).

Why a module of its own: the base installation's launcher (``cli._launch``) executes
``python -m enerteg_tui.versionboot <version folder> serve …``. This module is loaded
from the base installation, so it still runs when the new version cannot even be
imported: it puts the version's folder first on ``sys.path``, forgets the base's
``enerteg_tui`` modules and calls the new version's ``cli.main``. While the version is on
its boot attempt (``core.versions``), three things end the attempt as failed and execute
the base's command line again, whose launcher then goes back to the previous version: an
exception before the controller is up (an import that fails), an exit with an error
status, and no health confirmation within the attempt's deadline (a hang). Same process
id throughout, so systemd (``Type=notify``) keeps following it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from .core.versions import ENV_LAUNCH_ARGV, ENV_VERSION, ENV_VERSIONS, VersionStore

__all__ = ["main"]


def _back(store: VersionStore, version: str, reason: str) -> None:
    """Mark the attempt failed and execute the base's command line (never returns)."""
    boot = store.boot()
    if boot is not None and boot.get("version") == version:
        if boot.get("state") == "failed" and boot.get("reason"):
            reason = str(boot["reason"])            # the version said why itself
        else:
            store.mark("failed", reason)
    print(f"enerteg: version {version} failed to start: {reason}; going back to the "
          "previous version", file=sys.stderr, flush=True)
    argv = json.loads(os.environ.get(ENV_LAUNCH_ARGV) or "null") or [sys.executable, "-m",
                                                                      "enerteg_tui", *sys.argv[2:]]
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VERSION, ENV_VERSIONS)}
    os.execve(sys.executable, argv, env)


def _watch(store: VersionStore, version: str, deadline_s: float) -> None:
    """After the deadline, a version still on trial is stuck: go back."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        boot = store.boot()
        if boot is None or boot.get("version") != version:
            return                                   # confirmed healthy
    boot = store.boot()
    if boot is not None and boot.get("version") == version:
        _back(store, version, f"it was not ready and healthy within {deadline_s:g} s")


def main() -> int:
    if len(sys.argv) < 3:
        print("usage: python -m enerteg_tui.versionboot FOLDER serve [options]",
              file=sys.stderr)
        return 2
    folder = Path(sys.argv[1])
    version = folder.name
    store = VersionStore(folder.parent)
    boot = store.boot()
    trial = boot is not None and boot.get("version") == version
    os.environ[ENV_VERSION] = version
    os.environ[ENV_VERSIONS] = str(folder.parent)
    if trial:
        deadline = float((boot or {}).get("deadlineSeconds") or 180)
        threading.Thread(target=_watch, args=(store, version, deadline), daemon=True,
                         name="boot-watchdog").start()
    for name in [n for n in sys.modules if n == "enerteg_tui" or n.startswith("enerteg_tui.")]:
        del sys.modules[name]                        # the base's; the version's come next
    sys.path.insert(0, str(folder))
    try:
        from enerteg_tui.cli import main as version_main  # the installed version's
        code = version_main(sys.argv[2:])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - any failure of the new version
        if not trial:
            raise
        traceback.print_exc()
        _back(store, version, f"{type(exc).__name__}: {exc}")
    if trial and code:
        still = store.boot()
        if still is not None and still.get("version") == version:
            _back(store, version, f"it exited with status {code} before it was healthy")
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
