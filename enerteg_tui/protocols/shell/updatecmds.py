"""The shell's ``update`` command: software update of the controller (manual §3.3,
issue 23 item 5), through ``core.software`` (administrators; audited).

``update check FILE`` verifies a package in /upload (signature, hashes, version) and
installs nothing; ``update apply FILE [--force] [--yes]`` verifies, installs it beside
the running version and restarts into it (at a terminal after a ``[y/N]`` question, a
script adds ``--yes``); ``update status`` shows the running and selected versions, the
update under way or how the last one ended, and the packages waiting in /upload.
"""

from __future__ import annotations

from typing import Any

from ...core.i18n import _
from ...core.software_update import status_text
from ...core.timesync import local_text
from .parse import UsageError, usage_error

__all__ = ["cmd_update", "USAGE"]

USAGE = "Usage: update status | check FILE [--force] | apply FILE [--force] [--yes]"


async def cmd_update(sh: Any, args: list[str]) -> None:
    if not args or args[0] not in ("status", "check", "apply"):
        raise UsageError(USAGE)
    sub, rest = args[0], args[1:]
    software = sh.core.software
    if sub == "status":
        if rest:
            raise UsageError(USAGE)
        st = software.status(sh.principal)
        sh.emit(st, status_text(st, lambda ts: local_text(sh.core.config, ts)))
        return
    flags = {a for a in rest if a.startswith("--")}
    files = [a for a in rest if not a.startswith("--")]
    allowed = {"--force"} | ({"--yes"} if sub == "apply" else set())
    if len(files) != 1 or flags - allowed:
        raise UsageError(USAGE)
    force = "--force" in flags
    info = await software.check(sh.principal, files[0], force=force, audit=sub == "check")
    if sub == "check":
        doc = {**info.as_dict(), "running": software.running_version, "ok": True}
        sh.emit(doc, _("{file}: version {version} (running {running}), signed by key {key}, "
                       "hashes match; ready to apply").format(
                     file=info.path.name, version=info.version,
                     running=software.running_version, key=info.key_id))
        return
    if "--yes" not in flags:
        if not sh.interactive:
            raise usage_error("a script must confirm: update apply {file} --yes", file=files[0])
        from .term import read_line

        sh.io.write(_("Install version {version} (running {running}) and restart into it "
                      "now? Every session is ended. [y/N] ").format(
                        version=info.version, running=software.running_version))
        if ((await read_line(sh.io)) or "").strip().lower() not in ("y", "yes"):
            sh.msg(_("Nothing changed."))
            return
    warning = await software.apply(sh.principal, files[0], force=force)
    sh.msg(warning)
