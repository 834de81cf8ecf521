"""One vocabulary (issue 18, item 7), through the real console: one severity table for
every page, the ring read as health, the audit State column explained, and status lines
that follow the state (the DC structure page's "No rooms yet")."""

from __future__ import annotations

import re

from textual.widgets import Static

from enerteg_tui.core.audit import Severity
from enerteg_tui.core.structure import Kind
from enerteg_tui.core.vocabulary import SEVERITY_WORDS, ring_health, severity_word
from enerteg_tui.core.model import RingState
from enerteg_tui.screens.header import StatusHeader
from enerteg_tui.screens.help import HelpScreen, help_groups
from enerteg_tui.screens.listtable import ListTable
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page
from .test_alarms_page import raise_alarms

SEVERITY_NAMES = re.compile(
    r"\b(alerts?|errors?|critical|crit|warnings?|warn|info|notice|debug|log|always|fatal|"
    r"emergency|severe|major|minor)\b", re.I)
"""Every name a severity has gone by in this code base or its peers (syslog, SNMP)."""


def test_the_table_names_each_level_once():
    assert severity_word("Error") == severity_word("Critical") == "Critical"
    assert severity_word(Severity.ERROR) == "Critical" and severity_word("alert") == "Critical"
    assert severity_word(Severity.WARNING) == "Warning"
    assert len(set(SEVERITY_WORDS)) == len(SEVERITY_WORDS) == len(Severity)
    assert ring_health(RingState.CLOSED, []) == "Ring OK"
    assert ring_health(RingState.OPEN, [7], 12) == "Ring open at PDU 7–8"


async def test_no_page_names_a_severity_outside_the_table(frozen):
    """Every severity cell of the alarms, audit and dashboard pages, the alarm and audit
    titles, filter lines and details: only words of ``SEVERITY_WORDS``."""
    await raise_alarms(frozen)
    await frozen.audit.record(ADMIN, "test.error", "test", "A failure for the vocabulary test",
                              severity=Severity.ERROR)
    app = make_app(frozen)
    seen: set[str] = set()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        for key, table_id, lines in (("f4", "alarms", ("#title", "#filters", "#detail")),
                                     ("f5", "entries", ("#title", "#filters", "#detail"))):
            await pilot.press(key)
            await settle(pilot)
            p = page(app)
            table = p.query_one(f"#{table_id}", ListTable)
            await wait_for(lambda: table.total > 0)
            for row in table.all_rows:
                word = str(getattr(row.cells["severity"], "plain", row.cells["severity"]))
                assert word in SEVERITY_WORDS, (key, word)
                seen.add(word)
            for sel in lines:
                text = str(p.query_one(sel, Static).render())
                for m in SEVERITY_NAMES.finditer(text):
                    if sel == "#detail" and key == "f5":
                        continue                 # an entry's own message is free text
                    # "the warning threshold" is the same word; "Alert"/"Error" are not
                    assert m.group(0).capitalize() in SEVERITY_WORDS, (key, sel, m.group(0), text)
        assert {"Critical", "Warning"} <= seen
        header = str(app.screen.query_one(StatusHeader).render())
        assert "Ring OK" in header


async def test_ring_reads_as_health_in_the_header(ticking):
    inj = ticking.driver.fault_injector()
    app = make_app(ticking)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = app.screen.query_one(StatusHeader)
        await wait_for(lambda: "Ring OK" in str(header.render()), timeout=5)
        inj.apply_ring(inj.ring_document().model_copy(update={"ring_breaks": [4]}))
        await wait_for(lambda: "Ring open at PDU 4–5" in str(header.render()), timeout=5)


async def test_audit_state_is_explained_on_the_page_and_in_help(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        legend = str(page(app).query_one("#filters", Static).render())
        assert "Open = new" in legend and "Investigating = " in legend and "Done = " in legend
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        groups = dict(help_groups(app))
        words = dict(groups["Audit log: words"])
        assert words["State Open"].startswith("new") and "Severity Critical" in words


async def test_no_rooms_yet_goes_when_a_room_is_added_elsewhere(tmp_path):
    from tests.helpers import build_controller
    c = await build_controller(tmp_path / "data", pdus=2, interval=3600.0, seed=1,
                               serial_device="")
    try:
        app = make_app(c)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("f7")
            await settle(pilot)
            msg = page(app).query_one("#message", Static)
            assert "No rooms yet" in str(msg.render())
            await c.structure.create(ADMIN, Kind.ROOM, "Hall B")      # another session
            await wait_for(lambda: "No rooms yet" not in str(msg.render()), timeout=5)
    finally:
        await c.stop()
