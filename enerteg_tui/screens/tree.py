"""The left-hand tree of the data centre: site → rooms → rows → racks → PDUs, plus Unassigned.

Each node shows its worst state as a shape and colour (manual §6, escalating upward:
the structure service computes an element's health over every device below it). The
tree is rebuilt when the structure changes and only relabelled when device states
change. Selecting a node asks the main screen to open its dashboard or device view.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ..core.events import Batch
from ..core.model import Health
from ..core.structure import Kind
from .context import LiveListener, console_context
from .queries import HEALTH_MARK, HEALTH_STYLE, device_health

__all__ = ["Place", "StructureTree"]


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
        width: 22;
        height: 1fr;
        border-right: vkey $panel-lighten-2;
        background: $surface;
        padding: 0;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Site", Place("site"), id=id)
        self.show_root = True
        self.guide_depth = 2
        self._labels: dict[Place, str] = {}
        self._health: dict[Place, Health] = {}

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
        self._labels = {Place("site"): "Site"}
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
        un = self._add(root, Place("unassigned"), "Unassigned", expand=False)
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

        def visit(node: TreeNode[Place]) -> None:
            place = node.data
            if place is not None:
                health = self._health_of(place)
                if force or self._health.get(place) != health:
                    self._health[place] = health
                    name = self._labels.get(place, str(node.label))
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
