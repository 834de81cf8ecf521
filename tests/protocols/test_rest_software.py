"""The software update through the REST API (issue 20 item 3, issue 23 item 5): a
package built by scripts/build-update.py uploaded with httpx over HTTPS, stored in
/upload and verified; a tampered one refused naming why and not kept; readonly users
refused; apply selects the version and asks for the restart; status follows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.protocols.test_rest import client, is_problem, login, rest_env
from tests.update_packages import build, new_key

pytestmark = pytest.mark.e2e

async def test_upload_verify_apply_and_status(make_controller: Any, tmp_path: Path) -> None:
    key, pub = new_key(tmp_path, "k")
    good = build(key, "0.7.0", tmp_path)
    c, base, _ = await rest_env(lambda **kw: make_controller(update_keys=(pub,), **kw))
    upload = c.core.paths.upload
    async with client(c, base) as cl:
        boss, oper = await login(cl, "boss"), await login(cl, "oper")
        body = good.read_bytes()

        r = await cl.post("/software/updates", params={"name": "x.etgpkg"}, content=body,
                          headers={**oper, "Content-Type": "application/octet-stream"})
        is_problem(r, 403)
        assert not (upload / "x.etgpkg").exists()

        at = body.index(b"PK\x03\x04") + 500                   # inside the wheel
        tampered = body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]
        r = await cl.post("/software/updates", params={"name": "bad.etgpkg"},
                          content=tampered,
                          headers={**boss, "Content-Type": "application/octet-stream"})
        doc = is_problem(r, 422)
        assert "bad.etgpkg" in doc["detail"], doc
        assert not (upload / "bad.etgpkg").exists()              # refused: not kept
        assert not [p for p in upload.iterdir() if p.name.startswith(".incoming")]

        r = await cl.post("/software/updates", params={"name": "bad name.etgpkg"},
                          content=body, headers=boss)
        is_problem(r, 422)

        r = await cl.post("/software/updates", params={"name": "enerteg-0.7.0.etgpkg"},
                          content=body,
                          headers={**boss, "Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["version"] == "0.7.0" and doc["stored"] == "/upload/enerteg-0.7.0.etgpkg"
        assert (upload / "enerteg-0.7.0.etgpkg").read_bytes() == body

        r = await cl.get("/software/updates/status", headers=oper)
        is_problem(r, 403)
        r = await cl.get("/software/updates/status", headers=boss)
        assert r.status_code == 200, r.text
        st = r.json()
        assert st["running"] == "0.1.0" and st["runningFrom"] == "base"
        assert st["packages"] == ["enerteg-0.7.0.etgpkg"] and st["selected"] == "base"

        r = await cl.post("/software/updates/apply", json={"file": "enerteg-0.7.0.etgpkg"},
                          headers=oper)
        is_problem(r, 403)
        r = await cl.post("/software/updates/apply", json={"file": "enerteg-0.7.0.etgpkg"},
                          headers=boss)
        assert r.status_code == 202, r.text
        assert "software update to 0.7.0" in r.json()["warning"]
    st = c.core.software.status(SYSTEM)
    assert st["selected"] == "0.7.0" and st["progress"]["state"] == "restarting"
    assert st["boot"]["state"] == "pending" and st["installed"] == ["0.7.0"]
    assert (c.core.paths.versions / "0.7.0" / "enerteg_tui" / "__init__.py").read_text().count(
        '__version__ = "0.7.0"') == 1
    assert c.core.system.requested == "restart"
    actions = [e.action for e in await c.audit.query(SYSTEM, limit=200)]
    assert actions.count("software.update.refused") == 1
    for a in ("software.update.checked", "software.update.install", "software.update.restart",
              "system.restart"):
        assert a in actions, actions
