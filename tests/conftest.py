"""Shared fixtures: controllers on the simulated ring in a temporary data directory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from enerteg_tui.core.permissions import Principal, Role
from tests.helpers import build_controller


def principal(*roles: str, user: str | None = None) -> Principal:
    """A principal holding ``roles`` (names), for permission-checked calls."""
    return Principal(user=user or (roles[0] if roles else "nobody"),
                     roles=frozenset(Role(r) for r in roles), face="test", address="127.0.0.1")


ADMIN = principal("admin")
READONLY = principal("readonly")


@pytest.fixture
def make_controller(tmp_path: Path) -> Callable[..., object]:
    """Factory: ``await make_controller(pdus=8, interval=0.1)`` → started Controller
    (built by :func:`tests.helpers.build_controller`, stopped at the test's end)."""
    started: list[object] = []

    async def factory(pdus: int = 8, interval: float = 0.1, seed: int = 1,
                      data_dir: Path | None = None, **kw):
        c = await build_controller(data_dir or tmp_path / "data", pdus=pdus,
                                   interval=interval, seed=seed, **kw)
        started.append(c)
        return c

    factory.started = started  # type: ignore[attr-defined]
    return factory  # type: ignore[return-value]


@pytest.fixture
async def controller(make_controller) -> AsyncIterator[object]:
    """A started controller on 8 simulated PDUs, sweeping every 0.1 s."""
    c = await make_controller()
    yield c


@pytest.fixture(autouse=True)
async def _stop_controllers(request) -> AsyncIterator[None]:
    yield
    factory = request.node.funcargs.get("make_controller")
    if factory is not None:
        for c in factory.started:
            if getattr(c, "store", None) is not None:
                await c.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep tests that share an expensive resource on one xdist worker (``--dist
    loadgroup``): a module sharing one event loop and its module-scoped controller, and
    every test of the one PostgreSQL server. Other tests spread over the workers."""
    for item in items:
        if "pg_server" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("postgres"))
            continue
        mark = item.get_closest_marker("asyncio")
        if mark is not None and mark.kwargs.get("loop_scope") == "module":
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
