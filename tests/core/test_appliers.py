"""Issue 14 item 12: no setting claims an effect it does not have.

Every settings topic's declared ``SERVICE`` must be exactly the services that register
as its appliers in a controller running every service (SSH, serial console, syslog,
e-mail, backup, export, poller, history); a key that nothing outside the settings
schemas reads must be listed in its schema's ``INACTIVE_KEYS`` (and a listed key must
really be unread). Faces then say "stored, but not active in this build" for them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from enerteg_tui.core.settings import SETTINGS_TOPICS

PACKAGE = Path(__file__).parents[2] / "enerteg_tui"


@pytest.fixture
async def everything(make_controller):
    """A controller with every service of this build, the serial console on a pty."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    try:
        yield await make_controller(pdus=2, ssh_enabled=True, ssh_port=0, bind="127.0.0.1",
                                    serial_device=path)
    finally:
        os.close(master)


@pytest.mark.parametrize("topic", sorted(SETTINGS_TOPICS))
async def test_declared_service_is_what_applies_the_topic(everything, topic: str) -> None:
    schema = SETTINGS_TOPICS[topic]
    declared = set() if schema.SERVICE is None else set(schema.SERVICE.split(", "))
    applied = set(everything.config.appliers.applied_by(topic))
    assert declared == applied, (
        f"config/{topic} says it is applied by {sorted(declared) or 'nothing'}, but "
        f"{sorted(applied) or 'nothing'} registered as its applier")


def _read_outside_settings() -> str:
    return "\n".join(p.read_text() for p in PACKAGE.rglob("*.py")
                     if "core/settings" not in p.as_posix())


@pytest.mark.parametrize("topic", sorted(t for t, s in SETTINGS_TOPICS.items() if s.SERVICE))
def test_unread_keys_are_declared_inactive(topic: str) -> None:
    schema = SETTINGS_TOPICS[topic]
    code = _read_outside_settings()
    unread = {k for k in schema.model_fields if not re.search(rf"\b{re.escape(k)}\b", code)}
    assert unread == set(schema.INACTIVE_KEYS), (
        f"config/{topic}: keys nothing reads {sorted(unread)}, declared inactive "
        f"{sorted(schema.INACTIVE_KEYS)}")
