"""``/events`` (Server-Sent Events) against the real web server: an alarm the simulator
raises (loadFactor) arrives over httpx and over ``curl -N``; the device and element
filters; Last-Event-ID resume from the ring buffer (and a gap event for an id it no
longer has); the sign-in of every web face (an API or session token, Basic over HTTPS
only; metricsToken is /metrics' only); the stream cap; a stalled reader dropped with a
final event while a healthy stream and the poller go on."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from typing import Any

import httpx
import pytest

from enerteg_tui.core.events import Event
from enerteg_tui.core.model import Component
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.structure import Kind
from tests.conftest import ADMIN
from tests.helpers import wait_for
from tests.protocols.test_http import web

pytestmark = pytest.mark.e2e


async def reader_auth(c: Any) -> dict[str, str]:
    """An API token of a readonly user, as /events wants credentials."""
    if "reader" not in {u.name for u in await c.users.list(SYSTEM)}:
        await c.users.add(SYSTEM, "reader", "Events-pass-2026!", ["readonly"])
    reader = await c.users.principal_for("reader", "shell", "")
    _info, text = await c.core.tokens.create(reader, "events", days=1)
    return {"Authorization": f"Bearer {text}"}


class Reader:
    """Reads one SSE stream (httpx) in the background into parsed events."""

    def __init__(self, client: httpx.AsyncClient, url: str, **headers: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.comments: list[str] = []
        self.status = 0
        self.task = asyncio.create_task(self._run(client, url, headers))

    async def _run(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with client.stream("GET", url, headers=headers) as resp:
            self.status = resp.status_code
            current: dict[str, Any] = {}
            async for line in resp.aiter_lines():
                if line.startswith(":"):
                    self.comments.append(line)
                elif not line:
                    if "event" in current:
                        self.events.append(current)
                    current = {}
                else:
                    key, _, value = line.partition(": ")
                    current[key] = json.loads(value) if key == "data" else value

    def alarms(self, change: str = "raised") -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "alarm"
                and e["data"]["change"] == change]

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def overload(c: Any, dev: str) -> None:
    """A warning rule 30 % above the PDU's total current, then the simulator's load up."""
    live = c.live.get(dev)
    base = live.value(Component.TOTAL, 0, "current")
    await c.rules.create(SYSTEM, {
        "name": f"sse-{dev}", "scope": "pdu", "target": dev, "quantity": "current",
        "component": "t", "minDurationSeconds": 0,
        "warningAbove": {"enabled": True, "value": round(base * 1.3, 2)}})
    await c.topics.put(SYSTEM, f"sim/{dev}", {"loadFactor": 1.8})


async def test_alarm_arrives_filtered_and_resumed(make_controller: Any) -> None:
    c, svc = await web(make_controller, pdus=3, insecureEnabled="enabled")
    devs = [d.hex_id for d in c.live.ordered()
            if d.value(Component.TOTAL, 0, "current")][:2]
    a, b = devs
    base = f"http://127.0.0.1:{svc.port}/events"
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10),
                                 headers=await reader_auth(c)) as client:
        every = Reader(client, base)
        only_b = Reader(client, f"{base}?device={b}")
        await wait_for(lambda: len(svc.events_hub.streams) == 2, timeout=15)
        await overload(c, a)
        await wait_for(lambda: every.alarms(), timeout=20)
        first = every.alarms()[0]
        assert first["data"]["device"] == a and first["data"]["severity"] == "Warning"
        assert first["data"]["channel"] == f"{a}/t/0/current"
        await overload(c, b)
        await wait_for(lambda: only_b.alarms(), timeout=20)
        await wait_for(lambda: any(e["data"]["device"] == b for e in every.alarms()),
                       timeout=20)
        # the device filter: b's stream never saw a's alarm
        assert {e["data"]["device"] for e in only_b.alarms()} == {b}
        assert every.status == only_b.status == 200
        # resume: everything after a's raise, from the ring buffer
        resumed = Reader(client, base, **{"Last-Event-ID": first["id"]})
        await wait_for(lambda: any(e["data"].get("device") == b for e in resumed.alarms()),
                       timeout=15)
        ids = [e["id"] for e in every.events]
        replayed = [e["id"] for e in resumed.events]
        assert replayed == ids[ids.index(first["id"]) + 1:][:len(replayed)]
        assert first["id"] not in replayed
        # an id of another run: a gap event first, then what is kept
        old = Reader(client, f"{base}?lastEventId=0-5&device={a}")
        await wait_for(lambda: old.alarms(), timeout=15)
        assert old.events[0]["event"] == "gap"
        assert {e["data"]["device"] for e in old.alarms()} == {a}
        for r in (every, only_b, resumed, old):
            await r.close()
    await wait_for(lambda: not svc.events_hub.streams, timeout=15)


async def test_curl_element_filter_credentials_and_bad_input(make_controller: Any) -> None:
    c, svc = await web(make_controller, pdus=3, insecureEnabled="enabled",
                       metricsToken="s3cret")
    devs = [d.hex_id for d in c.live.ordered()
            if d.value(Component.TOTAL, 0, "current")][:2]
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall 1")
    row = await c.structure.create(ADMIN, Kind.ROW, "Row 1", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "Rack A", row.id)
    await c.structure.assign(ADMIN, devs[1], rack.id)
    url = f"http://127.0.0.1:{svc.port}/events"
    auth = await reader_auth(c)
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.get(url)
        assert r.status_code == 401 and "needs credentials" in r.text
        assert "Bearer" in r.headers["www-authenticate"]
        # metricsToken is /metrics' alone; Basic is refused over plain HTTP unchecked
        r = await client.get(url, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 401 and "API token not accepted" in r.text
        before = [e.action for e in await c.audit.query(SYSTEM, limit=200)].count("login")
        r = await client.get(url, auth=("reader", "Events-pass-2026!"))
        assert r.status_code == 401 and "HTTPS only" in r.text
        assert [e.action for e in await c.audit.query(SYSTEM, limit=200)
                ].count("login") == before
        r = await client.get(f"{url}?device=zzzzz", headers=auth)
        assert r.status_code == 400 and "device='zzzzz' is not a PDU" in r.text
        r = await client.get(f"{url}?element=999", headers=auth)
        assert r.status_code == 400 and "element='999' is not a DC element" in r.text
    proc = await asyncio.create_subprocess_exec(
        "curl", "-N", "-sS", "-H", f"Authorization: {auth['Authorization']}",
        f"{url}?element={room.id}",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).startswith(b"retry: ")
        await wait_for(lambda: len(svc.events_hub.streams) == 1, timeout=15)
        await overload(c, devs[0])                       # not in the room: filtered out
        await wait_for(lambda: any(a.device == devs[0] for a in c.alarms.active()),
                       timeout=20)
        await overload(c, devs[1])                       # in the room's rack
        seen: list[bytes] = []
        while not any(b'"change":"raised"' in line for line in seen):
            seen.append(await asyncio.wait_for(proc.stdout.readline(), 30))
        data = [json.loads(line[6:]) for line in seen if line.startswith(b"data: ")]
        assert [d["device"] for d in data if "change" in d] == [devs[1]]
        assert b"event: alarm\n" in seen
    finally:
        proc.kill()
        await proc.wait()


async def test_keepalive_and_stream_cap(make_controller: Any) -> None:
    c, svc = await web(make_controller, pdus=1, insecureEnabled="enabled")
    hub = svc.events_hub
    hub.keepalive = 0.2
    hub.max_streams = 2
    url = f"http://127.0.0.1:{svc.port}/events"
    async with httpx.AsyncClient(timeout=20, headers=await reader_auth(c)) as client:
        readers = [Reader(client, url), Reader(client, url)]
        await wait_for(lambda: len(hub.streams) == 2, timeout=15)
        r = await client.get(url)
        assert r.status_code == 503 and r.headers["retry-after"] == "10"
        assert "2 /events streams are open" in r.text
        await wait_for(lambda: ": keep-alive" in readers[0].comments, timeout=15)
        for rd in readers:
            await rd.close()


async def test_stalled_client_dropped_while_poller_and_others_go_on(make_controller: Any
                                                                    ) -> None:
    c, svc = await web(make_controller, pdus=2, insecureEnabled="enabled")
    hub = svc.events_hub
    dev = c.live.ordered()[0].hex_id
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    stalled.connect(("127.0.0.1", svc.port))
    auth = await reader_auth(c)
    stalled.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: "
                    + auth["Authorization"].encode() + b"\r\n\r\n")    # then never reads
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10),
                                 headers=auth) as client:
        healthy = Reader(client, f"http://127.0.0.1:{svc.port}/events")
        await wait_for(lambda: len(hub.streams) == 2, timeout=15)
        sweeps = c.live.bus.sweeps
        published = 0
        # fill the stalled reader's pipe: device events on the core's bus, as the
        # poller publishes them, a few per loop turn (a reader keeping up never has
        # more than a burst waiting)
        while hub.dropped_streams == 0 and published < 100_000:
            for _ in range(64):
                c.core.events.publish(Event("device", dev, "running"))
            published += 64
            await asyncio.sleep(0.01)
        assert hub.dropped_streams == 1, published
        await wait_for(lambda: len(hub.streams) == 1, timeout=15)
        # the healthy stream got every event; the poller went on sweeping
        await wait_for(lambda: sum(e.get("event") == "device" for e in healthy.events)
                       >= published, timeout=60)
        await wait_for(lambda: c.live.bus.sweeps >= sweeps + 3, timeout=30)
        await healthy.close()
    # the stalled client, reading at last, ends with the final event
    stalled.setblocking(False)
    loop = asyncio.get_running_loop()
    tail = b""
    while True:
        chunk = await asyncio.wait_for(loop.sock_recv(stalled, 65536), 30)
        tail = (tail + chunk)[-4096:]
        if not chunk or (b"reconnect with" in tail and tail.endswith(b"0\r\n\r\n")):
            break
    stalled.close()
    assert b"event: dropped\n" in tail and b"reconnect with Last-Event-ID" in tail
