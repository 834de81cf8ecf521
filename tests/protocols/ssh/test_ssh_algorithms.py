"""The server's SSH algorithms (issue 14 item 13), checked the way an auditor would: ssh-audit
(from PyPI) against the running server reports no [fail], and real clients that insist on
a removed algorithm (NIST-curve key exchange, SHA-1 ``ssh-rsa`` host-key signatures,
encrypt-and-MAC MACs, compression) cannot connect."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys

import asyncssh
import pytest

from enerteg_tui.protocols.ssh.algorithms import KEX_ALGS, available_kex_algs

from .conftest import PASSWORD, SSHEnv


async def test_ssh_audit_reports_no_failure(ssh_env: SSHEnv) -> None:
    pytest.importorskip("ssh_audit")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ssh_audit", "-n", "-p", str(ssh_env.port), "127.0.0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert "(kex) curve25519-sha256" in text, text  # it really audited our server
    assert "[fail]" not in text, "\n".join(ln for ln in text.splitlines() if "[fail]" in ln)
    offered = set(re.findall(r"^\((?:kex|key|enc|mac)\) (\S+)", text, re.M))
    assert not offered & {"ecdh-sha2-nistp256", "ssh-rsa", "hmac-sha2-256", "hmac-sha2-512"}
    assert "(gen) compression: disabled" in text


@pytest.mark.parametrize("option", [
    {"kex_algs": ["ecdh-sha2-nistp256"]},
    {"server_host_key_algs": ["ssh-rsa"]},
    {"mac_algs": ["hmac-sha2-256", "hmac-sha2-512"], "encryption_algs": ["aes128-ctr"]},
    {"compression_algs": ["zlib"]},
])
async def test_a_client_insisting_on_a_removed_algorithm_is_refused(
        ssh_env: SSHEnv, option: dict[str, list[str]]) -> None:
    with pytest.raises((asyncssh.KeyExchangeFailed, asyncssh.ProtocolError)):
        conn = await ssh_env.connect("oper", PASSWORD, **option)
        conn.close()


async def test_openssh_connects_with_the_remaining_algorithms(ssh_env: SSHEnv) -> None:
    if shutil.which("ssh") is None:
        pytest.skip("no OpenSSH client")
    for extra in (("-o", "HostKeyAlgorithms=rsa-sha2-512"), ("-o", "HostKeyAlgorithms=ssh-ed25519"),
                  ("-o", "Ciphers=aes256-ctr", "-o", "MACs=hmac-sha2-512-etm@openssh.com")):
        r = await ssh_env.ssh("oper", "pwd", extra=extra)
        assert (r.code, r.out) == (0, "/\n"), (extra, r.err)


def test_kex_list_comes_from_the_public_api() -> None:
    found = available_kex_algs()
    assert "curve25519-sha256" in found and set(found) <= set(KEX_ALGS)
    assert not any(a.startswith("ecdh-sha2-") for a in found)
