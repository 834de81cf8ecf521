"""Roles, actions and the one permission check every face calls.

The six roles are the manual's (§5.9). ``require(principal, action)`` is the only
place that decides; faces call it (through core services) and map the resulting
``PermissionDenied`` to their own refusal. The matrix is documented in
docs/permissions.md and proven by tests/core/test_permissions.py.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from enum import Enum

from .errors import Invalid, PermissionDenied
from .model import OutletAction

__all__ = ["Role", "Action", "Principal", "MATRIX", "allowed", "require", "parse_roles", "SYSTEM",
           "FOLDER_READ", "SWITCH_NEEDS", "require_switch", "switch_refusal"]


class Role(str, Enum):
    """The manual's roles (§5.9)."""

    ADMIN = "admin"
    """Read/write access to every function."""
    READONLY = "readonly"
    """Reads device data; changes nothing, switches nothing."""
    POWER = "power"
    """Reads, and switches outlets on and off."""
    READWRITE = "readwrite"
    """Reads, and writes device setup (names, delays, structure, rules), no switching."""
    POWERON = "poweron"
    """Reads, and switches outlets on."""
    POWEROFF = "poweroff"
    """Reads, and switches outlets off."""


class Action(str, Enum):
    """What a principal asks to do; each face maps its requests onto these."""

    READ = "read"
    """Read live values, device data, structure, alarms and non-secret settings."""
    DEVICE_SETUP = "device-setup"
    """Write device settings: names, feed, location, delays, power-up mode."""
    SWITCH_ON = "switch-on"
    """Switch an outlet on."""
    SWITCH_OFF = "switch-off"
    """Switch an outlet off (a power cycle needs both switch actions)."""
    EDIT_STRUCTURE = "edit-structure"
    """Create, rename, delete rooms/rows/racks and assign devices to racks."""
    EDIT_RULES = "edit-rules"
    """Create, change and delete rules and thresholds."""
    ACK_ALARM = "ack-alarm"
    """Acknowledge alarms and comment on audit entries."""
    ADMINISTER = "administer"
    """Change controller settings (``config/``), users, backups; read the audit log."""
    SIMULATE = "simulate"
    """Inject faults into the simulated ring (``sim/``)."""


_A = Action
MATRIX: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.READONLY: frozenset({_A.READ}),
    Role.POWER: frozenset({_A.READ, _A.SWITCH_ON, _A.SWITCH_OFF, _A.ACK_ALARM}),
    Role.READWRITE: frozenset(
        {_A.READ, _A.DEVICE_SETUP, _A.EDIT_STRUCTURE, _A.EDIT_RULES, _A.ACK_ALARM}
    ),
    Role.POWERON: frozenset({_A.READ, _A.SWITCH_ON, _A.ACK_ALARM}),
    Role.POWEROFF: frozenset({_A.READ, _A.SWITCH_OFF, _A.ACK_ALARM}),
}
"""Actions each role grants; a principal holds the union over its roles."""

_session_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, from which face and address; passed first to every checked call."""

    user: str
    roles: frozenset[Role]
    face: str = "internal"
    """The face the request came through: ssh-console, shell, serial, snmp, ..."""
    address: str = ""
    """Source address (IP, serial device), empty for internal work."""
    session: int = field(default_factory=lambda: next(_session_ids))
    since: float = field(default_factory=time.time)
    source: str = "local"
    """Where the account lives: ``local`` (the user table) or ``ldap`` (the directory of
    config/auth, ``core.directory``)."""
    reached: str = ""
    """The controller's own address the connection reached (its socket's local
    address; empty for serial and local consoles and internal work): ``network confirm``
    checks it after an address change (core/network.py)."""

    @property
    def actions(self) -> frozenset[Action]:
        """Every action the principal's roles grant."""
        out: set[Action] = set()
        for role in self.roles:
            out |= MATRIX[role]
        return frozenset(out)

    @property
    def role_names(self) -> str:
        """Roles as a comma-separated, sorted string."""
        return ",".join(sorted(r.value for r in self.roles)) or "(none)"


SYSTEM = Principal(user="system", roles=frozenset({Role.ADMIN}), face="internal")
"""The controller itself (scheduled jobs, start-up); audited as user 'system'."""


def allowed(principal: Principal, action: Action) -> bool:
    """Whether ``principal`` may do ``action``."""
    return any(action in MATRIX[r] for r in principal.roles)


def require(principal: Principal, action: Action, what: str = "") -> None:
    """Raise ``PermissionDenied`` unless ``principal`` may do ``action``.

    Args:
        principal: who asks.
        action: what they ask to do.
        what: the object, for the message (e.g. ``config/snmp_agent``).
    """
    if allowed(principal, action):
        return
    needed = sorted(r.value for r, acts in MATRIX.items() if action in acts)
    target = f" on {what}" if what else ""
    raise PermissionDenied(
        f"Permission denied: user {principal.user!r} (roles {principal.role_names}) may not "
        f"{action.value}{target}; that needs one of the roles {', '.join(needed)}",
        thing=what or action.value, value=principal.role_names, allowed=", ".join(needed),
    )


SWITCH_NEEDS: dict[OutletAction, tuple[Action, ...]] = {
    OutletAction.ON: (Action.SWITCH_ON,),
    OutletAction.OFF: (Action.SWITCH_OFF,),
    OutletAction.CYCLE: (Action.SWITCH_ON, Action.SWITCH_OFF),
}
"""The permission actions behind each outlet action: a power-cycle needs both."""


def require_switch(principal: Principal, action: OutletAction, what: str = "") -> None:
    """Raise ``PermissionDenied`` unless ``principal`` may switch an outlet this way."""
    for need in SWITCH_NEEDS[action]:
        require(principal, need, what)


def switch_refusal(principal: Principal, action: OutletAction, what: str = "") -> str | None:
    """The refusal text for an outlet action, or None when ``principal`` may do it
    (faces use it to offer only what is allowed and to say why the rest is not)."""
    try:
        require_switch(principal, action, what)
    except PermissionDenied as exc:
        return str(exc)
    return None


def parse_roles(names: list[str] | tuple[str, ...] | set[str]) -> frozenset[Role]:
    """Roles from their names; raises ``Invalid`` naming a bad one and the allowed set."""
    out: set[Role] = set()
    for name in names:
        try:
            out.add(Role(name.strip().lower()))
        except ValueError:
            raise Invalid(
                f"role {name!r} does not exist; roles are {', '.join(r.value for r in Role)}",
                thing="role", value=name, allowed=", ".join(r.value for r in Role),
            ) from None
    return frozenset(out)


FOLDER_READ: dict[str, Action] = {
    "docs": Action.READ,
    "reports": Action.READ,
    "backups": Action.ADMINISTER,
    "logs": Action.ADMINISTER,
    "upload": Action.ADMINISTER,
}
"""Right needed to list or download each folder of the file tree (SFTP). Backups, the
logs (their archive holds the audit log) and uploads (restore files, private keys) are
the administrator's, as the audit log is (docs/permissions.md)."""
