"""Run inside a private network namespace by test_mdns.py: a controller that announces.

Writes ``<dir>/ready.json`` (serial, ports) once started, then runs until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.conftest import ADMIN
from tests.helpers import build_controller, free_port, wait_for


async def main(out: Path) -> None:
    c = await build_controller(out / "data", pdus=3, ssh_enabled=True, ssh_port=free_port(),
                               manage_host=True)
    await c.topics.put(ADMIN, "config/hostname", {"hostname": "rack-7"})
    await c.topics.put(ADMIN, "config/http_server", {"enabled": "enabled"})
    mdns = c.service("mdns")
    await wait_for(lambda: "_http._tcp" in mdns.status and "_ssh._tcp" in mdns.status, 30)
    serial = next(d.info.identification.serial for d in c.live.ordered() if d.info.controller)
    (out / "ready.json").write_text(json.dumps({
        "serial": serial, "host": mdns.host, "ports": c._announced_ports(),
        "status": mdns.status}))
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
