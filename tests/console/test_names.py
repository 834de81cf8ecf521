"""Names are never cut to the point of ambiguity (issue 18, item 4): the one shortening
helper, the DC tree that follows the terminal width and collapses with ctrl+b, PDUs
sharing a prefix told apart in the tree and the device list, full names on the detail line."""

from __future__ import annotations

from enerteg_tui.screens.listtable import ListTable, RowDetail
from enerteg_tui.screens.names import distinct, shorten
from enerteg_tui.screens.tree import StructureTree
from tests.conftest import ADMIN

from .conftest import make_app, settle

LEFT = "Rack-A12 primary PDU feed A left"
RIGHT = "Rack-A12 primary PDU feed A right"


def test_shorten_keeps_the_end_and_distinct_adds_the_hex_id():
    assert shorten("Daisy-Chain PDU #7", 12) == "Daisy-…DU #7"
    assert shorten("Daisy-Chain PDU #7", 18) == "Daisy-Chain PDU #7"
    assert shorten("A long sentence here", 10, middle=False) == "A long se…"
    assert len(shorten(LEFT, 9)) == 9
    out = distinct({"aaaa1": LEFT, "aaaa2": LEFT + "!", "bbbb3": "Short"}, 10)
    assert out["bbbb3"] == "Short"
    assert len(set(out.values())) == 3 and all(len(v) <= 10 for v in out.values())


async def _rename(frozen) -> tuple[str, str]:
    a, b = (d.hex_id for d in frozen.live.ordered()[4:6])        # both unassigned
    await frozen.devices.update_settings(ADMIN, a, {"name": LEFT})
    await frozen.devices.update_settings(ADMIN, b, {"name": RIGHT})
    return a, b


def _tree_labels(tree: StructureTree) -> dict[str, str]:
    out = {}

    def visit(node):
        if node.data is not None and node.data.kind == "device":
            out[str(node.data.ref)] = str(node.label.plain)
        for child in node.children:
            visit(child)

    visit(tree.root)
    return out


async def test_tree_follows_the_width_and_keeps_pdus_apart(frozen):
    a, b = await _rename(frozen)
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(StructureTree)
        assert tree.outer_size.width == 20
        labels = _tree_labels(tree)
        assert labels[a] != labels[b]
        assert all(len(v) <= 20 for v in labels.values())
        assert labels[a].endswith("left") and labels[b].endswith("right")
        # "● " and the guides of an unassigned PDU (depth 2) fit beside a scrollbar
        room = tree.scrollable_content_region.width - 2 * tree.guide_depth
        assert len(labels[a]) <= room and len(labels[b]) <= room
        await pilot.resize_terminal(160, 48)
        await settle(pilot)
        assert tree.outer_size.width == 32
        wide = _tree_labels(tree)
        assert len(wide[a]) > len(labels[a]) and wide[a] != wide[b]
        await pilot.press("ctrl+b")                                   # collapse
        await settle(pilot)
        assert not tree.display
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert tree.display and tree.outer_size.width == 32


async def test_device_list_cuts_names_in_the_middle_and_spells_them_out(frozen):
    a, b = await _rename(frozen)
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        table = app.screen.query_one("#devices", ListTable)
        col = next(c for c in table.columns if c.key == "name")
        shown = {r.key: table._fit(r.cells["name"].plain, col) for r in table.rows}
        assert shown[a] != shown[b]
        assert shown[a].rstrip().endswith("left") and shown[b].rstrip().endswith("right")
        keys = [r.key for r in table.rows]
        for _ in range(keys.index(a)):
            await pilot.press("down")
        await settle(pilot)
        detail = app.screen.query_one(RowDetail)
        assert LEFT in str(detail.render())


async def test_tree_names_fit_beside_the_scrollbar_of_a_long_ring(tmp_path):
    """30 PDUs "Daisy-Chain PDU #10" … under Unassigned: the tree scrolls, the names are
    cut to the room left beside the scrollbar, and none reads like another."""
    from tests.helpers import build_controller
    c = await build_controller(tmp_path / "data", pdus=30, interval=3600.0, seed=1,
                               serial_device="")
    try:
        app = make_app(c)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            tree = app.screen.query_one(StructureTree)
            unassigned = next(n for n in tree.root.children if n.data.kind == "unassigned")
            unassigned.expand()
            await settle(pilot)
            await pilot.pause()
            assert tree.show_vertical_scrollbar
            room = tree.scrollable_content_region.width - 2 * tree.guide_depth
            labels = _tree_labels(tree)
            assert len(labels) == 30 and len(set(labels.values())) == 30
            assert all(len(v) <= room for v in labels.values()), (room, labels)
    finally:
        await c.stop()
