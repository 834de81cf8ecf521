"""Pilot tests of the DC structure page and the assign dialogs (issue 8 part 4).

Add, rename and delete rooms, rows and racks; a non-empty element is refused with the
core's message; PDUs are assigned and unassigned from the structure page, a rack's
dashboard and the device list; the feed is set as a device setting; readonly sees no
changing key and the core refuses when one is reached anyway.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from enerteg_tui.core.errors import Conflict
from enerteg_tui.core.model import Feed
from enerteg_tui.core.permissions import Role
from enerteg_tui.core.structure import Kind
from enerteg_tui.screens.dashboard import DashboardPage
from enerteg_tui.screens.device_list import DeviceListPage
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.livetable import LiveTable
from enerteg_tui.screens.structure_dialogs import ChoiceDialog, FeedDialog, NameDialog
from enerteg_tui.screens.structure_page import DCNode, StructurePage
from enerteg_tui.screens.tree import Place, StructureTree
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


def keybar(app) -> str:
    return app.main.query_one(KeyBar)._text.plain


def element(c, name: str):
    return next(e for e in c.structure.elements() if e.name == name)


def labels(p: StructurePage) -> list[str]:
    out = []

    def walk(node):
        out.append(str(node.label))
        for child in node.children:
            walk(child)

    walk(p.dc_tree.root)
    return out


async def open_structure(pilot) -> StructurePage:
    await settle(pilot)
    await pilot.press("f7")
    await settle(pilot)
    p = page(pilot.app)
    assert isinstance(p, StructurePage)
    return p


async def select(pilot, p: StructurePage, data: DCNode) -> None:
    await settle(pilot)
    assert p.select(data), data
    await settle(pilot)
    assert p.selected == data


async def type_name(pilot, text: str) -> None:
    dialog = pilot.app.screen
    assert isinstance(dialog, NameDialog)
    dialog.query_one("#name", Input).value = ""
    await pilot.press(*text, "enter")
    await settle(pilot)


async def test_tree_shows_counts_devices_and_feeds(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_structure(pilot)
        text = labels(p)
        assert text[0] == "Data centre  1 room · 3 of 8 PDUs in racks"
        assert "Hall A  room · 1 row · 2 racks · 3 PDUs" in text
        assert "Row 1  row · 2 racks · 3 PDUs" in text
        assert "Rack 1  rack · 2 PDUs" in text and "Rack 2  rack · 1 PDU" in text
        assert "Unassigned  5 PDUs in no rack" in text
        first = frozen.live.ordered()[0]
        assert (f"{first.info.display_name}  {first.hex_id} · feed "
                f"{first.info.settings.feed.value}") in text
        await select(pilot, p, DCNode("rack", element(frozen, "Rack 1").id))
        assert str(p.query_one("#detail").render()).startswith(
            "Rack Hall A / Row 1 / Rack 1 · id")


async def test_add_rename_and_delete_elements(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_structure(pilot)
        await select(pilot, p, DCNode("site"))
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NameDialog)
        await type_name(pilot, "Hall B")
        hall = element(frozen, "Hall B")
        assert hall.kind is Kind.ROOM and hall.parent_id == 0
        left = app.main.query_one(StructureTree)                 # the frame's DC tree follows
        await wait_for(lambda: any(str(n.label).endswith("Hall B") for n in left.root.children))
        await wait_for(lambda: p.selected == DCNode("room", hall.id))   # cursor on the new room
        await pilot.press("n")
        await settle(pilot)
        await type_name(pilot, "Row 7")
        row = element(frozen, "Row 7")
        assert row.kind is Kind.ROW and row.parent_id == hall.id
        await wait_for(lambda: p.selected == DCNode("row", row.id))
        await pilot.press("n")
        await settle(pilot)
        await type_name(pilot, "Rack 70")
        rack = element(frozen, "Rack 70")
        assert rack.kind is Kind.RACK and rack.parent_id == row.id
        await wait_for(lambda: "Rack 70  rack · 0 PDUs" in labels(p))
        # a duplicate name: the core's conflict shown in the dialog, which stays open
        await wait_for(lambda: p.selected == DCNode("rack", rack.id))
        await pilot.press("n")                  # on a rack: a new rack in the same row
        await settle(pilot)
        await type_name(pilot, "rack 70")
        assert isinstance(app.screen, NameDialog)
        assert str(app.screen.query_one("#error").render()) == (
            'a rack named "rack 70" already exists in Hall B / Row 7')
        await pilot.press("escape")             # the typed name is unsaved: asked first
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog) and app.screen.title_text == "Unsaved changes"
        await pilot.press("y")
        await settle(pilot)
        # rename
        await pilot.press("r")
        await settle(pilot)
        assert app.screen.query_one("#name", Input).value == "Rack 70"
        await type_name(pilot, "Rack Seventy")
        assert frozen.structure.get(rack.id).name == "Rack Seventy"
        await wait_for(lambda: "Rack Seventy  rack · 0 PDUs" in labels(p))
        # delete: confirm, keep, then delete
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert 'Delete rack "Hall B / Row 7 / Rack Seventy"?' in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert frozen.structure.get(rack.id)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await wait_for(lambda: rack.id not in [e.id for e in frozen.structure.elements()])
        await wait_for(lambda: not any("Seventy" in t for t in labels(p)))
        assert "deleted" in str(p.query_one("#message").render())


async def test_delete_of_a_non_empty_element_is_refused(frozen):
    rack = element(frozen, "Rack 1")
    room = element(frozen, "Hall A")
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_structure(pilot)
        for data, el in ((DCNode("rack", rack.id), rack), (DCNode("room", room.id), room)):
            await select(pilot, p, data)
            await pilot.press("d")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            with pytest.raises(Conflict) as core:
                await frozen.structure.delete(ADMIN, el.id)
            msg = p.query_one("#message")
            assert str(msg.render()) == f"Not deleted: {core.value}"
            assert msg.has_class("-error")
            assert frozen.structure.get(el.id) is el
        assert "holds 1 row(s)" in str(p.query_one("#message").render())


async def test_assign_and_unassign_on_the_structure_page(frozen):
    rack = element(frozen, "Rack 2")
    free = frozen.structure.unassigned()[0]
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_structure(pilot)
        await select(pilot, p, DCNode("rack", rack.id))
        await pilot.press("a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ChoiceDialog)
        table = dialog.query_one(LiveTable)
        keys = [r.key for r in table.rows]
        assert set(keys) == {d.hex_id for d in frozen.live.ordered()} - set(
            frozen.structure.devices_in(rack.id))
        assert keys[:5] == frozen.structure.unassigned()         # unassigned first
        await pilot.press(*free, "enter")
        await wait_for(lambda: frozen.devices.rack_of(free) == rack.id)
        await wait_for(lambda: "Rack 2  rack · 2 PDUs" in labels(p))
        await select(pilot, p, DCNode("device", free))
        await pilot.press("u")
        await wait_for(lambda: frozen.devices.rack_of(free) is None)
        await wait_for(lambda: "Rack 2  rack · 1 PDU" in labels(p))
        assert "now unassigned" in str(p.query_one("#message").render())
        # a PDU node: a moves it to another rack (or out)
        await select(pilot, p, DCNode("device", free))
        await pilot.press("a")
        await settle(pilot)
        await pilot.press(*"rack 1", "enter")
        await wait_for(lambda: frozen.devices.rack_of(free) == element(frozen, "Rack 1").id)


async def test_assign_from_the_rack_dashboard(frozen):
    rack = element(frozen, "Rack 2")
    free = frozen.structure.unassigned()[1]
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert " a Assign " not in keybar(app)            # site dashboard: no rack
        await app.open_place(Place("element", element(frozen, "Row 1").id))
        await settle(pilot)
        assert not page(app).check_action("assign", ())
        await app.open_place(Place("element", rack.id))
        await settle(pilot)
        assert isinstance(page(app), DashboardPage) and " a Assign " in keybar(app)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceDialog)
        assert "Rack 2" in str(app.screen.query_one("#question").render())
        await pilot.press(*free, "enter")
        await wait_for(lambda: frozen.devices.rack_of(free) == rack.id)
        await wait_for(lambda: free in [r.key for r in page(app).query_one("#devices").rows])


async def test_rack_of_a_device_from_the_device_list(frozen):
    rack = element(frozen, "Rack 1")
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        p = page(app)
        assert isinstance(p, DeviceListPage) and " a Rack " in keybar(app)
        table = p.query_one(LiveTable)
        hex_id = frozen.structure.unassigned()[0]
        table.cursor_row = [r.key for r in table.rows].index(hex_id)
        await pilot.press("a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ChoiceDialog)
        rows = dialog.query_one(LiveTable).rows
        assert rows[0].key == "-" and rows[0].cells["mark"] == "◀ now"
        dialog.query_one(LiveTable).cursor_row = [r.key for r in rows].index(str(rack.id))
        await pilot.press("enter")
        await wait_for(lambda: frozen.devices.rack_of(hex_id) == rack.id)
        await wait_for(lambda: table.row(hex_id).cells["where"] == "Hall A / Row 1 / Rack 1")
        table.cursor_row = [r.key for r in table.rows].index(hex_id)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press(*"unassigned", "enter")
        await wait_for(lambda: frozen.devices.rack_of(hex_id) is None)


async def test_set_the_feed_of_a_device(frozen):
    hex_id = frozen.structure.devices_in(element(frozen, "Rack 2").id)[0]
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_structure(pilot)
        await select(pilot, p, DCNode("device", hex_id))
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FeedDialog)
        await pilot.press("c")
        await wait_for(lambda: frozen.live.get(hex_id).info.settings.feed is Feed.C)
        await wait_for(lambda: any(f"{hex_id} · feed C" in t for t in labels(p)))
        actions = [(e.action, e.object) for e in await frozen.audit.query(ADMIN, limit=10)]
        assert ("device.settings", f"sensor/{hex_id}/config") in actions


@pytest.mark.parametrize("role", [r.value for r in Role])
async def test_role_matrix_of_the_structure_keys(frozen, role):
    app = make_app(frozen, role)
    edit = role in ("admin", "readwrite")
    async with app.run_test(size=(160, 48)) as pilot:
        await open_structure(pilot)
        bar = keybar(app)
        for key in (" n Add ", " r Rename ", " d Delete ", " a Assign ", " u Unassign "):
            assert (key in bar) is edit, (role, key, bar)
        assert (" f Feed " in bar) is edit               # device setup: admin, readwrite
        assert " o Open " in bar
        await pilot.press("f3")
        await settle(pilot)
        assert (" a Rack " in keybar(app)) is edit


async def test_readonly_is_refused_by_the_core(frozen):
    rack = element(frozen, "Rack 1")
    hex_id = frozen.structure.devices_in(rack.id)[0]
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_structure(pilot)
        assert "read only" in str(p.query_one("#title").render())
        await select(pilot, p, DCNode("device", hex_id))
        await pilot.press("u", "a", "f", "d", "n")       # hidden: nothing happens
        await settle(pilot)
        assert app.screen is app.main and frozen.devices.rack_of(hex_id) == rack.id
        await p.action_unassign().wait()
        await settle(pilot)
        assert str(p.query_one("#message").render()).startswith(
            "Permission denied: user 'readonly' (roles readonly) may not edit-structure on "
            f"sensor/{hex_id}")
        assert frozen.devices.rack_of(hex_id) == rack.id
        await select(pilot, p, DCNode("site"))
        p.action_add()
        await settle(pilot)
        await type_name(pilot, "Hall Z")
        assert str(app.screen.query_one("#error").render()).startswith(
            "Permission denied: user 'readonly' (roles readonly) may not edit-structure on dc")
        assert not any(e.name == "Hall Z" for e in frozen.structure.elements())


async def test_tree_follows_changes_made_elsewhere(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        p = await open_structure(pilot)
        room = await frozen.structure.create(ADMIN, Kind.ROOM, "Hall C")
        await wait_for(lambda: "Hall C  room · 0 rows · 0 racks · 0 PDUs" in labels(p))
        await frozen.structure.rename(ADMIN, room.id, "Hall D")
        await wait_for(lambda: any(t.startswith("Hall D") for t in labels(p)))
        assert "1 room" not in str(p.query_one("#title").render())
