"""Secrets at rest: AES-256-GCM with a key kept in its own file, outside the database.

The backup encrypts its secrets with AES-256-GCM under a key derived from the
operator's passphrase (``core.backup``). A secret the controller must read by itself
(a certificate's private key, read when a TLS server starts) cannot wait for a person
to type a passphrase, so it is encrypted with the same cipher under a random 256-bit
key kept in ``DataLayout.secret_key`` (mode 0600, made at first use). A copy of the
database alone, or a backup, therefore never yields the plain secret. Each blob is
bound to what it belongs to (``aad``), so a blob moved to another row does not decrypt.

Blob layout: ``b"EB1" + nonce(12) + ciphertext``. Invariant: nothing here logs a
secret or its key.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import Invalid

__all__ = ["SecretBox"]

_MAGIC = b"EB1"


class SecretBox:
    """Encrypt and decrypt small secrets with the key in ``key_path``."""

    def __init__(self, key_path: Path) -> None:
        self._path = key_path
        self._key: bytes | None = None

    def _load(self) -> bytes:
        if self._key is None:
            try:
                key = self._path.read_bytes()
            except FileNotFoundError:
                key = os.urandom(32)
                self._path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self._path.with_name(self._path.name + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self._path)
            if len(key) != 32:
                raise Invalid(f"the secret key file {self._path.name} is damaged (it must hold "
                              "32 bytes)", thing="file", value=self._path.name,
                              allowed="the key file the controller made")
            self._key = key
        return self._key

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        """``data`` encrypted and bound to ``aad``."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        return _MAGIC + nonce + AESGCM(self._load()).encrypt(nonce, data, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Inverse of ``encrypt``; ``Invalid`` when the key file is another or the blob damaged."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            if not blob.startswith(_MAGIC):
                raise ValueError("no magic")
            return AESGCM(self._load()).decrypt(blob[3:15], blob[15:], aad)
        except (InvalidTag, ValueError):
            raise Invalid(f"a stored secret cannot be decrypted: the key file "
                          f"{self._path.name} is not the one it was encrypted with, or the "
                          "database is damaged", thing="file", value=self._path.name,
                          allowed="the key file the secret was stored with") from None
