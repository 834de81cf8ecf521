"""Shared fixtures: controllers on the simulated ring in a temporary data directory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from enerteg_tui.core.permissions import Principal, Role


def principal(*roles: str, user: str | None = None) -> Principal:
    """A principal holding ``roles`` (names), for permission-checked calls."""
    return Principal(user=user or (roles[0] if roles else "nobody"),
                     roles=frozenset(Role(r) for r in roles), face="test", address="127.0.0.1")


ADMIN = principal("admin")
READONLY = principal("readonly")


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> None:
    """Poll ``cond`` until true or fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


@pytest.fixture
def make_controller(tmp_path: Path) -> Callable[..., object]:
    """Factory: ``await make_controller(pdus=8, interval=0.1)`` → started Controller."""
    started: list[Controller] = []

    from enerteg_tui.controller import Controller, ControllerOptions

    async def factory(pdus: int = 8, interval: float = 0.1, seed: int = 1,
                      data_dir: Path | None = None, **kw) -> "Controller":
        kw.setdefault("ssh_enabled", False)   # the SSH tests ask for it
        opts = ControllerOptions(data_dir=data_dir or tmp_path / "data", simulate=pdus,
                                 interval=interval, seed=seed, bus_latency_ms=kw.pop("latency", 0.0),
                                 **kw)
        c = Controller(opts)
        await c.start()
        started.append(c)
        await asyncio.wait_for(c.poller.first_sweep_done.wait(), 10)
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
