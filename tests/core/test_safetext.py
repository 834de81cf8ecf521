"""Control characters refused in what people store and neutralised in what faces show
(``core.safetext``), values cut in messages (``core.errors.shown``), JSON nesting limited
(``core.documents.loads``): issue 14, items 4 and 9."""

from __future__ import annotations

import pytest

from enerteg_tui.core.documents import MAX_DEPTH, apply_changes, json_depth, loads
from enerteg_tui.core.errors import Invalid, shown
from enerteg_tui.core.safetext import (
    escape_control, multiline_keys, refuse_control, strip_control,
)
from enerteg_tui.core.settings import SETTINGS_TOPICS


@pytest.mark.parametrize("char,name", [("\x00", "NUL"), ("\x1b", "ESC"), ("\x07", "BEL"),
                                       ("\x7f", "DEL"), ("\x9b", "CSI"), ("\n", "LF")])
def test_refuse_control_names_the_character_and_position(char: str, name: str) -> None:
    with pytest.raises(Invalid) as err:
        refuse_control("config/snmp_agent", {"snmpLocation": f"ab{char}c"})
    text = str(err.value)
    assert f"snmpLocation = " in text and f"({name}, U+{ord(char):04X}) at character 3" in text
    assert char not in text
    assert err.value.thing == "snmpLocation"


def test_refuse_control_walks_nested_values_and_keys() -> None:
    with pytest.raises(Invalid) as err:
        refuse_control("x", {"a": {"b": ["ok", "n\x1bo"]}})
    assert "a.b[1] = " in str(err.value)
    with pytest.raises(Invalid):
        refuse_control("x", {"k\x1b": 1})
    refuse_control("x", {"a": 1, "b": [True, None, "plain é 中"]})      # nothing to refuse


def test_text_areas_may_hold_line_breaks_but_not_esc() -> None:
    keys = multiline_keys(SETTINGS_TOPICS["http_server"])
    assert {"certificatePem", "privateKeyPem"} <= keys
    assert multiline_keys(SETTINGS_TOPICS["cli"]) == {"banner"}
    refuse_control("config/cli", {"banner": "line 1\r\nline 2\tend"}, multiline=["banner"])
    with pytest.raises(Invalid):
        refuse_control("config/cli", {"banner": "a\x1b[2J"}, multiline=["banner"])
    with pytest.raises(Invalid):
        refuse_control("config/snmp_agent", {"snmpContact": "a\nb"}, multiline=["banner"])


def test_strip_and_escape() -> None:
    evil = "Evil\x1b]2;pwned\x07\x9bPDU"
    assert strip_control(evil) == "Evil]2;pwnedPDU"
    assert escape_control(evil) == "Evil\\u001b]2;pwned\\u0007\\u009bPDU"
    assert escape_control("a\nb\tc\rd", keep="\n\t") == "a\nb\tc\\u000dd"
    assert strip_control("plain") == "plain"


def test_shown_cuts_long_values_and_says_the_length() -> None:
    assert shown("A" * 10_000) == repr("A" * 40) + "… (10,000 characters)"
    assert shown("short") == "'short'"
    assert shown(12) == "12"


def test_json_depth_is_linear_and_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a": ["[[[[", {"b": "}}}"}]}') == 3
    assert json_depth("[" * 1_000_000) == MAX_DEPTH + 1        # stops counting early
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH, "x") is not None
    with pytest.raises(Invalid) as err:
        loads("[" * 5000 + "]" * 5000, "config/x")
    assert "nests deeper than 32 levels" in str(err.value)
    assert "(10,000 characters)" in str(err.value)


def test_a_dotted_key_has_at_most_32_parts() -> None:
    apply_changes({}, {".".join(["a"] * 32): 1}, "x")
    with pytest.raises(Invalid) as err:
        apply_changes({}, {".".join(["a"] * 5000): 1}, "x")
    assert "has 5,000 parts; the limit is 32" in str(err.value)


async def test_services_refuse_control_characters_and_change_nothing(controller) -> None:
    from enerteg_tui.core.structure import Kind
    from tests.conftest import ADMIN

    with pytest.raises(Invalid) as err:
        await controller.structure.create(ADMIN, Kind.ROOM, "Room\x1b[31mB")
    assert "(ESC, U+001B)" in str(err.value)
    assert not [e for e in controller.structure.children(0) if "Room" in e.name]
    rules = len(controller.rules.all())
    with pytest.raises(Invalid) as err:
        await controller.rules.create(ADMIN, {"name": "hot\x00", "quantity": "current"})
    assert "name = " in str(err.value) and "(NUL, U+0000)" in str(err.value)
    assert len(controller.rules.all()) == rules
    with pytest.raises(Invalid):
        await controller.config.put(ADMIN, "cli", {"banner": "hi\x1b]2;x\x07"})
    await controller.config.put(ADMIN, "cli", {"banner": "Rack room B\nstaff only"})
    assert controller.config.get("cli").banner == "Rack room B\nstaff only"
