"""Backups, restore and factory reset of the controller (manual §5.1.1, config/backup).

Owns the backup file format and the all-or-nothing restore. A backup is a gzip'd
tar in ``<data-dir>/backups`` named ``enerteg-backup-<UTC time>.tar.gz`` holding:

* ``manifest.json``: format, creation time, host, which parts are present and the
  SHA-256 of every other member (a damaged or edited file is refused);
* ``config.json``: settings of every ``config/`` topic (secret keys and the SNMP
  community left out: ``core.masking.sensitive_fields``), users
  (name, roles, keys, must-change flag, creation time; no password hash), the DC
  structure, device registry entries with their rack, the rules, and the API tokens
  (``apiTokens``: id, user, name, times and the SHA-256 of the secret, never the secret:
  a hash of 256 random bits gives nothing to guess from, unlike a password's, so it
  needs no passphrase; a restore brings every token back, working as before) and the
  event subscriptions (``subscriptions``: destination, owner, filters, context and the
  names of their HTTP headers; the headers' values only in ``secrets.enc``);
* ``secrets.enc`` (only when ``config/backup_settings`` passphrase is set): the
  secret settings (except that passphrase itself: a backup never holds the key to
  itself), the users' password hashes and the subscriptions' HTTP header values as JSON, encrypted with AES-256-GCM
  under a key derived from the passphrase by scrypt (n=2^15, r=8, p=1, random salt).
  Without a passphrase secrets are *excluded*: a restore keeps the current secrets,
  and a restored user who does not exist here gets no usable password (an admin
  sets one with ``user passwd``);
* ``audit.json`` when includeLogs (and the log files under ``logs/``);
* ``history.db`` when includeHistory (an online SQLite copy).

Restore reads a file from ``/upload`` (or anywhere the caller names), checks every
hash, decrypts the secrets if present (the passphrase must be the current one),
validates every settings topic through its schema, every rule through the rule
schema and the structure for consistency, and only then replaces everything in one
transaction of the controller database; the in-memory services are reloaded after.
Any failure before the commit changes nothing. Called by the shell (``backup``,
``restore``, ``factory-reset``) and the scheduler task in this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import os
import sqlite3
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .alarms import AlarmService
from .audit import AuditLog, Severity
from .configuration import Configuration
from .devices import DeviceService
from .documents import loads
from .errors import Invalid, NotFound
from .events import Event, EventBus
from .export import ExportService
from .history import HistoryService
from .layout import DataLayout
from .api_tokens import ApiTokens
from .certstore import CertStore
from .masking import sensitive_fields
from .permissions import Action, Principal, require
from .rules import RuleService
from .settings import SETTINGS_TOPICS
from .store import Store
from .subscriptions import Subscriptions, check_headers
from .structure import Structure
from .users import UserService
from .waiting import cancel_and_wait, run_every

__all__ = ["BackupService", "BackupInfo", "FORMAT", "FACTORY_RESET_WORD"]

log = logging.getLogger(__name__)

SCHEDULE_CHECK_S = 60.0
"""How often the backup schedule is checked."""
FORMAT = "enerteg-backup/1"
"""Manifest format string; restore refuses any other."""
FACTORY_RESET_WORD = "factory-reset"
"""What an operator must type to confirm a factory reset."""
SESSIONS_ENDED = "Factory reset: every session was ended; log in again as admin/admin."
"""What a session ended by a factory reset is told."""
_PREFIX = "enerteg-backup-"
_SUFFIX = ".tar.gz"
_OWN_PASSPHRASE = ("backup_settings", "passphrase")
"""The one secret a backup never holds: the passphrase that encrypts it (a restore
keeps the current one, which must be it anyway to decrypt)."""
_MAX_MEMBER = 512 << 20
"""Largest member read from a backup (history.db can be large; config is small)."""


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """A backup file in the backups folder."""

    path: Path
    size: int
    created: float


def _derive(passphrase: str, salt: bytes) -> bytes:
    return hashlib.scrypt(passphrase.encode(), salt=salt, n=2**15, r=8, p=1, maxmem=64 << 20,
                          dklen=32)


def encrypt(data: bytes, passphrase: str) -> bytes:
    """AES-256-GCM with a scrypt key: salt(16) + nonce(12) + ciphertext."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = os.urandom(16), os.urandom(12)
    return salt + nonce + AESGCM(_derive(passphrase, salt)).encrypt(nonce, data, FORMAT.encode())


