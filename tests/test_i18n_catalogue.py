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
    po.write_text(text, encoding="utf-8")
    monkeypatch.setattr(tool, "PO", po)
    monkeypatch.setattr(tool, "MO", tmp_path / "enerteg.mo")
    found = tool.problems()
    assert "missing Czech: 'Site dashboard'" in found
    assert "obsolete in enerteg.po: 'A text no code marks'" in found
    assert any("enerteg.mo is stale" in f for f in found)


def test_translator_per_context_never_global() -> None:
    assert i18n._("Alarms") == "Alarms"
    with i18n.use("cs"):
        assert i18n._("Alarms") == "Alarmy"
        assert i18n.current() == "cs"
        with i18n.use("en"):
            assert i18n._("Alarms") == "Alarms"
        assert i18n._("Error: {message}").format(message="x") == "Chyba: x"
    assert i18n._("Alarms") == "Alarms" and i18n.current() == "en"
    # nothing installed into builtins (one user's Czech would reach everyone)
    import builtins
    assert not hasattr(builtins, "_")
    assert isinstance(i18n.translator("cs"), gettext.GNUTranslations)
    with pytest.raises(ValueError, match="de"):
        i18n.translator("de")
