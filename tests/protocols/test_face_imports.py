"""A controller whose network faces are disabled (the default) does not pay for their
libraries: each is imported only when its settings topic enables the face."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_disabled_faces_do_not_import_their_libraries(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tests.helpers import build_controller\n"
        "async def main():\n"
        f"    c = await build_controller(Path({str(tmp_path / 'd')!r}), pdus=2)\n"
        "    for face, lib in (('snmp', 'pysnmp'), ('modbus', 'pymodbus'), ('http', 'fastapi'), ('http', 'uvicorn')):\n"
        "        print(face, c.service(face).status.text, lib in sys.modules)\n"
        "    await c.stop()\n"
        "asyncio.run(main())\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-4:] == [
        "snmp disabled (config/snmp_agent enabled=disabled) False",
        "modbus disabled (config/modbus enabled=disabled) False",
        "http disabled (config/http_server enabled=disabled) False",
        "http disabled (config/http_server enabled=disabled) False"]


pytestmark = pytest.mark.e2e
"""Starts a separate interpreter (see pyproject's markers)."""
