"""The simulated databus ring: the embedded default driver.

Exports ``SimulatedDriver``, a seeded ring of 1–1000 simulated PDUs behind one serial
bus, with realistic loads, ring breaks, switching with power-up modes, persistence of
the PDUs' own memory and runtime fault injection (``sim/`` topic). Modules, by layer:
``catalogue`` (PDU models, serials, identification, default settings), ``ring``
(topology and breaks), ``physics`` (electrical and sensor values), ``switching``
(relays, delays, power-up modes), ``device`` (one PDU), ``faults`` (``sim/``
schemas and injector), ``state`` (the memory file), ``driver`` (the bus and the
``Driver`` contract). Invariant: importing this package starts nothing. Imported by
``Controller._build_driver``; see ``docs/simulator.md``.
"""

from __future__ import annotations

from .driver import SimulatedDriver
from .faults import DeviceDocument, RingDocument

__all__ = ["SimulatedDriver", "RingDocument", "DeviceDocument"]
