"""Language per session over real SSH (issue 23 item 4, manual §5.1): a Czech user's shell
answers in Czech while an English user's concurrent sessions stay English; ``prefs
language`` changes it; machine formats (JSON error documents) stay English."""

from __future__ import annotations

import asyncio
import json

import pytest

from enerteg_tui.core.permissions import SYSTEM

from .conftest import PASSWORD, SSHEnv, expect

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""

PROMPT = r"@enerteg:[^\r\n]*> "


async def test_czech_and_english_sessions_side_by_side(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    await c.users.prefs.set(SYSTEM, "oper", {"language": "cs"})
    # an interactive Czech shell stays open while English exec sessions run beside it
    child = ssh_env.terminal("oper", "shell")
    try:
        await expect(child, "assword:")
        child.sendline(PASSWORD)
        await expect(child, "oper" + PROMPT)
        child.sendline("cd nowhere")
        await expect(child, "Chyba: ")
        script = "help; cd /config; cd nowhere"
        english, czech = await asyncio.gather(ssh_env.ssh("boss", script), ssh_env.ssh("oper", script))
        assert english.code == 1 and czech.code == 1
        assert "Navigation" in english.out and "Show current path" in english.out
        assert "Changed to: /config" in english.err and "Error: " in english.err
        assert "Navigace" in czech.out and "Zobrazit aktuální cestu" in czech.out
        assert "Přepnuto do: /config" in czech.err and "Chyba: " in czech.err
        assert "Chyba" not in english.out + english.err and "Navigace" not in english.out
        child.sendline("lss")
        await expect(child, "Neznámý příkaz: 'lss'. Mysleli jste 'ls'\\?")
        await expect(child, "oper" + PROMPT)
        child.sendcontrol("d")
    finally:
        child.close(force=True)
    # a script asking for JSON errors gets the English machine document in any language
    res = await ssh_env.ssh("oper", "format json; cd nowhere")
    doc = json.loads(res.err.strip().splitlines()[-1])
    assert doc["type"] == "NotFound" and "Chyba" not in res.err
    res = await ssh_env.ssh("oper", "format json; lss")                # unknown command
    assert res.code == 2
    assert json.loads(res.err.strip().splitlines()[-1]) == {
        "error": "Unknown command: 'lss'. Did you mean 'ls'?"}


async def test_prefs_language_switches_the_shell_and_the_next_login(ssh_env: SSHEnv) -> None:
    res = await ssh_env.ssh("power", "prefs language cs\npwd; cd nowhere")
    assert res.code == 1, res
    assert "Předvolby uživatele power uloženy." in res.err
    assert "Chyba: " in res.err
    res = await ssh_env.ssh("power", "prefs")
    assert "language     cs" in res.out
    res = await ssh_env.ssh("power", "cd nowhere")
    assert "Chyba: " in res.err                         # the next session starts in Czech
    res = await ssh_env.ssh("power", "prefs language klingon")
    assert res.code == 1 and "klingon" in res.err and "en, cs" in res.err
    res = await ssh_env.ssh("power", "prefs language default\ncd nowhere")
    assert "Error: " in res.err                          # config/core language: en
    await ssh_env.controller.config.put(SYSTEM, "core", {"language": "cs"})
    res = await ssh_env.ssh("power", "cd nowhere")
    assert "Chyba: " in res.err                          # the system default applies
    res = await ssh_env.ssh("boss", "prefs --user power language en\nprefs --user power")
    assert res.code == 0 and "language     en" in res.out
    res = await ssh_env.ssh("power", "prefs --user boss language cs")
    assert res.code == 1                                 # another user's: admin only


async def test_user_token_firmware_and_update_messages_in_czech(ssh_env: SSHEnv) -> None:
    """The account, token, firmware, support, network and update commands answer in the
    session's language; their JSON stays English (issue 23 item 4)."""
    c = ssh_env.controller
    await c.users.prefs.set(SYSTEM, "boss", {"language": "cs"})
    res = await ssh_env.ssh("boss", "user list; token create cli --days 3; token list; "
                                    "firmware status; user unlock oper; network config eth9 x")
    assert "Token API " in res.out and "Zkopírujte si jej hned: znovu se nezobrazí." in res.out
    assert "platí do " in res.out and "naposledy použit nikdy" in res.out
    assert "Dodaný obraz    " in res.out and "automatická aktualizace" in res.out
    assert " klíč" in res.out and "key(s)" not in res.out
    assert ("Uživatel oper odblokován (0 blokovaných adres uvolněno)." in res.err)
    assert "network config: 'x' není klíč=hodnota" in res.err and res.code == 2
    res = await ssh_env.ssh("boss", "support enable --hours 999; update check nothing.etgpkg --bogus")
    assert "není povoleno; povoleno je 1 až" in res.err
    res = await ssh_env.ssh("boss", "support status; update status")
    assert res.code == 0, res
    assert "Servisní přístup: vypnut (účet 'support'" in res.out
    assert "Spuštěná verze     " in res.out and "Důvěryhodné klíče  " in res.out
    res = await ssh_env.ssh("boss", "format json; support status")
    assert json.loads(res.out)["enabled"] is False                      # the document: English keys
    res = await ssh_env.ssh("boss", "format json; network config eth9 x")
    assert res.code == 2 and json.loads(res.err.strip().splitlines()[-1]) == {
        "error": "network config: 'x' is not key=value"}            # the document: English
    res = await ssh_env.ssh("boss", "format json; user list")
    doc = json.loads(res.out)
    assert {"name", "roles", "keys", "mustChangePassword"} <= set(doc[0])
    res = await ssh_env.ssh("oper", "user unlock power")                   # English session
    assert "Error: " in res.err
    res = await ssh_env.ssh("boss", "prefs language en\nuser list")
    assert "key(s)" in res.out and "klíč" not in res.out
