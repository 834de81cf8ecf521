"""redfish.push: one subscriber's delivery is bounded and never waited on: a listener
that accepts and never answers keeps at most ``queue_limit`` events (the oldest dropped
and counted), and a working listener gets every event in order."""

from __future__ import annotations

import asyncio
import json

from enerteg_tui.protocols.http.redfish.push import Pusher, RetryPolicy, post_json
from tests.helpers import wait_for


async def test_a_listener_that_never_answers_costs_a_bounded_queue() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def mute(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)                               # read nothing, answer nothing

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pusher = Pusher(1, f"http://127.0.0.1:{port}/x", lambda: RetryPolicy(5, 60.0),
                    lambda: None, queue_limit=5)
    try:
        for i in range(20):
            pusher.offer({"Id": str(i)})                 # returns at once every time
        await wait_for(lambda: accepted, timeout=15)     # the first one is being sent
        assert len(pusher.queue) <= 5
        assert pusher.overflowed >= 14
        assert [d["Id"] for d in pusher.queue][-1] == "19"   # the newest are kept
    finally:
        await pusher.close()
        server.close()
        for w in accepted:
            w.close()
        await server.wait_closed()


async def test_events_arrive_in_order_with_their_body() -> None:
    got: list[dict[str, str]] = []

    async def listener(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        got.append(json.loads(await r.readexactly(length)))
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
        w.close()

    server = await asyncio.start_server(listener, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/in"
    pusher = Pusher(2, url, lambda: RetryPolicy(0, 0.0), lambda: None)
    try:
        assert await post_json(url, {"Id": "direct"}, ssl_context=None) == 200
        for i in range(10):
            pusher.offer({"Id": str(i)})
        await wait_for(lambda: pusher.delivered == 10, timeout=15)
        assert [d["Id"] for d in got] == ["direct", *map(str, range(10))]
        assert pusher.given_up == 0 and pusher.overflowed == 0
    finally:
        await pusher.close()
        server.close()
        await server.wait_closed()
