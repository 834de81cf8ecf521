"""Shortening names to a width without making them ambiguous (issue 18, item 4).

PDU names often share a long prefix ("Daisy-Chain PDU #1" … "#7"); cutting the end
("Daisy-Chain PDU…") makes every one of them look the same. ``shorten`` cuts the
middle instead, keeping the start and the distinguishing end ("Daisy…PDU #7"), and
``distinct`` adds the hex id when two shortened names would still read alike. Every
list of the console (tables, the DC tree) cuts names through these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.cells import cell_len, set_cell_size

__all__ = ["ELLIPSIS", "distinct", "shorten"]

ELLIPSIS = "…"
"""What stands for the cut part."""


def _head(text: str, width: int) -> str:
    """The start of ``text``, at most ``width`` terminal cells."""
    if text.isascii():
        return text[:width]
    out = set_cell_size(text, width)
    return out.rstrip() if cell_len(out) > width else out


def _tail(text: str, width: int) -> str:
    """The end of ``text``, at most ``width`` terminal cells."""
    if text.isascii():
        return text[len(text) - width:] if width > 0 else ""
    out = ""
    for ch in reversed(text):
        if cell_len(ch + out) > width:
            break
        out = ch + out
    return out


def shorten(text: str, width: int, *, middle: bool = True) -> str:
    """``text`` cut to at most ``width`` terminal cells.

    Args:
        text: the name.
        width: cells available (at least 1).
        middle: cut the middle (keep the end, where names sharing a prefix differ);
            False cuts the end (for sentences).

    Returns:
        ``text`` itself when it fits, else its start, ``…`` and (middle) its end; the
        end keeps up to half the room, so "Daisy-Chain PDU #7" in 12 cells reads
        "Daisy…PDU #7".
    """
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    room = width - 1
    if not middle or room < 4:
        return _head(text, room) + ELLIPSIS
    tail = _tail(text, room // 2)
    head = _head(text, room - cell_len(tail))
    return head.rstrip() + ELLIPSIS + tail.lstrip() if head.strip() else head + ELLIPSIS + tail


def distinct(names: Mapping[str, str], width: int) -> dict[str, str]:
    """Each name shortened to ``width``, with ``·<hex id>`` where two would read alike.

    Args:
        names: hex id → full name.
        width: cells available for each.

    Returns:
        hex id → the text to show; names that fit and differ are unchanged.
    """
    short = {hex_id: shorten(name, width) for hex_id, name in names.items()}
    seen: dict[str, int] = {}
    for text in short.values():
        seen[text] = seen.get(text, 0) + 1
    for hex_id, text in short.items():
        if seen[text] > 1 and names[hex_id] != hex_id:
            suffix = "·" + hex_id
            short[hex_id] = shorten(names[hex_id], max(1, width - len(suffix))) + suffix
    return short
