"""The DC structure page (manual §6.3): rooms → rows → racks, their PDUs, and changing them.

Shows the data centre as a tree with counts per element (rows, racks, PDUs) and the
PDUs in each rack with their feed, plus the unassigned PDUs. From here an operator
adds a room, row or rack under the selected element, renames or deletes one (with a
confirmation; the core refuses a non-empty element and its message says what it
holds), assigns PDUs to racks or takes them out, and sets a PDU's power feed. Every
change goes through ``core.structure`` or ``core.devices`` with the
session's principal (``edit-structure``; the feed is a device setting,
``device-setup``); the page holds no rule of its own. It redraws on ``structure`` and
``device`` events, so a change made in another session or in the shell shows at once,
and the cursor stays on the element it was on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from ..core.errors import EnertegError
from ..core.events import Batch
from ..core.i18n import _
from ..core.permissions import Action
from ..core.structure import Element, Kind
from .dialogs import ConfirmDialog
from .page import Page, PageTitle
from .structure_dialogs import FeedDialog, NameDialog, assign_to_rack_dialog, rack_choice_dialog
from .tree import Place

__all__ = ["DCNode", "StructurePage"]


@dataclass(frozen=True, slots=True)
class DCNode:
    """What a node of the page's tree stands for.

    ``kind`` is ``site``, ``room``, ``row``, ``rack`` (``ref`` = element id),
    ``device`` (``ref`` = hex id) or ``unassigned``.
    """

    kind: str
    ref: int | str | None = None

    @property
    def element_id(self) -> int:
        """The element id of a room, row or rack node."""
        assert isinstance(self.ref, int), self
        return self.ref

    @property
    def hex_id(self) -> str:
        """The hex id of a PDU node."""
        return str(self.ref)


_CHILD_KIND = {"site": Kind.ROOM, "unassigned": Kind.ROOM, "room": Kind.ROW, "row": Kind.RACK}
"""What ``n`` adds under each kind of node (a rack or PDU node adds a rack beside it)."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class StructurePage(Page):
    """Tree of the data centre with add, rename, delete, assign and feed keys."""

    LIVE_KINDS = ("structure", "device")
    LIVE_VALUES = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "add", "Add"),
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
        Binding("a", "assign", "Assign"),
        Binding("u", "unassign", "Unassign"),
        Binding("f", "feed", "Feed"),
        Binding("o", "open", "Open"),
    ]
    """Keys of the page; the changing ones are hidden for roles that may not use them."""

    NOTIFY_TITLE = "DC structure"

    DEFAULT_CSS = """
    StructurePage #dc { height: 1fr; background: $surface; padding: 0 1; }
    StructurePage #detail { height: auto; padding: 0 1; color: $text-muted; }
    StructurePage #message { height: auto; padding: 0 1; }
    StructurePage #message.-error { color: $error; text-style: bold; }
    """

    def __init__(self, ref: object = None) -> None:
        super().__init__()
        self.place = Place("structure")
        self._collapsed: set[DCNode] = set()
        self._want: DCNode | None = None
        """Node to put the cursor on after the next rebuild (a new element)."""

    def compose(self) -> ComposeResult:
        yield PageTitle(self.title_text(), id="title")
        tree: Tree[DCNode] = Tree("Data centre", DCNode("site"), id="dc")
        tree.guide_depth = 3
        yield tree
        yield Static("", id="detail")
        yield Static("", id="message")

    def title_text(self) -> Text:
        s = self.ctx.core.structure
        text = Text(_("DC structure"), style="bold")
        text.append(f" · {_plural(len(s.elements(Kind.ROOM)), 'room')}, "
                    f"{_plural(len(s.elements(Kind.ROW)), 'row')}, "
                    f"{_plural(len(s.elements(Kind.RACK)), 'rack')}")
        if not self.ctx.may(Action.EDIT_STRUCTURE):
            text.append(" · read only", style="yellow")
        return text

    def on_mount(self) -> None:
        self.rebuild()
        self.listen()

    def focus_first(self) -> None:
        self.query_one("#dc", Tree).focus(scroll_visible=False)

    # ------------------------------------------------------------------ tree
    @property
    def dc_tree(self) -> Tree[DCNode]:
        """The page's tree widget."""
        return self.query_one("#dc", Tree)

    @property
    def selected(self) -> DCNode:
        """What the cursor is on (the site when nothing is)."""
        node = self.dc_tree.cursor_node
        return node.data if node is not None and node.data is not None else DCNode("site")

    def rebuild(self) -> None:
        """Rebuild the tree from the structure service, keeping the cursor and collapsed nodes."""
        c = self.ctx.core
        s = c.structure
        tree = self.dc_tree
        keep = self._want or self.selected
        self._want = None
        tree.clear()
        root = tree.root
        total = len(c.live.devices)
        free = s.unassigned()
        root.set_label(Text.assemble(("Data centre", "bold"),
                                     (f"  {_plural(len(s.children(0)), 'room')} · "
                                      f"{total - len(free)} of {total} PDUs in racks", "dim")))
        nodes: dict[DCNode, TreeNode[DCNode]] = {DCNode("site"): root}
        for room in s.children(0):
            rn = self._add(root, room, nodes)
            for row in s.children(room.id):
                wn = self._add(rn, row, nodes)
                for rack in s.children(row.id):
                    kn = self._add(wn, rack, nodes)
                    for hex_id in s.devices_in(rack.id):
                        self._add_device(kn, hex_id, nodes)
        un = DCNode("unassigned")
        node = root.add(Text.assemble(("Unassigned", "bold"),
                                      (f"  {_plural(len(free), 'PDU')} in no rack", "dim")),
                        un, expand=un not in self._collapsed)
        nodes[un] = node
        for hex_id in free:
            self._add_device(node, hex_id, nodes)
        root.expand()
        target = nodes.get(keep)
        if target is not None:
            self.call_after_refresh(self._move_to, target)
        self.query_one("#title", PageTitle).update(self.title_text())
        self._describe(keep if target is not None else DCNode("site"))
        self.show_status("" if s.children(0) else "No rooms yet" + (
            ": press n to add the first room of the data centre"
            if self.ctx.may(Action.EDIT_STRUCTURE) else ""))

    def _add(self, parent: TreeNode[DCNode], el: Element,
             nodes: dict[DCNode, TreeNode[DCNode]]) -> TreeNode[DCNode]:
        s = self.ctx.core.structure
        data = DCNode(el.kind.value, el.id)
        devices = len(s.devices_in(el.id))
        if el.kind is Kind.ROOM:
            rows = s.children(el.id)
            counts = (f"room · {_plural(len(rows), 'row')} · "
                      f"{_plural(len(s.racks_under(el.id)), 'rack')} · {_plural(devices, 'PDU')}")
        elif el.kind is Kind.ROW:
            racks = _plural(len(s.children(el.id)), "rack")
            counts = f"row · {racks} · {_plural(devices, 'PDU')}"
        else:
            counts = f"rack · {_plural(devices, 'PDU')}"
        label = Text.assemble((el.name, "bold"), (f"  {counts}", "dim"))
        node = parent.add(label, data, expand=data not in self._collapsed)
        nodes[data] = node
        return node

    def _add_device(self, parent: TreeNode[DCNode], hex_id: str,
                    nodes: dict[DCNode, TreeNode[DCNode]]) -> None:
        live = self.ctx.core.live.get(hex_id)
        name = live.info.display_name if live else hex_id
        feed = live.info.settings.feed.value if live else "?"
        data = DCNode("device", hex_id)
        nodes[data] = parent.add_leaf(Text.assemble(name, (f"  {hex_id} · feed {feed}", "dim")),
                                      data)

    def _move_to(self, node: TreeNode[DCNode]) -> None:
        if node.tree is self.dc_tree:
            self.dc_tree.move_cursor(node)

    def select(self, data: DCNode) -> bool:
        """Put the cursor on the node of ``data``; False if the tree has none."""
        def find(node: TreeNode[DCNode]) -> TreeNode[DCNode] | None:
            if node.data == data:
                return node
            for child in node.children:
                hit = find(child)
                if hit is not None:
                    return hit
            return None

        node = find(self.dc_tree.root)
        if node is None:
            return False
        self.dc_tree.move_cursor(node)
        return True

    def _describe(self, data: DCNode) -> None:
        c = self.ctx.core
        s = c.structure
        text = ""
        try:
            if data.kind in ("room", "row", "rack"):
                el = s.get(data.element_id)
                text = (f"{el.kind.value.capitalize()} {s.path(el)} · id {el.id} · "
                        f"{_plural(len(s.devices_in(el.id)), 'PDU')}")
            elif data.kind == "device":
                live = c.devices.get(data.hex_id)
                info = live.info
                text = (f'PDU "{info.display_name}" ({info.hex_id}) · {info.model.type_name} · '
                        f"feed {info.settings.feed.value} · {s.location_of(info.hex_id)}")
            elif data.kind == "unassigned":
                text = "PDUs in no rack" + (": select one and press a to put it into a rack"
                                            if self.ctx.may(Action.EDIT_STRUCTURE) else "")
            else:
                text = "The whole data centre" + (": n adds a room"
                                                  if self.ctx.may(Action.EDIT_STRUCTURE) else "")
        except EnertegError:
            text = ""
        self.query_one("#detail", Static).update(text)


    # ------------------------------------------------------------------ events
    def on_live_batch(self, batch: Batch) -> None:
        if any(ev.kind == "structure" or ev.kind == "device" for ev in batch.events):
            self.rebuild()

    def on_tree_node_selected(self, event: Tree.NodeSelected[DCNode]) -> None:
        event.stop()          # enter expands or collapses; the frame must not open a page

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[DCNode]) -> None:
        event.stop()
        if event.node.data is not None:
            self._describe(event.node.data)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[DCNode]) -> None:
        event.stop()
        if event.node.data is not None:
            self._collapsed.add(event.node.data)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[DCNode]) -> None:
        event.stop()
        if event.node.data is not None:
            self._collapsed.discard(event.node.data)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys of changes the session's roles may not make."""
        if action in ("add", "rename", "delete", "assign", "unassign"):
            return self.ctx.may(Action.EDIT_STRUCTURE)
        if action == "feed":
            return self.ctx.may(Action.DEVICE_SETUP)
        return True

    # ------------------------------------------------------------------ helpers
    def _element(self) -> Element | None:
        data = self.selected
        if data.kind not in ("room", "row", "rack"):
            return None
        try:
            return self.ctx.core.structure.get(data.element_id)
        except EnertegError as exc:
            self.say_error(exc)
            return None

    # ------------------------------------------------------------------ actions
    def action_add(self) -> None:
        """Add a room, row or rack under the selected element (``n``)."""
        c = self.ctx.core
        s = c.structure
        data = self.selected
        if data.kind in _CHILD_KIND:
            kind = _CHILD_KIND[data.kind]
            parent_id = data.element_id if data.kind in ("room", "row") else 0
        else:                                   # a rack or a PDU: a new rack in the same row
            rack_id = data.element_id if data.kind == "rack" else c.devices.rack_of(data.hex_id)
            if rack_id is None:
                kind, parent_id = Kind.ROOM, 0
            else:
                kind, parent_id = Kind.RACK, s.get(rack_id).parent_id
        where = f'in {s.path(parent_id)}' if parent_id else "in the data centre"
        principal = self.ctx.principal

        async def apply(name: str) -> str:
            el = await s.create(principal, kind, name, parent_id)
            self._want = DCNode(kind.value, el.id)
            return f'{kind.value.capitalize()} "{s.path(el)}" added'

        self.app.push_screen(NameDialog(f"New {kind.value}",
                                        f"Name of the new {kind.value} {where}:", apply))

    def action_rename(self) -> None:
        """Rename the selected room, row or rack (``r``)."""
        el = self._element()
        if el is None:
            self.say("Select a room, row or rack to rename it (a PDU's name is set in its "
                      "device view, Configuration tab)")
            return
        s = self.ctx.core.structure
        principal = self.ctx.principal
        path = s.path(el)

        async def apply(name: str) -> str:
            await s.rename(principal, el.id, name)
            return f'{el.kind.value.capitalize()} "{path}" renamed to "{name}"'

        self.app.push_screen(NameDialog(f"Rename {el.kind.value}",
                                        f'New name of {el.kind.value} "{path}":', apply,
                                        initial=el.name))

    def action_delete(self) -> None:
        """Delete the selected element after a confirmation (``d``)."""
        el = self._element()
        if el is None:
            self.say("Select a room, row or rack to delete it")
            return
        s = self.ctx.core.structure
        path = s.path(el)
        kind = el.kind.value

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say(f'{kind.capitalize()} "{path}" kept')
                return
            try:
                await s.delete(self.ctx.principal, el.id)
            except EnertegError as exc:
                self.say(f"Not deleted: {exc}", error=True)
                return
            self.say(f'{kind.capitalize()} "{path}" deleted')

        self.app.push_screen(ConfirmDialog(
            f'Delete {kind} "{path}"?\nOnly an empty {kind} can be deleted.',
            yes="Delete", no="Keep", title=f"Delete {kind}"), confirmed)

    def action_assign(self) -> None:
        """Assign a PDU to the selected rack, or move the selected PDU (``a``)."""
        data = self.selected
        try:
            if data.kind == "rack":
                self.app.push_screen(assign_to_rack_dialog(self, data.element_id))
            elif data.kind == "device":
                self.app.push_screen(rack_choice_dialog(self, data.hex_id))
            else:
                self.say("Select a rack (to put a PDU into it) or a PDU (to move it to a rack)")
        except EnertegError as exc:
            self.say_error(exc)

    @work(exclusive=True, group="structure-unassign")
    async def action_unassign(self) -> None:
        """Take the selected PDU out of its rack (``u``)."""
        data = self.selected
        c = self.ctx.core
        if data.kind != "device" or c.devices.rack_of(data.hex_id) is None:
            self.say("Select a PDU in a rack to unassign it")
            return
        hex_id = data.hex_id
        where = c.structure.location_of(hex_id)
        try:
            await c.structure.assign(self.ctx.principal, hex_id, None)
        except EnertegError as exc:
            self.say_error(exc)
            return
        self.say(f"PDU {hex_id} taken out of {where}; it is now unassigned")

    def action_feed(self) -> None:
        """Set the selected PDU's power feed (``f``)."""
        data = self.selected
        if data.kind != "device":
            self.say("Select a PDU to set the feed it is connected to")
            return
        try:
            self.ctx.core.devices.get(data.hex_id)     # NotFound if it was forgotten
            self.app.push_screen(FeedDialog(data.hex_id))
        except EnertegError as exc:
            self.say_error(exc)

    def action_open(self) -> None:
        """Open the dashboard of the selected element or the view of the selected PDU (``o``)."""
        data = self.selected
        place = {"site": Place("site"), "unassigned": Place("unassigned")}.get(data.kind)
        if place is None:
            place = Place("device" if data.kind == "device" else "element", data.ref)
        self.app.call_later(self.app.open_place, place)  # type: ignore[attr-defined]
