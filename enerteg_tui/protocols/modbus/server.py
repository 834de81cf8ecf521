"""pymodbus 3.x's TCP server on the controller's loop, answering from ``ModbusFace``.

Imported only when ``config/modbus`` enables the server (pymodbus costs start-up time).
What we add to pymodbus (its internals are listed in docs/architecture.md):

- ``FaceContext``: a ``ModbusServerContext`` subclass (the "old simulator" path, so units
  can come and go at run time) whose reads and writes go to ``ModbusFace``; an unknown
  unit answers 0x0B by returning the code, coils and discrete inputs 0x01.
- ``_Handler``: the per-connection request handler; it refuses connections over the cap,
  notes the last activity (idle timeout), tells the context the client's address (a
  context variable set around each request, so writes are audited with it) and answers
  an unknown function code with that code | 0x80 (pymodbus says 0x80).
- ``_ReadRequest``/``_ReadInputRequest``: FC03/FC04 whose decode accepts any count, so a
  count of 0 or over 125 answers 0x03 (pymodbus's own answers function 0x80, code 1),
  and whose answers are packed in one call.
- ``_Handler.data_received`` cuts the stream into MBAP frames itself and answers an
  FC03/FC04 frame (the common case) directly: parsed with one ``struct`` call, read
  from the face, packed and written, with no pymodbus framer, PDU objects or task on the
  way. Any other frame (writes, FC43, unknown codes) goes to pymodbus, one at a time, so
  requests pipelined in one segment are all answered, in order; bytes with no valid
  MBAP header go to pymodbus as they are.
- ``_Handler.handle_later`` starts the request as a task (pymodbus wakes its own loop
  through the self-pipe for every request).
- ``_Pacer``: while the poller sweeps, requests are answered in arrival order, one per
  loop turn, so the poller's next step never waits behind more than one request and the
  sweep keeps its cadence; the time the sweep spends waiting for the bus still serves
  requests at full rate.
- FC43 (read device identification) answers the controller's identity for any unit, as
  pymodbus does (one identity per server).
- The listening socket is bound by us, so a port in use is an ``OSError`` we can word.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
)
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

from ...core.waiting import cancel_and_wait, run_every
from .face import DEVICE_FAILURE, ILLEGAL_FUNCTION, ModbusFace
from .regmap import LAYOUT

__all__ = ["FaceContext", "FaceServer"]

log = logging.getLogger(__name__)

CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("modbus_client", default="")
"""Address of the client whose request is being answered."""
ECHO: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("modbus_echo", default=())
"""The value an FC06 request wrote (pymodbus reads it back for the answer)."""


class FaceContext(ModbusServerContext):
    """The server context over the face: no datastore, live values per request."""

    def __init__(self, face: ModbusFace) -> None:   # no super(): no datastore, no warning
        self.face = face
        self.simdevices = []
        self.old_simulator = True
        self._devices = {}

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> Any:
        if func_code in (3, 4):
            try:
                res = self.face.read(device_id, address, count)
            except Exception:
                log.exception("Modbus read of unit %s at %s (%s) failed", device_id, address, count)
                res = DEVICE_FAILURE
        elif func_code == 6:                       # FC06 answers with the value written
            res = list(ECHO.get()[:count]) or [0]
        else:
            res = ILLEGAL_FUNCTION
        return ExcCodes(res) if isinstance(res, int) else res

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Any) -> Any:
        if func_code not in (6, 16):
            return ExcCodes.ILLEGAL_FUNCTION
        words = [int(v) for v in values]
        try:
            code = await self.face.write(device_id, address, words, CLIENT.get())
        except Exception:
            log.exception("Modbus write to unit %s at %s failed", device_id, address)
            return ExcCodes.DEVICE_FAILURE
        if code is not None:
            return ExcCodes(code)
        if func_code == 6:
            ECHO.set(tuple(words))                  # this request's own context
        return None

    def device_ids(self) -> list[int]:
        return [0, 255, *self.face.units()]


class _ReadResponse(ReadHoldingRegistersResponse):
    """FC03 answer encoded in one ``struct.pack`` (pymodbus packs word by word)."""

    def encode(self) -> bytes:
        n = len(self.registers)
        return struct.pack(f">B{n}H", n * 2, *self.registers)


class _ReadInputResponse(ReadInputRegistersResponse):
    """FC04 answer, as ``_ReadResponse``."""

    encode = _ReadResponse.encode


class _ReadRequest(ReadHoldingRegistersRequest):
    """FC03 with a lenient decode: the count is checked when answering (0x03)."""

    response: type[ReadHoldingRegistersResponse] = _ReadResponse

    def decode(self, data: bytes) -> None:
        self.address, self.count = struct.unpack(">HH", data[:4])

    async def datastore_update(self, context: Any, device_id: int) -> Any:
        values = await context.async_getValues(device_id, self.function_code, self.address,
                                               self.count)
        if isinstance(values, ExcCodes):
            return ExceptionResponse(self.function_code, values)
        return self.response(registers=values, dev_id=device_id,
                             transaction_id=self.transaction_id)


class _ReadInputRequest(ReadInputRegistersRequest):
    """FC04 with a lenient decode, as ``_ReadRequest``."""

    response: type[ReadHoldingRegistersResponse] = _ReadInputResponse
    decode = _ReadRequest.decode
    datastore_update = _ReadRequest.datastore_update


class _Handler(ServerRequestHandler):
    """One client connection: cap, idle time and the client's address."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        server: FaceServer = self.server
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer = str(peer[0])
        self.last_active = time.monotonic()
        self._frames = b""
        """Received bytes not yet taken as frames (a frame split over segments)."""
        self._in_pymodbus = False
        """A frame is with pymodbus (decoded, not answered yet): the next ones wait."""
        if len(server.active_connections) > server.max_connections:
            server.refused += 1
            if server.refused == 1 or server.refused % 100 == 0:
                log.warning("Modbus: connection from %s refused: %d connections open "
                            "(the limit; %d refused so far)", self.peer,
                            server.max_connections, server.refused)
            self.close()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self._frames = self._frames + data if self._frames else data
        self._next_frames()

    def _next_frames(self) -> None:
        """Take the complete frames received so far, in order: a read (FC03/FC04, 12
        bytes) is answered here; anything else goes to pymodbus one frame at a time, and
        the frames after it wait until it is answered (pymodbus keeps one request per
        connection: a second frame in the same segment was dropped). Bytes that are no
        Modbus TCP header (protocol id not 0, length out of range) go to pymodbus as
        they are, which answers or drops them as before."""
        buf = self._frames
        while buf and not self._in_pymodbus and self.transport is not None:
            if len(buf) < 6:
                break
            length = int.from_bytes(buf[4:6], "big")
            if buf[2:4] != b"\0\0" or not 2 <= length <= 254:
                self._frames = b""
                super().data_received(buf)
                return
            if len(buf) < 6 + length:
                break
            frame, buf = buf[:6 + length], buf[6 + length:]
            if length == 6 and frame[7] in (3, 4):
                tid, unit, fc, address, count = _READ_FRAME.unpack(frame)
                pacer: _Pacer = self.server.pacer
                if pacer.busy():
                    pacer.submit(partial(self._answer_read, tid, unit, fc, address, count))
                else:
                    self._answer_read(tid, unit, fc, address, count)
                continue
            super().data_received(frame)
            self._in_pymodbus = self.last_pdu is not None   # handle_later is on its way
        self._frames = buf

    def _answer_read(self, tid: int, unit: int, fc: int, address: int, count: int) -> None:
        """FC03/FC04 answered straight from the face: the same registers and exception
        codes as through pymodbus, framed here."""
        if self.transport is None:                  # closed while it waited for the pacer
            return
        try:
            res = self.server.context.face.read(unit, address, count)
        except Exception:
            log.exception("Modbus read of unit %s at %s (%s) failed", unit, address, count)
            res = DEVICE_FAILURE
        if isinstance(res, int):
            frame = _EXCEPTION_FRAME.pack(tid, 0, 3, unit, fc | 0x80, res)
        else:
            n = len(res)
            frame = struct.pack(f">HHHBBB{n}H", tid, 0, 3 + 2 * n, unit, fc, 2 * n, *res)
        self.transport.write(frame)

    def callback_data(self, data: bytes, addr: tuple | None = None) -> int:
        # the function code of the frame at hand: pymodbus answers a code it cannot
        # decode with function 0x80; Modbus wants the request's code | 0x80
        self._fc_hint = data[7] & 0x7F if len(data) > 7 else 0
        return super().callback_data(data, addr)

    def server_send(self, pdu: Any, addr: Any) -> None:
        if isinstance(pdu, ExceptionResponse) and pdu.function_code == 0x80:
            pdu.function_code = 0x80 | getattr(self, "_fc_hint", 0)
        super().server_send(pdu, addr)

    def handle_later(self) -> None:
        # pymodbus goes through run_coroutine_threadsafe (a write to the loop's self-pipe
        # per request, from the loop's own thread); a task does the same here
        pacer: _Pacer = self.server.pacer
        if pacer.busy():
            pacer.submit(self.handle_request)
            return
        task = asyncio.ensure_future(self.handle_request())
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def handle_request(self) -> None:
        CLIENT.set(getattr(self, "peer", ""))
        try:
            await super().handle_request()
        finally:
            self._in_pymodbus = False
            if self._frames:
                self._next_frames()             # frames that came meanwhile


