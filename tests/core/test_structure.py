"""DC structure: rooms → rows → racks, assignment, and aggregates equal to member sums."""

from __future__ import annotations

import pytest

from enerteg_tui.core.errors import Conflict, Invalid, PermissionDenied
from enerteg_tui.core.model import Health
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.structure import Kind, TOTAL_KEYS
from tests.conftest import ADMIN, READONLY, principal
from tests.helpers import wait_for

RW = principal("readwrite")


async def _tree(c):
    s = c.structure
    room = await s.create(RW, Kind.ROOM, "Hall A")
    row = await s.create(RW, Kind.ROW, "Row 1", room.id)
    r1 = await s.create(RW, Kind.RACK, "Rack 01", row.id)
    r2 = await s.create(RW, Kind.RACK, "Rack 02", row.id)
    return room, row, r1, r2


async def test_create_rename_delete(controller) -> None:
    s = controller.structure
    room, row, r1, r2 = await _tree(controller)
    assert s.path(r1) == "Hall A / Row 1 / Rack 01"
    with pytest.raises(Conflict):
        await s.create(RW, Kind.RACK, "rack 01", row.id)  # names unique per parent (any case)
    other = await s.create(RW, Kind.ROW, "Row 2", room.id)
    await s.create(RW, Kind.RACK, "Rack 01", other.id)  # same name, other parent: fine
    with pytest.raises(Invalid):
        await s.create(RW, Kind.RACK, "Rack X", room.id)  # racks live in rows
    with pytest.raises(Invalid):
        await s.create(RW, Kind.ROOM, "   ")
    await s.rename(RW, r2.id, "Rack 02b")
    assert s.get(r2.id).name == "Rack 02b"
    with pytest.raises(Conflict) as err:
        await s.delete(RW, row.id)
    assert "not empty" in str(err.value) and "Row 1" in str(err.value)
    await s.delete(RW, r2.id)
    with pytest.raises(PermissionDenied):
        await s.create(READONLY, Kind.ROOM, "Nope")
    with pytest.raises(PermissionDenied):
        await s.create(principal("power"), Kind.ROOM, "Nope")


async def test_assign_and_refuse_deleting_non_empty_rack(controller) -> None:
    s = controller.structure
    _, _, r1, _ = await _tree(controller)
    h = controller.live.ordered()[3].hex_id
    await s.assign(RW, h, r1.id)
    assert s.devices_in(r1.id) == [h] and h not in s.unassigned()
    assert s.location_of(h) == "Hall A / Row 1 / Rack 01"
    with pytest.raises(Conflict) as err:
        await s.delete(RW, r1.id)
    assert h in str(err.value)
    await s.assign(RW, h, None)
    assert h in s.unassigned()
    await s.delete(RW, r1.id)


async def test_aggregates_equal_the_sum_of_members(controller) -> None:
    s = controller.structure
    room, row, r1, r2 = await _tree(controller)
    devs = controller.live.ordered()
    for d in devs[:3]:
        await s.assign(RW, d.hex_id, r1.id)
    for d in devs[3:5]:
        await s.assign(RW, d.hex_id, r2.id)
    for el, members in ((r1.id, devs[:3]), (r2.id, devs[3:5]), (row.id, devs[:5]),
                        (room.id, devs[:5]), (None, devs)):
        agg = s.aggregate(el)
        assert agg.devices == len(members)
        for k in TOTAL_KEYS:
            expect = sum(d.groups[(Component.TOTAL, 0)].get(k, 0.0) for d in members)
            assert agg.total.get(k, 0.0) == pytest.approx(expect, rel=1e-9, abs=1e-9), k
        for phase, vals in agg.phases.items():
            expect = sum(d.groups.get((Component.INPUT, phase), {}).get("current", 0.0)
                         for d in members)
            assert vals["current"] == pytest.approx(expect)
        assert agg.rated_a[1] == sum(d.info.model.rating_a for d in members)


async def test_worst_state_escalates(controller) -> None:
    s = controller.structure
    room, row, r1, r2 = await _tree(controller)
    victim = controller.live.ordered()[2]
    await s.assign(RW, victim.hex_id, r1.id)
    assert s.element_health(room.id) is Health.OK
    await controller.topics.put(ADMIN, f"sim/{victim.hex_id}", {"reachable": False})
    await wait_for(lambda: victim.stale, timeout=10)
    for el in (r1.id, row.id, room.id, None):
        assert s.element_health(el) >= Health.WARNING
    assert s.element_health(r2.id) is Health.OK


async def test_structure_survives_restart(make_controller, tmp_path) -> None:
    c = await make_controller(data_dir=tmp_path / "d")
    _, _, r1, _ = await _tree(c)
    h = c.live.ordered()[0].hex_id
    await c.structure.assign(RW, h, r1.id)
    await c.stop()
    c2 = await make_controller(data_dir=tmp_path / "d")
    assert c2.structure.location_of(h) == "Hall A / Row 1 / Rack 01"
    assert [e.name for e in c2.structure.elements(Kind.RACK)] == ["Rack 01", "Rack 02"]