def decrypt(blob: bytes, passphrase: str) -> bytes:
    """Inverse of ``encrypt``; ``Invalid`` when the passphrase is wrong or data damaged."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(_derive(passphrase, blob[:16])).decrypt(blob[16:28], blob[28:],
                                                             FORMAT.encode())
    except (InvalidTag, ValueError):
        raise Invalid("the backup's secrets cannot be decrypted: the passphrase in "
                      "config/backup_settings is not the one the backup was made with, or the "
                      "file is damaged", thing="passphrase", value="***",
                      allowed="the passphrase the backup was made with") from None


class BackupService:
    """Makes, lists and restores backups; factory reset; scheduled backups.

    Its dependencies are explicit: the store (one transaction for a restore), the
    services whose state a backup holds, the data-directory layout and a clock.
    """

    def __init__(self, *, store: Store, config: Configuration, users: UserService,
                 devices: DeviceService, structure: Structure, rules: RuleService,
                 alarms: AlarmService, audit: AuditLog, events: EventBus,
                 history: HistoryService, export: ExportService, paths: DataLayout,
                 clock: Callable[[], float] = time.time, certs: CertStore | None = None,
                 tokens: ApiTokens | None = None,
                 subscriptions: Subscriptions | None = None) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._tokens = tokens
        self._certs = certs
        self._config = config
        self._users = users
        self._devices = devices
        self._structure = structure
        self._rules = rules
        self._alarms = alarms
        self._export = export
        self._audit = audit
        self._events = events
        self._history = history
        self._paths = paths
        self._clock = clock
        config.appliers.register("backup", "backup")
        config.appliers.register("backup_settings", "backup")
        self.folder: Path = paths.backups
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ schedule
    async def start(self) -> None:
        """Start the scheduled backups (config/backup)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name="backup-schedule")

    async def stop(self) -> None:
        """Stop the schedule."""
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        await run_every(SCHEDULE_CHECK_S, self._scheduled, logger=log,
                        failure="scheduled backup failed")

    async def _scheduled(self) -> None:
        """One check of the schedule: a backup if one is due, then the retention."""
        from .permissions import SYSTEM

        sched = self._config.get("backup")
        if not sched.scheduleEnabled:
            return
        last = max((b.created for b in self.list_backups()), default=0.0)
        if self._clock() - last < sched.intervalHours * 3600:
            return
        await self.create(SYSTEM)
        for old in self.list_backups()[: -int(sched.retentionCount)]:
            old.path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ create
    def list_backups(self) -> list[BackupInfo]:
        """Backups in the backups folder, oldest first."""
        out = []
        for p in sorted(self.folder.glob(f"{_PREFIX}*{_SUFFIX}")):
            st = p.stat()
            out.append(BackupInfo(p, st.st_size, st.st_mtime))
        return out

    async def _collect(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(public part, secrets) of the configuration."""
        settings, secret_settings = {}, {}
        stored_all = self._config.backup_state()
        for name, schema in SETTINGS_TOPICS.items():
            stored = stored_all[name]
            secrets = sensitive_fields(schema)
            settings[name] = {k: v for k, v in stored.items() if k not in secrets}
            secret_settings[name] = {k: v for k, v in stored.items()
                                     if k in secrets and (name, k) != _OWN_PASSPHRASE}
        users, hashes = await self._users.backup_state()
        elements = await self._structure.backup_state()
        devices = await self._devices.backup_state()
        rules = await self._rules.backup_state()
        public = {"settings": settings, "users": users, "structure": elements,
                  "devices": devices, "rules": rules}
        secret: dict[str, Any] = {"settings": secret_settings, "userHashes": hashes}
        if self._certs is not None:     # certificates public, their keys only in secrets.enc
            public["certs"], secret["certKeys"] = await self._certs.backup_state()
        if self._tokens is not None:    # SHA-256 of 256 random bits: nothing to guess from
            public["apiTokens"] = await self._tokens.backup_state()
        if self._subscriptions is not None:  # HTTP header values are secrets
            public["subscriptions"], secret["subscriptionHeaders"] = \
                self._subscriptions.backup_state()
        return public, secret

    async def create(self, principal: Principal) -> Path:
        """Write a backup file; returns its path (``ADMINISTER`` needed)."""
        require(principal, Action.ADMINISTER, "backup")
        contents = self._config.get("backup_settings")
        async with self._lock:
            public, secrets = await self._collect()
            members: dict[str, bytes] = {"config.json": json.dumps(public, indent=1).encode()}
            if contents.passphrase:
                members["secrets.enc"] = await asyncio.to_thread(
                    encrypt, json.dumps(secrets).encode(), contents.passphrase)
            files: dict[str, Path] = {}
            if contents.includeLogs:
                members["audit.json"] = json.dumps(await self._audit.backup_rows()).encode()
                logs = self._paths.logs
                files.update({f"logs/{p.name}": p for p in sorted(logs.glob("*")) if p.is_file()})
            if contents.includeHistory:
                await self._history.flush()
                tmp = self.folder / ".history-copy.db"
                await asyncio.to_thread(_sqlite_copy, self._history.path, tmp)
                files["history.db"] = tmp
            now = self._clock()
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
            path = self.folder / f"{_PREFIX}{stamp}{_SUFFIX}"
            n = 1
            while path.exists():
                n += 1
                path = self.folder / f"{_PREFIX}{stamp}-{n}{_SUFFIX}"
            manifest = {"format": FORMAT, "created": now,
                        "hostname": self._config.get("hostname").hostname,
                        "secrets": "encrypted" if contents.passphrase else "excluded",
                        "members": {}}
            await asyncio.to_thread(_write_tar, path, manifest, members, files)
            with contextlib.suppress(FileNotFoundError):
                (self.folder / ".history-copy.db").unlink()
        await self._audit.record(principal, "backup.create", "backup",
                                  f"Backup {path.name} created (secrets {manifest['secrets']})",
                                  severity=Severity.INFO)
        return path

    # ------------------------------------------------------------------ restore
    async def restore(self, principal: Principal, path: Path) -> dict[str, int]:
        """Validate a backup completely, then replace the configuration with it.

        Returns:
            Counts of what was restored (topics, users, elements, devices, rules).

        Raises:
            Invalid: the file is not a backup, damaged, of another format, or a part
                fails validation; nothing changed.
        """
        require(principal, Action.ADMINISTER, "restore")
        if not path.is_file():
            raise NotFound(f"backup file {str(path)!r} does not exist", thing="file",
                           value=str(path), allowed="a backup file in /upload or /backups")
        members = await asyncio.to_thread(_read_tar, path)
        try:
            public = loads(members["config.json"].decode("utf-8", errors="replace")
                           if isinstance(members["config.json"], bytes)
                           else members["config.json"], f"{path.name}: config.json")
        except ValueError as exc:
            raise _bad(path, f"config.json is not JSON ({exc})") from None
        secrets = None
        if "secrets.enc" in members:
            phrase = self._config.get("backup_settings").passphrase
            if not phrase:
                raise Invalid("the backup holds encrypted secrets but config/backup_settings has "
                              "no passphrase; set the passphrase the backup was made with",
                              thing="passphrase", value="", allowed="the backup's passphrase")
            secrets = json.loads(await asyncio.to_thread(decrypt, members["secrets.enc"], phrase))
        plan = self._validate(path, public, secrets)
        async with self._store.transaction() as tx:  # each service writes its own tables
            await self._config.restore_state(tx, plan["settings"])
            await self._users.restore_state(tx, public["users"],
                                            (secrets or {}).get("userHashes", {}))
            await self._devices.clear_places(tx)
            await self._structure.restore_state(tx, public["structure"])
            await self._devices.restore_state(tx, public["devices"])
            await self._rules.restore_state(tx, public["rules"])
            if self._certs is not None and "certs" in public:  # older backups have none
                await self._certs.restore_state(tx, public["certs"],
                                                (secrets or {}).get("certKeys"))
            if self._tokens is not None:
                await self._tokens.restore_state(tx, public.get("apiTokens"),
                                                 {u["name"] for u in public["users"]})
            if self._subscriptions is not None:
                await self._subscriptions.restore_state(
                    tx, public.get("subscriptions"),
                    None if secrets is None else secrets.get("subscriptionHeaders", {}),
                    {u["name"] for u in public["users"]})
            entry = await self._audit.insert(
                tx, principal, "backup.restore", "backup", f"Configuration restored from {path.name}",
                severity=Severity.WARNING)
        self._audit.announce(entry)
        await self._reload()
        return {"topics": len(plan["settings"]), "users": len(public["users"]),
                "elements": len(public["structure"]), "devices": len(public["devices"]),
                "rules": len(public["rules"])}

    def _validate(self, path: Path, public: Any, secrets: Any) -> dict[str, Any]:
        if not isinstance(public, dict) or not {"settings", "users", "structure", "devices",
                                                 "rules"} <= set(public):
            raise _bad(path, "config.json lacks settings, users, structure, devices or rules")
        settings = {}
        for name in SETTINGS_TOPICS:
            doc = dict(public["settings"].get(name, {}))
            schema = SETTINGS_TOPICS[name]
            secret_src = (secrets or {}).get("settings", {}).get(name)
            current = self._config.get(name).stored_dump()
            for k in sensitive_fields(schema):
                if secret_src is not None and k in secret_src:
                    doc[k] = secret_src[k]
                elif k in schema.secret_fields() or k not in doc:
                    # not in the backup (its own passphrase, or secrets excluded): keep
                    doc[k] = current.get(k, "")
                # else an older backup holding a non-secret sensitive key in clear: as is
            settings[name] = self._config.validate(name, doc)  # Invalid names topic and key
        unknown = set(public["settings"]) - set(SETTINGS_TOPICS)
        if unknown:
            raise _bad(path, f"unknown settings topic(s) {', '.join(sorted(unknown))}")
        from .permissions import parse_roles

        names = set()
        for u in public["users"]:
            parse_roles(u.get("roles", []))
            if not u.get("name") or u["name"] in names:
                raise _bad(path, f"user entry {u.get('name')!r} is empty or repeated")
            names.add(u["name"])
        if not any("admin" in u["roles"] for u in public["users"]):
            raise _bad(path, "no user has the admin role")
        ids = {e["id"]: e for e in public["structure"]}
        parent_kind = {"room": None, "row": "room", "rack": "row"}
        for e in public["structure"]:
            want = parent_kind.get(e.get("kind"))
            if e.get("kind") not in parent_kind or (want is None) != (e.get("parentId") == 0) or (
                    want is not None and ids.get(e["parentId"], {}).get("kind") != want):
                raise _bad(path, f"DC element {e.get('name')!r} has a wrong kind or parent")
        for d in public["devices"]:
            if d.get("rackId") is not None and ids.get(d["rackId"], {}).get("kind") != "rack":
                raise _bad(path, f"device {d.get('hexId')} is placed in {d.get('rackId')}, "
                                 "which is not a rack of the backup")
        rule_ids: set[int] = set()
        for r in public["rules"]:
            try:
                self._rules.validate(r["data"])
            except (ValidationError, KeyError, TypeError) as exc:
                raise _bad(path, f"a rule does not validate ({exc})") from None
            rid = r.get("id")  # backups made before ids were kept have none: renumbered
            if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int)
                                    or rid < 1 or rid in rule_ids):
                raise _bad(path, f"rule id {rid!r} is not a positive whole number or is repeated")
            if rid is not None:
                rule_ids.add(rid)
        if self._certs is not None and "certs" in public:
            try:
                self._certs.validate_backup(public["certs"])
            except Invalid as exc:
                raise _bad(path, f"a certificate does not validate ({exc})") from None
        if self._tokens is not None and "apiTokens" in public:
            try:
                self._tokens.validate_backup(public["apiTokens"], names)
            except Invalid as exc:
                raise _bad(path, str(exc)) from None
        if self._subscriptions is not None and "subscriptions" in public:
            try:
                self._subscriptions.validate_backup(public["subscriptions"], names)
                for hdrs in (secrets or {}).get("subscriptionHeaders", {}).values():
                    check_headers(hdrs)
            except Invalid as exc:
                raise _bad(path, str(exc)) from None
        return {"settings": settings}

    async def _reload(self) -> None:
        await self._config.load()
        for name in SETTINGS_TOPICS:
            self._events.publish(Event("settings", name, self._config.get(name)))
        await self._users.load()
        await self._devices.reload_places()
        await self._structure.load()
        await self._rules.load()
        if self._certs is not None:
            await self._certs.reload()
        if self._tokens is not None:
            await self._tokens.reload()
        if self._subscriptions is not None:
            await self._subscriptions.load()
        self._events.publish(Event("structure", "", "restored"))

    # ------------------------------------------------------------------ factory reset
    async def factory_reset(self, principal: Principal, confirmation: str) -> None:
        """Delete every setting, user, structure element, rule, alarm, audit entry and the
        history; admin/admin comes back. Does not touch the PDUs' own configuration."""
        require(principal, Action.ADMINISTER, "factory-reset")
        if confirmation != FACTORY_RESET_WORD:
            raise Invalid(f"factory reset not confirmed: type {FACTORY_RESET_WORD!r} exactly",
                          thing="confirmation", value=confirmation, allowed=FACTORY_RESET_WORD)
        # Each service resets its own state (database and memory). Rules go before
        # alarms, so that no sweep in between raises an alarm from a deleted rule.
        await self._rules.reset()
        await self._alarms.reset()
        await self._structure.reset()
        await self._devices.reload_places()
        await self._users.reset()
        ended = self._users.sessions.end_all(SESSIONS_ENDED, last=principal.session)
        await self._config.reset()
        for name in SETTINGS_TOPICS:
            self._events.publish(Event("settings", name, self._config.get(name)))
        self._events.publish(Event("structure", "", "reset"))
        await self._audit.reset()
        await self._history.clear()
        await self._export.reset()
        if self._certs is not None:
            await self._certs.reset()
        if self._tokens is not None:
            await self._tokens.reset()
        await self._audit.record(principal, "factory-reset", "controller",
                                 "Factory reset: configuration, users, structure, rules, alarms, "
                                 "certificates, "
                                 f"audit log and history deleted; {ended} session(s) ended",
                                 severity=Severity.WARNING)


def _bad(path: Path, why: str) -> Invalid:
    return Invalid(f"backup {path.name} is refused: {why}; nothing was changed", thing="backup",
                   value=path.name, allowed=f"an undamaged {FORMAT} file")


def _sqlite_copy(src: Path, dst: Path) -> None:
    a, b = sqlite3.connect(str(src)), sqlite3.connect(str(dst))
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def _write_tar(path: Path, manifest: dict[str, Any], members: dict[str, bytes],
               files: dict[str, Path]) -> None:
    for name, data in members.items():
        manifest["members"][name] = hashlib.sha256(data).hexdigest()
    for name, p in files.items():
        h = hashlib.sha256()
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        manifest["members"][name] = h.hexdigest()
    tmp = path.with_suffix(".part")
    with tarfile.open(tmp, "w:gz") as tar:
        for name, data in [("manifest.json", json.dumps(manifest, indent=1).encode()),
                           *members.items()]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(manifest["created"])
            tar.addfile(info, io.BytesIO(data))
        for name, p in files.items():
            tar.add(str(p), arcname=name)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_tar(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for m in tar.getmembers():
                if not m.isfile() or m.size > _MAX_MEMBER or m.name.startswith(("/", "..")):
                    raise _bad(path, f"member {m.name!r} is not allowed")
                f = tar.extractfile(m)
                if m.name in ("manifest.json", "config.json", "secrets.enc", "audit.json"):
                    out[m.name] = f.read() if f else b""
                else:
                    h = hashlib.sha256()
                    for block in iter(lambda: f.read(1 << 20), b""):  # type: ignore[union-attr]
                        h.update(block)
                    out[m.name] = b"sha256:" + h.hexdigest().encode()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _bad(path, f"not a readable backup archive ({exc})") from None
    try:
        manifest = json.loads(out.get("manifest.json", b""))
    except ValueError:
        raise _bad(path, "manifest.json is missing or not JSON") from None
    if manifest.get("format") != FORMAT:
        raise _bad(path, f"format {manifest.get('format')!r} is not {FORMAT!r}")
    for name, digest in manifest.get("members", {}).items():
        data = out.get(name)
        got = (data[7:].decode() if data is not None and data.startswith(b"sha256:")
               else hashlib.sha256(data).hexdigest() if data is not None else None)
        if got != digest:
            raise _bad(path, f"member {name} is missing or damaged (checksum mismatch)")
    if "config.json" not in out:
        raise _bad(path, "config.json is missing")
    return out

