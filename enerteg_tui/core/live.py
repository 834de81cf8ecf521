"""Live state: the latest value of every channel, and what the core knows of each device.

The poller is the only writer; every face reads. A device keeps its last values when
it goes stale (flagged, not erased); values are erased only when the device becomes
unreachable. ``apply_sample`` returns the component instances whose values changed so
the event bus tells subscribers only about those.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .diagnostics import BusStats
from .model import (
    DeviceInfo,
    DeviceSample,
    DeviceState,
    GroupKey,
    OutletState,
    RingState,
)
from .quantities import Component

__all__ = ["DeviceLive", "BusHealth", "LiveState"]


@dataclass(slots=True)
class DeviceLive:
    """Everything live about one device."""

    info: DeviceInfo
    state: DeviceState = DeviceState.RUNNING
    groups: dict[GroupKey, dict[str, float]] = field(default_factory=dict)
    """Latest values by component instance, then quantity key."""
    group_ts: dict[GroupKey, float] = field(default_factory=dict)
    """Wall-clock time (s) of the reading each component instance's values come from."""
    outlet_states: dict[int, OutletState] = field(default_factory=dict)
    pending_outlets: dict[int, OutletState] = field(default_factory=dict)
    """Outlets switched by a user whose new state the PDU has not reported yet."""
    branch_tripped: dict[int, bool] = field(default_factory=dict)
    last_ok_at: float | None = None
    """Wall-clock time of the last successful poll."""
    missed: int = 0
    """Consecutive sweeps without an answer."""
    errors: int = 0
    """Failed polls since start."""
    last_error: str = ""
    latency_ms: float = 0.0
    """Duration of the last poll of this device."""
    polls: int = 0
    diag: BusStats = field(default_factory=BusStats)
    """Bus statistics the poller measures (``sensor/<hexid>/diag``)."""

    @property
    def stale(self) -> bool:
        """True when the values shown are not current."""
        return self.state is not DeviceState.RUNNING

    @property
    def hex_id(self) -> str:
        return self.info.hex_id

    def value(self, component: Component, index: int, quantity: str) -> float | None:
        """One channel's latest value, or None."""
        group = self.groups.get((component, index))
        return None if group is None else group.get(quantity)

    def channel_count(self) -> int:
        """Number of channels with a value."""
        return sum(len(g) for g in self.groups.values())


@dataclass(slots=True)
class BusHealth:
    """Health of the databus as the poller sees it (topic ``sensor/driver_system``)."""

    driver: str = ""
    driver_state: str = "init"
    ring_state: RingState = RingState.CLOSED
    breaks: list[int] = field(default_factory=list)
    interval_s: float = 5.0
    sweeps: int = 0
    overruns: int = 0
    """Sweeps that took longer than the interval (the next slot was skipped)."""
    last_sweep_at: float | None = None
    last_sweep_ms: float = 0.0
    recent_sweep_ms: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    discovery_errors: int = 0

    def sweep_percentile(self, pct: float) -> float:
        """Percentile of the recent sweep durations in ms (0 when none)."""
        data = sorted(self.recent_sweep_ms)
        if not data:
            return 0.0
        k = min(len(data) - 1, max(0, round(pct / 100 * (len(data) - 1))))
        return data[k]


class LiveState:
    """The latest known state of every device on the ring, keyed by hex id.

    Devices are kept in ring order. ``devices`` is read by faces; only the poller
    (and device services reflecting a settings write) change it.
    """

    def __init__(self) -> None:
        self.devices: dict[str, DeviceLive] = {}
        self.bus = BusHealth()

    def get(self, hex_id: str) -> DeviceLive | None:
        """The device's live record, or None."""
        return self.devices.get(hex_id)

    def ordered(self) -> list[DeviceLive]:
        """Devices in ring order."""
        return sorted(self.devices.values(), key=lambda d: (d.info.position, d.hex_id))

    def upsert_info(self, info: DeviceInfo) -> tuple[DeviceLive, bool]:
        """Add or refresh a device's static info; returns (record, is_new)."""
        live = self.devices.get(info.hex_id)
        if live is None:
            live = DeviceLive(info=info)
            self.devices[info.hex_id] = live
            return live, True
        live.info = info
        return live, False

    @staticmethod
    def apply_sample(live: DeviceLive, sample: DeviceSample) -> set[GroupKey]:
        """Store a sample's values; returns the component instances whose values changed."""
        changed: set[GroupKey] = set()
        groups = live.groups
        ts = live.group_ts
        for key, values in sample.groups.items():
            if groups.get(key) != values:
                groups[key] = values
                changed.add(key)
            ts[key] = sample.taken_at
        if len(groups) != len(sample.groups):
            for key in [k for k in groups if k not in sample.groups]:
                del groups[key]
                ts.pop(key, None)
                changed.add(key)
        if live.outlet_states != sample.outlet_states:
            live.outlet_states = dict(sample.outlet_states)
            changed.add((Component.OUTLET, 0))
        for n, state in list(live.pending_outlets.items()):
            if sample.outlet_states.get(n) == state:
                del live.pending_outlets[n]
        live.branch_tripped = sample.branch_tripped
        return changed
