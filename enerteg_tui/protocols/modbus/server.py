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
- ``_Handler.handle_later`` starts the request as a task (pymodbus wakes its own loop
  through the self-pipe for every request).
- ``_Pacer``: while the poller sweeps, requests take a small share of the loop (one at a
  time, each followed by a pause), so the sweep keeps its cadence under load.
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
        if len(server.active_connections) > server.max_connections:
            server.refused += 1
            if server.refused == 1 or server.refused % 100 == 0:
                log.warning("Modbus: connection from %s refused: %d connections open "
                            "(the limit; %d refused so far)", self.peer,
                            server.max_connections, server.refused)
            self.close()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        super().data_received(data)

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
        task = asyncio.ensure_future(self.handle_request())
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def handle_request(self) -> None:
        CLIENT.set(getattr(self, "peer", ""))
        pacer: _Pacer = self.server.pacer
        if not pacer.poller.sweeping and not pacer.lock.locked():
            await super().handle_request()
            return
        await pacer.run(super().handle_request)


SWEEP_SHARE = 0.03
"""Share of the loop the paced part of Modbus requests takes while the poller sweeps.
Receiving and decoding a request happen before the pacer and are not counted, so the
real share is about twice this. bench/modbus.py (100 full PDUs at 1 s, 20 clients):
0.1 gave 7.1k requests/s but the sweep p99 286 -> 387 ms; 0.03 gives 6.4k requests/s,
p99 9.3 ms, sweep p99 291 -> 297 ms; 0.01 5.9k requests/s, sweep p99 unchanged."""


class _Pacer:
    """While a sweep runs, requests are answered one at a time, each followed by a pause
    of (1 - SWEEP_SHARE) / SWEEP_SHARE times its own cost, so the sweep keeps its cadence
    under any client load; outside sweeps they run at once."""

    def __init__(self, poller: Any) -> None:
        self.poller = poller
        self.lock = asyncio.Lock()
        self.not_before = 0.0

    async def run(self, handle: Any) -> None:
        async with self.lock:
            delay = self.not_before - time.monotonic()
            if self.poller.sweeping and delay > 0:
                await asyncio.sleep(delay)
            started = time.perf_counter()
            await handle()
            if self.poller.sweeping:
                cost = time.perf_counter() - started
                self.not_before = time.monotonic() + cost * (1 - SWEEP_SHARE) / SWEEP_SHARE


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
        step = max(0.05, min(1.0, self.idle_timeout / 4))
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for conn in list(self.active_connections.values()):
                if now - getattr(conn, "last_active", now) > self.idle_timeout:
                    conn.close()

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for task in list(self.tasks):               # requests still waiting for the pacer
            task.cancel()
        await self.shutdown()
        with contextlib.suppress(OSError):
            self._sock.close()

