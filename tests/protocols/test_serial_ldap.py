"""A directory user logs in on the serial console (issue 22): the same admission path as
SSH, so the mapped role and source ldap reach the serial shell; a user in no mapped group
gets "Login incorrect" like any refused login."""

from __future__ import annotations

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.ldap_server import PASSWORD, auth_settings, slapd, trust_ca  # noqa: F401
from tests.protocols.test_serial import lines, login, new_line, serve  # noqa: F401

pytestmark = pytest.mark.xdist_group("slapd")


async def test_directory_user_on_the_serial_line(controller, serve, lines, slapd) -> None:
    await trust_ca(controller, slapd)
    await controller.config.put(SYSTEM, "auth", auth_settings(slapd))
    line = new_line(lines)
    await serve(line.path)
    await login(line, "carol", PASSWORD, term=None)        # in no mapped group
    await line.expect("Login incorrect")
    await login(line, "bob", PASSWORD)
    await line.expect("bob@enerteg:> ")
    line.send("whoami\r")
    out = await line.expect("bob@enerteg:> ")
    assert "power" in out and "ldap" in out and "serial" in out
