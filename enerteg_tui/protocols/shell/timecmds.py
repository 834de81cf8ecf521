"""Shell clock commands (manual §4.2, issue 23 item 1): ``date``, ``date set``, ``time``.

``date`` prints the time in the zone of ``config/time`` (what a person reads), the same
instant in UTC/ISO, and the clock's sync state; ``time status`` the last NTP check
(state, offset, server, round trip); ``time check`` checks now. ``date set <ISO time>``
sets the host's clock (administrators, only with ``enerteg serve --manage-host``;
otherwise ``TimeService.set_clock`` refuses naming the flag) after the manual's warning
about history gaps. JSON output keeps Unix seconds and UTC ISO text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...core.i18n import _
from ...core.timesync import CLOCK_CHANGE_WARNING, TimeStatus, local_text
from .parse import UsageError

__all__ = ["cmd_date", "cmd_time", "status_lines"]

DATE_USAGE = "Usage: date | date set <YYYY-MM-DDTHH:MM:SS[+zone]> [--yes]"
TIME_USAGE = "Usage: time status | time check"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def status_lines(config: Any, st: TimeStatus) -> list[str]:
    """The text form of the clock's sync state."""
    lines = [f"Sync state   {st.state}", f"             {st.text}"]
    if st.offset is not None:
        lines.append(f"Offset       {st.offset:+.3f} s (server {st.server})")
    if st.checked is not None:
        lines.append(f"Checked      {local_text(config, st.checked)}")
    return lines


async def cmd_date(sh: Any, args: list[str]) -> None:
    core = sh.core
    if args and args[0] == "set":
        rest = [a for a in args[1:] if a != "--yes"]
        if len(rest) != 1:
            raise UsageError(DATE_USAGE)
        if not core.timesync.manage_host:
            await core.timesync.set_clock(sh.principal, rest[0])  # the refusal naming the flag
        if "--yes" not in args:
            if not sh.interactive:
                raise UsageError("a script must confirm: date set <time> --yes")
            from .term import read_line

            sh.io.write(f"{CLOCK_CHANGE_WARNING} Set the clock? [y/N] ")
            if ((await read_line(sh.io)) or "").strip().lower() not in ("y", "yes"):
                sh.msg(_("Nothing changed."))
                return
        sh.msg(await core.timesync.set_clock(sh.principal, rest[0]))
        return
    if args:
        raise UsageError(DATE_USAGE)
    now = core.clock()
    st = core.timesync.status
    zone = core.config.get("time").timezone
    text = "\n".join([f"{local_text(core.config, now, '%a %Y-%m-%d %H:%M:%S %Z')}  ({zone})",
                      f"UTC          {_iso(now)}", *status_lines(core.config, st)])
    sh.emit({"ts": now, "utc": _iso(now), "timezone": zone,
             "local": local_text(core.config, now, "%Y-%m-%dT%H:%M:%S%z"),
             "sync": st.as_dict()}, text)


async def cmd_time(sh: Any, args: list[str]) -> None:
    if args not in (["status"], ["check"]):
        raise UsageError(TIME_USAGE)
    core = sh.core
    st = await core.timesync.check() if args == ["check"] else core.timesync.status
    host = core.timesync.host_text
    sh.emit({**st.as_dict(), "hostClient": host},
            "\n".join([*status_lines(core.config, st), f"Host client  {host}"]))
