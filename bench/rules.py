"""Benchmark: rule evaluation time per sweep on 100 full PDUs.

Starts a controller in-process on N simulated full PDUs (``equipment="full"``: every
PDU a 3P 32 A model with 24 metered outlets and four sensor channels, ~370 channels
each), lets it sweep, and times ``AlarmService.on_sweep`` (the evaluation the poller
runs at the end of every sweep) in three rule sets:

* ``default``: the shipped rules (phase, branch, residual current, unreachable, stale,
  ring): ~1,000 watched channels;
* ``element-totals``: the same plus a room of 5 rows of 4 racks holding the PDUs, with a
  rule on each element's own totals (current per phase and total: 104 more watches,
  26 aggregates per sweep);
* ``every-channel``: one all-PDU rule per quantity with thresholds far from the values,
  so every channel of every PDU is watched (~37,000) and stays in range;
* ``every-channel-alarmed``: the same with outlet voltage over its warning threshold
  (2,400 active alarms being tracked for their peaks every sweep).

Usage: python bench/rules.py [--pdus 100] [--sweeps 30]
Prints figures, last line JSON. Target: ≤ 10 ms per sweep for 100 PDUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enerteg_tui.controller import Controller, ControllerOptions  # noqa: E402
from enerteg_tui.core.permissions import SYSTEM  # noqa: E402
from enerteg_tui.core.quantities import BY_KEY  # noqa: E402

TARGET_MS = 10.0
"""Evaluation budget per sweep for 100 PDUs."""


async def _time_sweeps(c: Controller, sweeps: int) -> dict[str, float]:
    """Run evaluation ``sweeps`` times on the current live state and time each run."""
    c.alarms.on_sweep()  # compile plans first (not a per-sweep cost)
    await c.alarms.flush()
    times = []
    for _ in range(sweeps):
        t0 = time.perf_counter()
        c.alarms.on_sweep()
        times.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(0.9 * (len(times) - 1))], 3),
            "max_ms": round(times[-1], 3), "watched": c.alarms.evaluator.watched(),
            "active_alarms": sum(c.alarms.counts().values())}


async def _element_rules(c: Controller) -> None:
    """A room of 5 rows of 4 racks with the PDUs spread over them, and a rule on every
    element's own totals (current per phase and total, far from the values)."""
    from enerteg_tui.core.structure import Kind

    room = await c.structure.create(SYSTEM, Kind.ROOM, "Bench hall")
    elements = [room]
    racks = []
    for r in range(5):
        row = await c.structure.create(SYSTEM, Kind.ROW, f"Row {r + 1}", room.id)
        elements.append(row)
        for k in range(4):
            racks.append(await c.structure.create(SYSTEM, Kind.RACK, f"Rack {k + 1}", row.id))
    elements += racks
    for i, d in enumerate(c.live.ordered()):
        await c.structure.assign(SYSTEM, d.hex_id, racks[i % len(racks)].id)
    for el in elements:
        await c.rules.create(SYSTEM, {
            "name": f"bench {el.kind.value} {el.id}", "scope": el.kind.value,
            "target": str(el.id), "quantity": "current", "elementTotals": True,
            "minDurationSeconds": 0, "warningAbove": {"enabled": True, "value": 1e9}})


async def main(pdus: int, sweeps: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        c = Controller(ControllerOptions(data_dir=Path(tmp), simulate=pdus, interval=60.0,
                                         bus_latency_ms=0.0, equipment="full",
                                         ssh_enabled=False))
        await c.start()
        await asyncio.wait_for(c.poller.first_sweep_done.wait(), 60)
        await c.poller.stop()  # hold live state still; evaluation is timed on its own
        channels = sum(d.channel_count() for d in c.live.devices.values())
        out: dict[str, object] = {"pdus": pdus, "channels": channels}
        out["default"] = await _time_sweeps(c, sweeps)
        print(f"default rules:        {out['default']}")
        await _element_rules(c)
        out["element-totals"] = await _time_sweeps(c, sweeps)
        print(f"+ element totals:     {out['element-totals']}")
        for key in BY_KEY:
            await c.rules.create(SYSTEM, {
                "name": f"bench {key}", "quantity": key, "minDurationSeconds": 0,
                "warningAbove": {"enabled": True, "value": 1e9},
                "warningBelow": {"enabled": True, "value": -1e9}})
        out["every-channel"] = await _time_sweeps(c, sweeps)
        print(f"every channel:        {out['every-channel']}")
        volt = next(r for r in c.rules.all() if r.name == "bench voltage")
        await c.rules.update(SYSTEM, volt.id, {"component": "o", "warningAbove.value": 200})
        out["every-channel-alarmed"] = await _time_sweeps(c, sweeps)
        print(f"every channel, alarms: {out['every-channel-alarmed']}")
        await c.stop()
    worst = max(float(out[k]["p90_ms"]) for k in ("default", "element-totals", "every-channel",  # type: ignore[index]
                                                   "every-channel-alarmed"))
    out["target_ms"] = TARGET_MS
    out["worst_p90_ms"] = worst
    out["ok"] = worst <= TARGET_MS
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--sweeps", type=int, default=30)
    args = ap.parse_args()
    import logging
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(main(args.pdus, args.sweeps))
    print(json.dumps(result))
