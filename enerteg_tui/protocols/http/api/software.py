"""REST resources of the software update (issue 20 item 3, issue 23 item 5), through
``core.software``: the same checks, messages, permission (administrators) and audit as
the shell's ``update`` and the console's System commands.

``POST /software/updates`` takes a package as the request body (``application/
octet-stream``), stores it in /upload under ``name`` and verifies it; a package that
fails the check is removed again (nothing stored, nothing installed) and the answer is a
problem naming why. ``POST /software/updates/apply`` installs a package from /upload and
restarts into it; ``GET /software/updates/status`` follows it.
"""

import contextlib
import os
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from ....core.errors import Invalid
from ....core.permissions import Action, Principal, require
from ....core.services import CoreServices
from ....core.update_package import MAX_PACKAGE_BYTES, PACKAGE_SUFFIX

__all__ = ["add_software"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.etgpkg$"


class ApplyRequest(BaseModel):
    file: str = Field(min_length=1, max_length=200, description="a package in /upload")
    force: bool = Field(False, description="install a version not newer than the running one")


def add_software(api: FastAPI, core: CoreServices, who: Callable[..., Any]) -> None:
    """Add ``/software/updates`` to ``api``."""
    Who = Annotated[Principal, Depends(who)]

    @api.post("/software/updates", status_code=201, tags=["software"],
              summary="Upload an update package to /upload and verify it (admin)",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/octet-stream": {"schema": {"type": "string",
                                                          "format": "binary"}}}}})
    async def upload(request: Request, principal: Who,
                     name: Annotated[str, Query(pattern=NAME_PATTERN, description=(
                         "file name in /upload"))] = "enerteg-update" + PACKAGE_SUFFIX,
                     force: bool = False) -> dict[str, Any]:
        require(principal, Action.ADMINISTER, "software/update")
        folder = core.paths.upload
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = folder / f".incoming-{secrets.token_hex(6)}{PACKAGE_SUFFIX}"
        size = 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_PACKAGE_BYTES:
                        raise Invalid(f"update package {name!r}: larger than "
                                      f"{MAX_PACKAGE_BYTES} bytes", thing="size",
                                      value=size, allowed=f"at most {MAX_PACKAGE_BYTES} bytes")
                    out.write(chunk)
            os.replace(tmp, folder / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        try:
            info = await core.software.check(principal, name, force=force)
        except Invalid:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()        # refused: nothing kept
            raise
        return {**info.as_dict(), "stored": f"/upload/{name}",
                "running": core.software.running_version}

    @api.post("/software/updates/apply", status_code=202, tags=["software"],
              summary="Install a package from /upload and restart into it (admin)")
    async def apply(body: ApplyRequest, principal: Who) -> dict[str, Any]:
        warning = await core.software.apply(principal, body.file, force=body.force)
        return {"file": body.file, "state": "restarting", "warning": warning}

    @api.get("/software/updates/status", tags=["software"],
             summary="Running and selected versions, the update under way or the last "
                     "one's outcome (admin)")
    async def status(principal: Who) -> dict[str, Any]:
        return core.software.status(principal)
