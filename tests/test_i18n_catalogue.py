"""The Czech catalogue is complete (issue 23 item 4): every text the source marks for
people has a Czech translation, the .po keeps no obsolete entry, and the committed .mo is
the .po compiled (docs/language.md; ``scripts/i18n.py update`` fixes all three)."""

from __future__ import annotations

import gettext
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from enerteg_tui.core import i18n

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("xgettext") is None or shutil.which("msgfmt") is None,
                                reason="GNU gettext tools (xgettext, msgfmt) are not installed")


def _tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_tool"] = module
    spec.loader.exec_module(module)
    return module


def test_every_marked_text_has_czech_and_nothing_is_obsolete() -> None:
    tool = _tool()
    ids = tool.template()
    assert len(ids) > 300                       # the extraction really ran over the package
    assert {"Alarms", "Critical", "Error: {message}", "Site dashboard"} <= ids
    assert tool.problems() == []


def test_the_check_finds_a_missing_and_an_obsolete_entry(tmp_path: Path, monkeypatch) -> None:
    tool = _tool()
    po = tmp_path / "enerteg.po"
    text = tool.PO.read_text(encoding="utf-8")
    text = text.replace('msgid "Site dashboard"\nmsgstr "Přehled areálu"',
                        'msgid "Site dashboard"\nmsgstr ""')
    text += '\nmsgid "A text no code marks"\nmsgstr "Text, který nikdo nepoužívá"\n'
    text = text.replace('msgid "Alarms"\nmsgstr "Alarmy"',
                        '#, fuzzy\nmsgid "Alarms"\nmsgstr "Alarmy"')   # msgfmt skips it
    po.write_text(text, encoding="utf-8")
    monkeypatch.setattr(tool, "PO", po)
    monkeypatch.setattr(tool, "MO", tmp_path / "enerteg.mo")
    found = tool.problems()
    assert "missing Czech: 'Site dashboard'" in found
    assert "obsolete in enerteg.po: 'A text no code marks'" in found
    assert "missing Czech: 'Alarms'" in found
    assert any("enerteg.mo is stale" in f for f in found)


def test_translator_per_context_never_global() -> None:
    assert i18n._("Alarms") == "Alarms"
    with i18n.use("cs"):
        assert i18n._("Alarms") == "Alarmy"
        assert i18n.current() == "cs"
        with i18n.use("en"):
            assert i18n._("Alarms") == "Alarms"
        assert i18n._("Error: {message}").format(message="x") == "Chyba: x"
        more = "… and {count} more"                  # Czech has three plural forms
        assert [i18n.ngettext(more, more, n).format(count=n) for n in (1, 3, 7)] == [
            "… a 1 další", "… a 3 další", "… a 7 dalších"]
    assert i18n._("Alarms") == "Alarms" and i18n.current() == "en"
    # nothing installed into builtins (one user's Czech would reach everyone)
    import builtins
    assert not hasattr(builtins, "_")
    assert isinstance(i18n.translator("cs"), gettext.GNUTranslations)
    with pytest.raises(ValueError, match="de"):
        i18n.translator("de")


def test_alarm_sentences_are_stored_in_english_and_shown_in_czech() -> None:
    from enerteg_tui.core import alarm_texts as at

    stored = at.compose(at.EXCEEDED, value="3.69 A", label="the PDU totals (current)",
                        severity="warning", threshold="0.1 A", rule="busy PDUs",
                        pdu='PDU "Daisy-Chain PDU #7"')
    assert stored == ('Value of 3.69 A at the PDU totals (current) has exceeded the warning '
                      'threshold of 0.1 A via rule "busy PDUs" for PDU "Daisy-Chain PDU #7"')
    assert at.shown(stored) == stored                    # English session
    with i18n.use("cs"):
        assert at.shown(stored) == ('Hodnota 3.69 A na součtech PDU (proud) překročila '
                                    'varovnou mez 0.1 A podle pravidla "busy PDUs" pro '
                                    'PDU "Daisy-Chain PDU #7"')
        low = at.compose(at.FALLEN, value="198 V", label='"Outlet # 3" (3) outlet',
                         severity="critical", threshold="200 V", rule="v", pdu='PDU "B"')
        assert at.shown(low) == ('Hodnota 198 V na zásuvce "Outlet # 3" (3) klesla pod '
                                 'kritickou mez 200 V podle pravidla "v" pro PDU "B"')
        gone = at.compose(at.UNREACHABLE, pdu='PDU "A"', severity="critical", rule="r")
        assert at.shown(gone) == 'Nedosažitelné zařízení PDU "A" (kritický) podle pravidla "r"'
        assert at.shown("SNMP agent not started: port in use") == (
            "SNMP agent not started: port in use")          # no template: as stored


def test_condition_alarms_are_stored_in_english_and_shown_in_czech() -> None:
    """A face that cannot listen (a real port held), the clock, a certificate and a shared
    Device ID: the stored sentence is the English one, a Czech reader gets it translated,
    with an operating system's own error text kept as it is."""
    import socket

    from enerteg_tui.core import alarm_texts as at
    from enerteg_tui.protocols.settings_face import bind_problem

    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    try:
        second = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(OSError) as caught:
            second.bind(("127.0.0.1", port))
        second.close()
    finally:
        held.close()
    why = bind_problem(caught.value, "UDP", "127.0.0.1", port, "config/snmp_agent agentPort",
                       holder="another program, such as snmpd,")
    stored = f"SNMP agent not running: {why}"                  # SettingsDrivenFace._set_status
    error = caught.value.strerror
    assert stored == (f"SNMP agent not running: cannot listen on UDP 127.0.0.1:{port}: {error} "
                      "(another program, such as snmpd, holds the port)")
    assert at.shown(stored) == stored
    with i18n.use("cs"):
        assert at.shown(stored) == (f"Agent SNMP neběží: nelze naslouchat na UDP 127.0.0.1:{port}: "
                                    f"{error} (port drží jiný program, např. snmpd)")
        clock = at.compose(at.CLOCK_OFF, offset="+12.5", limit="5", detail=at.compose(
            at.CLOCK_DETAIL, offset="+12.512", server="127.0.0.1", stratum=2, delay="0.4"))
        assert at.shown(clock) == ("Hodiny se odchylují o +12.5 s (více než 5 s): odchylka "
                                   "+12.512 s od 127.0.0.1 (stratum 2, doba odezvy 0.4 ms)")
        none = at.compose(at.CLOCK_UNSYNCHRONISED, why="pool.ntp.org: no answer within 2 s")
        assert at.shown(none) == ("Hodiny nejsou synchronizovány: žádný server NTP "
                                  "neodpověděl: pool.ntp.org: no answer within 2 s")
        cert = at.compose(at.CERT_EXPIRING, id=3, name="web", day="2027-01-02", days=30)
        assert at.shown(cert) == "Certifikát 3 (web) vyprší 2027-01-02, do 30 dní"
        dup = at.compose(at.DUPLICATE_ID, id=7, count=2, names='"A" (0a), "B" (0b)', unit=7)
        assert at.shown(dup).startswith('Device ID 7 hlásí 2 PDU: "A" (0a), "B" (0b). Jednotka '
                                        'Modbus 7 neodpovídá za žádnou z nich (výjimka 0x0B)')
        assert at.shown("Something nobody templated") == "Something nobody templated"
