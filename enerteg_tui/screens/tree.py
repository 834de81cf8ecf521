"""The left-hand tree of the data centre: site → rooms → rows → racks → PDUs, plus Unassigned.

Each node shows its worst state as a shape and colour (manual §6, escalating upward:
the structure service computes an element's health over every device below it). The
tree is rebuilt when the structure changes and only relabelled when device states
change. Selecting a node asks the main screen to open its dashboard or device view.

Its width follows the terminal (``tree_width``: a quarter of the columns, 20 to 32) and
``ctrl+b`` hides it; names that do not fit are cut in the middle, and PDUs whose cut
names would read alike get their hex id (``names.distinct``), so "Daisy-Chain PDU #3"
and "#7" stay apart in 20 columns (issue 18, item 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ..core.events import Batch
from ..core.i18n import _
from ..core.model import Health
from ..core.structure import Kind
from .context import LiveListener, console_context
from .names import distinct, shorten
from .queries import HEALTH_MARK, HEALTH_STYLE, device_health

__all__ = ["Place", "StructureTree", "tree_width"]

TREE_MIN, TREE_MAX = 20, 32
"""Narrowest and widest tree, in columns (borders included)."""


def tree_width(columns: int) -> int:
    """The tree's width for a terminal ``columns`` wide: a quarter, within 20 to 32, so
    at 80 columns the device list keeps its name, load and power columns in view."""
    return max(TREE_MIN, min(TREE_MAX, columns // 4))


@dataclass(frozen=True, slots=True)
class Place:
    """What a tree node stands for: ``site``, ``element`` (id), ``unassigned`` or ``device`` (hex)."""

    kind: str
    ref: int | str | None = None


class StructureTree(LiveListener, Tree[Place]):
    """DC structure navigation with worst-state colours."""

    LIVE_KINDS = ("structure", "device", "alarm")
    LIVE_VALUES = False
    """Colours follow device state and alarm events; values do not matter here (a
    subscription to every device's values cost each session a set per PDU a sweep)."""

    DEFAULT_CSS = """
    StructureTree {
        width: 22;  /* set by the main screen from the terminal width: tree_width() */
        height: 1fr;
        border-right: vkey $panel-lighten-2;
        background: $surface;
        padding: 0;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(_("Site"), Place("site"), id=id)
        self.show_root = True
        self.guide_depth = 2
        self._labels: dict[Place, str] = {}
        self._health: dict[Place, Health] = {}
        self._shown: dict[Place, str] = {}
        """The (possibly shortened) name each node shows."""
        self._fitted_to = 0
        """Width the names were last shortened for."""

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._fitted_to:
            self.relabel(force=True)

    def watch_show_vertical_scrollbar(self) -> None:
        """A scrollbar that comes or goes changes the room for names (no Resize event)."""
        self.call_after_refresh(self.on_resize)

    def on_mount(self) -> None:
        self.rebuild()
        self.listen()

    def on_live_batch(self, batch: Batch) -> None:
        if any(ev.kind == "structure" or (ev.kind == "device" and ev.data in ("found", "forgotten"))
               for ev in batch.events):
            self.rebuild()
        elif batch.events:
            self.relabel()

    def rebuild(self) -> None:
        """Rebuild every node from the structure service (keeps expansion of rooms)."""
        c = console_context(self).core
        s = c.structure
        self.clear()
        root = self.root
        self._labels = {Place("site"): _("Site")}
        for room in s.children(0):
            rn = self._add(root, Place("element", room.id), room.name, expand=True)
            for row in s.children(room.id):
                wn = self._add(rn, Place("element", row.id), row.name, expand=True)
                for rack in s.children(row.id):
                    kn = self._add(wn, Place("element", rack.id), rack.name, expand=False)
                    for hex_id in s.devices_in(rack.id) if rack.kind is Kind.RACK else []:
                        live = c.live.get(hex_id)
                        self._add(kn, Place("device", hex_id),
                                  live.info.display_name if live else hex_id, leaf=True)
        un = self._add(root, Place("unassigned"), _("Unassigned"), expand=False)
        for hex_id in s.unassigned():
            live = c.live.get(hex_id)
            self._add(un, Place("device", hex_id), live.info.display_name if live else hex_id,
                      leaf=True)
        root.expand()
        self.relabel(force=True)

    def relabel(self, force: bool = False) -> None:
        """Recolour nodes whose worst state changed."""
        c = console_context(self).core
        s = c.structure

        if force:
            self._shown = self._fit_names()

        def visit(node: TreeNode[Place]) -> None:
            place = node.data
            if place is not None:
                health = self._health_of(place)
                if force or self._health.get(place) != health:
                    self._health[place] = health
                    name = self._shown.get(place) or self._labels.get(place, str(node.label))
                    node.set_label(Text(f"{HEALTH_MARK[health]} {name}", style=HEALTH_STYLE[health]))
            for child in node.children:
                visit(child)

        self._structure = s
        visit(self.root)

    def select_place(self, place: Place) -> bool:
        """Move the cursor to the node of ``place``; False if it is not in the tree."""
        def find(node: TreeNode[Place]) -> TreeNode[Place] | None:
            if node.data == place:
                return node
            for child in node.children:
                hit = find(child)
                if hit is not None:
                    return hit
            return None

        node = find(self.root)
        if node is None:
            return False
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.call_after_refresh(self.move_cursor, node)
        return True

    # ------------------------------------------------------------------ helpers
    def _fit_names(self) -> dict[Place, str]:
        """Every node's name cut to the room its depth leaves; PDUs under one parent
        that would read alike get their hex id."""
        # the room beside the vertical scrollbar, when a long list has one: a label
        # wider than that would be cut at its end by the Tree itself
        width = self.scrollable_content_region.width or (TREE_MAX - 1)
        self._fitted_to = width
        out: dict[Place, str] = {}

        def visit(node: TreeNode[Place], depth: int) -> None:
            devices: dict[str, str] = {}
            room = width - self.guide_depth * depth - 2      # guides, expander, the mark
            for child in node.children:
                place = child.data
                if place is None:
                    continue
                leaf = not child.allow_expand
                child_room = room - self.guide_depth - (0 if leaf else 2)
                if place.kind == "device":
                    devices[str(place.ref)] = self._labels.get(place, str(place.ref))
                else:
                    out[place] = shorten(self._labels.get(place, ""), max(3, child_room))
                visit(child, depth + 1)
            if devices:
                leaf_room = max(3, room - self.guide_depth)
                for hex_id, text in distinct(devices, leaf_room).items():
                    out[Place("device", hex_id)] = text

        root = self.root
        if root.data is not None:
            out[root.data] = shorten(self._labels.get(root.data, _("Site")), max(3, width - 4))
        visit(root, 0)
        return out

    def _add(self, parent: TreeNode[Place], place: Place, name: str, *, expand: bool = False,
             leaf: bool = False) -> TreeNode[Place]:
        self._labels[place] = name
        if leaf:
            return parent.add_leaf(name, place)
        return parent.add(name, place, expand=expand)

    def _health_of(self, place: Place) -> Health:
        c = console_context(self).core
        s = c.structure
        if place.kind == "site":
            return s.element_health(None)
        if place.kind == "element":
            assert isinstance(place.ref, int)
            return s.element_health(place.ref)
        if place.kind == "device":
            live = c.live.get(str(place.ref))
            return device_health(c, live) if live else Health.CRITICAL
        return max((device_health(c, c.live.devices[h]) for h in s.unassigned()
                    if h in c.live.devices), default=Health.OK)
