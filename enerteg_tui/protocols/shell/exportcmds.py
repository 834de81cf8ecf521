"""Shell commands for the history export and the logs archive: ``export``, ``logs``.

``export status`` shows where the history goes, how far it got (the watermark) and
whether the target is failing; ``export now`` flushes the history and runs one export
at once (admin), so a script can check a new PostgreSQL target without waiting for
the interval. ``logs archive`` makes ``/logs/enerteg-logs.tar.gz`` (every log file and
the audit log) and prints its path for ``sftp``/``scp``. Each calls the core
``ExportService`` with the session's principal; the core checks the permission.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import Unsupported
from ...core.timesync import local_iso_text
from .parse import UsageError

__all__ = ["cmd_export", "cmd_logs"]


def _service(sh: Any) -> Any:
    export = getattr(sh.core, "export", None)
    if export is None:
        raise Unsupported("the history export is not running in this controller",
                          thing="export", value="", allowed="a running controller")
    return export


def _status_text(doc: dict[str, Any], config: Any) -> str:
    lines = [
        f"Export:          {'enabled' if doc['enabled'] else 'disabled'} ({doc['target']})",
        f"Destination:     {doc['destination']}",
        f"State:           {doc['state']}"
        + (f", next try in {doc['retryInSeconds']:g} s" if doc["retryInSeconds"] is not None
           else ""),
        f"Exported until:  {local_iso_text(config, doc['exportedUntil'])}",
        f"History until:   {local_iso_text(config, doc['historyUntil'])}",
        f"Rows this run:   {doc['rows']}",
    ]
    if doc["lastRun"]:
        lines.append(f"Last export:     {local_iso_text(config, doc['lastRun'])}, "
                     f"{doc['lastRows']} rows, "
                     f"{doc['lastMs']:g} ms")
    if doc["lastError"]:
        lines.append(f"Last error:      {doc['lastError']}")
    return "\n".join(lines)


async def cmd_export(sh: Any, args: list[str]) -> None:
    """export status | export now."""
    export = _service(sh)
    if args == ["status"]:
        doc = export.status(sh.principal).as_dict()
    elif args == ["now"]:
        doc = (await export.run_now(sh.principal)).as_dict()
    else:
        raise UsageError("Usage: export status | export now")
    sh.emit(doc, _status_text(doc, sh.core.config))


async def cmd_logs(sh: Any, args: list[str]) -> None:
    """logs archive: make the archive now and print its SFTP path."""
    if args != ["archive"]:
        raise UsageError("Usage: logs archive")
    info = await _service(sh).logs.refresh(sh.principal, force=True)
    shown = f"/logs/{info.path.name}"
    sh.emit({"path": shown, "bytes": info.size, "files": info.files,
             "auditEntries": info.audit_entries},
            f"{shown} ({info.size} bytes: {', '.join(info.files)})")
