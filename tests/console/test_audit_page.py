"""Pilot tests and snapshots of the audit log page (manual chapter 10).

Every test runs the real console on the frozen simulated controller, whose audit log
already holds the entries of its start (PDUs found, controller started, the DC tree
built); tests add their own entries through the core's ``AuditLog.record``, as any
service does. What the page changes (state, comments) is checked in the core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from textual.widgets import Input, Static

from enerteg_tui.core.audit import AuditFilter, AuditState, Severity
from enerteg_tui.core.errors import Invalid, PermissionDenied
from enerteg_tui.core.permissions import Action
from enerteg_tui.screens.audit_page import (
    PAGE_SIZE,
    AuditDetail,
    AuditPage,
    change_lines,
    describe_filter,
    parse_device,
    parse_severities,
    parse_when,
)
from enerteg_tui.screens.forms import FormDialog
from enerteg_tui.screens.help import help_groups
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.sections import section
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN, principal

from .conftest import FIXED_CLOCK, SIZES, make_app, settle

START_ENTRIES = 16
"""Entries the frozen controller's start writes (8 PDUs found, start, 4 elements, 3 assigns)."""


def page(app) -> AuditPage:
    p = app.main.query_one("#page").children[0]
    assert isinstance(p, AuditPage)
    return p


async def open_audit(pilot) -> AuditPage:
    await settle(pilot)
    await pilot.press("f5")
    await settle(pilot)
    return page(pilot.app)


async def until(pilot, cond: Callable[[], bool], tries: int = 60) -> bool:
    """Let the app run (live batches are paced) until ``cond`` holds."""
    for _ in range(tries):
        await settle(pilot)
        if cond():
            return True
        await asyncio.sleep(0.05)
    return cond()


def keys(p: AuditPage) -> list[int]:
    return [int(str(r.key)) for r in p.table.rows]


def title(p: AuditPage) -> str:
    return str(p.query_one("#title", Static).render())


async def add_samples(c) -> dict[str, int]:
    """A warning about the controller PDU (with a secret in its changes) and an error."""
    warn = await c.audit.record(
        principal("power", user="olga"), "device.settings", "sensor/2321d",
        "Outlet 3 delay of Controller PDU changed", severity=Severity.WARNING, device="2321d",
        old={"delay": 0, "password": "old-secret"}, new={"delay": 5, "password": "new-secret"})
    err = await c.audit.record(ADMIN, "ring.break", "ring",
                               "Ring broken between PDU #3 and PDU #4", severity=Severity.ERROR)
    return {"warn": warn.id, "err": err.id}


async def apply_filter(pilot, values: dict[str, str]) -> FormDialog:
    await pilot.press("f")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, FormDialog)
    for key, text in values.items():
        form.query_one(f"#f-{key}", Input).value = text
    form.query_one("#f-severity", Input).focus()
    await pilot.press("enter")
    await settle(pilot)
    return form


def form_error(form: FormDialog) -> str:
    return str(form.query_one("#error", Static).render())


