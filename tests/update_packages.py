"""Software update packages for tests, made by the real scripts/build-update.py (a key
pair, signed packages of any version, a broken build, a tampered copy)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "scripts" / "build-update.py"

__all__ = ["new_key", "build", "broken_source", "tampered"]


def _script(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([sys.executable, str(BUILD), *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def new_key(folder: Path, name: str) -> tuple[Path, Path]:
    """(private key, public key) made by ``build-update.py --new-key``."""
    key = folder / name
    _script("--new-key", str(key))
    return key, key.with_name(key.name + ".pub")


def build(key: Path, version: str, out: Path, source: Path = ROOT) -> Path:
    """A package of ``source`` at ``version`` signed with ``key``."""
    out.mkdir(parents=True, exist_ok=True)
    return Path(_script("--key", str(key), "--version", version, "--out", str(out),
                        "--source", str(source)).splitlines()[-1])


def broken_source(folder: Path, *, hang: bool = False) -> Path:
    """A copy of the source whose controller module cannot be imported, or (``hang``)
    whose import never finishes."""
    src = folder / ("hanging-src" if hang else "broken-src")
    shutil.copytree(ROOT / "enerteg_tui", src / "enerteg_tui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", src / "pyproject.toml")
    ctl = src / "enerteg_tui" / "controller.py"
    fault = ("import time\ntime.sleep(3600)  # this build hangs on purpose\n" if hang else
             'raise ImportError("this build is broken on purpose")\n')
    text = ctl.read_text().replace("from __future__ import annotations\n",
                                   "from __future__ import annotations\n\n" + fault, 1)
    assert "on purpose" in text
    ctl.write_text(text)
    return src


def tampered(package: Path, target: Path) -> Path:
    """The same signed manifest, one byte of the wheel changed."""
    with tarfile.open(package) as tar:
        members = [(m, tar.extractfile(m).read())  # type: ignore[union-attr]
                   for m in tar.getmembers()]
    with tarfile.open(target, "w") as out:
        for m, data in members:
            if m.name.endswith(".whl"):
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            out.addfile(m, io.BytesIO(data))
    return target
