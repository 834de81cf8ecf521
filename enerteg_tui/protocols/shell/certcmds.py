"""Shell shorthand for the certificate store: ``rm certs/<id>``.

It is one ``Topics.put`` of ``delete=true`` on ``certs/<id>``, the same call a script
makes with ``put certs/<id> delete=true``; the core checks ``administer``, deletes the
certificate with its key and writes the audit entry. Importing is ``put certs/new``.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import Invalid, shown
from ...core.i18n import _
from ...core.topics import normalize
from .parse import UsageError

__all__ = ["cmd_rm", "RM_USAGE"]

RM_USAGE = "rm certs/<id>"


async def cmd_rm(sh: Any, args: list[str]) -> None:
    """rm certs/<id>: delete a stored certificate (and its private key)."""
    if len(args) != 1:
        raise UsageError(f"Usage: {RM_USAGE}")
    parts = normalize(args[0], sh.cwd).split("/")
    if len(parts) != 2 or parts[0] != "certs" or parts[1] == "new":
        raise Invalid(f"rm: {shown('/' + '/'.join(parts))} cannot be removed; rm deletes a "
                      "stored certificate", thing="path", value="/" + "/".join(parts),
                      allowed="certs/<id> (ls certs lists them)")
    await sh.core.topics.put(sh.principal, "/".join(parts), {"delete": True})
    sh.msg(_("Deleted {path}").format(path="/" + "/".join(parts)))
    if sh.cwd == "/".join(parts):
        sh.cwd = "certs"
