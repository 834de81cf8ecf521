"""E-mails in the system language (issue 23 item 4): a mail's readers are its recipients,
not a session's user, so it follows ``config/core`` language; a Czech console or shell
session does not change the language of mails."""

from __future__ import annotations

import email
from email.policy import default

from enerteg_tui.core.permissions import SYSTEM
from tests.conftest import ADMIN
from tests.helpers import wait_for
from tests.notify.test_email import _controller


def _text(raw: str) -> str:
    msg = email.message_from_bytes(raw.encode("utf-8"), policy=default)
    return f"Subject: {msg['Subject']}\n" + msg.get_body().get_content()  # type: ignore[union-attr]


async def test_mails_follow_the_system_language(make_controller, smtp_server) -> None:
    c = await _controller(make_controller, smtp_server, delay=600.0)
    await c.users.prefs.set(SYSTEM, "admin", {"language": "cs"})   # a user's own: not mails'
    await c.email.send_test(ADMIN)
    await wait_for(lambda: smtp_server.messages, timeout=15)
    english = _text(smtp_server.messages[-1])
    assert "(test)" in english and "Controller: " in english and "Test e-mail sent by admin." in english
    await c.config.put(SYSTEM, "core", {"language": "cs"})
    await c.email.send_test(ADMIN)
    await wait_for(lambda: len(smtp_server.messages) == 2, timeout=15)
    czech = _text(smtp_server.messages[-1])
    assert "Subject: EnerTEG alarm (zkouška)" in czech
    assert "Řadič: " in czech and "Zkušební e-mail odeslal(a) admin." in czech
    dev = c.live.ordered()[2]
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: any("Nedosažitelné zařízení" in _text(m)
                               for m in smtp_server.messages), timeout=15)
    alarm = next(_text(m) for m in smtp_server.messages if "Nedosažitelné zařízení" in _text(m))
    assert "Kritický" in alarm and "Critical" not in alarm and "podle pravidla" in alarm
