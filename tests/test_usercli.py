"""``enerteg user …`` offline, as an operator types it: add, passwd from stdin, list, roles,
keys, del, and one-line errors in the manual's words."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


def _user(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "enerteg_tui", "user", *args,
                           "--data-dir", str(data)], input=stdin, text=True,
                          capture_output=True, timeout=60)


def test_add_passwd_list_roles_keys_del(tmp_path: Path) -> None:
    data = tmp_path / "d"
    r = _user(data, "add", "ops", "--role", "power", "--role", "readonly", stdin="Str0ng-pass\n")
    assert r.returncode == 0, r.stderr
    # the option may also come before the subcommand
    r = subprocess.run([sys.executable, "-m", "enerteg_tui", "user", "--data-dir", str(data),
                        "list"], text=True, capture_output=True, timeout=60)
    assert r.returncode == 0 and "ops" in r.stdout and "power" in r.stdout
    assert "admin" in r.stdout and "must change" in r.stdout
    r = _user(data, "passwd", "admin", stdin="N3w-pass!x\n")
    assert r.returncode == 0, r.stderr
    assert "must change" not in _user(data, "list").stdout
    r = _user(data, "roles", "ops", "--role", "readonly")
    assert r.returncode == 0, r.stderr
    key = asyncssh.generate_private_key("ssh-ed25519")
    keyfile = tmp_path / "k.pub"
    keyfile.write_bytes(key.export_public_key())
    r = _user(data, "key-add", "ops", str(keyfile))
    assert r.returncode == 0, r.stderr
    assert "1 key(s)" in _user(data, "list").stdout
    r = _user(data, "del", "ops")
    assert r.returncode == 0, r.stderr
    assert "ops" not in _user(data, "list").stdout


def test_the_command_hashes_at_production_strength(tmp_path: Path) -> None:
    """The tests' cheap hasher is passed in by the tests only: what the command (like
    ``enerteg serve``) stores is argon2id at OWASP's cost, for the factory account too."""
    data = tmp_path / "d"
    r = _user(data, "add", "ops", "--role", "readonly", stdin="Str0ng-pass\n")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(data / "enerteg.db") as db:
        hashes = dict(db.execute("SELECT name, hash FROM user").fetchall())
    assert set(hashes) == {"admin", "ops"}
    for name, h in hashes.items():
        assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), (name, h[:32])


def test_errors_are_one_line_in_the_manuals_words(tmp_path: Path) -> None:
    data = tmp_path / "d"
    short = _user(data, "add", "bob", "--role", "readonly", stdin="abc\n")
    assert short.returncode == 1
    assert short.stderr.strip().splitlines()[-1].startswith("enerteg: error: Password too short")
    role = _user(data, "add", "bob", "--role", "wizard", stdin="Str0ng-pass\n")
    assert role.returncode == 1 and "wizard" in role.stderr
    gone = _user(data, "del", "nobody")
    assert gone.returncode == 1 and "'nobody' does not exist" in gone.stderr
    assert "Traceback" not in short.stderr + role.stderr + gone.stderr


def test_debug_logging_never_shows_sql_parameters() -> None:
    """aiosqlite logs every statement's parameters (stored secrets too) at DEBUG."""
    import logging

    from enerteg_tui.cli import quiet_secret_loggers

    logging.getLogger("aiosqlite").setLevel(logging.DEBUG)
    quiet_secret_loggers()
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
