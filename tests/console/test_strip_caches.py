"""Contract test of the lazy strip caches (``screens/strip_caches.py``) against Textual.

The module replaces private slots of ``textual.strip.Strip``; if a Textual release
renames them or changes the constructor, these tests fail before any screen does.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.cache import FIFOCache
from textual.strip import Strip

import enerteg_tui.app  # noqa: F401  (installs the lazy caches, as a session does)
from enerteg_tui.screens import strip_caches
from enerteg_tui.screens.strip_caches import CACHE_SIZES, PLAIN_SLOTS


def test_installed_and_textual_still_has_the_slots():
    assert strip_caches.installed()
    # exactly: a slot added or renamed by a Textual release would be left unset (or
    # replaced under a stale name) by our constructor, so it must fail here first
    assert set(Strip.__slots__) == set(CACHE_SIZES) | PLAIN_SLOTS
    for name in CACHE_SIZES:
        assert isinstance(Strip.__dict__[name], property), name


def test_a_new_strip_allocates_no_cache_until_one_is_used():
    strip = Strip([Segment("hello "), Segment("world", Style(bold=True))])
    assert not any(strip_caches.built(strip, name) for name in CACHE_SIZES)
    first = strip.crop(2, 8)
    assert strip.crop(2, 8) is first                               # cached on first use
    cache = strip._crop_cache
    assert isinstance(cache, FIFOCache) and cache._maxsize == CACHE_SIZES["_crop_cache"]
    assert strip_caches.built(strip, "_crop_cache")
    assert not strip_caches.built(strip, "_divide_cache")


def test_strips_behave_as_before():
    strip = Strip([Segment("hello "), Segment("world", Style(bold=True))])
    assert strip.text == "hello world" and strip.cell_length == 11
    assert strip.crop(2, 8).text == "llo wo"
    assert [s.text for s in strip.divide([3, 7, 11])] == ["hel", "lo w", "orld"]
    assert strip.extend_cell_length(14).cell_length == 14
    assert strip.crop_extend(0, 5, None).text == "hello"
    styled = strip.apply_style(Style(italic=True))
    assert all(seg.style and seg.style.italic for seg in styled)
    assert strip.render(__import__("rich.console", fromlist=["Console"]).Console()).startswith(
        "hello")
    joined = Strip.join([strip, Strip([Segment("!")])])
    assert joined.text == "hello world!"
