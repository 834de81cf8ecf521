"""``/metrics``: the controller's live state in the Prometheus text format, per scrape.

Why here and why text: a scrape of 100 full PDUs is some 60,000 samples; building a
prometheus_client registry of that many objects per scrape (or keeping one in step with
live state) costs more than writing the exposition text straight from live state, which
is what ``Exposition`` does. The channel families (nearly all of the text) are kept as
bytes from one sweep to the next, so the HTTP route's ``body`` writes only the small
fresh families and answers at once, without giving the loop back mid-scrape (which made
a scrape wait for a sweep's work between families). No library is imported here (tests
and the benchmark call it too).

Names follow Prometheus conventions (docs/http.md): ``enerteg_<component>_<quantity>_
<base unit>``, base units with the catalogue's value scaled (mA → amperes, % → ratio,
kWh → joules), counters end in ``_total``. Every channel carries the labels ``device``
(hex id), ``name``, ``room``, ``row``, ``rack``, ``feed``, ``component``, ``index`` and
``quantity``. Invariant: a PDU that is stale or unreachable contributes no channel
values (absent, never zero or old); its ``enerteg_device_up`` is 0.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...core.model import DeviceState, RingState
from ...core.quantities import BY_KEY, COUNTER_QUANTITIES, Component

__all__ = ["CONTENT_TYPE", "METRIC_UNITS", "MetricUnit", "Exposition", "metric_name",
           "escape_label"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of the Prometheus text format."""


@dataclass(frozen=True, slots=True)
class MetricUnit:
    """How one catalogue quantity is named and scaled in a metric."""

    stem: str
    """The quantity in the metric name (``active_power``)."""
    unit: str
    """The Prometheus base unit suffix (``watts``); empty for none."""
    scale: float = 1.0
    """Catalogue value × scale = value in the base unit."""


METRIC_UNITS: dict[str, MetricUnit] = {
    "voltage": MetricUnit("voltage", "volts"),
    "voltageDip": MetricUnit("voltage_dip", "volts"),
    "voltagePeak": MetricUnit("voltage_peak", "volts"),
    "current": MetricUnit("current", "amperes"),
    "currentPeak": MetricUnit("current_peak", "amperes"),
    "neutralCurrent": MetricUnit("neutral_current", "amperes"),
    "residualCurrent": MetricUnit("residual_current", "amperes", 0.001),
    "activePower": MetricUnit("active_power", "watts"),
    "apparentPower": MetricUnit("apparent_power", "voltamperes"),
    "reactivePower": MetricUnit("reactive_power", "voltamperes_reactive"),
    "powerFactor": MetricUnit("power_factor", "ratio"),
    "energy": MetricUnit("energy", "joules", 3.6e6),
    "apparentEnergy": MetricUnit("apparent_energy", "voltampere_seconds", 3.6e6),
    "frequency": MetricUnit("frequency", "hertz"),
    "thd": MetricUnit("thd", "ratio", 0.01),
    "crestFactor": MetricUnit("crest_factor", "ratio"),
    "temperature": MetricUnit("temperature", "celsius"),
    "humidity": MetricUnit("humidity", "ratio", 0.01),
}
"""Catalogue quantity key → metric stem, base unit and scale (every quantity has one)."""

_COMPONENT_WORD = {c: c.word for c in Component}
_STATES = ("running", "stale", "unreachable")


def metric_name(component: Component, quantity: str) -> str:
    """``enerteg_outlet_current_amperes``; counters end in ``_total``."""
    u = METRIC_UNITS[quantity]
    name = f"enerteg_{component.word}_{u.stem}"
    if u.unit:
        name += f"_{u.unit}"
    return name + ("_total" if quantity in COUNTER_QUANTITIES else "")


def escape_label(value: str) -> str:
    """A label value escaped for the text format (backslash, quote, newline)."""
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _digits(quantity: str) -> int:
    """Decimals that keep the catalogue precision after scaling to the base unit."""
    u = METRIC_UNITS[quantity]
    return max(0, BY_KEY[quantity].precision - round(math.log10(u.scale)))


def _family_help(component: Component, quantity: str) -> str:
    q = BY_KEY[quantity]
    u = METRIC_UNITS[quantity]
    word = component.plural if component is not Component.TOTAL else "PDU totals"
    unit = f" in {u.unit.replace('_', ' ')}" if u.unit else ""
    return f"{q.label} of {word}{unit} (catalogue unit {q.unit or 'none'} x {u.scale:g})"


_FAMILIES: tuple[tuple[Component, str, str, str, str, float, int], ...] = tuple(
    (c, q, metric_name(c, q), _family_help(c, q),
     "counter" if q in COUNTER_QUANTITIES else "gauge", METRIC_UNITS[q].scale, _digits(q))
    for c in Component for q in c.quantities)
