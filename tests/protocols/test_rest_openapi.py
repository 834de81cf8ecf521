"""The REST API's OpenAPI document: served at /api/v1/openapi.json, the same as
docs/openapi.json (scripts/openapi-doc.py writes it), and schemathesis (its CLI, a real
HTTP client in another process) against the served document for an admin and a readonly
user: no 5xx, every response matches its schema. Bounded: few examples per operation."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.protocols.test_rest import rest_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def test_served_document_is_docs_openapi_json(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    ctx = ssl.create_default_context(cafile=str(c.core.paths.https_certificate))
    async with httpx.AsyncClient(base_url=base, verify=ctx, timeout=20) as cl:
        served = (await cl.get("/openapi.json")).json()
    written = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served == written, "docs/openapi.json is out of date: run scripts/openapi-doc.py"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "openapi-doc.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr


async def schemathesis(base: str, ca: str, token: str, tmp: Path,
                       exclude: tuple[str, ...] = ()) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
        "-H", f"Authorization: Bearer {token}", "--tls-verify", ca,
        "--checks", "not_a_server_error,response_schema_conformance",
        "--max-examples", "3", "--seed", "1", "--phases", "examples,coverage,fuzzing",
        "--mode", "positive", "--workers", "1", "--request-timeout", "20",
        "--max-time", "20", "--suppress-health-check", "all", "--no-shrink",
        *exclude,
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.timeout(240)
async def test_schemathesis_admin_and_readonly(make_controller: Any, tmp_path: Path) -> None:
    c, base, _ = await rest_env(make_controller)
    ca = str(c.core.paths.https_certificate)
    for user in ("boss", "oper"):
        token = (await c.core.tokens.create(SYSTEM, "fuzz", user=user))[1]
        syslog = c.config.get("syslog")
        # the admin run leaves out the writes that would cut its own ground (its
        # credentials, the server's and the controller's settings, switching: covered by
        # test_rest*.py); the readonly run tries every operation (writes must be 403) but
        # the password login, whose failures would hold off 127.0.0.1 (429) for the rest
        # of the run
        exclude = ("--exclude-path-regex",
                   r"/(session|tokens|users|settings/|topics/|switching|devices/.*/switch)"
                   ) if user == "boss" else ("--exclude-path-regex", r"/session$")
        code, out = await schemathesis(base, ca, token, tmp_path, exclude)
        assert code == 0, out[-6000:]
        assert "passed" in out.lower()
        if user == "oper":
            assert c.config.get("syslog") == syslog          # readonly changed nothing
            assert {u.name for u in await c.users.list(SYSTEM)} == {"admin", "boss", "oper",
                                                                     "power"}
