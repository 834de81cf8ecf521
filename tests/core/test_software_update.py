"""The software update's core (issue 23 item 5): package checks that refuse naming the
file, the value and what is allowed; the health check that confirms a new version or
marks it failed and asks for the restart that rolls it back; the launcher's choice."""

from __future__ import annotations

import asyncio
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.errors import Invalid
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.update_package import trusted_keys, verify_package
from enerteg_tui.core.versions import VersionStore
from tests.conftest import principal
from tests.helpers import free_port
from tests.update_packages import ROOT, build, new_key


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("keys")
    key, pub = new_key(tmp, "k")
    return tmp, key, pub


def _refused(path: Path, pub: Path, running: str = "0.1.0", **kw: Any) -> Invalid:
    with pytest.raises(Invalid) as err:
        verify_package(path, trusted_keys([pub]), running=running, **kw)
    assert path.name in str(err.value)
    return err.value


def test_version_rules_and_force(keyed: tuple[Path, Path, Path]) -> None:
    tmp, key, pub = keyed
    pkg = build(key, "0.1.0", tmp / "same")
    err = _refused(pkg, pub)
    assert "version 0.1.0 is the version running" in err.message and err.thing == "version"
    assert verify_package(pkg, trusted_keys([pub]), running="0.1.0", force=True).version == "0.1.0"
    assert verify_package(pkg, trusted_keys([pub]), running="0.0.9").key_id
    err = _refused(pkg, pub, running="1.0")
    assert "older than the running 1.0" in err.message and err.allowed


def test_structure_and_requirements_refused(keyed: tuple[Path, Path, Path]) -> None:
    tmp, key, pub = keyed
    good = build(key, "0.5.0", tmp / "good")
    # an extra member beside the three
    extra = tmp / "extra.etgpkg"
    shutil.copy(good, extra)
    with tarfile.open(extra, "a") as tar:
        tar.add(str(ROOT / "README.md"), arcname="README.md")
    assert "unexpected member 'README.md'" in _refused(extra, pub).message
    # not a tar at all
    junk = tmp / "junk.etgpkg"
    junk.write_bytes(b"not a package" * 100)
    assert "not a readable tar" in _refused(junk, pub).message
    # a name that is not a package's
    other = tmp / "other.tar"
    shutil.copy(good, other)
    assert "does not end in .etgpkg" in _refused(other, pub).message
    # a wheel that needs a library this host does not have: refused before install
    src = tmp / "needs-src"
    shutil.copytree(ROOT / "enerteg_tui", src / "enerteg_tui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    text = (ROOT / "pyproject.toml").read_text().replace(
        'dependencies = [\n', 'dependencies = [\n    "no-such-library-xyz>=1",\n', 1)
    (src / "pyproject.toml").write_text(text)
    needs = build(key, "0.6.0", tmp / "needs", src)
    err = _refused(needs, pub)
    assert "no-such-library-xyz>=1" in err.message and "installs no libraries" in err.message


async def test_update_key_inside_the_data_dir_refused(make_controller: Any,
                                                      keyed: tuple[Path, Path, Path],
                                                      tmp_path: Path) -> None:
    _, _, pub = keyed
    inside = tmp_path / "data" / "upload" / "k.pub"
    inside.parent.mkdir(parents=True)
    shutil.copy(pub, inside)
    with pytest.raises(Invalid) as err:
        await make_controller(pdus=1, update_keys=(inside,))
    assert "inside the data directory" in str(err.value)


def _on_trial(c: Any, version: str) -> VersionStore:
    store = c.core.software.versions
    (store.folder(version) / "enerteg_tui").mkdir(parents=True)
    store.select(version, previous=None, deadline_s=60, by="boss")
    assert store.choose().trial                       # the launcher's step: trying
    c.core.software.running_from = version            # as if started into it
    return store


async def test_health_check_confirms_a_version(make_controller: Any) -> None:
    c = await make_controller(pdus=1)
    store = _on_trial(c, "0.2.0")

    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-test\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(banner, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await c.core.software.confirm_boot({"ssh": ("127.0.0.1", port, b"SSH-")})
    finally:
        server.close()
    assert store.boot() is None and store.result()["result"] == "healthy"
    assert store.choose().version == "0.2.0" and not store.choose().trial
    assert c.core.system.requested is None
    assert c.core.software.status(SYSTEM)["progress"]["state"] == "healthy"
    actions = [e.action for e in await c.audit.query(principal("admin"), limit=50)]
    assert "software.update.healthy" in actions


async def test_failed_health_check_rolls_back(make_controller: Any) -> None:
    c = await make_controller(pdus=1)
    store = _on_trial(c, "0.2.0")
    dead = free_port()                                # nothing listens there
    assert await c.core.software.confirm_boot({"ssh": ("127.0.0.1", dead, b"SSH-")}) is False
    boot = store.boot()
    assert boot["state"] == "failed" and f"127.0.0.1:{dead}" in boot["reason"]
    assert c.core.system.requested == "restart"        # the process owner re-executes
    choice = store.choose()                           # … and its launcher goes back
    assert choice.version is None and choice.rolled_back and "0.2.0" in choice.rolled_back
    result = json.loads((store.root / "result.json").read_text())
    assert result["result"] == "rolled back" and "health check failed" in result["reason"]
    assert store.current() is None
    entries = await c.audit.query(principal("admin"), limit=50)
    failed = [e.message for e in entries if e.action == "software.update.failed"]
    assert failed and "health check failed" in failed[0]


async def test_status_and_check_need_administer(make_controller: Any) -> None:
    from enerteg_tui.core.errors import PermissionDenied

    c = await make_controller(pdus=1)
    for call in (lambda: c.core.software.status(principal("readonly")),):
        with pytest.raises(PermissionDenied):
            call()
    with pytest.raises(PermissionDenied):
        await c.core.software.check(principal("power"), "x.etgpkg")
    with pytest.raises(PermissionDenied):
        await c.core.software.apply(principal("readonly"), "x.etgpkg")
    with pytest.raises(Invalid) as err:
        await c.core.software.check(SYSTEM, "../enerteg.db")
    assert "give a file in /upload" in str(err.value)
