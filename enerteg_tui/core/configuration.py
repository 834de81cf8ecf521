"""Controller settings: the ``config/<name>`` topics, validated, stored atomically, audited.

Owns the current value of every settings topic. A change is permission-checked
first (a user who may not change settings learns nothing about them by probing),
then merged, validated by the topic's schema, written together with its audit entry
in one transaction, and only then made current and announced (event kind
``settings``), so a crash never leaves half a change.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from .audit import AuditLog, Severity
from .documents import apply_changes, diff_keys
from .safetext import multiline_keys, refuse_control
from .events import Event, EventBus
from .masking import sensitive_fields
from .permissions import Action, Principal, require
from .settings import SETTINGS_TOPICS, settings_schema
from .settings._base import SECRET_SHOWN_AS, SettingsModel, keep_stored_secrets
from .settings.appliers import Appliers
from .store import Store
from .validation import invalid_from_pydantic, validate_document

__all__ = [
    "read_settings","Configuration"]

log = logging.getLogger(__name__)


async def read_settings(store: Store, name: str) -> SettingsModel:
    """One topic's stored settings (defaults when absent or damaged), read before the
    core is built: the controller needs ``config/devices`` to choose its driver."""
    schema = settings_schema(name)
    row = await store.fetchone("SELECT data FROM settings WHERE name=?", (name,))
    if row is not None:
        try:
            return schema.model_validate(json.loads(row[0]))
        except (ValueError, ValidationError):
            pass                                 # Configuration.load logs it
    return schema()


class Configuration:
    """The current settings of every ``config/`` topic.

    Args:
        store: controller database (table ``settings``).
        audit: audit log; each change writes an entry in the same transaction.
        events: announces changes as ``Event("settings", name, model)``.
        clock: wall clock.
    """

    def __init__(
        self, store: Store, audit: AuditLog, events: EventBus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._audit = audit
        self._events = events
        self.appliers = Appliers()
        """Which services apply which topics (each registers itself where it reads one)."""
        self._clock = clock
        self._models: dict[str, SettingsModel] = {}
        self._ts: dict[str, int] = {}

    def backup_state(self) -> dict[str, dict[str, Any]]:
        """Every topic's stored values, secrets included (the backup decides what to
        encrypt): topic → values."""
        return {name: self.get(name).stored_dump() for name in SETTINGS_TOPICS}

    async def restore_state(self, tx: Any, models: dict[str, SettingsModel]) -> None:
        """Replace every topic with validated ``models`` inside the restore's transaction
        ``tx``; ``load`` afterwards makes them current."""
        await tx.execute("DELETE FROM settings")
        now_ms = int(self._clock() * 1000)
        for name, model in models.items():
            await tx.execute("INSERT INTO settings (name, ts, data) VALUES (?,?,?)",
                             (name, now_ms, json.dumps(model.stored_dump(), sort_keys=True)))

    async def reset(self) -> None:
        """Factory reset of settings: every topic back to its defaults, announced."""
        await self._store.execute("DELETE FROM settings")
        await self.load()

    async def load(self) -> None:
        """Read every topic; a missing topic gets its defaults, a damaged one too (logged)."""
        rows = {r[0]: (r[1], r[2]) for r in await self._store.fetchall(
            "SELECT name, ts, data FROM settings")}
        now_ms = int(self._clock() * 1000)
        for name, schema in SETTINGS_TOPICS.items():
            model: SettingsModel | None = None
            if name in rows:
                ts, data = rows[name]
                try:
                    model = schema.model_validate(json.loads(data))
                    self._ts[name] = int(ts)
                except (ValueError, ValidationError) as exc:
                    log.error("settings %s in the database do not validate; using defaults (%s)",
                              name, str(exc).splitlines()[0])
            if model is None:
                model = schema()
                self._ts[name] = now_ms
            self._models[name] = model

    def names(self) -> list[str]:
        """Topic names in alphabetical order."""
        return list(SETTINGS_TOPICS)

    def get(self, name: str) -> SettingsModel:
        """Current settings of a topic (secrets included: for services, not for display)."""
        settings_schema(name)  # NotFound for a bad name
        return self._models[name]

    def ts_ms(self, name: str) -> int:
        """When the topic last changed, in ms since the epoch."""
        return self._ts[name]

    def public(self, name: str) -> dict[str, Any]:
        """The topic's values with secrets shown as "set"."""
        return self.get(name).public_dump()

    async def put(
        self, principal: Principal, name: str, changes: dict[str, Any], *, replace: bool = False
    ) -> SettingsModel:
        """Change settings of topic ``name``.

        Args:
            principal: who changes them (needs ``administer``).
            name: topic name under ``config/``.
            changes: key → value; keys may be dotted for nested values. With
                ``replace`` the mapping is the whole new document (``edit``).
            replace: treat ``changes`` as the complete document.

        Returns:
            The new settings.

        Raises:
            PermissionDenied, NotFound, Invalid: nothing is changed.
        """
        what = f"config/{name}"
        require(principal, Action.ADMINISTER, what)
        schema = settings_schema(name)
        current = self._models[name]
        stored = current.stored_dump()
        secrets = schema.secret_fields()
        # "set" for a secret means "keep the stored value" (it is what a read shows)
        changes = {k: (stored.get(k) if k in secrets and v == SECRET_SHOWN_AS else v)
                   for k, v in changes.items()}
        refuse_control(what, changes, multiline=multiline_keys(schema))
        if replace:
            for k in secrets:
                if changes.get(k) == SECRET_SHOWN_AS or (k not in changes and k in stored):
                    changes[k] = stored.get(k)
            merged = changes
        else:
            merged = apply_changes(stored, changes, what)
        merged = keep_stored_secrets(schema, merged, stored)   # nested "set" keeps them too
        try:
            new = schema.model_validate(merged)
        except ValidationError as exc:
            raise invalid_from_pydantic(what, exc, schema) from None
        old_public, new_public = diff_keys(current.public_dump(), new.public_dump())
        # a changed secret shows as "set" → "set"; record that it changed, not its value
        # (the SNMP community too: shown to readers, but a password all the same)
        for k in sensitive_fields(schema):
            if stored.get(k) != new.stored_dump().get(k):
                old_public[k], new_public[k] = "(old)", "(changed)"
        ts_ms = int(self._clock() * 1000)
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO settings (name, ts, data) VALUES (?,?,?) ON CONFLICT(name)"
                " DO UPDATE SET ts=excluded.ts, data=excluded.data",
                (name, ts_ms, json.dumps(new.stored_dump(), sort_keys=True)),
            )
            entry = await self._audit.insert(
                tx, principal, "settings.change", what,
                f"Settings {what} changed: {', '.join(new_public) or 'no change'}",
                severity=Severity.INFO, old=old_public, new=new_public, secret_keys=secrets,
            )
        self._models[name] = new
        self._ts[name] = ts_ms
        self._audit.announce(entry)
        self._events.publish(Event("settings", name, new))
        return new

    def validate(self, name: str, data: dict[str, Any]) -> SettingsModel:
        """Validate a whole document for topic ``name`` without storing it (restore, forms)."""
        return validate_document(f"config/{name}", settings_schema(name), data)
