#!/usr/bin/env python3
"""Keep the Czech catalogue in step with the source (docs/language.md).

    python3 scripts/i18n.py update   # extract, merge into cs/enerteg.po, compile the .mo
    python3 scripts/i18n.py check    # exit 1 listing missing, obsolete or stale entries

Extraction is GNU xgettext over every ``.py`` of the package, with the keywords ``_``,
``N_``, ``ngettext`` and call shapes whose argument is text people read:
``Binding(key, action, description)`` (the console's key bar and help),
``Command(handler, usage, summary)`` (the shell's help), ``Column(key, label, …)``
(table headings), ``_Q(key, name, label, …)`` (quantity labels, ``core.quantities``) and
``Section(kind, title, …)`` (the console's sections) and ``usage_error(message, …)``
(a shell usage error: translated text, English JSON document). An id whose ``{…}`` fields are
not plain names came from an f-string (``Binding(..., f"Feed {f.value}")``): it cannot
be looked up and is left out. ``tests/test_i18n_catalogue.py`` runs ``check``.

The settings keys' descriptions are attribute docstrings (pydantic reads them into
``Field.description``; xgettext cannot see them) and the topics' ``SERVICE_NOTE`` and
``INACTIVE_NOTE``: ``settings_texts`` reads them from the schemas and they are extracted
from a generated file, ``settings-descriptions.py`` in the references; the settings
page translates them where it shows them.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "enerteg_tui"
PO = PACKAGE / "locale" / "cs" / "LC_MESSAGES" / "enerteg.po"
MO = PO.with_suffix(".mo")
KEYWORDS = ("-k_", "-kN_", "-kNP_:1c,2", "-kngettext:1,2", "-kBinding:3", "-kCommand:3", "-kColumn:2", "-k_Q:3",
            "-kSection:2", "-kusage_error")
_IN_FSTRING = re.compile(r"""\{_\(["']""")
_FIELD = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def _sources() -> list[str]:
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))


def settings_texts() -> list[str]:
    """The settings keys' descriptions and the topics' service notes, in schema order."""
    sys.path.insert(0, str(ROOT))
    from enerteg_tui.core.settings import SETTINGS_TOPICS

    seen: list[str] = []
    for schema in SETTINGS_TOPICS.values():
        texts = [f.description for f in schema.model_fields.values()]
        texts += [getattr(schema, "SERVICE_NOTE", None), getattr(schema, "INACTIVE_NOTE", None)]
        seen += [t for t in texts if t and t not in seen]
    return seen


def extract(pot: Path) -> None:
    """Write the template of every marked text to ``pot``."""
    subprocess.run(["xgettext", "-L", "Python", "--from-code=UTF-8", "--no-wrap",
                    "--package-name=enerteg", *KEYWORDS, "-o", str(pot), *_sources()],
                   cwd=PACKAGE, check=True, capture_output=True, text=True)
    generated = pot.parent / "settings-descriptions.py"
    generated.write_text("".join(f"_({json.dumps(t, ensure_ascii=False)})\n"
                                 for t in settings_texts()), encoding="utf-8")
    subprocess.run(["xgettext", "-L", "Python", "--from-code=UTF-8", "--no-wrap", "-j",
                    "--package-name=enerteg", "-k_", "-o", str(pot), generated.name],
                   cwd=pot.parent, check=True, capture_output=True, text=True)


def entries(path: Path) -> dict[str, tuple[str, bool]]:
    """msgid (``context\x04msgid`` with a context, as gettext keys it) → (msgstr or first
    plural form, obsolete) of a .po/.pot (header left out)."""
    out: dict[str, tuple[str, bool]] = {}
    key: str | None = None
    cur: dict[str, str] = {}
    obsolete = False
    fuzzy = False

    def flush() -> None:
        if cur.get("msgid"):
            key = (cur["msgctxt"] + "\x04" if "msgctxt" in cur else "") + cur["msgid"]
            # a fuzzy entry is not compiled into the .mo: as good as untranslated
            text = "" if fuzzy else cur.get("msgstr", cur.get("msgstr[0]", ""))
            out[key] = (text, obsolete)

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        old = line.startswith("#~")
        if old:
            line = line[2:].strip()
        if not line or (line.startswith("#") and not old):
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            if not line and cur:
                flush()
                cur, key, obsolete, fuzzy = {}, None, False, False
            continue
        if line.startswith('"'):
            if key is not None:
                cur[key] += ast.literal_eval(line)
            continue
        word, _sp, rest = line.partition(" ")
        key = word
        obsolete = obsolete or old
        cur[key] = ast.literal_eval(rest)
    return out


def _plain_fields(msgid: str) -> bool:
    return all(f == "" or f.isidentifier() for f in (m.split(":")[0].split("!")[0]
                                                     for m in _FIELD.findall(msgid)))


def template() -> set[str]:
    """Every msgid the source marks (f-string ids left out)."""
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "enerteg.pot"
        extract(pot)
        return {m for m in entries(pot) if _plain_fields(m)}


def problems() -> list[str]:
    """What is wrong with the catalogue, one line each (empty: all well)."""
    ids = template()
    po = entries(PO)
    found: list[str] = []
    for msgid in sorted(ids):
        text, old = po.get(msgid, ("", False))
        if not text or old:
            found.append(f"missing Czech: {msgid!r}")
    for msgid, (text, old) in sorted(po.items()):
        if not _plain_fields(msgid):
            continue                      # an f-string's id: never looked up
        if old or msgid not in ids:
            found.append(f"obsolete in enerteg.po: {msgid!r}")
        elif text and sorted(_FIELD.findall(msgid)) != sorted(_FIELD.findall(text)):
            found.append(f"fields differ: {msgid!r} → {text!r}")
    for rel in _sources():                   # xgettext does not look inside f-strings
        for n, line in enumerate((PACKAGE / rel).read_text(encoding="utf-8").splitlines(), 1):
            if _IN_FSTRING.search(line):
                found.append(f"{rel}:{n}: a marked literal inside an f-string is not extracted")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "enerteg.mo"
        res = subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(PO)],
                             capture_output=True, text=True)
        if res.returncode:
            found.append(f"msgfmt --check: {res.stderr.strip()}")
        elif not MO.exists() or MO.read_bytes() != fresh.read_bytes():
            found.append("enerteg.mo is stale: run python3 scripts/i18n.py update")
    return found


def update() -> None:
    """Merge new ids into the .po (obsolete ones dropped) and compile the .mo."""
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "enerteg.pot"
        extract(pot)
        subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching", "--no-wrap",
                        "--backup=none", "--update", str(PO), str(pot)],
                       check=True)
        subprocess.run(["msgattrib", "--no-obsolete", "--no-wrap", "-o", str(PO), str(PO)],
                       check=True)
    subprocess.run(["msgfmt", "--check", "-o", str(MO), str(PO)], check=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["update"]:
        update()
        print(f"updated {PO.relative_to(ROOT)} and {MO.name}")
    elif sys.argv[1:] == ["check"]:
        bad = problems()
        print("\n".join(bad) or "catalogue complete")
        sys.exit(1 if bad else 0)
    else:
        sys.exit(__doc__)
