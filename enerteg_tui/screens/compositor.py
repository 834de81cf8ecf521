"""A Textual compositor that renders only the widgets a partial update can show.

Textual's partial update renders every widget that overlaps the bounding box of all
dirty regions, front to back, and then keeps only the first strip painted into each
cut of each dirty line. A live table row changing under the header clock therefore
makes the screen, every container between it and the table, the DC tree, the header
and the key bar all render themselves (about 20 widgets, 1 ms each) to produce a few
table cells. With twenty sessions on one loop that was most of the console's cost
and what a key waited behind.

``CullingCompositor`` does the same painting in the same order but, before asking a
widget for its lines, checks whether any cut it could fill is both still empty and
inside a dirty span; a container fully covered by its children, or a widget beside
the changed cells, is skipped. The output is identical (the skipped widgets' strips
were discarded anyway). A skipped widget keeps its own dirty lines until it is really
painted, so nothing stale can appear later.

``SafeCompositor`` (the base of ``CullingCompositor``, installed on every screen the
console shows by ``ConsoleApp``) strips control characters from every strip it paints:
a PDU name holding ``ESC ] 2 ; …`` is shown without them instead of retitling the
viewer's terminal (``core.safetext``). Rich strips only a few control codes (BEL, BS,
VT, FF, CR), never ESC. This is the one place all of a screen's text passes.

Textual's compositor is private API: the package pins textual to one minor release
and tests/console/test_compositor.py compares this compositor's output with
Textual's own on real screens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from typing import Any

from rich.control import Control
from rich.segment import Segment
from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip

from ..core.safetext import CONTROL, strip_control

__all__ = ["CroppedChopsUpdate", "CullingCompositor", "SafeCompositor", "clean_strip", "install_safe_compositor"]


def clean_strip(strip: Strip) -> Strip:
    """``strip`` without control characters in its text (the same strip when it has none)."""
    search = CONTROL.search
    if not any(search(seg.text) for seg in strip):
        return strip
    return Strip([Segment(strip_control(seg.text), seg.style, seg.control) for seg in strip],
                 strip.cell_length)


def _clean_chops(chops: Sequence[Any]) -> None:
    for line in chops:
        for cut, strip in line.items():
            if strip is not None:
                line[cut] = clean_strip(strip)


class SafeCompositor(Compositor):
    """Textual's compositor, painting no control character of any widget's text."""

    def _render_chops(self, crop: Region, is_rendered_line: Any) -> Sequence[Mapping[int, Strip]]:
        chops = super()._render_chops(crop, is_rendered_line)
        _clean_chops(chops)
        return chops


def install_safe_compositor(screen: Any) -> None:
    """Give ``screen`` a ``SafeCompositor`` unless it has one (before it is first shown)."""
    if not isinstance(getattr(screen, "_compositor", None), SafeCompositor):
        screen._compositor = SafeCompositor()


class CroppedChopsUpdate(ChopsUpdate):
    """Textual's partial update, written from the first dirty cell instead of the chop's
    start. ``ChopsUpdate.render_segments`` crops a chop at the dirty span's right end
    only, so one changed value in a live table re-sent the table's whole line from its
    left edge (labels, names, ids): on a serial line or a slow link that was most of a
    live update's bytes. The terminal ends with the same cells either way."""

    def render_segments(self, console: Any) -> str:
        sequences: list[str] = []
        append = sequences.append
        move_to = Control.move_to
        chops = self.chops
        chop_ends = self.chop_ends
        last_y = self.spans[-1][0]
        for y, x1, x2 in self.spans:
            line = chops[y]
            ends = chop_ends[y]
            for end, (x, strip) in zip(ends, line.items()):
                if strip is None or x > x2 or end <= x1:
                    continue
                left = max(x, x1)
                if left > x or end > x2:
                    strip = strip.crop(left - x, min(end, x2) - x)
                append(move_to(left, y).segment.text)
                append(strip.render(console))
            if y != last_y:
                append("\n")
        return "".join(sequences)


class CullingCompositor(SafeCompositor):
    """Textual's compositor, minus the widgets whose strips a partial update would drop."""

    skipped = 0
    """Widgets not rendered because nothing of them could show (all instances; tests)."""

    def render_partial_update(self) -> ChopsUpdate | None:
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        crop = Region.from_union(update_regions).intersection(self.size.region)
        spans = list(self._regions_to_spans(update_regions))
        cuts = self.cuts
        needed: dict[int, list[int]] = {}
        for y, x1, x2 in spans:
            if not 0 <= y < len(cuts):
                continue
            cut_set = cuts[y]
            want = needed.setdefault(y, [])
            # the same test ChopsUpdate applies when it writes a chop out
            for x, end in zip(cut_set, cut_set[1:]):
                if not (x > x2 or end <= x1):
                    want.append(x)
        chops = self._render_needed(crop, needed)
        _clean_chops(chops)
        chop_ends = [cut_set[1:] for cut_set in cuts]
        return CroppedChopsUpdate(chops, spans, chop_ends)

    def _render_needed(self, crop: Region,
                       needed: Mapping[int, list[int]]) -> Sequence[Mapping[int, Strip | None]]:
        """``Compositor._render_chops`` that skips widgets with nothing left to paint."""
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        intersection = Region.intersection
        contains_region = Region.contains_region
        crop_overlaps = crop.overlaps
        for widget, (region, clip) in self.visible_widgets.items():
            if not crop_overlaps(clip):
                continue
            render_region = intersection(region, clip)
            rx, ry, rw, rh = render_region
            if not (rw and rh):
                continue
            first_cut, last_cut = rx, rx + rw
            if not self._has_work(chops, needed, ry, ry + rh, first_cut, last_cut):
                CullingCompositor.skipped += 1
                continue
            if contains_region(clip, region):
                strips = widget.render_lines(Region(0, 0, region.width, region.height))
            else:
                strips = widget.render_lines(
                    Region(rx - region.x, ry - region.y, rw, rh))
            for y, strip in zip(range(ry, ry + rh), strips):
                if y not in needed:
                    continue
                chops_line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                cut_strips = strip.divide([cut - rx for cut in final_cuts[1:]])
                for cut, piece in zip(final_cuts, cut_strips):
                    if chops_line.get(cut) is None:
                        chops_line[cut] = piece
        return chops

    @staticmethod
    def _has_work(chops: list[dict[int, Strip | None]], needed: Mapping[int, list[int]],
                  top: int, bottom: int, first_cut: int, last_cut: int) -> bool:
        """Whether a cut in ``[first_cut, last_cut)`` of a line in ``[top, bottom)`` is
        dirty and not painted yet."""
        get = needed.get
        for y in range(top, bottom):
            want = get(y)
            if not want:
                continue
            line = chops[y]
            for cut in want:
                if first_cut <= cut < last_cut and line[cut] is None:
                    return True
        return False
