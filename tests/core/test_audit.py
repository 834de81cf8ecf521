"""Audit log: entries, secret masking, filters, states, comments and retention (§5.8, ch. 10)."""

from __future__ import annotations

import pytest

from enerteg_tui.core.audit import AuditFilter, AuditLog, AuditState, Severity, mask_secrets
from enerteg_tui.core.errors import NotFound, PermissionDenied
from enerteg_tui.core.events import EventBus
from enerteg_tui.core.store import Store
from tests.conftest import ADMIN, READONLY, principal

DAY = 86400.0


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def audit(tmp_path):
    store = await Store.open(tmp_path / "a.db")
    clock = Clock()
    retention = {"infoDays": 5, "openWarningDays": 5, "openErrorDays": 5,
                 "closedWarningDays": 2, "closedErrorDays": 0, "logDays": 1, "debugDays": 1}
    log = AuditLog(store, EventBus(), retention=lambda: retention, clock=clock)
    log.clock = clock  # type: ignore[attr-defined]
    log.retention = retention  # type: ignore[attr-defined]
    yield log
    await store.close()


def test_mask_secrets() -> None:
    doc = {"password": "hunter2", "v3PasswordAuth": "x", "nested": {"privateKeyPem": "K"},
           "user": "bob", "empty_password": "", "list": [{"passphrase": "p"}]}
    masked = mask_secrets(doc, frozenset({"user"}))
    assert masked["password"] == "***" and masked["v3PasswordAuth"] == "***"
    assert masked["nested"]["privateKeyPem"] == "***" and masked["list"][0]["passphrase"] == "***"
    assert masked["user"] == "***"  # named explicitly
    assert masked["empty_password"] == ""
    assert "hunter2" not in repr(masked)


async def test_record_and_query(audit: AuditLog) -> None:
    events = audit._events.subscribe()
    e = await audit.record(ADMIN, "settings.change", "config/email", "Settings changed",
                           old={"password": "old-secret"}, new={"password": "new-secret"},
                           severity=Severity.WARNING, device="1f6c1")
    assert e.id > 0 and e.user == "admin" and e.face == "test" and e.address == "127.0.0.1"
    assert e.old == {"password": "***"} and e.new == {"password": "***"}
    assert [ev.kind for ev in events.take().events] == ["audit"]
    await audit.record(READONLY, "login", "ssh", "readonly logged in", severity=Severity.INFO)
    got = await audit.query(ADMIN, AuditFilter(severities={Severity.WARNING}))
    assert [x.id for x in got] == [e.id]
    assert [x.user for x in await audit.query(ADMIN, AuditFilter(user="readonly"))] == ["readonly"]
    assert len(await audit.query(ADMIN, AuditFilter(text="logged"))) == 1
    assert len(await audit.query(ADMIN, AuditFilter(device="1f6c1"))) == 1
    assert len(await audit.query(ADMIN, limit=1)) == 1
    rows = await audit._store.fetchall("SELECT old, new FROM audit")
    assert "secret" not in repr(rows)


async def test_states_and_comments(audit: AuditLog) -> None:
    e = await audit.record(ADMIN, "x", "y", "something broke", severity=Severity.ERROR)
    with pytest.raises(PermissionDenied):
        await audit.set_state(READONLY, e.id, AuditState.DONE)
    e2 = await audit.set_state(principal("power"), e.id, AuditState.INVESTIGATING, "on it")
    assert e2.state is AuditState.INVESTIGATING
    e3 = await audit.comment(ADMIN, e.id, "replaced the PSU")
    assert [c["text"] for c in e3.comments] == ["state Open → Investigating: on it", "replaced the PSU"]
    assert (await audit.get(ADMIN, e.id)).state is AuditState.INVESTIGATING
    with pytest.raises(NotFound):
        await audit.get(ADMIN, 999)


async def test_reading_the_audit_log_is_an_admins(audit: AuditLog) -> None:
    """Reading needs ``administer`` (as the Action says); annotating needs ``ack-alarm``."""
    e = await audit.record(ADMIN, "x", "y", "something broke", severity=Severity.ERROR)
    for who in (READONLY, principal("power"), principal("readwrite")):
        with pytest.raises(PermissionDenied):
            await audit.query(who)
        with pytest.raises(PermissionDenied):
            await audit.count(who)
        with pytest.raises(PermissionDenied):
            await audit.get(who, e.id)
    assert await audit.count(ADMIN) == 1
    assert (await audit.comment(principal("power"), e.id, "seen")).comments[-1]["text"] == "seen"


async def test_retention(audit: AuditLog) -> None:
    clock = audit.clock  # type: ignore[attr-defined]
    info = await audit.record(ADMIN, "a", "o", "info", severity=Severity.INFO)
    warn_open = await audit.record(ADMIN, "a", "o", "warn open", severity=Severity.WARNING)
    warn_done = await audit.record(ADMIN, "a", "o", "warn done", severity=Severity.WARNING)
    await audit.set_state(ADMIN, warn_done.id, AuditState.DONE)
    err_done = await audit.record(ADMIN, "a", "o", "error done", severity=Severity.ERROR)
    await audit.set_state(ADMIN, err_done.id, AuditState.DONE)
    always = await audit.record(ADMIN, "a", "o", "always", severity=Severity.ALWAYS)
    clock.t += 3 * DAY
    assert await audit.purge() == 1  # closed warnings kept 2 days
    ids = {e.id for e in await audit.query(ADMIN)}
    assert warn_done.id not in ids and {info.id, warn_open.id, err_done.id, always.id} <= ids
    clock.t += 3 * DAY
    await audit.purge()
    ids = {e.id for e in await audit.query(ADMIN)}
    # info/open warning past 5 days go; closed errors kept forever (0); Always never purged
    assert ids == {err_done.id, always.id}