_READ_FRAME = struct.Struct(">H4xBBHH")
"""A 12-byte FC03/FC04 request: transaction id, unit, function, address, count."""
_READ_MBAP = b"\x00\x00\x00\x06"
"""Protocol id 0 and length 6: the MBAP header of a read request."""
_EXCEPTION_FRAME = struct.Struct(">HHHBBB")
YIELDS = 2
"""While a sweep runs, a waiting request lets up to this many loop turns go to other
ready callbacks first (the poller's timer, then its step: two turns)."""


class _Pacer:
    """While the poller sweeps, requests wait in one queue and are answered in arrival
    order, one per loop turn: between two of them every step that became ready (the
    poller's next PDU among them) runs, so the sweep is delayed by at most one request
    per step, and while the sweep waits for the bus the requests run at full rate.

    Before (a pause of 32 times each request's cost after it while sweeping, so that
    requests took 3 % of the loop): a request that arrived during a sweep waited 120 ms
    at the median (bench/modbus.py, 100 full PDUs at 1 s, 20 clients; 1.4 % of the
    requests, so they set the p99), though the sweep spends most of its time waiting
    for the bus."""

    def __init__(self, poller: Any) -> None:
        self.poller = poller
        self.queue: deque[Callable[[], Awaitable[None] | None]] = deque()
        self.task: asyncio.Task[None] | None = None

    def busy(self) -> bool:
        """Whether a new request must queue: a sweep runs, or others wait already (a
        client's answers keep their order)."""
        return self.poller.sweeping or bool(self.queue)

    def submit(self, job: Callable[[], Awaitable[None] | None]) -> None:
        self.queue.append(job)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        # CPython's callbacks due in this loop turn (another loop: none seen, one per turn)
        ready = getattr(asyncio.get_running_loop(), "_ready", ())
        while self.queue:
            for _ in range(YIELDS):
                if not ready:
                    break
                await asyncio.sleep(0)  # something else is due (the poller): it goes first
            job = self.queue.popleft()
            try:
                pending = job()
                if pending is not None:
                    await pending
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Modbus: answering a request failed")
            await asyncio.sleep(0)      # one loop turn: the poller's ready step runs

    async def stop(self) -> None:
        """Drop what waits (the server stops)."""
        self.queue.clear()
        await cancel_and_wait(self.task)
        self.task = None


