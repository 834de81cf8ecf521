"""Shell shorthands for the DC structure topics (issue 19 item 3): ``mkdir`` and ``rmdir``.

Both are one ``Topics.put`` on the ``dc/`` tree, the same call a script makes with
``put dc/…/new name=X`` or ``put dc/<room> delete=true``; the core checks the
permission (``edit-structure``), refuses a non-empty element naming what it holds and
writes the audit entry. Placing PDUs stays ``put dc/<room>/<row>/<rack> assign=<hexid>``.
"""

from __future__ import annotations

from typing import Any

from ...core.dc_topics import NEW
from ...core.errors import Invalid, shown
from ...core.i18n import _
from ...core.topics import normalize
from .parse import UsageError

__all__ = ["cmd_mkdir", "cmd_rmdir"]


def _dc_path(sh: Any, word: str, usage: str) -> list[str]:
    parts = normalize(word, sh.cwd).split("/")
    if parts[0] != "dc" or len(parts) < 2:
        raise Invalid(f"{usage.split()[0]}: {shown('/' + '/'.join(parts))} is not an element of the "
                      "DC structure", thing="path", value="/" + "/".join(parts),
                      allowed="dc/<room>, dc/<room>/<row> or dc/<room>/<row>/<rack>")
    return parts


async def cmd_mkdir(sh: Any, args: list[str]) -> None:
    """mkdir dc/<room>[/<row>[/<rack>]]: create a room, row or rack (its parent must exist)."""
    usage = "mkdir dc/<room>[/<row>[/<rack>]]"
    if len(args) != 1:
        raise UsageError(f"Usage: {usage}")
    parts = _dc_path(sh, args[0], usage)
    doc = await sh.core.topics.put(sh.principal, "/".join([*parts[:-1], NEW]),
                                   {"name": parts[-1]})
    sh.msg(_("Created {kind} {path}").format(kind=doc['kind'], path=doc['path']))
    if sh.format == "json":
        import json
        sh.out(json.dumps(doc, indent=2, ensure_ascii=False))


async def cmd_rmdir(sh: Any, args: list[str]) -> None:
    """rmdir dc/<room>[/<row>[/<rack>]]: delete an empty room, row or rack."""
    usage = "rmdir dc/<room>[/<row>[/<rack>]]"
    if len(args) != 1:
        raise UsageError(f"Usage: {usage}")
    parts = _dc_path(sh, args[0], usage)
    await sh.core.topics.put(sh.principal, "/".join(parts), {"delete": True})
    sh.msg(_("Deleted {path}").format(path="/" + "/".join(parts)))
    if sh.cwd == "/".join(parts) or sh.cwd.startswith("/".join(parts) + "/"):
        sh.cwd = "/".join(parts[:-1])
