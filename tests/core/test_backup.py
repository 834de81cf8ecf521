"""Backup, restore and factory reset (issue 7): identical after restore, damage refused."""

from __future__ import annotations

import json
import shutil
import tarfile

import pytest

from enerteg_tui.core.errors import Invalid, PermissionDenied
from enerteg_tui.core.structure import Kind
from enerteg_tui.protocols.shell.session import ShellSession
from tests.conftest import ADMIN, READONLY


async def run(c, script: str, who=ADMIN) -> tuple[int, str, str]:
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, who).run_script(script, out.append, err.append)
    return code, "".join(out), "".join(err)


async def _snapshot(c) -> str:
    public, secrets = await c.backup._collect()
    return json.dumps([public, secrets], sort_keys=True)


async def _change_everything(c) -> None:
    await c.config.put(ADMIN, "snmp_agent", {"enabled": True, "snmpLocation": "elsewhere"})
    await c.config.put(ADMIN, "email", {"password": "changed-secret"})
    await c.users.add(ADMIN, "eve", "Str0ng-password!", ["readonly"])
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall Z")
    row = await c.structure.create(ADMIN, Kind.ROW, "Row Z", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "Rack Z", row.id)
    await c.structure.assign(ADMIN, c.live.ordered()[0].hex_id, rack.id)
    for rule in c.rules.all()[:1]:
        await c.rules.delete(ADMIN, rule.id)


async def test_backup_change_everything_restore_identical(controller):
    await controller.config.put(ADMIN, "backup_settings", {"passphrase": "correct horse"})
    await controller.config.put(ADMIN, "email", {"password": "mail-secret"})
    before = await _snapshot(controller)
    code, out, err = await run(controller, "backup create")
    assert code == 0, err
    name = out.strip()
    assert name.startswith("/backups/enerteg-backup-") and name.endswith(".tar.gz")
    path = controller.data_dir / name.lstrip("/")
    with tarfile.open(path) as tar:
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers())
    assert b"mail-secret" not in blob and b"argon2" not in blob  # secrets only encrypted
    await _change_everything(controller)
    assert await _snapshot(controller) != before
    (controller.data_dir / "upload").mkdir(exist_ok=True)
    shutil.copy(path, controller.data_dir / "upload" / path.name)
    code, out, err = await run(controller, f"restore /upload/{path.name}")
    assert code == 0, err
    assert await _snapshot(controller) == before
    assert controller.config.get("email").password == "mail-secret"
    code, out, _ = await run(controller, "backup list")
    assert path.name in out


async def test_damaged_or_wrong_backup_is_refused_and_changes_nothing(controller, tmp_path):
    path = await controller.backup.create(ADMIN)
    await controller.config.put(ADMIN, "hostname", {"hostname": "changed"})
    before = await _snapshot(controller)
    damaged = tmp_path / "damaged.tar.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(Invalid, match="refused"):
        await controller.backup.restore(ADMIN, damaged)
    notbackup = tmp_path / "x.tar.gz"
    notbackup.write_text("hello")
    with pytest.raises(Invalid, match="not a readable backup"):
        await controller.backup.restore(ADMIN, notbackup)
    # a well-formed backup whose settings do not validate: refused, names topic and key
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(path) as src, tarfile.open(bad, "w:gz") as dst:
        manifest = json.loads(src.extractfile("manifest.json").read())
        cfg = json.loads(src.extractfile("config.json").read())
        cfg["settings"]["core"]["pollIntervalSeconds"] = 999
        body = json.dumps(cfg).encode()
        import hashlib
        import io
        manifest["members"]["config.json"] = hashlib.sha256(body).hexdigest()
        for name, payload in (("manifest.json", json.dumps(manifest).encode()),
                              ("config.json", body)):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            dst.addfile(info, io.BytesIO(payload))
    with pytest.raises(Invalid, match="pollIntervalSeconds"):
        await controller.backup.restore(ADMIN, bad)
    assert await _snapshot(controller) == before
    code, _, err = await run(controller, "restore /etc/passwd")
    assert code != 0 and "/upload/NAME" in err
    with pytest.raises(PermissionDenied):
        await controller.backup.create(READONLY)


async def test_factory_reset_needs_typed_confirmation(controller):
    await controller.users.add(ADMIN, "eve", "Str0ng-password!", ["readonly"])
    code, _, err = await run(controller, "factory-reset --confirm yes")
    assert code != 0 and "type 'factory-reset' exactly" in err
    assert any(u.name == "eve" for u in await controller.users.list(ADMIN))
    code, _, err = await run(controller, "factory-reset --confirm factory-reset")
    assert code == 0, err
    assert [u.name for u in await controller.users.list(ADMIN)] == ["admin"]
    assert await controller.users.must_change("admin")


