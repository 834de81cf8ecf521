"""The Certificates page through the console (Textual pilot): reached from Settings with
``c``, a .p12 from /upload imported through the form, its usage changed, deleted after
the confirmation; every step is the core's (administer, audit), a readonly session
cannot open it; the list sorts (``>``, ``<``, ``!``) and filters (``/``) like every list."""

from __future__ import annotations

from textual.widgets import Input

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.screens.certs_page import CertsPage
from enerteg_tui.screens.listtable import FilterBar, ListTable
from enerteg_tui.screens.tree import Place
from tests.certgen import make_ca, make_leaf, pkcs12_bytes
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import make_app, settle


async def test_import_usage_delete_from_the_console(frozen) -> None:
    ca = make_ca()
    upload = frozen.core.paths.upload
    upload.mkdir(parents=True, exist_ok=True)
    (upload / "srv.p12").write_bytes(pkcs12_bytes(make_leaf(ca, "srv"), "Pfx-1", chain=(ca,)))
    app = make_app(frozen)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        page = app.main.query_one(CertsPage)
        await pilot.press("i")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-file", Input).value = "/upload/srv.p12"
        form.query_one("#f-passphrase", Input).value = "Pfx-1"
        form.query_one("#f-usage", Input).value = "web-server"
        form.query_one("#f-file", Input).focus()
        await pilot.press("enter")
        await wait_for(lambda: frozen.core.certs.ids() == [1], timeout=10)
        await settle(pilot)
        assert app.screen is not form
        assert [r.key for r in page.table.rows] == ["1"]
        info = frozen.core.certs.get(SYSTEM, 1)
        assert info.has_key and info.usage.value == "web-server" and info.chain_length == 2

        await pilot.press("u")
        await settle(pilot)
        app.screen.query_one("#f-usage", Input).value = "smtp"
        app.screen.query_one("#f-usage", Input).focus()
        await pilot.press("enter")
        await wait_for(lambda: frozen.core.certs.get(SYSTEM, 1).usage.value == "smtp",
                       timeout=10)

        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await wait_for(lambda: frozen.core.certs.ids() == [], timeout=10)
        await settle(pilot)
        assert page.table.rows == [] or list(page.table.rows) == []
    actions = [e.action for e in await frozen.audit.query(SYSTEM, limit=50)]
    assert {"cert.import", "cert.usage", "cert.delete"} <= set(actions)


async def test_readonly_cannot_open_the_page(frozen) -> None:
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.open_place(Place("certs"))
        await settle(pilot)
        assert not app.main.query(CertsPage)


async def test_the_list_sorts_and_filters_like_every_list(frozen) -> None:
    site, other = make_ca("Site CA"), make_ca("Other CA")
    certs = frozen.core.certs
    await certs.import_data(ADMIN, make_leaf(site, "alpha", days=300).pem, name="Zulu web")
    await certs.import_data(ADMIN, make_leaf(other, "beta", days=30, names=("beta.example",)).pem,
                            name="Alpha mail")
    await certs.import_data(ADMIN, make_leaf(site, "gamma", days=100).pem, name="Mike ldap")
    app = make_app(frozen)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.open_place(Place("certs"))
        await settle(pilot)
        page = app.main.query_one(CertsPage)
        table = page.table
        assert isinstance(table, ListTable) and table.has_focus

        def keys() -> list[str]:
            return [str(r.key) for r in table.rows]

        assert keys() == ["1", "2", "3"]                  # the store's order
        for key, column, expected in ((">", "id", ["3", "2", "1"]),      # numbers: high first
                                      (">", "name", ["2", "3", "1"]),
                                      ("!", "name", ["1", "3", "2"]),
                                      (">", "until", ["2", "3", "1"]),   # soonest first
                                      ("<", "name", ["2", "3", "1"])):
            await pilot.press(key)
            await settle(pilot)
            assert (table.sort_column, keys()) == (column, expected), key
        await pilot.press("slash", *"other")              # the issuer, not a column
        await settle(pilot)
        assert keys() == ["2"] and page.query_one(FilterBar)
        await pilot.press("escape")
        await settle(pilot)
        assert keys() == ["2", "3", "1"] and not page.query(FilterBar)
        await pilot.press("slash", *"beta.example")      # one of the certificate's names
        await settle(pilot)
        assert keys() == ["2"]
