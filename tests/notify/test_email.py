"""E-mail notifications against a real SMTP server (aiosmtpd, STARTTLS, AUTH)."""

from __future__ import annotations

import asyncio

import pytest

from enerteg_tui.core.errors import Invalid, PermissionDenied
from tests.conftest import ADMIN, READONLY
from tests.helpers import wait_for
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER


async def _controller(make_controller, smtp, **opts):
    c = await make_controller(email_options={"tls_context": smtp.client_ctx, **opts})
    await c.topics.put(ADMIN, "config/email", {
        "enabled": "enabled", "serverAddress": "127.0.0.1", "serverPort": smtp.port,
        "username": SMTP_USER, "password": SMTP_PASSWORD, "tls": "starttls",
        "sender": "pdu@example.com", "recipients": "ops@example.com, noc@example.com",
        "subject": "EnerTEG alarm", "minSeverity": "Warning", "immediateMinSeverity": "Error"})
    return c


def _outlets_device(c, n: int = 10):
    return next(d for d in c.live.ordered() if d.info.model.outlets >= n
                and d.info.model.metered_outlets)


async def test_delay_timer_batches_ten_alarms_into_one_mail(make_controller, smtp_server) -> None:
    c = await _controller(make_controller, smtp_server, delay=1.0)
    dev = _outlets_device(c)
    await c.rules.create(ADMIN, {"name": "Batch", "scope": "pdu", "target": dev.hex_id,
                                 "quantity": "voltage", "component": "o", "indexFrom": 1,
                                 "indexTo": 10, "minDurationSeconds": 0,
                                 "warningAbove": {"enabled": True, "value": 200}})
    await wait_for(lambda: smtp_server.messages, timeout=15)
    await asyncio.sleep(1.5)  # a second mail would come within another delay
    [mail] = smtp_server.messages
    assert mail.count('via rule "Batch"') == 10
    assert "Subject: EnerTEG alarm" in mail and "To: ops@example.com, noc@example.com" in mail
    assert "Notification message from EnerTEG Platform" in mail
    assert c.email.outbox() == []


async def test_immediate_severity_goes_at_once(make_controller, smtp_server) -> None:
    c = await _controller(make_controller, smtp_server, delay=600.0)
    dev = c.live.ordered()[2]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: any("is unreachable" in m for m in smtp_server.messages), timeout=15)


async def test_server_down_mails_queue_on_disk_and_go_later(make_controller, smtp_server) -> None:
    c = await _controller(make_controller, smtp_server, delay=0.2, retry=0.2)
    smtp_server.stop()
    dev = c.live.ordered()[3]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: c.email.outbox() and c.email.last_error, timeout=15)
    queued = c.email.outbox()
    assert queued and (c.data_dir / "mail" / "outbox") == queued[0].parent
    smtp_server.start()
    await wait_for(lambda: not c.email.outbox(), timeout=20)
    assert sum("is unreachable" in m for m in smtp_server.messages) == 1


async def test_wrong_password_is_audited_and_nothing_lost(make_controller, smtp_server) -> None:
    c = await _controller(make_controller, smtp_server, delay=0.2, retry=0.2)
    await c.topics.put(ADMIN, "config/email", {"password": "wrong-Pass-9"})
    dev = c.live.ordered()[1]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})

    async def auth_entries():
        return [e for e in await c.audit.query(ADMIN) if e.action == "email.auth"]

    for _ in range(300):
        if await auth_entries():
            break
        await asyncio.sleep(0.05)
    [entry] = await auth_entries()
    assert entry.severity.value == "Error" and "refused the login of user 'mailer'" in entry.message
    everything = " ".join(f"{e.message} {e.old} {e.new}" for e in await c.audit.query(ADMIN))
    assert "wrong-Pass-9" not in everything and SMTP_PASSWORD not in everything
    assert c.email.outbox() and smtp_server.messages == []
    await c.topics.put(ADMIN, "config/email", {"password": SMTP_PASSWORD})
    # the unreachable alarm may be raised (after 3 sweeps) after the first queued mail
    # went out: wait for its mail rather than for an empty outbox
    await wait_for(lambda: any("is unreachable" in m for m in smtp_server.messages), timeout=20)
    await wait_for(lambda: not c.email.outbox(), timeout=20)


