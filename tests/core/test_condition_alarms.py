"""Condition alarms: raised by the controller about itself (a face that cannot listen,
a Device ID two PDUs share) through ``AlarmService.raise_condition``/``clear_condition``:
one active alarm per name and index, audited, counted, and after a restart cleared at
the first sweep unless raised again."""

from __future__ import annotations

from enerteg_tui.core.alarms import CONDITION_RULE
from tests.helpers import wait_for


async def _audit(c, alarm_id: int) -> list[tuple[str, str]]:
    await c.alarms.flush()
    return [(r[0], r[1]) for r in await c.store.fetchall(
        "SELECT action, message FROM audit WHERE object=? ORDER BY id", (f"alarms/{alarm_id}",))]


async def test_raise_is_idempotent_updates_text_and_clears_once(controller) -> None:
    c = controller
    warnings = c.alarms.counts()["warning"]
    a = c.alarms.raise_condition("testFaceNotRunning", "Test face not running: port 1 in use",
                                 severity="Warning")
    again = c.alarms.raise_condition("testFaceNotRunning",
                                     "Test face not running: port 1 in use", severity="Warning")
    assert again.id == a.id and a.device == "ring" and a.rule_name == CONDITION_RULE
    assert a.channel == "ring//0/testFaceNotRunning" and a.rule_id is None
    assert c.alarms.counts()["warning"] == warnings + 1
    c.alarms.raise_condition("testFaceNotRunning", "Test face not running: port 2 in use",
                             severity="Warning")
    assert [x.text for x in c.alarms.conditions("testFaceNotRunning")] == [
        "Test face not running: port 2 in use"]
    other = c.alarms.raise_condition("testFaceNotRunning", "another index", index=7)
    assert other.id != a.id and other.severity == "Critical"
    assert c.alarms.clear_condition("testFaceNotRunning", "it listens") is a
    assert c.alarms.clear_condition("testFaceNotRunning", "it listens") is None
    assert not a.active and a.end is not None
    assert [x.index for x in c.alarms.conditions("testFaceNotRunning")] == [7]
    assert c.alarms.counts()["warning"] == warnings
    rows = await _audit(c, a.id)
    assert [r[0] for r in rows] == ["alarm.raise", "alarm.clear"]
    assert "it listens" in rows[1][1]


async def test_a_condition_not_raised_again_after_a_restart_is_cleared(
        make_controller, tmp_path) -> None:
    data = tmp_path / "keep"
    c = await make_controller(data_dir=data)
    a = c.alarms.raise_condition("testFaceNotRunning", "Test face not running")
    await c.alarms.flush()
    await c.stop()
    c2 = await make_controller(data_dir=data)
    sweeps = c2.live.bus.sweeps
    await wait_for(lambda: c2.live.bus.sweeps > sweeps)
    assert not c2.alarms.conditions("testFaceNotRunning")
    rows = await _audit(c2, a.id)
    assert rows[-1][0] == "alarm.clear" and "the controller restarted" in rows[-1][1]
    # raised again later: a new alarm, the old one stays closed
    b = c2.alarms.raise_condition("testFaceNotRunning", "Test face not running")
    assert b.id != a.id