"""(component, quantity, metric name, help, type, scale, decimals) of every channel
family, in catalogue order."""


def _fmt(value: float) -> str:
    if value != value:
        return "NaN"
    return repr(float(value))


class Exposition:
    """One controller's exposition text, written from the core's live state.

    Channel values change only when the poller polls, so the channel families (nearly
    all of the text) are kept from one scrape to the next while the sweep count, every
    PDU's state and its labels are unchanged; ``prepare`` builds them right after a
    sweep ends, while the bus is idle (the web server calls it while someone scrapes),
    so a scrape then only sends them. Devices' states, relays, the bus, alarms and the
    process are written fresh on every scrape.

    Args:
        core: the ``CoreServices`` (live, structure, devices, alarms).
        started_at: the process's start time (``process_start_time_seconds``).
    """

    def __init__(self, core: Any, started_at: float | None = None) -> None:
        self.core = core
        self.started_at = started_at
        self.last_scrape = 0.0
        """``time.monotonic()`` of the last scrape (0: never)."""
        self._cache: tuple[tuple[Any, ...], bytes] | None = None

    # ------------------------------------------------------------------ public
    def text(self) -> str:
        """The whole exposition as text (tests, the benchmark)."""
        return b"".join(self.body()).decode()

    def body(self) -> tuple[bytes, bytes]:
        """The whole exposition for one scrape, encoded, in two parts to send in turn:
        the families written fresh (devices' states, relays, bus, alarms, process) and
        the channel families (nearly all of the bytes).

        Built in one go, never yielding to the loop: a scrape that gave the loop back
        between families waited for a sweep's work each time (the slow tail of
        ``/metrics``). The channel families are kept as bytes per sweep, so a scrape
        writes only the small fresh families; the two parts are not joined (no copy of
        megabytes)."""
        self.last_scrape = time.monotonic()
        devices = self.core.live.ordered()
        labels = {d.hex_id: self._device_labels(d) for d in devices}
        fresh = "".join((*self._device_families(devices, labels), self._bus(),
                         self._alarms(), self._process())).encode()
        return fresh, self._channels(devices, labels)

    def chunks(self) -> Iterator[str]:
        """The exposition, one metric family (all its samples) per chunk; the channel
        families built fresh (nothing kept or reused)."""
        self.last_scrape = time.monotonic()
        devices = self.core.live.ordered()
        labels = {d.hex_id: self._device_labels(d) for d in devices}
        yield from self._device_families(devices, labels)
        yield self._bus()
        yield self._alarms()
        yield self._process()
        yield from self._channel_families(devices, labels)

    def _channels(self, devices: list[Any], labels: dict[str, str]) -> bytes:
        """The channel families, kept since the last sweep or built now (and kept)."""
        key = self._key(devices, labels)
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        data = "".join(self._channel_families(devices, labels)).encode()
        self._cache = (key, data)
        return data

    def prepare(self) -> bool:
        """Build the channel families now (after a sweep); False if they were current."""
        devices = self.core.live.ordered()
        labels = {d.hex_id: self._device_labels(d) for d in devices}
        key = self._key(devices, labels)
        if self._cache is not None and self._cache[0] == key:
            return False
        self._channels(devices, labels)
        return True

    def forget(self) -> None:
        """Drop the kept channel families (nobody scrapes: free their memory)."""
        self._cache = None

    def _key(self, devices: list[Any], labels: dict[str, str]) -> tuple[Any, ...]:
        return (self.core.live.bus.sweeps,
                tuple((d.hex_id, d.state, labels[d.hex_id]) for d in devices))

    def _channel_families(self, devices: list[Any], labels: dict[str, str]) -> Iterator[str]:
        """Every channel family of the PDUs that answer, one family per chunk."""
        running_state = DeviceState.RUNNING
        for comp, q, name, help_, kind, scale, digits in _FAMILIES:
            lines = [f"# HELP {name} {help_}\n# TYPE {name} {kind}\n"]
            word = _COMPONENT_WORD[comp]
            tail = f'",quantity="{q}"}} '
            for d in devices:
                if d.state is not running_state:
                    continue
                head = f'{name}{{{labels[d.hex_id]},component="{word}",index="'
                for (c, idx), group in d.groups.items():
                    if c is not comp:
                        continue
                    v = group.get(q)
                    if v is None:
                        continue
                    if scale != 1.0:
                        lines.append(f"{head}{idx}{tail}{v * scale:.{digits}f}\n")
                    else:
                        lines.append(f"{head}{idx}{tail}{_fmt(v)}\n")
            yield "".join(lines)

    # ------------------------------------------------------------------ labels
    def _device_labels(self, d: Any) -> str:
        """``device="…",name="…",room="…",row="…",rack="…",feed="…"`` of one PDU."""
        structure = self.core.structure
        places = structure.places_of(d.hex_id)
        names = {}
        for kind in ("room", "row", "rack"):
            el_id = places.get(kind)
            names[kind] = structure.get(el_id).name if el_id else ""
        s = d.info.settings
        feed = s.feed.value if s.feed.value != "None" else ""
        return (f'device="{d.hex_id}",name="{escape_label(s.name)}",'
                f'room="{escape_label(names["room"])}",row="{escape_label(names["row"])}",'
                f'rack="{escape_label(names["rack"])}",feed="{feed}"')

    # ------------------------------------------------------------------ families
    def _device_families(self, devices: list[Any], labels: dict[str, str]) -> Iterator[str]:
        now = time.time()
        out = ["# HELP enerteg_device_up 1 while the PDU answers the sweeps (its values are "
               "current), 0 while stale or unreachable (its values are left out)\n"
               "# TYPE enerteg_device_up gauge\n"]
        out += [f"enerteg_device_up{{{labels[d.hex_id]}}} "
                f"{1 if d.state is DeviceState.RUNNING else 0}\n" for d in devices]
        out.append("# HELP enerteg_device_state The controller's view of each PDU (1 for "
                   "its state)\n# TYPE enerteg_device_state gauge\n")
        for d in devices:
            mine = d.state.value.lower()
            out += [f'enerteg_device_state{{device="{d.hex_id}",state="{s}"}} '
                    f'{1 if s == mine else 0}\n' for s in _STATES]
        out.append("# HELP enerteg_device_polls_total Polls of the PDU since start\n"
                   "# TYPE enerteg_device_polls_total counter\n")
        out += [f'enerteg_device_polls_total{{device="{d.hex_id}"}} {d.polls}\n'
                for d in devices]
        out.append("# HELP enerteg_device_poll_errors_total Failed polls of the PDU since "
                   "start\n# TYPE enerteg_device_poll_errors_total counter\n")
        out += [f'enerteg_device_poll_errors_total{{device="{d.hex_id}"}} {d.errors}\n'
                for d in devices]
        out.append("# HELP enerteg_device_poll_duration_seconds Duration of the PDU's last "
                   "poll\n# TYPE enerteg_device_poll_duration_seconds gauge\n")
        out += [f'enerteg_device_poll_duration_seconds{{device="{d.hex_id}"}} '
                f'{d.latency_ms / 1000:.6f}\n' for d in devices]
        out.append("# HELP enerteg_device_data_age_seconds Seconds since the PDU last "
                   "answered a poll\n# TYPE enerteg_device_data_age_seconds gauge\n")
        out += [f'enerteg_device_data_age_seconds{{device="{d.hex_id}"}} '
                f'{max(0.0, now - d.last_ok_at):.3f}\n' for d in devices
                if d.last_ok_at is not None]
        yield "".join(out)
        out = ["# HELP enerteg_outlet_relay_on Relay of a switched outlet: 1 on, 0 off "
               "(current PDUs only)\n# TYPE enerteg_outlet_relay_on gauge\n"]
        for d in devices:
            if d.state is not DeviceState.RUNNING or not d.info.model.switchable:
                continue
            head = f'enerteg_outlet_relay_on{{{labels[d.hex_id]},component="outlet",index="'
            for idx, st in sorted(d.outlet_states.items()):
                out.append(f'{head}{idx}"}} {1 if st.value == "on" else 0}\n')
        yield "".join(out)

    def _bus(self) -> str:
        bus = self.core.live.bus
        devices = self.core.live.devices.values()
        counts = {s: 0 for s in _STATES}
        for d in devices:
            counts[d.state.value.lower()] += 1
        out = [
            "# HELP enerteg_bus_sweeps_total Sweeps of the ring since start\n"
            "# TYPE enerteg_bus_sweeps_total counter\n"
            f"enerteg_bus_sweeps_total {bus.sweeps}\n",
            "# HELP enerteg_bus_overruns_total Sweeps longer than the interval (a slot "
            "skipped)\n# TYPE enerteg_bus_overruns_total counter\n"
            f"enerteg_bus_overruns_total {bus.overruns}\n",
            "# HELP enerteg_bus_discovery_errors_total Failed discoveries of the ring\n"
            "# TYPE enerteg_bus_discovery_errors_total counter\n"
            f"enerteg_bus_discovery_errors_total {bus.discovery_errors}\n",
            "# HELP enerteg_bus_sweep_interval_seconds Configured time between sweeps\n"
            "# TYPE enerteg_bus_sweep_interval_seconds gauge\n"
            f"enerteg_bus_sweep_interval_seconds {bus.interval_s:g}\n",
            "# HELP enerteg_bus_last_sweep_duration_seconds Duration of the last sweep\n"
            "# TYPE enerteg_bus_last_sweep_duration_seconds gauge\n"
            f"enerteg_bus_last_sweep_duration_seconds {bus.last_sweep_ms / 1000:.6f}\n",
            "# HELP enerteg_bus_recent_sweep_duration_seconds Percentile of the last 120 "
            "sweeps' durations\n# TYPE enerteg_bus_recent_sweep_duration_seconds gauge\n",
            *(f'enerteg_bus_recent_sweep_duration_seconds{{percentile="{p}"}} '
              f"{bus.sweep_percentile(p) / 1000:.6f}\n" for p in (50, 99)),
            "# HELP enerteg_bus_ring_state State of the databus ring (1 for the current "
            "one)\n# TYPE enerteg_bus_ring_state gauge\n",
            *(f'enerteg_bus_ring_state{{state="{r.value}"}} '
              f"{1 if bus.ring_state is r else 0}\n" for r in RingState),
            "# HELP enerteg_bus_ring_breaks Breaks in the ring now\n"
            "# TYPE enerteg_bus_ring_breaks gauge\n"
            f"enerteg_bus_ring_breaks {len(bus.breaks)}\n",
            "# HELP enerteg_bus_devices PDUs on the ring by state\n"
            "# TYPE enerteg_bus_devices gauge\n",
            *(f'enerteg_bus_devices{{state="{s}"}} {n}\n' for s, n in counts.items()),
            "# HELP enerteg_bus_driver_info The driver and its state (always 1)\n"
            "# TYPE enerteg_bus_driver_info gauge\n"
            f'enerteg_bus_driver_info{{driver="{escape_label(bus.driver)}",'
            f'state="{escape_label(bus.driver_state)}"}} 1\n',
        ]
        if bus.last_sweep_at is not None:
            out.append("# HELP enerteg_bus_last_sweep_timestamp_seconds End of the last "
                       "sweep (Unix time)\n"
                       "# TYPE enerteg_bus_last_sweep_timestamp_seconds gauge\n"
                       f"enerteg_bus_last_sweep_timestamp_seconds {bus.last_sweep_at:.3f}\n")
        return "".join(out)

    def _alarms(self) -> str:
        counts = {"warning": 0, "critical": 0}
        unacked = 0
        for a in self.core.alarms.active():
            key = a.severity.lower()
            counts[key] = counts.get(key, 0) + 1
            unacked += 0 if a.acked else 1
        out = ["# HELP enerteg_alarms_active Active alarms by severity\n"
               "# TYPE enerteg_alarms_active gauge\n"]
        out += [f'enerteg_alarms_active{{severity="{s}"}} {n}\n' for s, n in counts.items()]
        out.append("# HELP enerteg_alarms_unacknowledged Active alarms nobody acknowledged\n"
                   "# TYPE enerteg_alarms_unacknowledged gauge\n"
                   f"enerteg_alarms_unacknowledged {unacked}\n")
        return "".join(out)

    def _process(self) -> str:
        out: list[str] = []
        try:
            with open("/proc/self/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            tick = os.sysconf("SC_CLK_TCK")
            page = os.sysconf("SC_PAGE_SIZE")
            cpu = (int(fields[11]) + int(fields[12])) / tick
            out += [
                "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                "seconds.\n# TYPE process_cpu_seconds_total counter\n"
                f"process_cpu_seconds_total {cpu:.2f}\n",
                "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                "# TYPE process_virtual_memory_bytes gauge\n"
                f"process_virtual_memory_bytes {int(fields[20])}\n",
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                "# TYPE process_resident_memory_bytes gauge\n"
                f"process_resident_memory_bytes {int(fields[21]) * page}\n",
            ]
            fds = len(os.listdir("/proc/self/fd"))
            out.append("# HELP process_open_fds Number of open file descriptors.\n"
                       "# TYPE process_open_fds gauge\n"
                       f"process_open_fds {fds}\n")
        except (OSError, ValueError, IndexError):
            pass                       # not Linux: the portable part below only
        if self.started_at is not None:
            out.append("# HELP process_start_time_seconds Start time of the process since "
                       "unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
                       f"process_start_time_seconds {self.started_at:.3f}\n")
        from ... import __version__
        out.append("# HELP enerteg_build_info The controller's version (always 1)\n"
                   "# TYPE enerteg_build_info gauge\n"
                   f'enerteg_build_info{{version="{__version__}"}} 1\n')
        return "".join(out)