# ---------------------------------------------------------------------- opening, roles
@pytest.mark.asyncio
async def test_admin_opens_with_f5(frozen):
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        bar = pilot.app.main.query_one(KeyBar)._text.plain
        assert "Audit" in bar
        p = await open_audit(pilot)
        expected = [e.id for e in await frozen.audit.query(ADMIN, limit=PAGE_SIZE)]
        assert keys(p) == expected and len(expected) == START_ENTRIES
        assert f"entries 1–{START_ENTRIES} of {START_ENTRIES} · page 1 of 1" in title(p)
        assert "Controller started" in p.table.row(9).cells["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["readonly", "power", "readwrite"])
async def test_non_admin_has_no_f5_and_core_refuses(frozen, role):
    who = principal(role)
    async with make_app(frozen, who).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        bar = pilot.app.main.query_one(KeyBar)._text.plain
        assert "Audit" not in bar
        await pilot.press("f5")
        await settle(pilot)
        assert not isinstance(pilot.app.main.query_one("#page").children[0], AuditPage)
        assert "Audit log" not in dict(help_groups(pilot.app))
        with pytest.raises(PermissionDenied) as exc:
            pilot.app.spec_for(Place("audit"))
        assert "administer" in str(exc.value)
        # opening it by place (as the palette would) shows the refusal, not the page
        await pilot.app.open_place(Place("audit"))
        await settle(pilot)
        assert not isinstance(pilot.app.main.query_one("#page").children[0], AuditPage)
    assert section("audit").needs is Action.ADMINISTER
    if role == "readonly":   # no ack-alarm: the core refuses state changes and comments too
        with pytest.raises(PermissionDenied):
            await frozen.audit.set_state(who, 1, AuditState.DONE)
        with pytest.raises(PermissionDenied):
            await frozen.audit.comment(who, 1, "seen")
        assert (await frozen.audit.get(ADMIN, 1)).state is AuditState.OPEN


@pytest.mark.asyncio
async def test_help_lists_the_page_keys(frozen):
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        groups = dict(help_groups(pilot.app))
        words = [what for _key, what in groups["Audit log"]]
        assert {"Details", "Filter", "Older", "Newer", "Newest", "Clear", "Device"} <= set(words)


# ---------------------------------------------------------------------- filters
@pytest.mark.asyncio
async def test_filters_narrow_the_list(frozen):
    ids = await add_samples(frozen)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_audit(pilot)
        await apply_filter(pilot, {"severity": "warning+"})
        assert keys(p) == [ids["err"], ids["warn"]]
        assert p.filter.severities == {Severity.WARNING, Severity.ERROR, Severity.ALWAYS}
        assert "severity Warning+" in str(p.query_one("#filters", Static).render())
        # the form shows what is active; add a device given by its name
        await apply_filter(pilot, {"device": "controller pdu"})
        assert keys(p) == [ids["warn"]]
        assert p.filter.device == "2321d"
        await apply_filter(pilot, {"severity": "", "device": ""})
        assert len(keys(p)) == START_ENTRIES + 2
        await apply_filter(pilot, {"user": "system"})
        system = [e.id for e in await frozen.audit.query(ADMIN, AuditFilter(user="system"))]
        assert keys(p) == system and len(system) == 9
        await apply_filter(pilot, {"user": "", "text": "Rack 2"})
        assert all("Rack 2" in p.table.row(k).cells["message"] for k in keys(p))
        assert len(keys(p)) == 2
        await apply_filter(pilot, {"text": "", "since": "2025-06-15T16:00:00Z"})
        assert keys(p) == [] and "no entries match" in title(p)
        await apply_filter(pilot, {"since": "1h"})         # an hour before the frozen clock
        assert len(keys(p)) == START_ENTRIES + 2
        assert p.filter.since == FIXED_CLOCK - 3600
        await frozen.audit.set_state(ADMIN, ids["err"], AuditState.DONE)
        await apply_filter(pilot, {"since": "", "state": "done"})
        assert keys(p) == [ids["err"]]
        await pilot.press("x")
        await settle(pilot)
        assert len(keys(p)) == START_ENTRIES + 2 and not p.filter_text


@pytest.mark.asyncio
async def test_text_filter_matches_percent_and_underscore_literally(frozen):
    """Issue 14 item 11: "%" matched every entry and "_" any one character."""
    pct = await frozen.audit.record(ADMIN, "rule.change", "rules/9",
                                    "Load above 80% on rack_7", severity=Severity.WARNING)
    await frozen.audit.record(ADMIN, "rule.change", "rules/8", "Load above 80 on rackX7",
                              severity=Severity.WARNING)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_audit(pilot)
        await apply_filter(pilot, {"text": "%"})
        assert keys(p) == [pct.id]
        await apply_filter(pilot, {"text": "rack_7"})
        assert keys(p) == [pct.id]
        await apply_filter(pilot, {"text": "80% ON RACK"})   # still case-insensitive
        assert keys(p) == [pct.id]


@pytest.mark.asyncio
async def test_bad_time_filter_is_refused_and_changes_nothing(frozen):
    ids = await add_samples(frozen)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_audit(pilot)
        await apply_filter(pilot, {"severity": "Error"})
        assert keys(p) == [ids["err"]]
        before = (p.filter, keys(p), title(p))
        form = await apply_filter(pilot, {"severity": "", "since": "yesterday"})
        assert pilot.app.screen is form                      # stays open for correction
        error = form_error(form)
        assert "From" in error and "'yesterday'" in error and "ISO 8601" in error
        assert "12h" in error
        assert (p.filter, keys(p), title(p)) == before       # nothing changed
        form.query_one("#f-since", Input).value = ""
        form.query_one("#f-until", Input).value = "2025-13-40"
        form.query_one("#f-severity", Input).value = "Fatal"
        await pilot.press("enter")
        await settle(pilot)
        assert "Severity 'Fatal' does not exist" in form_error(form)
        assert "Debug, Log, Info, Warning, Critical, Always" in form_error(form)
        form.query_one("#f-severity", Input).value = ""
        form.query_one("#f-since", Input).value = "2025-06-15T12:00:00Z"
        form.query_one("#f-until", Input).value = "2025-06-15T11:00:00Z"
        await pilot.press("enter")
        await settle(pilot)
        assert "is not before To" in form_error(form)
        await pilot.press("escape")
        await settle(pilot)
        assert (p.filter, keys(p)) == before[:2]


def test_filter_parsers_name_field_value_and_forms():
    assert parse_severities("Warning, error") == {Severity.WARNING, Severity.ERROR}
    assert parse_severities("  ") is None
    assert parse_when("", "To", 100.0) is None
    assert parse_when("30m", "To", 10_000.0) == 10_000.0 - 1800
    assert parse_when("2025-06-15", "From", 0.0) == 1749945600.0
    with pytest.raises(Invalid) as exc:
        parse_when("noon", "To", 0.0)
    assert exc.value.thing == "To" and exc.value.value == "noon"
    devices = [("2321d", "Controller PDU")]
    assert parse_device("CONTROLLER PDU", devices) == "2321d"
    assert parse_device("abcde", devices) == "abcde"     # a PDU gone from the ring
    with pytest.raises(Invalid) as exc:
        parse_device("rack 7", devices)
    assert "rack 7" in str(exc.value) and "hex id" in str(exc.value)
    assert describe_filter(AuditFilter(severities={Severity.ERROR, Severity.ALWAYS},
                                       text="psu")) == "severity Critical+ · text “psu”"
    assert change_lines({"delay": 0, "password": "***"}, {"delay": 5, "password": "***"}) == [
        "delay: 0 → 5", "password: *** (secret, not shown)"]
    assert change_lines(None, {"name": "Rack 2"}) == ["name: Rack 2"]


# ---------------------------------------------------------------------- paging, live
@pytest.mark.asyncio
async def test_paging(frozen):
    for i in range(120):
        await frozen.audit.record(ADMIN, "test.bulk", f"bulk/{i}", f"Bulk entry {i}",
                                  severity=Severity.LOG)
    total = START_ENTRIES + 120
    newest = [e.id for e in await frozen.audit.query(ADMIN, limit=total)]
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_audit(pilot)
        assert keys(p) == newest[:PAGE_SIZE]
        assert f"entries 1–50 of {total} · page 1 of 3" in title(p)
        await pilot.press("p")                               # already the newest page
        await settle(pilot)
        assert keys(p) == newest[:PAGE_SIZE]
        await pilot.press("n")
        await settle(pilot)
        assert keys(p) == newest[PAGE_SIZE:2 * PAGE_SIZE]
        assert f"entries 51–100 of {total} · page 2 of 3" in title(p)
        await pilot.press("n")
        await settle(pilot)
        assert keys(p) == newest[2 * PAGE_SIZE:] and len(keys(p)) == total - 100
        assert f"entries 101–{total} of {total} · page 3 of 3" in title(p)
        await pilot.press("n")                               # already the oldest page
        await settle(pilot)
        assert keys(p) == newest[2 * PAGE_SIZE:]
        await pilot.press("p")
        await settle(pilot)
        assert keys(p) == newest[PAGE_SIZE:2 * PAGE_SIZE]


@pytest.mark.asyncio
async def test_new_entry_appears_live(frozen):
    for i in range(PAGE_SIZE):
        await frozen.audit.record(ADMIN, "test.bulk", f"bulk/{i}", f"Bulk entry {i}")
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_audit(pilot)
        first = keys(p)
        entry = await frozen.audit.record(ADMIN, "ring.break", "ring", "Ring broken live",
                                          severity=Severity.ERROR)
        assert await until(pilot, lambda: keys(p)[:1] == [entry.id])
        assert keys(p)[1:] == first[:PAGE_SIZE - 1]
        assert p.table.row(entry.id).style == "bold red"
        assert f"of {START_ENTRIES + PAGE_SIZE + 1}" in title(p)
        # on an older page the rows stay put and the title counts what arrived
        await pilot.press("n")
        await settle(pilot)
        older = keys(p)
        await frozen.audit.record(ADMIN, "test.more", "x", "Another one")
        await frozen.audit.record(ADMIN, "test.more", "x", "And another one")
        assert await until(pilot, lambda: "2 new (r)" in title(p))
        assert keys(p) == older
        await pilot.press("r")
        await settle(pilot)
        assert p.page_index == 0 and "new (r)" not in title(p)
        assert [p.table.row(k).cells["message"] for k in keys(p)[:2]] == [
            "And another one", "Another one"]


# ---------------------------------------------------------------------- detail
@pytest.mark.asyncio
async def test_detail_state_and_comment_persist(frozen):
    ids = await add_samples(frozen)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_audit(pilot)
        p.table.cursor_row = keys(p).index(ids["warn"])
        await pilot.press("enter")
        await settle(pilot)
        detail = pilot.app.screen
        assert isinstance(detail, AuditDetail) and detail.entry.id == ids["warn"]
        body = str(detail.query_one("#text", Static).render())
        assert "olga via test from 127.0.0.1" in body
        assert "Controller PDU (2321d)" in body and "delay: 0 → 5" in body
        assert "password: *** (secret, not shown)" in body  # masked by the core
        assert "old-secret" not in body and "new-secret" not in body
        await pilot.press("i")
        await settle(pilot)
        stored = await frozen.audit.get(ADMIN, ids["warn"])
        assert stored.state is AuditState.INVESTIGATING
        assert stored.comments[-1]["text"] == "state Open → Investigating"
        assert detail.query_one("#state-INVESTIGATING").disabled
        # an empty comment is refused by the core, in its words, and nothing is stored
        await pilot.press("c")
        await pilot.press("enter")
        await settle(pilot)
        assert "comment of 0 characters is not allowed" in str(
            detail.query_one("#message", Static).render())
        assert len((await frozen.audit.get(ADMIN, ids["warn"])).comments) == 1
        await pilot.press(*"PSU replaced")
        await pilot.press("enter")
        await settle(pilot)
        stored = await frozen.audit.get(ADMIN, ids["warn"])
        assert stored.comments[-1]["text"] == "PSU replaced"
        assert stored.comments[-1]["user"] == "admin"
        assert "PSU replaced" in str(detail.query_one("#text", Static).render())
        await pilot.press("escape")                          # leaves the comment field
        await settle(pilot)
        if isinstance(pilot.app.screen, AuditDetail):
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert (await frozen.audit.get(ADMIN, ids["warn"])).state is AuditState.DONE
        await pilot.press("escape")
        await settle(pilot)
        # the list follows the change (the core announced it)
        assert await until(pilot, lambda: str(p.table.row(ids["warn"]).cells["state"]) == "Done")


@pytest.mark.asyncio
async def test_detail_follows_another_session(frozen):
    ids = await add_samples(frozen)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_audit(pilot)
        p.table.cursor_row = keys(p).index(ids["err"])
        await pilot.press("v")
        await settle(pilot)
        detail = pilot.app.screen
        assert isinstance(detail, AuditDetail)
        await frozen.audit.comment(principal("power", user="olga"), ids["err"], "on my way")
        assert await until(pilot, lambda: "olga: on my way" in str(
            detail.query_one("#text", Static).render()))


@pytest.mark.asyncio
async def test_detail_without_ack_alarm_changes_nothing(frozen):
    """The dialog on its own for a readonly session: buttons disabled, keys hidden."""
    entry = await frozen.audit.get(ADMIN, 1)
    async with make_app(frozen, "readonly").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pilot.app.push_screen(AuditDetail(entry))
        await settle(pilot)
        detail = pilot.app.screen
        assert isinstance(detail, AuditDetail)
        assert all(detail.query_one(f"#state-{s.name}").disabled for s in AuditState)
        assert detail.query_one("#comment", Input).disabled
        assert detail.check_action("state", ("Done",)) is False
        await pilot.press("d", "c", "x", "enter")
        await settle(pilot)
        stored = await frozen.audit.get(ADMIN, 1)
        assert stored.state is AuditState.OPEN and stored.comments == []


# ---------------------------------------------------------------------- snapshots
async def _snapshot_entries(c) -> None:
    ids = await add_samples(c)
    await c.audit.set_state(principal("power", user="olga"), ids["warn"], AuditState.INVESTIGATING)
    await c.audit.comment(ADMIN, ids["warn"], "Delay raised for the staggered start of rack 1")
    await c.audit.record(ADMIN, "debug.note", "controller", "Sweep took 12 ms",
                         severity=Severity.DEBUG)
    await c.audit.record(ADMIN, "config.change", "config/syslog",
                         "Settings config/syslog changed", severity=Severity.ALWAYS)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_snapshot_audit_list(frozen, snap, size):
    await _snapshot_entries(frozen)

    async def go(pilot):
        await pilot.press("f5")
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_snapshot_audit_detail(frozen, snap, size):
    await _snapshot_entries(frozen)

    async def go(pilot):
        await pilot.press("f5")
        await settle(pilot)
        p = page(pilot.app)
        p.table.cursor_row = 3          # the warning (newest first: Always, Debug, Error, Warning)
        await pilot.press("enter")
        await settle(pilot)

    assert await snap(make_app(frozen), size, go)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_snapshot_audit_filter_error(frozen, snap, size):
    await _snapshot_entries(frozen)

    async def go(pilot):
        await pilot.press("f5")
        await settle(pilot)
        await apply_filter(pilot, {"severity": "Warning+", "since": "yesterday"})

    assert await snap(make_app(frozen), size, go)
