"""The data directory's layout: one place names every file and folder in it, so no
service or face builds a path from a string of its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataLayout", "REPORTS_DIR"]

REPORTS_DIR = "reports"
"""Folder of generated reports inside the data directory (SFTP ``/reports``)."""


@dataclass(frozen=True, slots=True)
class DataLayout:
    """Where things live inside the data directory."""

    root: Path

    @property
    def database(self) -> Path:
        """The controller database (settings, users, audit, structure, rules, alarms)."""
        return self.root / "enerteg.db"

    @property
    def logs(self) -> Path:
        """Rotating log files (SFTP ``/logs``, administer right only)."""
        return self.root / "logs"

    @property
    def backups(self) -> Path:
        """Encrypted backups (SFTP ``/backups``)."""
        return self.root / "backups"

    @property
    def reports(self) -> Path:
        """Generated reports and the file export (SFTP ``/reports``)."""
        return self.root / REPORTS_DIR

    @property
    def upload(self) -> Path:
        """Restore files, certificates, firmware images and software update packages put by
        admins (SFTP ``/upload``)."""
        return self.root / "upload"

    @property
    def versions(self) -> Path:
        """Controller versions installed by a software update, and which one runs
        (``core.versions``)."""
        return self.root / "versions"

    @property
    def mail(self) -> Path:
        """The e-mail notifier's outbox (messages waiting for a retry survive a restart)."""
        return self.root / "mail"

    @property
    def ssh_keys(self) -> Path:
        """The SSH server's host keys."""
        return self.root / "ssh"

    @property
    def snmp_engine(self) -> Path:
        """The SNMP agent's engine id and boot counter (SNMPv3 keys depend on the id)."""
        return self.root / "snmp-engine.json"

    @property
    def https_certificate(self) -> Path:
        """The web server's self-signed certificate (PEM), made once when HTTPS first runs
        without a configured one (``config/http_server`` certificatePem)."""
        return self.root / "https-selfsigned.crt"

    @property
    def https_key(self) -> Path:
        """The private key of ``https_certificate`` (PEM, unencrypted, mode 0600)."""
        return self.root / "https-selfsigned.key"

    @property
    def secret_key(self) -> Path:
        """The key that encrypts secrets kept in the database (certificates' private
        keys; ``core.secretbox``): 32 random bytes, mode 0600, outside the database."""
        return self.root / "secrets.key"

    @property
    def simulator_memory(self) -> Path:
        """The simulated PDUs' own memory (counters, settings), as a real PDU's flash."""
        return self.root / "sim-ring.json"
