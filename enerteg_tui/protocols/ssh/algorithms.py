"""The SSH algorithms the server offers, and how they are chosen with asyncssh's public API.

Why a module: the list is a security decision (what a compliance scanner such as
ssh-audit fails or passes) and a CPU decision (key exchange and ciphers run on the
controller's one loop, beside the poller), so it lives in one place with its reasons
and is documented in docs/ssh.md.

* key exchange: ML-KEM/curve25519 hybrid when the installed crypto has it, then
  curve25519, then group14 for old clients. No NIST curves (``ecdh-sha2-nistp*``:
  ssh-audit [fail]), no group exchange or big MODP groups (they stall the loop);
* host-key signatures: ed25519, and RSA with SHA-2 only (``rsa-sha2-512``,
  ``rsa-sha2-256``); never SHA-1 ``ssh-rsa``;
* ciphers: AES-GCM (AEAD) and AES-CTR; no chacha20-poly1305, which asyncssh runs with a
  new cipher object per packet (about 3x the CPU of AES-GCM);
* MACs: encrypt-then-MAC only (GCM needs none);
* compression: none (so none before authentication either).

Which algorithms the installed asyncssh supports is asked through its public
``SSHServerConnectionOptions``, which refuses an algorithm it does not know with
``ValueError`` (asyncssh's ``kex.get_kex_algs()`` is not exported).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import asyncssh

__all__ = ["KEX_ALGS", "ENCRYPTION_ALGS", "MAC_ALGS", "COMPRESSION_ALGS", "HOST_KEY_ALGS",
           "available_kex_algs", "restrict_host_key_algs"]

KEX_ALGS = ("mlkem768x25519-sha256", "sntrup761x25519-sha512", "curve25519-sha256",
            "curve25519-sha256@libssh.org", "diffie-hellman-group14-sha256")
"""Key exchange, preferred first; the post-quantum hybrids only where supported."""
ENCRYPTION_ALGS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr",
                   "aes256-ctr")
MAC_ALGS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com")
COMPRESSION_ALGS: Sequence[str] | None = None
"""asyncssh's way of saying "no compression" (only ``none`` is offered)."""
HOST_KEY_ALGS = (b"ssh-ed25519", b"rsa-sha2-512", b"rsa-sha2-256")
"""Host-key signature algorithms offered; a key offers those of its type among these."""


@functools.cache
def available_kex_algs() -> tuple[str, ...]:
    """``KEX_ALGS`` that the installed asyncssh (and its crypto backends) supports."""
    found = []
    for alg in KEX_ALGS:
        try:
            asyncssh.SSHServerConnectionOptions(kex_algs=[alg])
        except ValueError:
            continue
        found.append(alg)
    return tuple(found)


def restrict_host_key_algs(keys: Sequence[asyncssh.SSHKey]) -> list[asyncssh.SSHKeyPair]:
    """Key pairs for ``server_host_keys`` that sign only with ``HOST_KEY_ALGS``.

    asyncssh offers every signature algorithm a key type can make (``ssh-rsa`` with
    SHA-1 included) and has no server option to narrow them; the key pair's public
    ``host_key_algorithms`` attribute is what it offers, so it is narrowed here.
    """
    pairs = asyncssh.load_keypairs(list(keys))
    for pair in pairs:
        pair.host_key_algorithms = [a for a in HOST_KEY_ALGS if a in pair.host_key_algorithms]
    return [p for p in pairs if p.host_key_algorithms]
