"""Redfish (DMTF DSP0266) on the web server: ``/redfish`` and the ``/redfish/v1`` tree.

Why a package of its own: the Redfish tree is a face with its own vocabulary (OData
annotations, extended errors, sessions, actions) over the same core services every face
uses. ``build_router`` gives the web server one catch-all route; ``dispatch`` answers
from the resource table of ``tree``. docs/redfish.md says what is served and how.
"""

from __future__ import annotations

from .service import build_router

__all__ = ["build_router"]
