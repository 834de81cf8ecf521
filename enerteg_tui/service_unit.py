"""Running under systemd: readiness, the watchdog behind ``autoRestart``, the unit file.

Owns the process side of issue 19 item 7 (manual §5.1 "Restart the application
automatically on crashes or hangs"), which only the process owner (``enerteg serve``)
may touch:

* ``Notifier``: the sd_notify protocol (one datagram to ``$NOTIFY_SOCKET``: ``READY=1``,
  ``WATCHDOG=1``, ``STOPPING=1``, ``STATUS=…``). Written here rather than taken from a
  library because the protocol is one ``sendto`` and a library would add a dependency
  for it; without ``$NOTIFY_SOCKET`` (not under systemd) every call does nothing.
* ``Watchdog``: a thread sends ``WATCHDOG=1`` every third of ``$WATCHDOG_USEC``. With
  ``config/core`` ``autoRestart`` enabled it pings only while the event loop beats (a
  task stamps a heartbeat every second): a hung loop stops the pings and systemd kills
  and restarts the controller (``Restart=on-failure``). With it disabled the thread
  pings regardless, so a hang is left for a person to look at, and a crash exits with
  ``EXIT_NO_RESTART``, which the unit's ``RestartPreventExitStatus`` keeps down.
* ``unit_text``/``install_service``: the unit file ``enerteg install-service`` writes
  (to a path given; it never enables or starts anything).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["Notifier", "Watchdog", "unit_text", "install_service", "EXIT_NO_RESTART",
           "WATCHDOG_SEC", "reexec_argv"]

log = logging.getLogger(__name__)

EXIT_NO_RESTART = 75
"""Exit status of a crash while ``autoRestart`` is disabled (EX_TEMPFAIL); the unit lists
it in ``RestartPreventExitStatus`` so systemd leaves the controller down."""
WATCHDOG_SEC = 30
"""The unit's ``WatchdogSec``: a loop stalled this long is a hang (a sweep of 100 PDUs
takes about a second; the slowest legitimate stall, a backup, runs in a thread)."""
BEAT_S = 1.0
"""How often the event loop stamps its heartbeat."""


class Notifier:
    """Sends sd_notify messages to ``$NOTIFY_SOCKET`` (no-op when it is not set)."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        """The socket path (``@`` = Linux abstract namespace), or None."""

    @classmethod
    def from_env(cls) -> Notifier:
        """The notifier systemd configured for this process, if any."""
        return cls(os.environ.get("NOTIFY_SOCKET") or None)

    def send(self, message: str) -> bool:
        """Send one message (``KEY=value`` lines); False when not under systemd or it failed."""
        if not self.address:
            return False
        addr = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto(message.encode(), addr)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True


class Watchdog:
    """Pings systemd's watchdog from a thread; see the module docstring for the rule.

    Args:
        notifier: where the pings go.
        interval_s: seconds between pings (a third of ``$WATCHDOG_USEC``).
        auto_restart: reads ``config/core`` ``autoRestart`` (called on the event loop).
    """

    def __init__(self, notifier: Notifier, interval_s: float,
                 auto_restart: Callable[[], bool]) -> None:
        self._notifier = notifier
        self.interval_s = interval_s
        self._auto_restart_of = auto_restart
        self.auto_restart = bool(auto_restart())
        """Last value of the setting the loop read (the thread and the crash path read it)."""
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self.pings = 0

    @staticmethod
    def interval_from_env() -> float | None:
        """A third of ``$WATCHDOG_USEC`` in seconds, or None without a watchdog."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) <= 0 or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 3e6

    def start(self) -> None:
        """Start the heartbeat task (on the running loop) and the pinging thread."""
        self._task = asyncio.get_running_loop().create_task(self._heartbeat(),
                                                             name="watchdog-heartbeat")
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    async def _heartbeat(self) -> None:
        while True:
            self._beat = time.monotonic()
            with contextlib.suppress(Exception):
                self.auto_restart = bool(self._auto_restart_of())
            await asyncio.sleep(BEAT_S)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            stalled = time.monotonic() - self._beat > max(self.interval_s, BEAT_S * 3)
            if self.auto_restart and stalled:
                continue  # a hang: let systemd's watchdog fire
            if self._notifier.send("WATCHDOG=1"):
                self.pings += 1

    async def stop(self) -> None:
        """Stop pinging (before a clean stop or a re-exec)."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)


def reexec_argv() -> list[str]:
    """The command line that started this interpreter, to ``os.execv`` it again: the base
    installation's, when the launcher started this process into an installed version
    (``core.versions.ENV_LAUNCH_ARGV``), so a restart chooses the version again."""
    import json

    from .core.versions import ENV_LAUNCH_ARGV

    saved = os.environ.get(ENV_LAUNCH_ARGV)
    if saved:
        try:
            argv = json.loads(saved)
        except ValueError:
            argv = None
        if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            return argv
    return list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])


def unit_text(*, data_dir: Path, python: str, user: str | None, manage_host: bool,
              serve_args: list[str]) -> str:
    """The systemd unit that runs ``enerteg serve`` with readiness, watchdog and restarts."""
    cmd = [python, "-m", "enerteg_tui", "serve", "--data-dir", str(data_dir.resolve())]
    if manage_host:
        cmd.append("--manage-host")
    cmd += serve_args
    lines = [
        "# Written by `enerteg install-service`; see docs/ssh.md (System commands).",
        "[Unit]",
        "Description=EnerTEG PDU ring controller",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + shlex.join(cmd),
    ]
    if user:
        lines.append(f"User={user}")
    lines += [
        f"WatchdogSec={WATCHDOG_SEC}",
        "Restart=on-failure",
        "RestartSec=3",
        f"RestartPreventExitStatus={EXIT_NO_RESTART}",
        "TimeoutStopSec=30",
        "KillSignal=SIGTERM",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def install_service(path: Path, **kw: object) -> Path:
    """Write the unit file to ``path`` (atomically); returns it. Enables nothing."""
    path = Path(path)
    text = unit_text(**kw)  # type: ignore[arg-type]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
