"""SVG snapshots of the Certificates page (issue 20 item 2): the list with a CA, a web
server certificate with its key, one expiring and one expired, and the import dialog
refusing a wrong PKCS#12 passphrase (nothing stored). The certificates are the same on
every run (``tests.certgen.fixed_cert``); the module has its own frozen controller, so
the expiry alarms it raises reach no other snapshot."""

from __future__ import annotations

import pytest
import pytest_asyncio
from textual.widgets import Input

from tests.certgen import fixed_cert, pkcs12_bytes
from tests.conftest import ADMIN

from .conftest import FIXED_CLOCK, SIZES, build_frozen, make_app, settle

pytestmark = [
    pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}"),
    pytest.mark.asyncio(loop_scope="module"),
]

DAY = 86400.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def with_certs(tmp_path_factory):
    """A frozen controller with four stored certificates and a .p12 in /upload."""
    c = await build_frozen(tmp_path_factory.mktemp("certs"))
    t = FIXED_CLOCK
    ca = fixed_cert("Site Root CA", 1, t - 400 * DAY, t + 3000 * DAY, ca=True)
    web = fixed_cert("pdu-ctl.example.net", 2, t - 30 * DAY, t + 335 * DAY, issuer=ca,
                     names=("pdu-ctl.example.net", "pdu-ctl"))
    mail = fixed_cert("mail relay", 3, t - 355 * DAY, t + 10 * DAY, issuer=ca)
    old = fixed_cert("old ldap", 4, t - 800 * DAY, t - 35 * DAY, issuer=ca)
    certs = c.core.certs
    await certs.import_data(ADMIN, ca.pem, name="Site root")
    await certs.import_data(ADMIN, pkcs12_bytes(web, "pfx"), passphrase="pfx",
                            usage="web-server", name="Web UI")
    await certs.import_data(ADMIN, mail.der, usage="smtp", name="Mail relay")
    await certs.import_data(ADMIN, old.pem, usage="ldap", name="Old LDAP")
    upload = c.core.paths.upload
    upload.mkdir(parents=True, exist_ok=True)
    (upload / "new.p12").write_bytes(pkcs12_bytes(fixed_cert("new", 5, t, t + 90 * DAY), "right"))
    yield c
    await c.stop()


async def _open(pilot) -> None:
    await pilot.press("f9")
    await settle(pilot)
    await pilot.press("c")
    await settle(pilot)


async def test_certs_list(with_certs, snap, size):
    async def go(pilot):
        await _open(pilot)
        await pilot.press("down")
        await settle(pilot)

    assert await snap(make_app(with_certs), size, go)


async def test_certs_import_wrong_passphrase(with_certs, snap, size):
    async def go(pilot):
        await _open(pilot)
        await pilot.press("i")
        await settle(pilot)
        form = pilot.app.screen
        form.query_one("#f-file", Input).value = "/upload/new.p12"
        form.query_one("#f-passphrase", Input).value = "wrong"
        form.query_one("#f-file", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert len(with_certs.core.certs.ids()) == 4

    assert await snap(make_app(with_certs), size, go)