async def test_a_backup_never_holds_its_own_passphrase_nor_the_community_in_clear(controller):
    """Issue 14: the passphrase is the key to the backup; the SNMP community is a password."""
    from enerteg_tui.core.backup import decrypt

    await controller.config.put(ADMIN, "backup_settings", {"passphrase": "correct horse"})
    await controller.config.put(ADMIN, "snmp_agent", {
        "v2cCommunity": "c0mmunity-x", "trapTargets.nms.address": "10.0.0.5",
        "trapTargets.nms.v2cCommunity": "t4rget-c0mm"})
    code, out, err = await run(controller, "backup create")
    assert code == 0, err
    path = controller.data_dir / out.strip().lstrip("/")
    with tarfile.open(path) as tar:
        config = tar.extractfile("config.json").read()
        secrets = decrypt(tar.extractfile("secrets.enc").read(), "correct horse")
    assert b"c0mmunity-x" not in config and b"correct horse" not in config
    assert b"c0mmunity-x" in secrets and b"correct horse" not in secrets
    # a secret inside a nested target too (the list is kept whole with the secrets)
    assert b"t4rget-c0mm" not in config and b"t4rget-c0mm" in secrets
    await controller.config.put(ADMIN, "snmp_agent", {"v2cCommunity": "other",
                                                      "trapTargets.nms": ""})
    code, out, err = await run(controller, f"restore /backups/{path.name}")
    assert code == 0, err
    assert controller.config.get("snmp_agent").v2cCommunity == "c0mmunity-x"
    assert controller.config.get("snmp_agent").trapTargets["nms"].v2cCommunity == "t4rget-c0mm"
    assert controller.config.get("backup_settings").passphrase == "correct horse"


def test_backup_writes_no_table_of_another_service() -> None:
    """Issue 15: each service exports and restores its own state; the backup only packs,
    encrypts, validates and orders them in one transaction."""
    import inspect
    import re

    from enerteg_tui.core import backup

    source = inspect.getsource(backup)
    assert not re.search(r"\b(INSERT INTO|DELETE FROM|UPDATE \w+ SET|SELECT .* FROM)\b", source)


async def test_api_tokens_come_back_with_a_restore(controller, tmp_path):
    """API tokens (their SHA-256, never the secret) are in the backup without a
    passphrase; a restore brings back every token, working, even for an account deleted
    and made again since; a factory reset deletes them."""
    from enerteg_tui.core.users import AuthFailed

    c = controller
    await c.users.add(ADMIN, "eve", "Str0ng-password!", ["readonly"])
    eve = await c.users.principal_for("eve", "shell", "")
    info, text = await c.core.tokens.create(eve, "ci", days=30)
    _, kept = await c.core.tokens.create(ADMIN, "kept", days=0)
    await c.core.tokens.authenticate(text, "rest", "10.0.0.9")          # a last use
    path = await c.backup.create(ADMIN)
    with tarfile.open(path) as tar:
        cfg = json.loads(tar.extractfile("config.json").read())
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers())
    rows = {r["id"]: r for r in cfg["apiTokens"]}
    assert rows[info.id]["user"] == "eve" and len(rows[info.id]["hash"]) == 64
    assert rows[info.id]["lastUsed"] is not None
    assert text.split("_", 2)[2].encode() not in blob and kept.split("_", 2)[2].encode() not in blob
    # eve and her token go (deleted with her); a new eve is made
    await c.users.delete(ADMIN, "eve")
    assert [t.name for t in await c.core.tokens.list(ADMIN)] == ["kept"]
    c.users._clock = lambda: info.created + 60
    await c.users.add(ADMIN, "eve", "Str0ng-password!", ["readonly"])
    with pytest.raises(AuthFailed):
        await c.core.tokens.authenticate(text, "rest", "")
    # a backup with a broken token row is refused and changes nothing
    bad = tmp_path / "bad.tar.gz"
    _rewrite(path, bad, lambda cfg: cfg["apiTokens"][0].update(hash="not-a-hash"))
    with pytest.raises(Invalid, match="API token"):
        await c.backup.restore(ADMIN, bad)
    assert [t.name for t in await c.core.tokens.list(ADMIN)] == ["kept"]
    # the restore: both tokens back, working, listed with their times
    await c.backup.restore(ADMIN, path)
    assert (await c.core.tokens.authenticate(text, "rest", "")).user == "eve"
    assert (await c.core.tokens.authenticate(kept, "rest", "")).user == "admin"
    got = {t.id: t for t in await c.core.tokens.list(ADMIN)}
    assert got[info.id].created == info.created and got[info.id].expires == info.expires
    # a factory reset deletes every token
    await c.backup.factory_reset(ADMIN, "factory-reset")
    assert await c.core.tokens.list(ADMIN) == []


