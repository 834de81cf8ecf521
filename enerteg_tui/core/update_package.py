"""The software update package (manual §3.3, §5.1.1, issue 23 item 5): its format, how it
is built and how it is verified.

Why a module of its own: ``scripts/build-update.py`` builds packages with it and the
controller's ``SoftwareUpdate`` service checks them with it, so both read one definition
of the format. Nothing here installs or changes anything.

A package (``enerteg-<version>.etgpkg``) is an uncompressed tar holding exactly:

* ``manifest.json``: ``{"format": 1, "name": "enerteg-tui", "version", "created",
  "keyId", "files": [<wheel>], "sha256s": {<wheel>: <hex>}}``;
* ``manifest.sig``: the Ed25519 signature over the bytes of ``manifest.json``, base64;
* the controller's wheel, ``enerteg_tui-<version>-py3-none-any.whl``.

The signature covers the manifest and the manifest covers each file by its SHA-256, so
one signature check and one hash per file prove the whole package. The keys trusted are
the public keys shipped in the package (``enerteg_tui/update_keys/*.pub``, PEM) plus
keys given when the controller starts (``ControllerOptions.update_keys``, for tests and
private builds); an upload can never add a key.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from .errors import Invalid

__all__ = ["PACKAGE_SUFFIX", "MANIFEST", "SIGNATURE", "PACKAGE_NAME", "MAX_PACKAGE_BYTES",
           "PackageInfo", "key_id", "load_public_key", "shipped_keys", "trusted_keys",
           "write_package", "verify_package", "open_package", "parse_version"]

PACKAGE_SUFFIX = ".etgpkg"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PACKAGE_NAME = "enerteg-tui"
"""The distribution a package must carry (the controller's own)."""
FORMAT = 1
MAX_PACKAGE_BYTES = 256 << 20
"""Largest package accepted (the same cap as an SFTP upload)."""
_WHEEL_RE = re.compile(r"^enerteg_tui-(?P<version>[A-Za-z0-9.+!_]+)-py3-none-any\.whl$")


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """A package that passed every check."""

    path: Path
    version: str
    created: str
    key_id: str
    wheel: str
    """The wheel's file name inside the package."""
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.path.name, "version": self.version, "created": self.created,
                "keyId": self.key_id, "wheel": self.wheel, "bytes": self.size}


