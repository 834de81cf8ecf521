#!/usr/bin/env python3
"""Build a signed software update package of the controller (docs/appliance.md,
"Software update"): ``enerteg-<version>.etgpkg`` holding the controller's wheel, a
manifest with its SHA-256 and an Ed25519 signature over the manifest.

The wheel is written here with the standard library (PEP 427: the ``enerteg_tui``
package as it is in the source tree, ``__version__`` set to the package's version, and
the ``.dist-info`` with METADATA, WHEEL, entry_points.txt and RECORD), so a build needs
neither a network nor a build backend and takes well under a second.

Usage:
  python3 scripts/build-update.py --key PRIVATE.pem [--version 0.2.0] [--out DIR]
                                  [--source TREE]
  python3 scripts/build-update.py --new-key PATH   # PATH (private, 0600) + PATH.pub

A public key becomes trusted by copying ``PATH.pub`` into ``enerteg_tui/update_keys/``
of the controller that is to accept the packages (it ships with the controller).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
import re
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from enerteg_tui.core.update_package import (PACKAGE_SUFFIX, parse_version,  # noqa: E402
                                             write_package)

_VERSION_LINE = re.compile(r'^__version__\s*=\s*["\']([^"\']+)["\']', re.M)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(source: Path, version: str, out_dir: Path) -> Path:
    """The controller's wheel of ``source`` (a tree with ``enerteg_tui/`` and
    ``pyproject.toml``) at ``version``."""
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    tag = version.replace("-", "_")
    dist_info = f"enerteg_tui-{tag}.dist-info"
    files: list[tuple[str, bytes]] = []
    package = source / "enerteg_tui"
    for path in sorted(package.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        rel = path.relative_to(source).as_posix()
        data = path.read_bytes()
        if rel == "enerteg_tui/__init__.py":
            text, n = _VERSION_LINE.subn(f'__version__ = "{version}"', data.decode())
            if n != 1:
                raise SystemExit(f"build-update: no __version__ line in {path}")
            data = text.encode()
        files.append((rel, data))
    meta = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}",
            f"Summary: {project.get('description', '')}",
            f"Requires-Python: {project.get('requires-python', '>=3.11')}"]
    meta += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    files += [
        (f"{dist_info}/METADATA", ("\n".join(meta) + "\n").encode()),
        (f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: enerteg build-update\n"
                               b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{dist_info}/entry_points.txt", b"[console_scripts]\nenerteg = enerteg_tui.cli:main\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    record += f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode()))
    target = out_dir / f"enerteg_tui-{tag}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return target


def new_key(path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    print(f"wrote {path} (private, keep it safe) and {pub} (public)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build-update.py", description=__doc__.split("\n")[0])
    parser.add_argument("--key", type=Path, help="Ed25519 private key (PEM, PKCS#8) to sign with")
    parser.add_argument("--version", help="version of the package (default: the source's "
                        "__version__)")
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder")
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="source tree with enerteg_tui/ and pyproject.toml (default: this one)")
    parser.add_argument("--new-key", type=Path, metavar="PATH",
                        help="generate a key pair: PATH (private) and PATH.pub, then exit")
    args = parser.parse_args(argv)
    if args.new_key:
        new_key(args.new_key)
        return 0
    if args.key is None:
        parser.error("--key is required (or --new-key to make one)")
    key = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        parser.error(f"{args.key} is not an Ed25519 private key")
    source = args.source.resolve()
    init = (source / "enerteg_tui" / "__init__.py").read_text()
    found = _VERSION_LINE.search(init)
    version = args.version or (found.group(1) if found else "")
    parse_version(version)
    args.out.mkdir(parents=True, exist_ok=True)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(source, version, Path(tmp))
        target = write_package(args.out / f"enerteg-{version}{PACKAGE_SUFFIX}", wheel, version,
                               created, key)
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
