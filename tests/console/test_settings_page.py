"""Pilot tests of the Settings page: forms from the schemas, same answers as the shell.

Every form goes through ``Configuration.put`` with text typed by the schema the way the
shell's ``put`` types it; the tests put the same text through the real shell and expect
the same message, word for word. Secrets are never shown; maintenance (backup, restore,
factory reset) runs through the core's backup service.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select, Static

from enerteg_tui.core.errors import PermissionDenied
from enerteg_tui.protocols.shell.session import ShellSession
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.forms import FormDialog
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.settings_page import SettingsPage
from enerteg_tui.screens.structure_dialogs import ChoiceDialog
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN, principal
from tests.helpers import wait_for

from .conftest import make_app, settle


def page(app) -> SettingsPage:
    p = app.main.query_one("#page").children[0]
    assert isinstance(p, SettingsPage)
    return p


async def shell(c, script: str) -> tuple[int, str]:
    err: list[str] = []
    code = await ShellSession(c.core, ADMIN).run_script(script, lambda s: None, err.append)
    return code, "".join(err)


async def open_topic(pilot, topic: str) -> SettingsPage:
    await settle(pilot)
    await pilot.press("f9")
    await settle(pilot)
    listing = page(pilot.app)
    assert listing.topic is None
    listing.query_one("#topics").cursor_row = [r.key for r in listing.query_one("#topics").rows
                                               ].index(topic)
    await pilot.press("enter")
    await settle(pilot)
    form = page(pilot.app)
    assert form.topic == topic
    return form


def message(p: SettingsPage) -> str:
    return str(p.query_one("#message", Static).render())


@pytest.mark.asyncio
async def test_list_shows_every_topic_and_who_applies_it(frozen):
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        p = page(pilot.app)
        rows = p.query_one("#topics").rows
        assert [r.key for r in rows] == frozen.config.names()
        cells = {r.key: str(r.cells["service"]) for r in rows}
        assert cells["syslog"] == "syslog"
        assert cells["snmp_agent"] == "snmp agent"
        assert cells["modbus"] == "modbus server"
        assert cells["http_server"] == "web server (see note)"
        assert cells["time"] == "time sync"
        assert cells["sppdu5"] == "firmware update (see note)"
        p.query_one("#topics").cursor_row = [r.key for r in rows].index("sppdu5")
        await settle(pilot)
        assert ("Stored but not active in this build: autoDiscovery, baudRate, serialPort"
                in str(p.query_one("#service").render()))
        # issue 14 item 12: a key nothing reads is not claimed by the topic's service
        p.query_one("#topics").cursor_row = [r.key for r in rows].index("core")
        await settle(pilot)
        text = str(p.query_one("#service").render())
        assert cells["core"] == "poller, history, watchdog, support access (see note)"
        assert "Applied by: poller, history, watchdog, support access." in text
        assert "Stored but not active in this build: acceptAllCertificates" in text


@pytest.mark.asyncio
async def test_form_saves_changed_keys_through_the_core(frozen):
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "syslog")
        assert p.query_one("#f-serverPort", Input).value == str(
            frozen.config.get("syslog").serverPort)
        p.query_one("#f-serverAddress", Input).value = "logs.example.net"
        p.query_one("#f-serverPort", Input).value = "1514"
        p.query_one("#f-protocol", Select).value = "TCP"
        p.query_one("#f-enabled", Select).value = "enabled"
        await settle(pilot)
        assert "4 unsaved changes" in str(p.query_one("#title").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        s = frozen.config.get("syslog")
        assert (s.serverAddress, s.serverPort, s.protocol, s.enabled) == (
            "logs.example.net", 1514, "TCP", True)
        assert "Saved config/syslog" in message(p)
        assert "unsaved" not in str(p.query_one("#title").render())
        entries = await frozen.audit.query(ADMIN)
        assert entries[0].action == "settings.change" and entries[0].user == "admin"


@pytest.mark.parametrize("key,text", [
    ("serverPort", "70000"), ("serverPort", "abc"), ("serverAddress", "bad host!"),
])
@pytest.mark.asyncio
async def test_refused_value_gets_the_shells_message_and_changes_nothing(frozen, key, text):
    before = frozen.config.get("syslog").stored_dump()
    code, shell_err = await shell(frozen, f'put /config/syslog {key}="{text}"')
    assert code != 0
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "syslog")
        p.query_one(f"#f-{key}", Input).value = text
        p.query_one(f"#f-{key}", Input).focus()
        await pilot.press("enter")                           # enter applies too
        await settle(pilot)
        shown = message(p)
        assert shown and shown in shell_err, (shown, shell_err)
        assert p.query_one("#message").has_class("-error")
        assert p.edits() == {key: text}                      # the typed text stays
    assert frozen.config.get("syslog").stored_dump() == before


@pytest.mark.asyncio
async def test_discard_restores_the_stored_values(frozen):
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "core")
        p.query_one("#f-pollIntervalSeconds", Input).value = "30"
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert p.query_one("#f-pollIntervalSeconds", Input).value == str(
            frozen.config.get("core").pollIntervalSeconds)
        assert "Discarded 1 unsaved change" in message(p)


@pytest.mark.asyncio
async def test_secrets_are_never_shown_and_empty_keeps_them(frozen):
    await frozen.config.put(ADMIN, "email", {"password": "Hunter2-secret"})
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "email")
        pw = p.query_one("#f-password", Input)
        assert pw.value == "" and pw.password
        assert str(p.query_one("#s-password", Static).render()) == "set"
        svg = pilot.app.export_screenshot()
        assert "Hunter2" not in svg
        # another key changes; the empty secret field keeps the stored password
        p.query_one("#f-subject", Input).value = "PDU news"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert frozen.config.get("email").password == "Hunter2-secret"
        # typing a new one replaces it; the audit entry does not contain it
        pw.value = "New-secret-9"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert frozen.config.get("email").password == "New-secret-9"
        assert "New-secret-9" not in message(p)
    entries = await frozen.audit.query(ADMIN)
    assert not any("secret" in str(e.new) and "New-secret-9" in str(e.new) for e in entries)


@pytest.mark.asyncio
async def test_list_and_structured_values_round_trip(frozen):
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "time")
        p.query_one("#f-ntpServers", Input).value = "0.pool.ntp.org, 1.pool.ntp.org"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert frozen.config.get("time").ntpServers == ["0.pool.ntp.org", "1.pool.ntp.org"]
        assert p.query_one("#f-ntpServers", Input).value == "0.pool.ntp.org, 1.pool.ntp.org"
        # applied since issue 23 (the clock check); the save says so without a caveat
        assert "Applied by: time sync." in str(p.query_one("#service").render())
        assert "Saved config/time: ntpServers" in message(p)
        assert "not active" not in message(p)


@pytest.mark.asyncio
async def test_test_email_action_reports_the_cores_answer(frozen):
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "email")
        await pilot.press("ctrl+o")
        await wait_for(lambda: "enabled" in message(p) and "running" not in message(p))
        assert "does not allow a test e-mail" in message(p)


@pytest.mark.asyncio
async def test_only_admins_reach_settings_and_the_core_refuses_others(frozen):
    async with make_app(frozen, "readwrite").run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "Settings" not in str(pilot.app.screen.query_one(KeyBar).render())
        await pilot.app.open_place(Place("settings", "syslog"))
        await settle(pilot)
        assert not isinstance(pilot.app.main.query_one("#page").children[0], SettingsPage)
    with pytest.raises(PermissionDenied):
        await frozen.config.put(principal("readwrite"), "syslog", {"serverPort": 1514})


@pytest.mark.asyncio
async def test_backup_restore_and_factory_reset_from_the_list(frozen):
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("f9")
        await settle(pilot)
        p = page(pilot.app)
        default_port = frozen.config.get("syslog").serverPort
        await pilot.press("b")
        await wait_for(lambda: "written /backups/" in message(p), timeout=20)
        [backup] = frozen.backup.list_backups()
        # change something, then restore the backup: it comes back
        await frozen.config.put(ADMIN, "syslog", {"serverPort": 2514})
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ChoiceDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(lambda: "Restore: restored" in message(p), timeout=20)
        assert frozen.config.get("syslog").serverPort == default_port
        assert backup.path.exists()
        # factory reset: a wrong word is refused in the core's words, then the right one
        await frozen.config.put(ADMIN, "syslog", {"serverPort": 3514})
        await pilot.press("x")
        await settle(pilot)
        form = pilot.app.screen
        assert isinstance(form, FormDialog)
        form.query_one("#f-confirm", Input).value = "yes"
        form.query_one(Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "not confirmed" in str(form.query_one("#error").render())
        assert frozen.config.get("syslog").serverPort == 3514
        form.query_one("#f-confirm", Input).value = "factory-reset"
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(pilot.app.screen, FormDialog), timeout=20)
        assert frozen.config.get("syslog").serverPort == default_port
        assert "Factory reset done" in message(p)


@pytest.mark.asyncio
async def test_pem_certificate_keeps_its_lines_and_the_key_stays_hidden(frozen):
    from textual.widgets import TextArea

    pem = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0pR\nZm9vYmFy\n"
           "-----END CERTIFICATE-----")
    key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP\n-----END PRIVATE KEY-----"
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "http_server")
        cert = p.query_one("#f-certificatePem", TextArea)
        cert.load_text(pem)
        p.query_one("#f-privateKeyPem", TextArea).load_text(key)
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Saved config/http_server" in message(p), message(p)
        s = frozen.config.get("http_server")
        assert s.certificatePem == pem and s.privateKeyPem == key      # line breaks kept
        assert p.query_one("#f-privateKeyPem", TextArea).text == ""     # never shown again
        assert str(p.query_one("#s-privateKeyPem", Static).render()) == "set"
        assert p.query_one("#f-certificatePem", TextArea).text == pem
        # not PEM: the core's words, nothing saved
        cert.load_text("not a certificate")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "certificatePem" in message(p) and "BEGIN CERTIFICATE" in message(p)
        assert frozen.config.get("http_server").certificatePem == pem


async def test_letters_typed_on_a_form_control_never_fire_page_keys(frozen):
    """Issue 18 item 2: with a select focused, "x" opened the factory reset and "b" made a
    backup; letters a field does not take now stop at the form."""
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "syslog")
        select = p.query_one("#f-protocol", Select)
        select.focus()
        await settle(pilot)
        backups_before = len(frozen.backup.list_backups())
        await pilot.press("x", "b", "r", "e", "x", "i", "t")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, ConfirmDialog)
        assert len(frozen.backup.list_backups()) == backups_before
        assert pilot.app.focused is not None and pilot.app.focused in select.walk_children(
            with_self=True)
        await pilot.press("ctrl+r")                   # ctrl keys still reach the page
        await settle(pilot)


async def test_letters_typed_in_the_device_form_never_fire_device_keys(frozen):
    from enerteg_tui.screens.device_view import DevicePage

    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        hex_id = frozen.live.ordered()[1].hex_id
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)
        page = pilot.app.screen.query_one(DevicePage)
        fired: list[str] = []
        page.action_identify = lambda *a: fired.append("identify")  # type: ignore[method-assign]
        page.action_chart = lambda *a: fired.append("chart")        # type: ignore[method-assign]
        await pilot.press("3")
        await settle(pilot)
        page.query(Select).first().focus()
        await settle(pilot)
        await pilot.press("e", "x", "i", "t", "c", "u")
        await settle(pilot)
        assert fired == []
        name = page.query(Input).first()
        name.focus()
        await pilot.press("e", "x", "i", "t")
        await settle(pilot)
        assert fired == [] and name.value.endswith("exit")


async def test_modbus_form_shows_the_servers_report_and_apply_waits_for_it(frozen):
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "modbus")
        service = str(p.query_one("#service", Static).render())
        assert "Applied by: modbus server." in service
        assert "Now: disabled (config/modbus enabled=disabled)." in service
        p.query_one("#f-enabled", Select).value = "enabled"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await wait_for(lambda: "Modbus server:" in message(p))
        port = frozen.service("modbus").port
        assert (f"Saved config/modbus: enabled. Modbus server: running on TCP 0.0.0.0:{port}"
                in message(p))
        await settle(pilot)
        assert f"Now: running on TCP 0.0.0.0:{port}" in str(p.query_one("#service", Static).render())
        await frozen.config.put(ADMIN, "modbus", {"enabled": "disabled"})


async def test_web_server_form_shows_the_servers_report_and_apply_waits_for_it(frozen):
    """Issue 20: config/http_server is applied by the web server, whose report the form
    shows as for SNMP and Modbus (ports are free ones: build_controller passes them)."""
    async with make_app(frozen).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "http_server")
        service = str(p.query_one("#service", Static).render())
        assert "Applied by: web server." in service
        assert "Now: disabled (config/http_server enabled=disabled)." in service
        p.query_one("#f-enabled", Select).value = "enabled"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await wait_for(lambda: "Web access:" in message(p), timeout=15)
        svc = frozen.service("http")
        assert (f"Saved config/http_server: enabled. Web access: running on HTTPS "
                f"0.0.0.0:{svc.https_port} (self-signed certificate, TLS 1.2+)" in message(p))
        await settle(pilot)
        assert f"Now: running on HTTPS 0.0.0.0:{svc.https_port}" in str(
            p.query_one("#service", Static).render())
        await frozen.config.put(ADMIN, "http_server", {"enabled": "disabled"})
        await wait_for(lambda: not svc.status.running, timeout=15)


@pytest.mark.asyncio
async def test_a_czech_session_reads_the_keys_descriptions_and_service_note_in_czech(frozen):
    """The form's help lines (the keys' descriptions) and the topic's service note are
    shown in the session's language; the keys and stored values stay as they are."""
    from enerteg_tui.core.permissions import SYSTEM

    await frozen.users.add(SYSTEM, "jana", "Corr3ct-horse", ["admin"])
    await frozen.users.prefs.set(SYSTEM, "jana", {"language": "cs"})
    jana = principal("admin", user="jana")
    async with make_app(frozen, jana).run_test(size=(160, 48)) as pilot:
        p = await open_topic(pilot, "modbus")
        helps = " ".join(str(s.render()) for s in p.query(".help"))
        assert "Port TCP serveru Modbus." in helps
        assert "Povolit klientům Modbus zápis registrů (ovládání zásuvek, pojmenování)." in helps
        assert "TCP port of the Modbus server." not in helps
        assert p.query_one("#f-port", Input) is not None
