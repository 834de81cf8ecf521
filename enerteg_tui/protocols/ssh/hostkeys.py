"""The SSH server's host keys: made once, kept in the data directory, never re-made.

A controller that silently made a new host key at each start would teach operators to
ignore "host key changed" warnings. So: ``<data-dir>/ssh/ssh_host_ed25519_key`` and
``ssh_host_rsa_key`` (for older clients) are generated at the first start with mode
0600 in a 0700 directory, written atomically, and loaded afterwards. A key file that
exists but cannot be read is an error that stops the start, not a reason to make a
new key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from ...core.errors import Invalid

__all__ = ["HostKeys", "load_or_create_host_keys"]

KEY_TYPES = (("ed25519", "ssh-ed25519", {}), ("rsa", "ssh-rsa", {"key_size": 3072}))
"""(file suffix, asyncssh algorithm, generation options), preferred first."""


@dataclass(frozen=True, slots=True)
class HostKeys:
    """The loaded host keys and their SHA256 fingerprints, by short type name."""

    keys: list[asyncssh.SSHKey]
    fingerprints: dict[str, str]


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_or_create_host_keys(directory: Path) -> HostKeys:
    """Load the host keys from ``directory``, generating the missing ones.

    Raises:
        Invalid: a key file exists but is unreadable or not a private key.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    keys: list[asyncssh.SSHKey] = []
    prints: dict[str, str] = {}
    for short, alg, options in KEY_TYPES:
        path = directory / f"ssh_host_{short}_key"
        if path.exists():
            try:
                key = asyncssh.read_private_key(str(path))
            except (OSError, asyncssh.KeyImportError, ValueError) as exc:
                raise Invalid(
                    f"SSH host key {str(path)!r} cannot be read ({exc}); fix or remove it "
                    "(removing it makes a new key, which clients will warn about)",
                    thing="host key", value=str(path), allowed="a readable OpenSSH private key",
                ) from None
        else:
            key = asyncssh.generate_private_key(alg, comment=f"enerteg host key ({short})",
                                                **options)
            _write_private(path, key.export_private_key("openssh"))
            (directory / f"ssh_host_{short}_key.pub").write_bytes(key.export_public_key("openssh"))
        keys.append(key)
        prints[short] = key.get_fingerprint("sha256")
    return HostKeys(keys, prints)
