"""Run inside the namespace by test_mdns.py: browse and resolve the controller's services.

Prints one JSON object: service type to {name, server, port, addresses} for every
service of the types asked that resolved within the time allowed.
"""

from __future__ import annotations

import json
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf

TYPES = ["_ssh._tcp.local.", "_http._tcp.local.", "_https._tcp.local.", "_snmp._udp.local."]


class Collect(ServiceListener):
    def __init__(self) -> None:
        self.names: set[tuple[str, str]] = set()

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.add((type_, name))

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.add((type_, name))

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.discard((type_, name))


def main(want: set[str], timeout: float) -> None:
    zc = Zeroconf(ip_version=IPVersion.V4Only)
    listener = Collect()
    browser = ServiceBrowser(zc, TYPES, listener)
    end = time.monotonic() + timeout
    while time.monotonic() < end and not want <= {t for t, _ in listener.names}:
        time.sleep(0.1)
    found = {}
    for type_, name in sorted(listener.names):
        info = zc.get_service_info(type_, name, timeout=5000)
        if info is not None:
            found[type_] = {"name": name, "server": info.server, "port": info.port,
                            "addresses": info.parsed_addresses()}
    browser.cancel()
    zc.close()
    print(json.dumps(found))


if __name__ == "__main__":
    main(set(sys.argv[2:]), float(sys.argv[1]))
