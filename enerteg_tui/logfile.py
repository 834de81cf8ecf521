"""The controller's own log file, ``<data-dir>/logs/enerteg.log``, rotated by size.

Operators download it over SFTP (``/logs``) when something went wrong at 3 a.m.;
rotation keeps the data directory bounded (5 files of 5 MiB). Secrets never reach
it: core services log names and outcomes, never passwords or keys, and every record
(libraries' included: asyncssh logs each exec command) passes ``core.masking``'s
``SecretFilter`` first. The folder is the owner's only (``core.filemodes``).
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from .core.masking import install_secret_filter

__all__ = ["install_log_file", "LOG_NAME", "MAX_BYTES", "BACKUPS"]

LOG_NAME = "enerteg.log"
MAX_BYTES = 5 << 20
BACKUPS = 4
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def install_log_file(directory: Path) -> logging.Handler:
    """Attach a rotating file handler for ``directory/enerteg.log`` to the root logger."""
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        directory / LOG_NAME, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    install_secret_filter(handler)
    logging.getLogger().addHandler(handler)
    return handler
