"""The host's NTP client, configured from ``config/time`` (manual §4.2, issue 23 item 1).

Exists because the controller only *checks* the clock (``core.timesync``); the host's NTP
client steers it, and on an appliance that client must use the servers an operator sets
in ``config/time``. Only with ``--manage-host``: otherwise nothing is written and the
host's own client (its own configuration) keeps the clock.

Two clients are known, detected in this order:

* chrony: when ``chronyc`` is installed and the directory above the sources file exists
  (``/etc/chrony``), the servers go to a sources file (``server <name> iburst`` lines,
  default ``/etc/chrony/sources.d/enerteg.sources``, which Debian's ``chrony.conf`` reads
  with ``sourcedir``), then ``chronyc reload sources`` makes chronyd use them at once.
* systemd-timesyncd: when its binary or its drop-in directory exists, a drop-in
  (``[Time] NTP=…``, default ``/etc/systemd/timesyncd.conf.d/enerteg.conf``), then
  ``systemctl restart systemd-timesyncd`` when systemd runs (``/run/systemd/system``).

The paths are options (``enerteg serve --chrony-sources``, ``--chronyc-socket``,
``--timesyncd-conf``) so tests point them into a temporary directory and drive a chronyd
of their own. ``text`` says what the last write did; ``time status`` shows it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["NtpClientPaths", "HostNtpClient", "CHRONY_SOURCES", "TIMESYNCD_CONF"]

CHRONY_SOURCES = Path("/etc/chrony/sources.d/enerteg.sources")
TIMESYNCD_CONF = Path("/etc/systemd/timesyncd.conf.d/enerteg.conf")
_TIMESYNCD_BINARIES = (Path("/lib/systemd/systemd-timesyncd"),
                       Path("/usr/lib/systemd/systemd-timesyncd"))
_RUN_TIMEOUT_S = 20.0
_HEADER = "# Written by the EnerTEG controller from config/time (--manage-host); do not edit.\n"


@dataclass(frozen=True, slots=True)
class NtpClientPaths:
    """Where the host's NTP client is configured."""

    chrony_sources: Path = CHRONY_SOURCES
    chronyc_socket: Path | None = None
    """``chronyc -h`` (chronyd's command socket); None = chronyc's default."""
    timesyncd_conf: Path = TIMESYNCD_CONF
    systemd_run: Path = Path("/run/systemd/system")
    """Exists while systemd is the running init (then timesyncd is restarted)."""


async def _run(*argv: str) -> tuple[int, str]:
    """Run a command; its exit code and its output (stdout and stderr), stripped."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    except OSError as exc:
        return 127, str(exc)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), _RUN_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 124, f"no answer within {_RUN_TIMEOUT_S:g} s"
    return proc.returncode or 0, out.decode("utf-8", "replace").strip()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class HostNtpClient:
    """Writes ``config/time``'s servers into the host's NTP client and reloads it.

    Args:
        paths: where the client's configuration lives.
        port: the servers' UDP port (123; tests run a fake server on a free port, which
            chrony is told with ``port N``; timesyncd knows only 123).
    """

    def __init__(self, paths: NtpClientPaths, port: int = 123) -> None:
        self.paths = paths
        self.port = port
        self.kind = self.detect()
        """``chrony``, ``timesyncd`` or ``none``."""
        self.text = (f"host NTP client: {self.kind}, not configured yet" if self.kind != "none"
                     else "host NTP client: none found (neither chrony nor "
                          "systemd-timesyncd); the controller writes no configuration")
        self.writes = 0
        """Configurations written (tests wait for a count)."""
        self._done: str | None = None
        """The configuration last written and loaded: a change of ``config/time`` that
        leaves the servers as they are (the time zone) does not reload the client."""

    def detect(self) -> str:
        p = self.paths
        if shutil.which("chronyc") and p.chrony_sources.parent.parent.is_dir():
            return "chrony"
        if p.timesyncd_conf.parent.is_dir() or (
                p.timesyncd_conf.parent.parent.is_dir()
                and any(b.exists() for b in _TIMESYNCD_BINARIES)):
            return "timesyncd"
        return "none"

    def _chronyc(self, *words: str) -> list[str]:
        sock = self.paths.chronyc_socket
        return ["chronyc", *(["-h", str(sock)] if sock else []), *words]

    async def apply(self, settings: Any) -> str:
        """Configure the client with ``settings`` (``config/time``); returns ``text``.

        With ``ntpEnabled`` off the file is written without servers (the client keeps
        the servers of its own configuration only)."""
        servers = list(settings.ntpServers) if settings.ntpEnabled else []
        if self.kind == "chrony":
            port = f" port {self.port}" if self.port != 123 else ""
            text = _HEADER + "".join(f"server {s}{port} iburst\n" for s in servers)
            if text == self._done:
                return self.text
            _write(self.paths.chrony_sources, text)
            code, out = await _run(*self._chronyc("reload", "sources"))
            self._done = text if code == 0 else None
            done = "reloaded" if code == 0 else f"'chronyc reload sources' failed: {out}"
            self.text = (f"host NTP client: chrony, {len(servers)} server(s) in "
                         f"{self.paths.chrony_sources}, {done}")
        elif self.kind == "timesyncd":
            text = _HEADER + "[Time]\n" + (f"NTP={' '.join(servers)}\n" if servers else "")
            if text == self._done:
                return self.text
            _write(self.paths.timesyncd_conf, text)
            code = 0
            if self.paths.systemd_run.is_dir():
                code, out = await _run("systemctl", "restart", "systemd-timesyncd")
                done = ("restarted" if code == 0 else
                        f"'systemctl restart systemd-timesyncd' failed: {out}")
            else:
                done = "not restarted (systemd is not running here)"
            self._done = text if code == 0 else None
            self.text = (f"host NTP client: systemd-timesyncd, {len(servers)} server(s) in "
                         f"{self.paths.timesyncd_conf}, {done}")
        self.writes += 1
        return self.text
