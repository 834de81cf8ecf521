"""Remote management (issue 23 item 7): in this build the switch does nothing, and says so."""

from __future__ import annotations

from tests.appliance.test_time import shell
from tests.conftest import ADMIN


async def test_remote_management_says_it_does_nothing(make_controller) -> None:
    """Issue 23 item 7: the switch stores a value and every face says it has no effect."""
    from enerteg_tui.core.settings import SETTINGS_TOPICS

    c = await make_controller(pdus=2)
    described = SETTINGS_TOPICS["core"].model_fields["remoteManagement"].description or ""
    assert "Does nothing in this build" in described
    code, out, err = await shell(c, ADMIN, "cd config/core\nput remoteManagement=enabled")
    assert code == 0, err
    assert "remoteManagement is stored, but not active in this build: nothing reads it" in err
    assert c.config.get("core").remoteManagement is True
    assert "support" not in [u.name for u in await c.users.list(ADMIN)]
