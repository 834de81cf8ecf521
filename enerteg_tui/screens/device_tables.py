"""Rows of the device view's live tables (manual §8.3–8.4): inputs, outlets, branches, sensors.

Pure functions from a device's live record to ``LiveTable`` rows, so the device view
can rebuild only the rows of the component instances that changed and let the table
repaint only those that differ. Each value cell carries its ``ChannelKey`` so that
enter on it opens the channel's chart. Units and precision come from the catalogue.
"""

from __future__ import annotations

from rich.text import Text

from ..core.live import DeviceLive
from ..core.i18n import _
from ..core.quantities import BY_KEY, ChannelKey, Component
from .cells import outlet_state_text, value
from .livetable import Column, Row
from .queries import THRESHOLD

__all__ = [
    "BRANCH_COLUMNS",
    "IDENT_COLUMNS",
    "INPUT_ROWS",
    "OUTLET_COLUMNS",
    "SENSOR_COLUMNS",
    "branch_row",
    "ident_rows",
    "input_columns",
    "input_rows",
    "outlet_row",
    "sensor_row",
]

INPUT_ROWS: tuple[tuple[str, bool], ...] = (
    ("voltage", False),
    ("voltagePeak", False),
    ("current", True),
    ("currentPeak", True),
    ("activePower", True),
    ("apparentPower", True),
    ("reactivePower", True),
    ("powerFactor", True),
    ("energy", True),
    ("frequency", False),
    ("neutralCurrent", True),
    ("residualCurrent", True),
)
"""Input table rows (manual fig. 35): quantity and whether the PDU has a total for it."""

_PHASE_ONLY_TOTALS = {"neutralCurrent", "residualCurrent"}
"""Quantities that exist only as totals (no per-phase value)."""

Alarmed = dict[ChannelKey, str]
"""Channels in alarm and their severity (``queries.alarmed_channels``)."""

ALARM_STYLE = {"Critical": "bold white on red", "Warning": "bold black on yellow"}
"""A channel in alarm takes the alarm colour (manual §8.3)."""


def _cell(key: ChannelKey, live: DeviceLive, alarmed: Alarmed | None) -> str | Text:
    """A value cell, in the alarm colour (with a mark that survives no-colour) if alarmed;
    a channel a rule watches carries a ◆."""
    text = value(key.quantity, live.value(key.component, key.index, key.quantity))
    sev = alarmed.get(key) if alarmed else None
    if sev is None:
        return text
    if sev == THRESHOLD:                      # watched by a rule: a quiet icon
        return Text.assemble(("◆", "dim"), text)
    return Text(("✖" if sev == "Critical" else "▲") + text, style=ALARM_STYLE.get(sev, "bold"))


def input_columns(live: DeviceLive) -> list[Column]:
    """Parameter, Total and one column per input phase (named as configured)."""
    names = live.info.settings.input_names
    cols = [Column("param", "Parameter", 16, "left"), Column("total", "Total", 12)]
    for n in range(1, live.info.model.phases + 1):
        label = names[n - 1] if n <= len(names) else f"L{n}"
        cols.append(Column(f"L{n}", label, 12))
    return cols


def input_rows(live: DeviceLive, alarmed: Alarmed | None = None) -> list[Row]:
    """One row per input quantity, with the total and each phase."""
    rows = []
    for key, has_total in INPUT_ROWS:
        cells: dict[str, str | Text] = {"param": _(BY_KEY[key].label)}
        channels: dict[str, ChannelKey] = {}
        if has_total:
            channels["total"] = ChannelKey(Component.TOTAL, 0, key)
            cells["total"] = _cell(channels["total"], live, alarmed)
        else:
            cells["total"] = ""
        if key not in _PHASE_ONLY_TOTALS:
            for n in range(1, live.info.model.phases + 1):
                channels[f"L{n}"] = ChannelKey(Component.INPUT, n, key)
                cells[f"L{n}"] = _cell(channels[f"L{n}"], live, alarmed)
        rows.append(Row(key=key, cells=cells, channels=channels))
    return rows


OUTLET_COLUMNS = (
    Column("n", "#", 2),
    Column("name", "Name", 12, "left"),
    Column("state", "State", 9, "left"),
    Column("type", "Type", 4, "left"),
    Column("branch", "Br", 4, "left"),
    Column("phase", "Ph", 3, "left"),
    Column("current", "A", 7),
    Column("activePower", "W", 9),
    Column("voltage", "V", 8),
    Column("apparentPower", "VA", 10),
    Column("reactivePower", "var", 11),
    Column("powerFactor", "PF", 5),
    Column("energy", "kWh", 12),
    Column("apparentEnergy", "kVAh", 13),
    Column("currentPeak", "A peak", 7),
    Column("crestFactor", "CF", 4),
)
"""Outlet table (manual §8.3): state early so it is visible at 80 columns."""