def key_id(key: Ed25519PublicKey) -> str:
    """A short stable name of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file; ``Invalid`` naming the file otherwise."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise Invalid(f"update key {str(path)!r} cannot be read: {exc}", thing="update key",
                      value=str(path), allowed="an Ed25519 public key in PEM") from None
    if not isinstance(key, Ed25519PublicKey):
        raise Invalid(f"update key {str(path)!r} is not an Ed25519 key", thing="update key",
                      value=str(path), allowed="an Ed25519 public key in PEM")
    return key


def shipped_keys() -> dict[str, Ed25519PublicKey]:
    """The public keys shipped in the controller package (``enerteg_tui/update_keys``)."""
    out: dict[str, Ed25519PublicKey] = {}
    folder = resources.files("enerteg_tui") / "update_keys"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name) if folder.is_dir() else []:
        if entry.name.endswith(".pub"):
            key = serialization.load_pem_public_key(entry.read_bytes())
            if isinstance(key, Ed25519PublicKey):
                out[key_id(key)] = key
    return out


def trusted_keys(extra: Iterable[Path] = ()) -> dict[str, Ed25519PublicKey]:
    """Shipped keys plus ``extra`` public key files (given at start, never uploaded)."""
    keys = shipped_keys()
    for path in extra:
        key = load_public_key(path)
        keys[key_id(key)] = key
    return keys


def parse_version(text: str, *, what: str = "version") -> Version:
    """A PEP 440 version, or ``Invalid`` naming it."""
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        raise Invalid(f"{what} {text!r} is not a version number", thing=what, value=text,
                      allowed="a PEP 440 version such as 0.2.0") from None


def write_package(target: Path, wheel: Path, version: str, created: str,
                  private_key: Ed25519PrivateKey) -> Path:
    """Write a signed package holding ``wheel`` to ``target`` (used by the build script)."""
    data = Path(wheel).read_bytes()
    name = Path(wheel).name
    manifest = {"format": FORMAT, "name": PACKAGE_NAME, "version": version, "created": created,
                "keyId": key_id(private_key.public_key()), "files": [name],
                "sha256s": {name: hashlib.sha256(data).hexdigest()}}
    raw = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
    sig = base64.b64encode(private_key.sign(raw)) + b"\n"
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for member, body in ((MANIFEST, raw), (SIGNATURE, sig), (name, data)):
            info = tarfile.TarInfo(member)
            info.size, info.mode, info.mtime = len(body), 0o644, 0
            tar.addfile(info, io.BytesIO(body))
    return Path(target)


def _refuse(path: Path, why: str, value: Any, allowed: str,
            thing: str = "update package") -> Invalid:
    return Invalid(f"update package {path.name!r}: {why}", thing=thing, value=value,
                   allowed=allowed)


def open_package(path: Path, keys: Mapping[str, Ed25519PublicKey]) -> tuple[bytes, PackageInfo]:
    """The wheel's bytes and the info of a package, checked completely but for the version
    rule: install reads the file once more, so a file changed after ``verify_package`` is
    still refused, and installs exactly the bytes it checked."""
    return _read(Path(path), keys)


def verify_package(path: Path, keys: Mapping[str, Ed25519PublicKey], *, running: str,
                   force: bool = False) -> PackageInfo:
    """Check ``path`` completely: structure, signature, hashes, the wheel, the version.

    Args:
        path: the package file.
        keys: trusted public keys by key id.
        running: the running controller's version.
        force: allow a version that is not newer than ``running``.

    Raises:
        Invalid: naming the file, what is wrong, the value found and what is allowed.
    """
    path = Path(path)
    _, info = _read(path, keys)
    new, now = parse_version(info.version), parse_version(running, what="running version")
    if new <= now and not force:
        same = "is the version running" if new == now else f"is older than the running {running}"
        raise _refuse(path, f"version {info.version} {same}; allowed is a newer version, or "
                      "--force to install it anyway", info.version,
                      f"a version newer than {running} (or --force)", "version")
    return info


def _read(path: Path, keys: Mapping[str, Ed25519PublicKey]) -> tuple[bytes, PackageInfo]:
    """Open, check and return (wheel bytes, info)."""
    if path.suffix != PACKAGE_SUFFIX:
        raise _refuse(path, f"the name does not end in {PACKAGE_SUFFIX}", path.name,
                      f"a file named *{PACKAGE_SUFFIX}", "file")
    try:
        size = path.stat().st_size
    except OSError:
        raise _refuse(path, "no such file in /upload", path.name,
                      "a package uploaded to /upload", "file") from None
    if not path.is_file():
        raise _refuse(path, "not a regular file", path.name, "a package file", "file")
    if size > MAX_PACKAGE_BYTES:
        raise _refuse(path, f"{size} bytes is too large", size,
                      f"at most {MAX_PACKAGE_BYTES} bytes", "size")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:") as tar:
            for m in tar.getmembers():
                if not m.isfile() or "/" in m.name or m.name in ("", ".", ".."):
                    raise _refuse(path, f"member {m.name!r} is not a plain file at the top "
                                  "level", m.name, "manifest.json, manifest.sig and the wheel")
                if m.name in members or len(members) >= 3:
                    raise _refuse(path, f"unexpected member {m.name!r}", m.name,
                                  "exactly manifest.json, manifest.sig and one wheel")
                f = tar.extractfile(m)
                members[m.name] = f.read() if f is not None else b""
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise _refuse(path, f"not a package (not a readable tar: {exc})", path.name,
                      "a package made by scripts/build-update.py") from None
    raw, sig = members.get(MANIFEST), members.get(SIGNATURE)
    if raw is None or sig is None:
        raise _refuse(path, f"{MANIFEST} or {SIGNATURE} is missing", sorted(members),
                      "manifest.json, manifest.sig and the wheel")
    _check_signature(path, raw, sig, keys)
    try:
        manifest = json.loads(raw)
        version, created = str(manifest["version"]), str(manifest["created"])
        files, sums = list(manifest["files"]), dict(manifest["sha256s"])
        name, fmt, kid = manifest["name"], manifest["format"], str(manifest.get("keyId", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise _refuse(path, f"{MANIFEST} is not a valid manifest ({exc})", MANIFEST,
                      "format, name, version, created, files, sha256s") from None
    if fmt != FORMAT or name != PACKAGE_NAME:
        raise _refuse(path, f"format {fmt!r} of {name!r} is not a controller package", name,
                      f"format {FORMAT} of {PACKAGE_NAME}")
    parse_version(version)
    if len(files) != 1 or set(members) != {MANIFEST, SIGNATURE, *files}:
        raise _refuse(path, f"the files listed {files} do not match the members "
                      f"{sorted(set(members) - {MANIFEST, SIGNATURE})}", files,
                      "the one wheel the manifest lists")
    wheel = files[0]
    digest = hashlib.sha256(members[wheel]).hexdigest()
    if digest != sums.get(wheel):
        raise _refuse(path, f"{wheel} has SHA-256 {digest}, the signed manifest says "
                      f"{sums.get(wheel)} (the file was changed after signing)", digest,
                      f"SHA-256 {sums.get(wheel)}", "sha256")
    _check_wheel(path, wheel, members[wheel], version)
    return members[wheel], PackageInfo(path, version, created, kid, wheel, size)


def _check_signature(path: Path, raw: bytes, sig: bytes,
                     keys: Mapping[str, Ed25519PublicKey]) -> None:
    try:
        signature = base64.b64decode(sig.strip(), validate=True)
    except ValueError:
        raise _refuse(path, f"{SIGNATURE} is not base64", SIGNATURE,
                      "an Ed25519 signature in base64", "signature") from None
    for key in keys.values():
        try:
            key.verify(signature, raw)
            return
        except InvalidSignature:
            continue
    trusted = ", ".join(sorted(keys)) or "none"
    raise _refuse(path, f"the signature of {MANIFEST} does not verify with any trusted key "
                  f"(trusted: {trusted}); nothing installed", "bad signature",
                  "a package signed with a key shipped in enerteg_tui/update_keys",
                  "signature")


def _check_wheel(path: Path, name: str, data: bytes, version: str) -> None:
    m = _WHEEL_RE.match(name)
    if m is None or m["version"] != version.replace("-", "_"):
        raise _refuse(path, f"wheel {name!r} is not the controller's wheel of version "
                      f"{version}", name, f"enerteg_tui-{version}-py3-none-any.whl", "wheel")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            meta_name = f"enerteg_tui-{m['version']}.dist-info/METADATA"
            if "enerteg_tui/__init__.py" not in names or meta_name not in names:
                raise _refuse(path, f"wheel {name} lacks enerteg_tui/__init__.py or "
                              f"{meta_name}", name, "the controller's wheel", "wheel")
            meta = zf.read(meta_name).decode()
    except zipfile.BadZipFile as exc:
        raise _refuse(path, f"wheel {name} is not a zip ({exc})", name,
                      "a wheel", "wheel") from None
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines()
                if line.startswith("Requires-Dist:")]
    _check_requirements(path, requires)


def _check_requirements(path: Path, requires: list[str]) -> None:
    """The new version runs on the libraries installed here (it is installed without its
    dependencies): each requirement must be met now."""
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            raise _refuse(path, f"requirement {text!r} cannot be read", text,
                          "PEP 508 requirements", "requirement") from None
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            raise _refuse(path, f"it needs {req} and {req.name} is not installed on this "
                          "host; the update installs no libraries", str(req),
                          "requirements the installed libraries meet", "requirement") from None
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            raise _refuse(path, f"it needs {req} and {req.name} {have} is installed; the "
                          "update installs no libraries", str(req),
                          f"requirements met by {req.name} {have}", "requirement")