async def test_event_subscriptions_come_back_with_a_restore(controller, tmp_path):
    """Subscriptions are in the backup; their HTTP header values (a listener's
    credentials) only in the encrypted part: with a passphrase a restore brings each
    back with its id and headers; without one the headers of a subscription still here
    are kept, a gone one comes back without them."""
    c = controller
    subs = c.core.subscriptions
    a = await subs.add(ADMIN, "https://listener.example:8443/a", protocol="Redfish",
                       context="ctx-a", filters={"ResourceTypes": ["Outlet"]},
                       headers={"Authorization": "Bearer listener-secret-1"})
    b = await subs.add(ADMIN, "http://127.0.0.1:9/b", protocol="Redfish",
                       headers={"X-Key": "listener-secret-2"})
    await c.config.put(ADMIN, "backup_settings", {"passphrase": "correct horse"})
    path = await c.backup.create(ADMIN)
    with tarfile.open(path) as tar:
        cfg = json.loads(tar.extractfile("config.json").read())
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers())
    rows = {r["id"]: r for r in cfg["subscriptions"]}
    assert rows[a.id]["destination"] == a.destination
    assert rows[a.id]["httpHeaders"] == ["Authorization"]
    assert b"listener-secret" not in blob
    # a broken subscription row is refused and changes nothing
    bad = tmp_path / "bad.tar.gz"
    _rewrite(path, bad, lambda cfg: cfg["subscriptions"][0].update(destination="ftp://x"))
    with pytest.raises(Invalid, match="event subscription"):
        await c.backup.restore(ADMIN, bad)
    assert {s.id for s in subs.all()} == {a.id, b.id}
    await subs.delete(ADMIN, a.id)
    await subs.update(ADMIN, b.id, context="changed")
    await c.backup.restore(ADMIN, path)
    got = {s.id: s for s in subs.all()}
    assert set(got) == {a.id, b.id}
    assert got[a.id].headers == {"Authorization": "Bearer listener-secret-1"}
    assert got[a.id].filters == {"ResourceTypes": ["Outlet"]} and got[a.id].context == "ctx-a"
    assert got[b.id].headers == {"X-Key": "listener-secret-2"} and got[b.id].context == ""
    # without a passphrase the values are excluded
    await c.config.put(ADMIN, "backup_settings", {"passphrase": ""})
    plain = await c.backup.create(ADMIN)
    with tarfile.open(plain) as tar:
        assert "secrets.enc" not in tar.getnames()
        assert b"listener-secret" not in b"".join(
            tar.extractfile(m).read() for m in tar.getmembers())
    await subs.delete(ADMIN, a.id)
    await c.backup.restore(ADMIN, plain)
    got = {s.id: s for s in subs.all()}
    assert got[b.id].headers == {"X-Key": "listener-secret-2"}      # still here: kept
    assert got[a.id].headers == {} and got[a.id].destination == a.destination
    new = await subs.add(ADMIN, "http://127.0.0.1:9/c", protocol="Redfish")
    assert new.id not in (a.id, b.id)


def _rewrite(src_path, dst_path, change) -> None:
    """Copy a backup with config.json changed by ``change`` (hashes kept consistent)."""
    import hashlib
    import io

    with tarfile.open(src_path) as src, tarfile.open(dst_path, "w:gz") as dst:
        manifest = json.loads(src.extractfile("manifest.json").read())
        cfg = json.loads(src.extractfile("config.json").read())
        change(cfg)
        body = json.dumps(cfg).encode()
        manifest["members"]["config.json"] = hashlib.sha256(body).hexdigest()
        parts = {"manifest.json": json.dumps(manifest).encode(), "config.json": body}
        for m in src.getmembers():
            if m.name not in parts and m.isfile():
                parts[m.name] = src.extractfile(m).read()
        for name, payload in parts.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            dst.addfile(info, io.BytesIO(payload))