class FaceServer(ModbusTcpServer):
    """pymodbus's TCP server on our socket, with our handler and read requests."""

    def __init__(self, face: ModbusFace, sock: socket.socket, *, max_connections: int,
                 idle_timeout: float) -> None:
        address = sock.getsockname()[:2]
        identity = ModbusDeviceIdentification(info_name={
            "VendorName": "EnerTEG", "ProductCode": "ETEG-RING",
            "MajorMinorRevision": f"map {LAYOUT[0]}.{LAYOUT[1]}",
            "ProductName": "EnerTEG ring controller", "ModelName": "Modbus TCP server"})
        super().__init__(FaceContext(face), address=address, identity=identity,
                         custom_pdu=[_ReadRequest, _ReadInputRequest])
        # pymodbus logs a warning for every frame it cannot decode and an error (with the
        # last 20 frames) for every client that hangs up before its answer: a hostile or
        # careless client would fill the log. The face logs what matters itself (its own
        # failures, refused connections, the port).
        logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.refused = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.pacer = _Pacer(face.core.poller)
        self._sock = sock
        self.call_create = partial(self.loop.create_server, self.handle_new_connection,
                                   sock=sock, start_serving=True)
        self._reaper: asyncio.Task[None] | None = None

    def callback_new_connection(self) -> Any:
        return _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)

    async def start(self) -> None:
        if not await self.listen():
            raise OSError("the listening socket could not be served")
        if self.idle_timeout > 0:
            self._reaper = asyncio.create_task(self._reap(), name="modbus-idle")

    async def _reap(self) -> None:
        await run_every(max(0.05, min(1.0, self.idle_timeout / 4)), self._close_idle,
                        logger=log, failure="Modbus: closing idle connections failed")

    def _close_idle(self) -> None:
        now = time.monotonic()
        for conn in list(self.active_connections.values()):
            if now - getattr(conn, "last_active", now) > self.idle_timeout:
                conn.close()

    async def stop(self) -> None:
        await cancel_and_wait(self._reaper)
        await self.pacer.stop()                     # requests still waiting for the pacer
        for task in list(self.tasks):
            task.cancel()
        await self.shutdown()
        with contextlib.suppress(OSError):
            self._sock.close()

