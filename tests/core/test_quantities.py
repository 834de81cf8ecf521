"""The quantity catalogue is the one source of component words, quantity sets and the
channel identity: the shapes convert into each other without loss."""

from __future__ import annotations

from enerteg_tui.core.quantities import (
    BY_KEY,
    COMPONENT_BY_CODE,
    COMPONENT_CODES,
    COMPONENT_QUANTITIES,
    DC_QUANTITIES,
    Channel,
    Component,
    channel_text,
)


def test_every_component_has_words_and_known_quantities() -> None:
    assert COMPONENT_CODES == ("t", "i", "b", "o", "s")
    for code in COMPONENT_CODES:
        comp = COMPONENT_BY_CODE[code]
        assert comp is Component(code)
        assert comp.singular and comp.plural and comp.label and comp.word
        assert set(comp.quantities) <= set(BY_KEY), comp
        assert COMPONENT_QUANTITIES[comp] == comp.quantities
    assert Component.INPUT.singular == "phase" and Component.BRANCH.plural == "branches"
    assert set(DC_QUANTITIES) <= set(BY_KEY)


def test_channel_identity_round_trips() -> None:
    ch = Channel("0A1B2C", Component.OUTLET, 3, "activePower")
    assert ch.id == ("0A1B2C", "o", 3, "activePower")
    assert Channel.of(ch.id) == ch
    assert ch.text == channel_text("0A1B2C", "o", 3, "activePower") == "0A1B2C/o/3/activePower"
    assert ch.name == "outlet.3.realpower"
    # the plain id is hashable and equal across constructions (history keys by it)
    assert {ch.id: 1}[("0A1B2C", "o", 3, "activePower")] == 1
