"""Rows of the device view's Diagnostics tab (manual §8.7, issue 19 item 6).

Turns ``core.diagnostics.diag_document`` — the same figures as the topic
``sensor/<hexid>/diag`` — into the two-column table the tab shows, so the console and
the shell never disagree on a figure or its name.
"""

from __future__ import annotations

from typing import Any

from ..core.diagnostics import diag_document
from ..core.live import DeviceLive
from ..core.timesync import local_text
from .livetable import Column, Row

__all__ = ["DIAG_COLUMNS", "diag_rows", "fmt_uptime"]

DIAG_COLUMNS = (Column("param", "Bus statistic", 22, "left"), Column("value", "Value", 40, "left"))
"""Diagnostics table: figure and value."""


def fmt_uptime(seconds: int | None) -> str:
    """``12 d 03:04:05`` (or ``—`` when unknown)."""
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{days} d " if days else "") + f"{h:02d}:{m:02d}:{s:02d}"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} ms"


def _when(config: Any, ms: int | None) -> str:
    if ms is None:
        return "—"
    return local_text(config, ms / 1000, "%Y-%m-%d %H:%M:%S %Z")


def diag_rows(live: DeviceLive, now: float, config: Any) -> list[Row]:
    """The Diagnostics tab's rows for one PDU at ``now``."""
    d = diag_document(live, now)
    pairs = (
        ("Ring position", str(d["ringPosition"])),
        ("Firmware", f"{d['firmware']} (hardware {d['hardware']})"),
        ("Uptime", fmt_uptime(d["uptimeS"])),
        ("Answer time p50", _ms(d["answerMsP50"])),
        ("Answer time p99", _ms(d["answerMsP99"])),
        ("Last answer time", _ms(d["answerMsLast"])),
        ("Queries / answers", f"{d['queries']} / {d['answers']}  (last {d['window']} timed)"),
        ("Timeouts", str(d["timeouts"])),
        ("Retries", str(d["retries"])),
        ("Other failures", str(d["failures"])),
        ("Missed sweeps now", str(d["missedSweeps"])),
        ("Last error", d["lastError"] or "none"),
        ("Last error at", _when(config, d["lastErrorAt"])),
        ("Last answer at", _when(config, d["lastOkAt"])),
    )
    return [Row(key=k, cells={"param": k, "value": v}) for k, v in pairs]
