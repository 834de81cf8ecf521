"""Per-user display preferences (issue 18 item 5): stored, audited, checked, deleted with the user."""

from __future__ import annotations

import pytest

from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.core.errors import Invalid, NotFound, PermissionDenied
from enerteg_tui.core.preferences import DisplayPrefs
from tests.conftest import ADMIN, principal


async def test_defaults_set_own_and_persist(make_controller, tmp_path) -> None:
    c = await make_controller(pdus=1, data_dir=tmp_path / "d")
    await c.users.add(ADMIN, "olga", "Long-enough-1", ["readonly"])
    olga = principal("readonly", user="olga")
    assert await c.users.prefs.get("olga") == DisplayPrefs(changeMarks="subtle", noColor=False)
    new = await c.users.prefs.set(olga, "olga", {"changeMarks": "flash", "noColor": "on"})
    assert (new.changeMarks, new.noColor) == ("flash", True)
    entries = await c.audit.query(ADMIN, AuditFilter(text="Display preferences"))
    assert any("changeMarks flash" in e.message and "noColor on" in e.message for e in entries)
    await c.stop()
    c2 = await make_controller(pdus=1, data_dir=tmp_path / "d")
    assert (await c2.users.prefs.get("olga")).changeMarks == "flash"


async def test_refusals_name_the_value_and_change_nothing(controller) -> None:
    users = controller.users
    await users.add(ADMIN, "olga", "Long-enough-1", ["readonly"])
    olga = principal("readonly", user="olga")
    with pytest.raises(Invalid) as err:
        await users.prefs.set(olga, "olga", {"changeMarks": "blink"})
    assert "changeMarks" in str(err.value) and "blink" in str(err.value)
    assert "off, subtle, flash" in str(err.value)
    with pytest.raises(Invalid) as err:
        await users.prefs.set(olga, "olga", {"sparkle": 1})
    assert "sparkle" in str(err.value)
    with pytest.raises(PermissionDenied):
        await users.prefs.set(olga, "admin", {"changeMarks": "off"})
    with pytest.raises(NotFound):
        await users.prefs.set(ADMIN, "ghost", {"changeMarks": "off"})
    assert (await users.prefs.get("olga")).changeMarks == "subtle"
    await users.prefs.set(ADMIN, "olga", {"changeMarks": "off"})     # an admin may
    assert (await users.prefs.get("olga")).changeMarks == "off"


async def test_deleted_with_the_user(controller) -> None:
    users = controller.users
    await users.add(ADMIN, "olga", "Long-enough-1", ["readonly"])
    await users.prefs.set(ADMIN, "olga", {"noColor": True})
    await users.delete(ADMIN, "olga")
    await users.add(ADMIN, "olga", "Long-enough-1", ["readonly"])
    assert not (await users.prefs.get("olga")).noColor
