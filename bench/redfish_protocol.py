"""DMTF's ``rf_protocol_validator`` against the controller's Redfish face.

It multicasts SSDP, so run it in a network namespace of its own, where the controller
runs too (it listens on that namespace's loopback):

    unshare --net sh -c 'ip link set lo up && python3 bench/redfish_protocol.py'

Starts a controller in this process (2 simulated PDUs, the web server on free loopback
ports, an admin user for the validator), runs the validator over HTTPS with the self-signed certificate
pinned (``--ca-bundle`` and ``REQUESTS_CA_BUNDLE``: some of its requests ignore the former), and prints its summary line and every FAIL and WARN (from the
TSV report). Exit code 0 when it reports no FAIL.
"""

from __future__ import annotations

import asyncio
import csv
import os
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

PW = "Redfish-pass-2026!"
RESULTS = ("PASS", "WARN", "FAIL", "NOT_TESTED")
"""The results of the validator's TSV report."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main() -> int:
    from enerteg_tui.controller import Controller, ControllerOptions
    from enerteg_tui.core.permissions import SYSTEM

    with tempfile.TemporaryDirectory() as tmp:
        c = Controller(ControllerOptions(
            data_dir=Path(tmp) / "data", simulate=2, interval=0.5, ssh_enabled=False,
            modbus_port=free_port(), snmp_port=free_port(), http_port=free_port(),
            https_port=free_port(), bind="127.0.0.1"))
        await c.start()
        try:
            await asyncio.wait_for(c.poller.first_sweep_done.wait(), 60)
            await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
            svc = c.service("http")
            for _ in range(600):
                if svc.status.running and svc.https_port:  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.05)
            await c.core.users.add(SYSTEM, "validator", PW, ["admin"])
            ca = Path(tmp) / "ca.pem"
            ca.write_text(svc.certificate)  # type: ignore[union-attr]
            reports = Path(tmp) / "reports"
            proc = await asyncio.create_subprocess_exec(
                "rf_protocol_validator", "--rhost", f"https://localhost:{svc.https_port}",
                "--user", "validator", "--password", PW, "--ca-bundle", str(ca),
                "--report-dir", str(reports), "--report-type", "both",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                # some of its requests are made without its --ca-bundle: requests' own
                env={**os.environ, "REQUESTS_CA_BUNDLE": str(ca)})
            out, _ = await asyncio.wait_for(proc.communicate(), 900)
            text = out.decode(errors="replace")
            if proc.returncode not in (0, 1):
                print(text[-4000:])
            counts: dict[str, int] = {}
            for tsv in reports.glob("*.tsv"):
                with tsv.open() as f:
                    for row in csv.reader(f, delimiter="\t"):
                        result = next((x for x in row if x in RESULTS), None)
                        if result is None:
                            continue
                        counts[result] = counts.get(result, 0) + 1
                        if result in ("FAIL", "WARN"):
                            print(f"{result}:", " | ".join(row)[:400])
            print("rf_protocol_validator: " + ", ".join(f"{k} {counts.get(k, 0)}"
                                                        for k in RESULTS))
            return 0 if counts.get("FAIL", 0) == 0 and counts.get("PASS") else 1
        finally:
            await c.stop()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
