"""Command palette (ctrl+p): open any page by name and any device by name or hex id,
the user's display preferences, and for admins the system commands (restart the
controller, power off or reboot the host: ``system_commands``).

One Textual ``Provider``; its entries come from the structure and the live device
list at the moment the palette opens, so new PDUs and renamed racks are found at
once. Textual's system commands are left out on purpose (a "save screenshot"
command would write files on the controller from an SSH session).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..core.i18n import _
from .context import console_context
from .display import display_summary
from .sections import SECTIONS
from .system_commands import start_system_command, system_entries
from .tree import Place

__all__ = ["ConsoleCommands", "palette_entries"]


def palette_entries(app: Any) -> Iterator[tuple[str, str, Place]]:
    """(text, help, place) for every page and device the palette can open."""
    c = console_context(app.screen).core
    yield _("Dashboard"), _("Site dashboard: aggregates of every PDU"), Place("site")
    yield _("Devices"), _("Device list: all PDUs, alarmed first"), Place("devices")
    yield _("Unassigned devices"), _("Device list filtered to PDUs in no rack"), Place("unassigned")
    ctx = console_context(app.screen)
    for sec in SECTIONS:
        if ctx.may(sec.needs):
            yield _(sec.title), f"{_(sec.help)} ({sec.key.upper()})", Place(sec.kind)
    for el in c.structure.elements():
        yield (f"{el.kind.value.capitalize()} {c.structure.path(el)}",
               f"Dashboard of this {el.kind.value}", Place("element", el.id))
    for live in c.live.ordered():
        info = live.info
        yield (f"{info.display_name} {info.hex_id}",
               f"Device view · {info.model.type_name} · serial {info.identification.serial}",
               Place("device", info.hex_id))


class ConsoleCommands(Provider):
    """Pages and devices for the command palette."""

    def _entries(self) -> list[tuple[str, str, Callable[[], None]]]:
        app: Any = self.app
        entries = [(text, help, partial(app.open_place, place))
                   for text, help, place in palette_entries(app)]
        prefs = getattr(app, "display_prefs", None)
        if prefs is not None:
            entries.insert(2, (_("Display preferences"),
                               _("Yours: {summary}").format(summary=display_summary(prefs)),
                               app.action_display_prefs))
        entries += [(text, help, partial(start_system_command, app, action))
                    for text, help, action in system_entries(app)]
        return entries

    async def discover(self) -> Hits:
        for text, help, command in self._entries()[:10]:
            yield DiscoveryHit(text, command, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help, command in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help)
