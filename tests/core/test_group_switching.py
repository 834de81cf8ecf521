"""Group switching in the core (manual §6.1): the impact plan, the staggered run through
the single-outlet path, the stop at the first failure, permissions and the audit."""

from __future__ import annotations

import pytest

from enerteg_tui.core.errors import Invalid, NotFound, PermissionDenied
from enerteg_tui.core.group_switching import GroupSwitching, parse_outlet_group
from enerteg_tui.core.model import OutletAction, OutletState
from enerteg_tui.core.structure import Kind
from tests.conftest import ADMIN, principal


async def _rack(c):
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall")
    row = await c.structure.create(ADMIN, Kind.ROW, "Row 1", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "Rack 1", row.id)
    for d in c.live.ordered()[:3]:
        await c.structure.assign(ADMIN, d.hex_id, rack.id)
    return rack


def _switchable(c):
    return [d for d in c.live.ordered() if d.info.model.switchable]


async def test_plan_counts_load_already_off_and_skips(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    rack = await _rack(c)
    first = _switchable(c)[0]
    first.outlet_states[2] = OutletState.OFF
    plan = c.switching.plan(ADMIN, OutletAction.OFF, element=rack.id)
    in_rack = [d for d in c.live.ordered()[:3] if d.info.model.switchable]
    total = sum(d.info.model.outlets for d in in_rack)
    assert len(plan.steps) == total - 1
    assert [(s.hex_id, s.outlet) for s in plan.already] == [(first.hex_id, 2)]
    assert plan.load_w == pytest.approx(sum(s.power_w or 0 for s in plan.steps))
    assert plan.load_w > 0
    assert plan.gap_s == 0.25 and "fixed outlet delay" in plan.gap_source
    assert any("no switchable outlets" in s for s in plan.skipped)
    text = "\n".join(plan.summary_lines())
    assert f"Switch off {total - 1} outlet(s)" in text and "Already off" in text
    assert not any(d.pending_outlets for d in c.live.ordered())     # planning moves nothing


async def test_bad_selections_are_refused_with_reasons(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    await _rack(c)
    sw = c.switching
    with pytest.raises(NotFound, match="no rack has that name"):
        sw.element_by_name("rack", "Nope")
    with pytest.raises(Invalid, match="gap 99 s is not allowed; allowed is 0 to 60"):
        sw.plan(ADMIN, OutletAction.OFF, devices=[_switchable(c)[0].hex_id], gap_s=99)
    with pytest.raises(Invalid, match="outlet 99 does not exist"):
        sw.plan(ADMIN, OutletAction.OFF, outlets=[(_switchable(c)[0].hex_id, 99)])
    with pytest.raises(Invalid, match="allowed is HEXID:OUTLETS"):
        parse_outlet_group("rack1")
    with pytest.raises(Invalid, match="runs backwards"):
        parse_outlet_group("2321d:5-2")
    assert parse_outlet_group("2321D:1-3,7") == [("2321d", 1), ("2321d", 2), ("2321d", 3),
                                                  ("2321d", 7)]


async def test_run_is_staggered_audited_and_permission_checked(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    hx = _switchable(c)[0].hex_id
    gaps: list[float] = []

    async def sleep(s: float) -> None:
        gaps.append(s)

    sw = GroupSwitching(c.devices, c.structure, c.audit, sleep=sleep)
    plan = sw.plan(ADMIN, OutletAction.OFF, outlets=parse_outlet_group(f"{hx}:1-3"), gap_s=1.5)
    with pytest.raises(PermissionDenied, match="switch-off"):
        await sw.run(principal("poweron"), plan)
    assert not c.live.get(hx).pending_outlets
    seen: list[int] = []
    result = await sw.run(ADMIN, plan, lambda r: seen.append(r.number))
    assert result.ok and seen == [1, 2, 3] and gaps == [1.5, 1.5]
    assert set(c.live.get(hx).pending_outlets) == {1, 2, 3}
    entries = await c.audit.query(ADMIN, limit=20)
    actions = [e.action for e in reversed(entries) if e.action.startswith("outlet.")]
    assert actions == ["outlet.group.start", "outlet.off", "outlet.off", "outlet.off",
                       "outlet.group.done"]


async def test_first_failure_stops_the_run_and_says_where(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    a, b = _switchable(c)[:2]
    faults = c.driver.fault_injector()

    async def sleep(s: float) -> None:
        # between outlet 1 and 2 the second PDU drops off the ring (no loop turn after)
        if not c.live.get(a.hex_id).pending_outlets.get(2):
            faults.apply_device(b.hex_id, faults.device_document(b.hex_id).model_copy(
                update={"reachable": False}))

    sw = GroupSwitching(c.devices, c.structure, c.audit, sleep=sleep)
    plan = sw.plan(ADMIN, OutletAction.OFF, outlets=[(a.hex_id, 1), (b.hex_id, 1), (a.hex_id, 2)],
                   gap_s=0.5)
    result = await sw.run(ADMIN, plan)
    assert not result.ok and result.failed is not None and result.failed.number == 2
    assert result.not_attempted == 1
    msg = result.message()
    assert "Stopped at outlet 2 of 3, outlet 1" in msg and b.hex_id in msg
    assert "1 outlet(s) switched off before it; 1 not attempted" in msg
    assert 2 not in c.live.get(a.hex_id).pending_outlets
    entries = await c.audit.query(ADMIN, limit=10)
    failed = [e for e in entries if e.action == "outlet.group.failed"]
    assert failed and "Stopped at outlet 2 of 3" in failed[0].message


async def test_nothing_to_do_is_said(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    hx = _switchable(c)[0].hex_id
    plan = c.switching.plan(ADMIN, OutletAction.ON, outlets=[(hx, 1)])
    assert not plan.steps and plan.already
    with pytest.raises(Invalid, match="every outlet is already in that state"):
        await c.switching.run(ADMIN, plan)
