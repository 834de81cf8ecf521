"""The REST API v1 (docs/rest.md), mounted by ``protocols/http/app.py`` at ``/api/v1``."""

from .app import build_api
from .problems import install_outer

__all__ = ["build_api", "install_outer"]
