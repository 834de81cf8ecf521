"""Console side of network management (issue 23 item 2): the Settings page's network
form says whether the controller applies config/network, shows a pending change with
its seconds left, and confirms it with its action button (^o).

The pending change needs a controller that manages its host, so that test runs inside a
network namespace: the outer test makes the namespaces (``tests/appliance/test_network``'s
fixture) and runs this file's inner test there with pytest, in a process whose only
interfaces are the namespace's; the inner test skips anywhere else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.appliance.test_network import ROOT, Net, net  # noqa: F401  (fixture)
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle
from .test_settings_page import message, open_topic

INNER = "ENERTEG_NETWORK_CONSOLE_NS"
"""Set by the outer test to the namespace the inner test runs in."""


def _service(form) -> str:
    return str(form.query_one("#service", Static).render())


async def test_network_form_without_manage_host_says_so_and_confirm_names_the_flag(
        make_controller) -> None:
    c = await make_controller(pdus=2)
    async with make_app(c).run_test(size=(160, 48)) as pilot:
        form = await open_topic(pilot, "network")
        assert "Now: not applied: the host manages its own network; start with 'enerteg " \
               "serve --manage-host'" in " ".join(_service(form).split())
        await pilot.press("ctrl+o")
        await wait_for(lambda: "--manage-host" in message(form), timeout=10)
        assert "network confirm" in message(form)


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_pending_change_counts_down_and_is_confirmed_from_the_console(net: Net) -> None:  # noqa: F811
    done = subprocess.run(
        ["ip", "netns", "exec", net.ctl, sys.executable, "-m", "pytest", __file__, "-q",
         "-p", "no:cacheprovider", "-n", "0", "-k", "inner", "-rs"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
        env={**os.environ, INNER: net.ctl, "ENERTEG_NET_TMP": str(net.tmp),
             "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
    assert net.addresses() == ["10.77.0.20/24"]          # confirmed: kept


async def test_inner_pending_change_in_the_namespace(make_controller) -> None:
    if not os.environ.get(INNER):
        pytest.skip("runs inside a network namespace, started by "
                    "test_pending_change_counts_down_and_is_confirmed_from_the_console")
    tmp = Path(os.environ["ENERTEG_NET_TMP"])
    c = await make_controller(pdus=2, manage_host=True, resolv_conf=tmp / "resolv.conf")
    await c.topics.put(ADMIN, "config/network", {
        "confirmSeconds": 60, "interfaces.eth0.dhcp": "false",
        "interfaces.eth0.ipv4Address": "10.77.0.20", "interfaces.eth0.prefixLength": 24})
    await wait_for(lambda: c.core.network.pending is not None, timeout=20)
    async with make_app(c).run_test(size=(160, 48)) as pilot:
        form = await open_topic(pilot, "network")
        first = re.search(r"waits for confirmation: (\d+) s left", _service(form))
        assert first, _service(form)
        assert "Confirm change (^o)" in str(form.query_one("#action").render())
        # the line counts down by itself
        await wait_for(lambda: (m := re.search(r"confirmation: (\d+) s left", _service(form)))
                       and int(m.group(1)) < int(first.group(1)), timeout=15)
        await pilot.press("ctrl+o")
        await wait_for(lambda: "Network change confirmed by admin" in message(form), timeout=20)
        await wait_for(lambda: "applied and confirmed: eth0 10.77.0.20/24"
                       in " ".join(_service(form).split()), timeout=10)
        await settle(pilot)
    assert c.core.network.pending is None
