"""The console's management sections: one table of name, key, page class and who may open it.

The dashboard, device list and device view are reached through the DC tree; the
management pages (alarms, audit log, rules, DC structure, reports, settings, users)
are reached by a function key, by name in the command palette, and from the help
screen. This table is the one place that lists them, so the key bar, the palette, the
help screen and ``ConsoleApp.spec_for`` never disagree. Page classes are named by
``module:Class`` and imported when first opened: a session that never opens the
settings never pays for their forms.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.i18n import N_, NP_
from ..core.permissions import Action

if TYPE_CHECKING:
    from .page import Page

__all__ = ["PLANNED", "SECTIONS", "Section", "section", "page_class"]


@dataclass(frozen=True, slots=True)
class Section:
    """A management page of the console.

    Attributes:
        kind: the ``Place`` kind that opens it (``Place("alarms")``).
        title: its name in the palette, the page title and the help screen.
        key: the function key that opens it from anywhere in the frame.
        help: one line for the palette and the help screen.
        target: ``package.module:Class`` of its ``Page``, built with no arguments,
            or with the ``Place``'s ref when it has one (``Place("rules", hex_id)``).
        needs: the action a principal must hold to open it; the page's own
            controls are checked again, and the core checks every call anyway.
    """

    kind: str
    title: str
    key: str
    help: str
    target: str
    needs: Action = Action.READ

    @property
    def short(self) -> str:
        """The one word the key bar shows (short: at 80 columns every section's key
        has to fit one row of the key bar)."""
        return {"Audit log": N_("Audit"), "DC structure": N_("DC"), "Settings": N_("Setup")}.get(
            self.title, self.title)


KEY_WORDS = (NP_("key", "Rules"), NP_("key", "Setup"), NP_("key", "Users"), NP_("key", "Identify"))
"""Words with a shorter form on the key bar (``i18n.key_word``) than in titles and help."""


_P = "enerteg_tui.screens."
PLANNED: tuple[Section, ...] = (
    Section("alarms", "Alarms", "f4", N_("Open alarms: filter, sort, acknowledge, jump to the device"),
            _P + "alarms_page:AlarmsPage"),
    Section("audit", "Audit log", "f5", N_("Audit log: filter, page, state and comments per entry"),
            _P + "audit_page:AuditPage", Action.ADMINISTER),
    Section("rules", "Rules", "f6", N_("Threshold rules: list, create, edit, delete; rule report"),
            _P + "rules_page:RulesPage"),
    Section("structure", "DC structure", "f7", N_("Rooms, rows and racks: add, rename, delete, assign"),
            _P + "structure_page:StructurePage"),
    Section("reports", "Reports", "f8", N_("Energy and load reports: on screen, CSV and Excel"),
            _P + "reports_page:ReportsPage"),
    Section("settings", "Settings", "f9", N_("Controller settings, backup and restore"),
            _P + "settings_page:SettingsPage", Action.ADMINISTER),
    Section("users", "Users", "f10", N_("User accounts and roles; change your own password"),
            _P + "users_page:UsersPage"),
)
"""Every management section of the design, in key order, with its key reserved."""


def _built(sec: Section) -> bool:
    return importlib.util.find_spec(sec.target.partition(":")[0]) is not None


SECTIONS: tuple[Section, ...] = tuple(s for s in PLANNED if _built(s))
"""The sections this build has a page for: only these get a key, a palette entry and
a help entry (a key that opens nothing would be a broken promise)."""


def section(kind: str) -> Section | None:
    """The section a place kind opens, or None for the tree's own kinds."""
    for s in SECTIONS:
        if s.kind == kind:
            return s
    return None


def page_class(sec: Section) -> type[Page]:
    """Import and return the section's page class."""
    module_name, _, class_name = sec.target.partition(":")
    cls: type[Page] = getattr(importlib.import_module(module_name), class_name)
    return cls