async def test_send_test_email(make_controller, smtp_server) -> None:
    c = await _controller(make_controller, smtp_server, delay=600.0)
    with pytest.raises(PermissionDenied):
        await c.email.send_test(READONLY)
    assert "ops@example.com" in await c.email.send_test(ADMIN)
    assert any("Subject: EnerTEG alarm (test)" in m for m in smtp_server.messages)
    smtp_server.stop()
    with pytest.raises(Invalid, match="test e-mail through 127.0.0.1"):
        await c.email.send_test(ADMIN)


async def test_email_test_from_the_shell(make_controller, smtp_server) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession

    c = await _controller(make_controller, smtp_server, delay=600.0)
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, ADMIN).run_script("email test", out.append, err.append)
    assert code == 0, err
    assert "Test e-mail sent" in "".join(out)
    assert any("Subject: EnerTEG alarm (test)" in m for m in smtp_server.messages)
    refused = await ShellSession(c.core, READONLY).run_script("email test", out.append, err.append)
    assert refused == 1
    usage = await ShellSession(c.core, ADMIN).run_script("email", out.append, err.append)
    assert usage == 2


async def test_starttls_trusts_a_ca_imported_into_the_certificate_store(make_controller,
                                                                        smtp_server) -> None:
    """No test context: the notifier verifies the server against the store (usage SMTP)."""
    c = await make_controller()
    await c.topics.put(ADMIN, "config/email", {
        "enabled": "enabled", "serverAddress": "localhost", "serverPort": smtp_server.port,
        "username": SMTP_USER, "password": SMTP_PASSWORD, "tls": "starttls",
        "sender": "pdu@example.com", "recipients": "ops@example.com"})
    with pytest.raises(Invalid, match="(?i)certificate"):
        await c.email.send_test(ADMIN)           # the server's CA is not trusted yet
    ca = smtp_server.cert_path.read_text()
    info = await c.core.certs.import_data(ADMIN, ca, usage="ldap")
    with pytest.raises(Invalid, match="(?i)certificate"):
        await c.email.send_test(ADMIN)           # trusted for LDAP only, not for SMTP
    await c.core.certs.set_usage(ADMIN, info.id, "smtp")
    assert "ops@example.com" in await c.email.send_test(ADMIN)
    assert any("Subject: " in m and "(test)" in m for m in smtp_server.messages)


async def test_mails_name_the_configured_host(make_controller, smtp_server) -> None:
    """Issue 23 item 3: every mail says which controller sent it (config/hostname)."""
    c = await _controller(make_controller, smtp_server, delay=0.2)
    await c.topics.put(ADMIN, "config/hostname", {"hostname": "rack-room-7"})
    await c.email.send_test(ADMIN)
    dev = c.live.ordered()[2]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: any("is unreachable" in m for m in smtp_server.messages), timeout=15)
    assert len(smtp_server.messages) >= 2
    for mail in smtp_server.messages:
        assert "Controller: rack-room-7" in mail and "@rack-room-7>" in mail


async def test_mail_times_are_in_the_configured_zone(make_controller, smtp_server) -> None:
    """Issue 23 item 1: times a person reads in a mail are in config/time's zone."""
    c = await _controller(make_controller, smtp_server, delay=0.2)
    await c.topics.put(ADMIN, "config/time", {"timezone": "Asia/Kolkata"})
    dev = c.live.ordered()[2]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: any("is unreachable" in m for m in smtp_server.messages), timeout=15)
    mail = next(m for m in smtp_server.messages if "is unreachable" in m)
    line = next(ln for ln in mail.splitlines() if "is unreachable" in ln)
    assert " IST  " in line and " UTC " not in line
