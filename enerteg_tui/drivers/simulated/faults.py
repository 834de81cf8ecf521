"""Fault injection of the simulated ring: the ``sim/`` documents and their injector.

Owns the two pydantic schemas (``sim/_data`` for the ring, ``sim/<hexid>/_data`` per
PDU) and ``SimulatorFaults``, the ``core.faults.FaultInjector`` the topic service
talks to. Invariant: a document is re-validated before it touches the ring, so an
impossible value raises ``Invalid`` naming the key, the value and what is allowed,
and read-only keys (``seed``, ``position``, ``model``) cannot change. Called by the
topic service (through the protocol) and by tests; created by
``driver.SimulatedDriver.fault_injector``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from ...core.errors import Invalid, shown
from .ring import break_problem

if TYPE_CHECKING:
    from collections.abc import Callable

    from .device import SimPdu


class SimulatedRing(Protocol):
    """What the fault documents read and change of a simulated ring (``SimulatedDriver``
    satisfies it; a protocol so this module does not import the driver that uses it)."""

    pdus: int
    ring_breaks: list[int]
    bus_latency_ms: float
    seed: int
    answer_error_rate: float
    clock: Callable[[], float]

    def resize(self, pdus: int) -> None: ...
    def device_ids(self) -> list[str]: ...
    def device(self, hex_id: str) -> SimPdu: ...

__all__ = ["RingDocument", "DeviceDocument", "SimulatorFaults", "MAX_PDUS"]

MAX_PDUS = 1000
"""Largest simulated ring (100 is the product's supported maximum; 1000 is for benchmarks)."""

D = TypeVar("D", bound=BaseModel)


class _Doc(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RingDocument(_Doc):
    """``sim/_data``: the shape of the simulated ring."""

    pdus: int = Field(ge=1, le=MAX_PDUS)
    """Number of PDUs on the ring; growing adds PDUs at the end, shrinking removes them."""
    ring_breaks: list[int] = Field(default_factory=list)
    """Broken databus links; link k joins positions k and k+1, link pdus-1 closes to 0."""
    bus_latency_ms: float = Field(default=2.0, ge=0, le=1000)
    """Time one query occupies the serial databus, in milliseconds."""
    answer_error_rate: float = Field(default=0.001, ge=0, le=1)
    """Share of poll answers that arrive garbled (the poller repeats the query)."""
    seed: int = 0
    """Seed of the ring's hardware and noise (read-only)."""

    @field_validator("ring_breaks")
    @classmethod
    def _breaks_exist(cls, value: list[int], info: ValidationInfo) -> list[int]:
        pdus = info.data.get("pdus")
        if pdus is not None:  # else ``pdus`` itself failed and is reported
            problem = break_problem(pdus, value)
            if problem:
                raise ValueError(problem)
        return sorted(value)


class DeviceDocument(_Doc):
    """``sim/<hexid>/_data``: the faults of one simulated PDU."""

    reachable: bool = True
    """False: the PDU stops answering on the bus (absent from discovery, polls time out)."""
    load_factor: float = Field(default=1.0, ge=0, le=10)
    """Multiplier on every outlet's load; 2.0 doubles the current."""
    powered: bool = True
    """False: power loss. The PDU goes silent; its power-up mode applies when it returns."""
    temperature_offset: float = Field(default=0.0, ge=-20, le=40)
    """Degrees Celsius added to the PDU's temperature sensors."""
    residual_current_ma: float | None = Field(default=None, ge=0, le=1000)
    """Forced residual current in mA, or null for the natural few mA."""
    sensors_disconnected: list[int] = Field(default_factory=list, max_length=64)
    """Numbers of sensors unplugged from the PDU: known, no value (manual §8.4)."""
    blinking: bool = False
    """Whether the display is blinking after an identify command (read-only status)."""
    led_ring: str = Field(default="green", max_length=8)
    """LED ring colour: blue during a firmware update and its reboot, else green (status)."""
    position: int = 0
    """Ring position (read-only)."""
    model: str = ""
    """PDU type name (read-only)."""


def _revalidate(schema: type[D], doc: BaseModel | dict[str, Any], what: str) -> D:
    """``doc`` checked against ``schema`` again; errors become ``Invalid``."""
    data = doc.model_dump(by_alias=True) if isinstance(doc, BaseModel) else doc
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"]) or "document"
        value = err.get("input")
        raise Invalid(f"{what}: {key} = {shown(value)} is not allowed: {err['msg']}",
                      thing=key, value=value, allowed=err["msg"]) from None


def _read_only(what: str, key: str, current: Any, new: Any) -> None:
    if new != current:
        raise Invalid(f"{what}: {key} is read-only (is {current!r}, got {shown(new)})",
                      thing=key, value=new, allowed=f"the current value {current!r}")


class SimulatorFaults:
    """The ``FaultInjector`` of one ``SimulatedDriver``.

    Args:
        driver: the simulated ring the documents describe and change.
    """

    def __init__(self, driver: SimulatedRing) -> None:
        self._driver = driver

    def ring_schema(self) -> type[BaseModel]:
        """Schema of ``sim/_data``: ``pdus``, ``ringBreaks``, ``busLatencyMs``, ``seed``."""
        return RingDocument

    def ring_document(self) -> RingDocument:
        """Current ``sim/_data``."""
        d = self._driver
        return RingDocument(pdus=d.pdus, ring_breaks=list(d.ring_breaks),
                            bus_latency_ms=d.bus_latency_ms,
                            answer_error_rate=d.answer_error_rate, seed=d.seed)

    def apply_ring(self, doc: BaseModel) -> None:
        """Grow or shrink the ring, break or mend links, change the bus latency.

        Raises:
            Invalid: a value out of range, a link that does not exist, a changed seed.
        """
        new = _revalidate(RingDocument, doc, "sim")
        d = self._driver
        _read_only("sim", "seed", d.seed, new.seed)
        d.resize(new.pdus)
        d.ring_breaks = list(new.ring_breaks)
        d.bus_latency_ms = new.bus_latency_ms
        d.answer_error_rate = new.answer_error_rate

    def device_schema(self) -> type[BaseModel]:
        """Schema of ``sim/<hexid>/_data``: ``reachable``, ``loadFactor``, ``powered``, ..."""
        return DeviceDocument

    def device_ids(self) -> list[str]:
        """Hex ids of every simulated PDU, reachable or not, in ring order."""
        return self._driver.device_ids()

    def device_document(self, hex_id: str) -> DeviceDocument:
        """Current ``sim/<hexid>/_data``.

        Raises:
            NotFound: no PDU with that hex id on the ring.
        """
        pdu = self._driver.device(hex_id)
        return DeviceDocument(
            reachable=pdu.reachable, load_factor=pdu.load_factor, powered=pdu.powered,
            temperature_offset=pdu.temperature_offset, residual_current_ma=pdu.residual_ma,
            sensors_disconnected=sorted(pdu.disconnected),
            blinking=pdu.blinking(self._driver.clock()), led_ring=pdu.firmware.led_ring,
            position=pdu.position,
            model=pdu.model.type_name)

    def apply_device(self, hex_id: str, doc: BaseModel) -> None:
        """Apply one PDU's faults. ``blinking`` and ``ledRing`` are status: a written
        value is ignored.

        Raises:
            NotFound: no PDU with that hex id on the ring.
            Invalid: a value out of range, or a changed ``position`` or ``model``.
        """
        what = f"sim/{hex_id}"
        pdu = self._driver.device(hex_id)
        new = _revalidate(DeviceDocument, doc, what)
        _read_only(what, "position", pdu.position, new.position)
        _read_only(what, "model", pdu.model.type_name, new.model)
        known = [n for n, t in enumerate(pdu.sensors, start=1) if t.value != "removed"]
        bad = [n for n in new.sensors_disconnected if n not in known]
        if bad:
            raise Invalid(f"{what}: sensorsDisconnected = {bad} is not allowed: the PDU's "
                          f"sensors are {known or 'none'}", thing="sensorsDisconnected",
                          value=bad, allowed=", ".join(map(str, known)) or "none")
        pdu.reachable = new.reachable
        pdu.load_factor = new.load_factor
        pdu.temperature_offset = new.temperature_offset
        pdu.residual_ma = new.residual_current_ma
        pdu.disconnected = set(new.sensors_disconnected)
        pdu.set_powered(new.powered)
        self._driver.memory_changed()  # relay states kept over a power cut
