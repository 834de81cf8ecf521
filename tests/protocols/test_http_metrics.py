"""``/metrics`` through the real web server, read by httpx and parsed by prometheus_client's
own text parser: every channel of every PDU equals the shell's ``cat`` (scaled to the
base unit), labels (structure, feed, a name that needs escaping), a PDU that stops
answering leaves its values out, bus/alarm/process families, the bearer token (401
without it, masked in the shell and the audit)."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from enerteg_tui.core.model import DeviceState
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.quantities import QUANTITIES, Component
from enerteg_tui.core.structure import Kind
from enerteg_tui.protocols.http.metrics import METRIC_UNITS, Exposition, metric_name
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e


async def web(make_controller: Any, **kw: Any) -> tuple[Any, Any]:
    c = await make_controller(bind="127.0.0.1", **kw)
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled", "httpsEnabled": "disabled"})
    await wait_for(lambda: svc.status.running, timeout=15)
    return c, svc


async def scrape(svc: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(f"http://127.0.0.1:{svc.port}/metrics", headers=headers)


def samples(text: str) -> dict[str, list[Any]]:
    """Metric family name → its samples, as prometheus_client parses them."""
    out: dict[str, list[Any]] = {}
    for fam in text_string_to_metric_families(text):
        out.setdefault(fam.name, []).extend(fam.samples)
    return out


def test_every_quantity_has_a_metric_name_in_base_units() -> None:
    assert set(METRIC_UNITS) == {q.key for q in QUANTITIES}
    assert metric_name(Component.OUTLET, "current") == "enerteg_outlet_current_amperes"
    assert metric_name(Component.INPUT, "energy") == "enerteg_input_energy_joules_total"
    assert metric_name(Component.TOTAL, "residualCurrent") == \
        "enerteg_total_residual_current_amperes"
    assert metric_name(Component.SENSOR, "humidity") == "enerteg_sensor_humidity_ratio"


async def test_values_equal_the_shells_cat_on_a_20_pdu_ring(make_controller: Any) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    c, svc = await web(make_controller, pdus=20, interval=600, equipment="full")
    devs = c.live.ordered()
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall 1")
    row = await c.structure.create(ADMIN, Kind.ROW, "Row A", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, 'Rack "7" \\ left', row.id)
    await c.structure.assign(ADMIN, devs[0].hex_id, rack.id)
    r = await scrape(svc)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    fams = samples(r.text)

    async def cat(path: str) -> Any:
        out: list[str] = []
        code = await ShellSession(c.core, ADMIN).run_script(f"cat {path}", out.append,
                                                            lambda _: None)
        assert code == 0
        return json.loads("".join(out))

    index: dict[tuple[str, str, str, str], float] = {}
    labels_of: dict[str, dict[str, str]] = {}
    for name, ss in fams.items():
        for s in ss:
            if "quantity" in s.labels:
                key = (s.name, s.labels["device"], s.labels["index"], s.labels["quantity"])
                assert key not in index, key
                index[key] = s.value
                labels_of[s.labels["device"]] = {k: s.labels[k] for k in
                                                 ("device", "name", "room", "row", "rack", "feed")}
    compared = 0
    for dev in devs:
        hex_id = dev.hex_id
        docs = [("t", dict(await cat(f"sensor/{hex_id}/t"), index=0))]
        for el in ("i", "b", "o", "s"):
            docs += [(el, d) for d in (await cat(f"sensor/{hex_id}/{el}/_data"))["items"]]
        for el, doc in docs:
            comp = Component(el)
            keys = [doc["type"]] if el == "s" else list(comp.quantities)
            for q in keys:
                shown = doc.get("value") if el == "s" else doc.get(q)
                name = metric_name(comp, q)
                got = index.get((name, hex_id, str(doc["index"]), q))
                if shown is None:
                    assert got is None, (hex_id, el, doc["index"], q)
                    continue
                want = shown * METRIC_UNITS[q].scale
                assert got == pytest.approx(want, rel=1e-9, abs=0.5 if q in
                                            ("energy", "apparentEnergy") else 1e-9), (
                    hex_id, el, doc["index"], q, got, want)
                compared += 1
        lab = labels_of[hex_id]
        assert lab["name"] == dev.info.settings.name
        assert lab["feed"] == (dev.info.settings.feed.value
                               if dev.info.settings.feed.value != "None" else "")
    assert compared == len(index) > 20 * 300      # every sample compared, none extra
    assert labels_of[devs[0].hex_id] | {} == {
        "device": devs[0].hex_id, "name": devs[0].info.settings.name, "room": "Hall 1",
        "row": "Row A", "rack": 'Rack "7" \\ left', "feed": labels_of[devs[0].hex_id]["feed"]}
    assert labels_of[devs[1].hex_id]["rack"] == ""
    # what belongs to no channel: bus, alarms, process, devices
    assert fams["enerteg_bus_sweeps"][0].value == c.live.bus.sweeps
    assert {s.labels["severity"]: s.value for s in fams["enerteg_alarms_active"]} == {
        "warning": sum(a.severity == "Warning" for a in c.alarms.active()),
        "critical": sum(a.severity == "Critical" for a in c.alarms.active())}
    assert fams["process_resident_memory_bytes"][0].value > 10e6
    assert fams["process_cpu_seconds"][0].value > 0
    assert sum(s.value for s in fams["enerteg_device_up"]) == 20
    # the text the route streams is the text the writer makes at once
    assert len(Exposition(c.core).text()) == pytest.approx(len(r.text), rel=0.01)


def channel_devices(fams: dict[str, list[Any]]) -> set[str]:
    return {s.labels["device"] for ss in fams.values() for s in ss if "quantity" in s.labels}


async def test_a_stale_pdu_has_no_values_though_live_state_keeps_them(make_controller: Any) -> None:
    c, svc = await web(make_controller, pdus=3, interval=600)     # one sweep: states hold
    stale = c.live.ordered()[1]
    stale.state = DeviceState.STALE          # as the poller marks it after 3 missed sweeps
    assert stale.groups                      # live state keeps the last values ...
    fams = samples((await scrape(svc)).text)
    assert stale.hex_id not in channel_devices(fams) and len(channel_devices(fams)) == 2
    up = {s.labels["device"]: s.value for s in fams["enerteg_device_up"]}
    assert up[stale.hex_id] == 0 and sum(up.values()) == 2
    states = {s.labels["state"]: s.value for s in fams["enerteg_device_state"]
              if s.labels["device"] == stale.hex_id}
    assert states == {"running": 0, "stale": 1, "unreachable": 0}
    relays = {s.labels["device"] for s in fams["enerteg_outlet_relay_on"]}
    assert stale.hex_id not in relays


async def test_an_unreachable_pdu_has_no_values(make_controller: Any) -> None:
    from tests.conftest import ADMIN

    c, svc = await web(make_controller, pdus=3, interval=0.1)
    gone = c.live.ordered()[1]
    await c.core.topics.put(ADMIN, f"sim/{gone.hex_id}", {"reachable": "false"})
    await wait_for(lambda: gone.state is DeviceState.UNREACHABLE, timeout=20)
    fams = samples((await scrape(svc)).text)
    assert gone.hex_id not in channel_devices(fams) and len(channel_devices(fams)) == 2
    up = {s.labels["device"]: s.value for s in fams["enerteg_device_up"]}
    assert up[gone.hex_id] == 0
    assert {s.labels["state"]: s.value for s in fams["enerteg_bus_devices"]}[
        "unreachable"] == 1


async def test_bearer_token_guards_metrics_and_is_masked(make_controller: Any) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    c, svc = await web(make_controller, pdus=2)
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, ADMIN).run_script(
        "cd config/http_server\nput metricsToken=s3cret-scrape-token\ncat", out.append,
        err.append)
    assert code == 0, err
    assert "s3cret-scrape-token" not in "".join(out + err)
    assert json.loads("".join(out))["u"]["metricsToken"] == "set"
    assert "/metrics needs the metrics token" in "".join(err)
    r = await scrape(svc)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "metricsToken" in r.text and "s3cret" not in r.text
    assert (await scrape(svc, "wrong")).status_code == 401
    r = await scrape(svc, "s3cret-scrape-token")
    assert r.status_code == 200 and "enerteg_device_up" in r.text
    entries = await c.audit.query(SYSTEM, limit=50)
    assert any("http_server" in e.object for e in entries)
    assert not any("s3cret" in e.message for e in entries)
    # the bare endpoint stays open (liveness checks carry no token)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{svc.port}/healthz")).text == "ok\n"


def test_label_values_are_escaped() -> None:
    from enerteg_tui.protocols.http.metrics import escape_label
    text = f'x{{name="{escape_label(chr(10).join(["a", "b"]) + chr(92) + chr(34))}"}} 1\n'
    fam = next(iter(text_string_to_metric_families(text)))
    assert fam.samples[0].labels["name"] == 'a\nb\\"'
    assert not math.isnan(fam.samples[0].value)


async def test_kept_channel_families_follow_sweeps_and_renames(make_controller: Any) -> None:
    """The channel families kept between scrapes are rebuilt when a sweep ends (as the
    poller does it: new values, the count, the sweep-end signal) and when a PDU's labels
    change without a sweep (a rename)."""
    from enerteg_tui.core.quantities import Component as C
    from tests.conftest import ADMIN

    c, svc = await web(make_controller, pdus=2, interval=600)     # no sweep of its own
    dev = c.live.ordered()[0]

    def outlet1(fams: dict[str, list[Any]]) -> Any:
        return next(s for s in fams["enerteg_outlet_current_amperes"]
                    if s.labels["device"] == dev.hex_id and s.labels["index"] == "1")

    first = outlet1(samples((await scrape(svc)).text))
    assert first.value == dev.groups[(C.OUTLET, 1)]["current"]
    expo = svc.exposition
    assert not expo.prepare()                 # kept from the scrape: nothing to build
    dev.groups[(C.OUTLET, 1)]["current"] = 12.34
    c.live.bus.sweeps += 1
    c.events.sweep_done()
    await wait_for(lambda: expo._cache is not None and expo._cache[0][0] == c.live.bus.sweeps)
    assert outlet1(samples((await scrape(svc)).text)).value == 12.34
    await c.devices.update_settings(ADMIN, dev.hex_id, {"name": "Renamed PDU"})
    assert outlet1(samples((await scrape(svc)).text)).labels["name"] == "Renamed PDU"
