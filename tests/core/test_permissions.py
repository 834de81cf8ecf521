"""The role × action matrix of manual §5.9, and the one check every face calls."""

from __future__ import annotations

import pytest

from enerteg_tui.core.errors import Invalid, PermissionDenied
from enerteg_tui.core.permissions import (
    Action, Principal, Role, allowed, parse_roles, require,
)

A = Action
EXPECTED = {
    "admin": set(Action),
    "readonly": {A.READ},
    "power": {A.READ, A.SWITCH_ON, A.SWITCH_OFF, A.ACK_ALARM},
    "readwrite": {A.READ, A.DEVICE_SETUP, A.EDIT_STRUCTURE, A.EDIT_RULES, A.ACK_ALARM},
    "poweron": {A.READ, A.SWITCH_ON, A.ACK_ALARM},
    "poweroff": {A.READ, A.SWITCH_OFF, A.ACK_ALARM},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_matrix(role: str, action: Action) -> None:
    p = Principal(user="u", roles=frozenset({Role(role)}))
    assert allowed(p, action) is (action in EXPECTED[role])
    if action in EXPECTED[role]:
        require(p, action)
    else:
        with pytest.raises(PermissionDenied) as err:
            require(p, action, "config/syslog")
        msg = str(err.value)
        assert "'u'" in msg and role in msg and action.value in msg and "config/syslog" in msg
        assert "admin" in msg  # names the roles that would do


def test_roles_union() -> None:
    p = Principal(user="u", roles=frozenset({Role.POWERON, Role.POWEROFF}))
    assert allowed(p, A.SWITCH_ON) and allowed(p, A.SWITCH_OFF)
    assert not allowed(p, A.DEVICE_SETUP)


def test_no_roles_may_nothing() -> None:
    p = Principal(user="ghost", roles=frozenset())
    assert not any(allowed(p, a) for a in Action)


def test_parse_roles() -> None:
    assert parse_roles(["Admin", " power "]) == {Role.ADMIN, Role.POWER}
    with pytest.raises(Invalid) as err:
        parse_roles(["superuser"])
    assert "superuser" in str(err.value) and "readonly" in str(err.value)


def test_matrix_documented() -> None:
    """docs/permissions.md lists every role and action."""
    from pathlib import Path
    text = (Path(__file__).parents[2] / "docs" / "permissions.md").read_text()
    for role in Role:
        assert f"`{role.value}`" in text
    for action in Action:
        assert f"`{action.value}`" in text


def test_switch_table_lives_in_core_and_the_dialog_uses_it() -> None:
    """One permission source: a cycle needs both rights; the console's refusal is core's."""
    from enerteg_tui.core.model import OutletAction
    from enerteg_tui.core.permissions import (
        Principal, Role, SWITCH_NEEDS, require_switch, switch_refusal,
    )
    from enerteg_tui.screens import switching

    assert switching.refusal is switch_refusal
    on_only = Principal(user="u", roles=frozenset({Role.POWERON}), face="test")
    assert switch_refusal(on_only, OutletAction.ON) is None
    why = switch_refusal(on_only, OutletAction.CYCLE, "sensor/X/o/1")
    assert why is not None and "switch-off" in why and "sensor/X/o/1" in why
    assert set(SWITCH_NEEDS[OutletAction.CYCLE]) == {
        *SWITCH_NEEDS[OutletAction.ON], *SWITCH_NEEDS[OutletAction.OFF]}
    import pytest
    from enerteg_tui.core.errors import PermissionDenied
    with pytest.raises(PermissionDenied):
        require_switch(on_only, OutletAction.OFF)
