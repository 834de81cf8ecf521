"""Measured values in reports (manual §2, issue 19 item 5): min/avg/max per channel.

Besides energy and power (``core.reports``), a report lists every measured value the
history holds for its PDUs over the period, one *kind* per sheet: voltage per phase,
branch and outlet; current per phase, branch and outlet; power factor (total, phases,
outlets); residual current; temperature and humidity per sensor. Each row is one
channel with the lowest block minimum, the mean of the block averages and the highest
block maximum at the report's history tier. ``write_measure_sheets`` adds the Excel
sheets (each with a native line chart of min/avg/max), ``measure_csv_rows`` the CSV's
long-format table (one row per channel and statistic). Called by ``core.reports``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .i18n import N_, _
from .quantities import BY_KEY

__all__ = ["KINDS", "MeasureRow", "measure_rows", "write_measure_sheets", "measure_csv_rows",
           "MEASURE_HEADER", "MEASURE_CSV_HEADER"]

KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (N_("Voltage"), "voltage", ("i", "b", "o")),
    (N_("Current"), "current", ("i", "b", "o")),
    (N_("Power factor"), "powerFactor", ("t", "i", "b", "o")),
    (N_("Residual current"), "residualCurrent", ("t",)),
    (N_("Temperature"), "temperature", ("s",)),
    (N_("Humidity"), "humidity", ("s",)),
)
"""(sheet title, quantity key, components in the order rows are listed)."""
_PART = {"t": "Total", "i": "L{}", "b": "Branch {}", "o": "Outlet {}", "s": "Sensor {}"}
MEASURE_HEADER = (N_("Hex ID"), N_("PDU"), N_("Part"), N_("Label"), N_("Unit"), N_("Minimum"),
                  N_("Average"), N_("Maximum"), N_("Blocks"))
"""Columns of a kind's sheet (Label = PDU and part, the chart's categories)."""
MEASURE_CSV_HEADER = ("Kind", "Hex ID", "PDU", "Part", "Quantity", "Unit", "Statistic",
                      "Value")
"""Columns of the CSV's long-format measurement table."""


@dataclass(frozen=True, slots=True)
class MeasureRow:
    """One channel's extremes and mean over the period."""

    kind: str
    hex_id: str
    device_name: str
    component: str
    index: int
    quantity: str
    minimum: float
    average: float
    maximum: float
    blocks: int
    """History blocks the figures come from."""

    @property
    def part(self) -> str:
        """``L1``, ``Outlet 3``, ``Sensor 2``, ``Total``."""
        return _PART[self.component].format(self.index)

    @property
    def unit(self) -> str:
        q = BY_KEY.get(self.quantity)
        return q.unit if q is not None else ""

    def cells(self) -> list[Any]:
        return [self.hex_id, self.device_name, self.part, f"{self.device_name} {self.part}",
                self.unit, self.minimum, self.average, self.maximum, self.blocks]


Reader = Callable[[list[Any]], Awaitable[dict[Any, list[Any]]]]


async def measure_rows(known: set[Any], hex_id: str, name: str, read: Reader) -> list[MeasureRow]:
    """The measurement rows of one PDU from its known history channels.

    Args:
        known: the PDU's channel ids ``(hex, component, index, quantity)``.
        hex_id, name: the PDU.
        read: reads a list of channel ids over the period into block lists (min/max/avg).
    """
    order = {(q, c): (k, j) for k, (_title, q, comps) in enumerate(KINDS) for j, c in enumerate(comps)}
    keys = sorted((k for k in known if (k[3], k[1]) in order),
                  key=lambda k: (order[(k[3], k[1])], k[2]))
    if not keys:
        return []
    data = await read(keys)
    out: list[MeasureRow] = []
    for key in keys:
        points = data.get(key) or []
        if not points:
            continue
        kind = KINDS[order[(key[3], key[1])][0]][0]
        precision = BY_KEY[key[3]].precision if key[3] in BY_KEY else 3
        out.append(MeasureRow(
            kind, hex_id, name, key[1], key[2], key[3],
            round(min(p.min for p in points), precision),
            round(sum(p.avg for p in points) / len(points), precision),
            round(max(p.max for p in points), precision), len(points)))
    return out


def measure_csv_rows(rows: list[MeasureRow]) -> list[list[Any]]:
    """The long-format table: one row per channel and statistic (minimum, average, maximum)."""
    out: list[list[Any]] = [list(MEASURE_CSV_HEADER)]
    for r in rows:
        for stat, value in (("minimum", r.minimum), ("average", r.average),
                            ("maximum", r.maximum)):
            out.append([r.kind, r.hex_id, r.device_name, r.part, r.quantity, r.unit, stat, value])
    return out


def write_measure_sheets(wb: Any, rows: list[MeasureRow], bold: Any) -> int:
    """One sheet per kind that has rows, each with a native line chart of minimum, average
    and maximum per channel (series referencing the sheet's columns F-H, categories D).
    Returns the number of sheets written."""
    written = 0
    for title, _key, _parts in KINDS:
        mine = [r for r in rows if r.kind == title]
        if not mine:
            continue
        name = _(title)                      # the sheet a person reads, in their language
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, [_(h) for h in MEASURE_HEADER], bold)
        ws.set_column(0, 1, 18)
        ws.set_column(2, 3, 22)
        ws.set_column(4, 8, 11)
        for r, row in enumerate(mine, start=1):
            ws.write_row(r, 0, row.cells())
        n = len(mine)
        chart = wb.add_chart({"type": "line"})
        for col in (5, 6, 7):
            chart.add_series({"name": [name, 0, col], "categories": [name, 1, 3, n, 3],
                              "values": [name, 1, col, n, col], "marker": {"type": "circle"}})
        unit = mine[0].unit
        chart.set_title({"name": _("{kind} per channel ({unit})").format(kind=name, unit=unit)
                         if unit else name})
        chart.set_y_axis({"name": unit or name})
        chart.set_size({"width": 720, "height": 360})
        ws.insert_chart(1, len(MEASURE_HEADER) + 1, chart)
        written += 1
    return written
