"""Textual strips that create their small caches when first used, not when built.

Every ``textual.strip.Strip`` (one rendered line) builds seven ``FIFOCache`` objects
in its constructor, each with its own dict: about 1 KB per line before anything is
cached. A console session holds some 1,500 strips (widget line caches, the
compositor's cuts, the live tables' rows), most of which are never cropped, divided or
styled again, so those empty caches were about a third of a session's Python heap and,
being tracked container objects, a good part of what the cyclic GC walks.

``install()`` replaces the seven cache slots of ``Strip`` with properties that build
the cache on first access (the slot itself keeps it, so a strip that is used pays the
same as before, plus one attribute lookup), and the constructor with one that leaves
them empty. Behaviour is unchanged: the same caches with the same sizes exist
whenever a method consults them. ``Strip`` is Textual API but its slots are not: the
package pins textual to one minor release and tests/console/test_strip_caches.py
checks the slots this module expects and that strips render and crop as before.
Set ``ENERTEG_EAGER_STRIP_CACHES=1`` to keep Textual's own behaviour (for benchmarks).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from rich.segment import Segment
from textual.cache import FIFOCache
from textual.strip import Strip

__all__ = ["CACHE_SIZES", "PLAIN_SLOTS", "built", "install", "installed"]

CACHE_SIZES: dict[str, int] = {
    "_divide_cache": 4,
    "_crop_cache": 16,
    "_style_cache": 16,
    "_filter_cache": 4,
    "_line_length_cache": 4,
    "_crop_extend_cache": 4,
    "_offsets_cache": 4,
}
"""Textual's cache slots of ``Strip`` and the sizes its constructor gives them."""
PLAIN_SLOTS = frozenset({"_segments", "_cell_length", "_render_cache", "_link_ids", "_cell_count"})
"""``Strip``'s other slots, which our constructor sets as Textual's does. Together with
``CACHE_SIZES`` they must be exactly Textual's slots: a slot added by a new release would
be left unset by our constructor (the contract test fails on it)."""

_installed = False
_SLOTS: dict[str, Any] = {name: Strip.__dict__[name] for name in CACHE_SIZES}
"""Textual's own slot descriptors (where a built cache lives)."""


def _lazy(name: str, size: int) -> property:
    slot = _SLOTS[name]
    get, put = slot.__get__, slot.__set__

    def getter(self: Strip) -> FIFOCache[Any, Any]:
        try:
            cache: FIFOCache[Any, Any] = get(self, Strip)
        except AttributeError:
            cache = FIFOCache(size)
            put(self, cache)
        return cache

    def setter(self: Strip, value: FIFOCache[Any, Any]) -> None:
        put(self, value)

    return property(getter, setter, doc=f"Strip.{name}, built on first use")


def _init(self: Strip, segments: Iterable[Segment], cell_length: int | None = None) -> None:
    self._segments = list(segments)
    self._cell_length = cell_length
    self._render_cache = None
    self._link_ids = None
    self._cell_count = None


def built(strip: Strip, name: str) -> bool:
    """Whether ``strip`` has built its cache ``name`` yet (for tests)."""
    try:
        _SLOTS[name].__get__(strip, Strip)
    except AttributeError:
        return False
    return True


def installed() -> bool:
    """Whether strips build their caches lazily in this process."""
    return _installed


def install() -> bool:
    """Make strips build their caches on first use (once per process); False when
    ``ENERTEG_EAGER_STRIP_CACHES`` asks to keep Textual's behaviour."""
    global _installed
    if _installed:
        return True
    if os.environ.get("ENERTEG_EAGER_STRIP_CACHES"):
        return False
    for name, size in CACHE_SIZES.items():
        setattr(Strip, name, _lazy(name, size))
    Strip.__init__ = _init  # type: ignore[method-assign]
    _installed = True
    return True