def outlet_row(live: DeviceLive, n: int, alarmed: Alarmed | None = None) -> Row:
    """One outlet: name, state (or pending), type, branch, phase and its values."""
    info = live.info
    model = info.model
    names = info.settings.outlets
    name = names[n - 1].name if n <= len(names) else f"Outlet # {n}"
    branch = model.outlet_branch[n - 1] if n <= len(model.outlet_branch) else 0
    phase = model.outlet_phase[n - 1] if n <= len(model.outlet_phase) else 1
    bnames = info.settings.branch_names
    cells: dict[str, str | Text] = {
        "n": str(n),
        "name": name,
        "state": outlet_state_text(live, n),
        "type": "sw" if model.switchable else ("met" if model.metered_outlets else "—"),
        "branch": (bnames[branch - 1] if 0 < branch <= len(bnames) else f"BR{branch}") if branch else "",
        "phase": f"L{phase}",
    }
    channels: dict[str, ChannelKey] = {}
    if model.metered_outlets:
        for col in OUTLET_COLUMNS[6:]:
            channels[col.key] = ChannelKey(Component.OUTLET, n, col.key)
            cells[col.key] = _cell(channels[col.key], live, alarmed)
    return Row(key=n, cells=cells, channels=channels)


BRANCH_COLUMNS = (
    Column("n", "#", 2),
    Column("name", "Name", 8, "left"),
    Column("phase", "Ph", 3, "left"),
    Column("current", "A", 7),
    Column("voltage", "V", 8),
    Column("activePower", "W", 9),
    Column("apparentPower", "VA", 10),
    Column("reactivePower", "var", 11),
    Column("powerFactor", "PF", 5),
    Column("energy", "kWh", 12),
    Column("max", "Max A", 5),
    Column("trip", "Trip", 8, "left"),
)
"""Branch (circuit breaker) table (manual fig. 36)."""


def branch_row(live: DeviceLive, n: int, alarmed: Alarmed | None = None) -> Row:
    """One branch with its values, rating and trip state."""
    info = live.info
    names = info.settings.branch_names
    phases = info.model.branch_phase
    tripped = live.branch_tripped.get(n, False)
    cells: dict[str, str | Text] = {
        "n": str(n),
        "name": names[n - 1] if n <= len(names) else f"BR{n}",
        "phase": f"L{phases[n - 1]}" if n <= len(phases) else "",
        "max": f"{info.model.branch_rating_a:g} A",
        "trip": Text(_("TRIPPED"), style="bold red") if tripped else Text(_("Inactive")),
    }
    channels: dict[str, ChannelKey] = {}
    for col in BRANCH_COLUMNS[3:10]:
        channels[col.key] = ChannelKey(Component.BRANCH, n, col.key)
        cells[col.key] = _cell(channels[col.key], live, alarmed)
    return Row(key=n, cells=cells, channels=channels)


SENSOR_COLUMNS = (
    Column("n", "#", 2),
    Column("name", "Name", 16, "left"),
    Column("type", "Type", 12, "left"),
    Column("value", "Value", 10),
)
"""Environment sensor table (manual fig. 37)."""


def sensor_row(live: DeviceLive, n: int, alarmed: Alarmed | None = None) -> Row:
    """One sensor: name, identified type and value."""
    info = live.info
    names = info.settings.sensor_names
    stype = info.sensors[n - 1] if n <= len(info.sensors) else None
    group = live.groups.get((Component.SENSOR, n), {})
    key = next(iter(group), None)
    cells: dict[str, str | Text] = {
        "n": str(n),
        "name": names[n - 1] if n <= len(names) else f"Sensor {n}",
        "type": stype.value.capitalize() if stype else "Unknown",
        "value": _cell(ChannelKey(Component.SENSOR, n, key), live, alarmed) if key else "—",
    }
    channels = {"value": ChannelKey(Component.SENSOR, n, key)} if key else {}
    return Row(key=n, cells=cells, channels=channels)


IDENT_COLUMNS = (Column("param", "Parameter", 22, "left"), Column("value", "Value", 30, "left"))
"""Identification table: read-only values (manual §8.6)."""


def ident_rows(live: DeviceLive) -> list[Row]:
    """The manual's identification list plus the PDU type's hardware."""
    i = live.info.identification
    m = live.info.model
    pairs = (
        ("Serial number", i.serial), ("Hex id", i.hex_id), ("Part number", i.part_number),
        ("Product ID", i.product_id), ("Firmware version", i.firmware_version),
        ("Hardware version", i.hardware_version), ("Hardware address", i.mac),
        ("Voltage rating", i.voltage_rating), ("Form factor", i.form_factor),
        ("Data model", i.data_model), ("Sales order nr.", i.sales_order),
        ("Software date", i.software_date), ("PDU type", m.type_name),
        ("Phases", str(m.phases)), ("Rated current", f"{m.rating_a:g} A per phase"),
        ("Outlets", (f"{m.outlets} ({'switched' if m.switchable else 'not switched'}, "
                     f"{'metered' if m.metered_outlets else 'not metered'})")),
        ("Branches", f"{m.branches}" + (f" × {m.branch_rating_a:g} A" if m.branches else "")),
        ("Ring position", str(live.info.position)),
        ("Controller module", "yes" if live.info.controller else "no"),
    )
    return [Row(key=k, cells={"param": k, "value": v}) for k, v in pairs]
