"""Shell command ``report``: energy and power reports into ``/reports`` (issue 7).

``report site|room|row|rack|device [NAME|HEXID] [--from ISO-TIME] [--to ISO-TIME]
[--format csv|xlsx]`` builds the report through the core's ``ReportService.generate`` (which
checks the READ permission and writes the file in a worker thread) and prints the
file's SFTP path, so a script can fetch it with ``scp``/``sftp`` right after. Bad
input (scope, name, time, period, format) ends with exit code 2 and the reason.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import Invalid
from ...core.reports import FORMATS, REPORTS_DIR, SCOPES, iso, parse_time
from .parse import UsageError

__all__ = ["cmd_report", "USAGE"]

USAGE = ("Usage: report site|room|row|rack|device [NAME|HEXID] [--from ISO-TIME] "
         "[--to ISO-TIME] [--format csv|xlsx]")
DEFAULT_SPAN_S = 86400
"""Period when ``--from`` is not given: the 24 hours before ``--to``."""
_OPTIONS = ("--from", "--to", "--format")


def _parse(args: list[str]) -> tuple[str, str, dict[str, str]]:
    if not args:
        raise UsageError(USAGE)
    scope, rest = args[0], args[1:]
    if scope not in SCOPES:
        raise UsageError(f"report scope {scope!r} does not exist; choose one of "
                         f"{', '.join(SCOPES)}\n{USAGE}")
    names: list[str] = []
    opts: dict[str, str] = {}
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("--"):
            key, sep, value = word.partition("=")
            if key not in _OPTIONS:
                raise UsageError(f"unknown option {key!r}; options are "
                                 f"{', '.join(_OPTIONS)}\n{USAGE}")
            if not sep:
                if i + 1 >= len(rest):
                    raise UsageError(f"option {key} needs a value\n{USAGE}")
                i += 1
                value = rest[i]
            opts[key] = value
        else:
            names.append(word)
        i += 1
    if len(names) > 1:
        raise UsageError(f"one name expected, got {len(names)}: {' '.join(names)} "
                         f"(quote a name with spaces)\n{USAGE}")
    return scope, names[0] if names else "", opts


async def cmd_report(sh: Any, args: list[str]) -> None:
    """report SCOPE [NAME] [--from T] [--to T] [--format csv|xlsx]: print the file's path."""
    scope, name, opts = _parse(args)
    fmt = opts.get("--format", "csv")
    try:
        if fmt not in FORMATS:
            raise Invalid(f"report format {fmt!r} does not exist; choose {' or '.join(FORMATS)}",
                          thing="format", value=fmt, allowed=", ".join(FORMATS))
        end = parse_time(opts["--to"], "--to") if "--to" in opts else sh.core.clock()
        start = (parse_time(opts["--from"], "--from") if "--from" in opts
                 else end - DEFAULT_SPAN_S)
        path = await sh.core.reports.generate(sh.principal, scope, name, start, end, fmt)
    except Invalid as exc:
        raise UsageError(f"{exc}") from None
    shown = f"/{REPORTS_DIR}/{path.name}"
    sh.emit({"path": shown, "scope": scope, "from": iso(start), "to": iso(end),
             "format": fmt, "bytes": path.stat().st_size}, shown)
