"""Ring topology: which positions the controller reaches through broken links.

Owns the rule of the databus ring, which is wired at both ends to the Controller
module PDU at position 0: link ``k`` joins positions ``k`` and ``k + 1`` and link
``N - 1`` closes the ring back to position 0. The controller scans forward (links
0, 1, …) and backward (links N-1, N-2, …); a scan stops at the first broken link it
meets. Invariant: position 0 is always reachable, one break cuts nobody off, and with
two or more breaks exactly the positions between the first and the last break are
cut off. Called by ``driver.SimulatedDriver`` and ``faults`` (validation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["RingView", "ring_view", "break_problem"]


@dataclass(frozen=True, slots=True)
class RingView:
    """What the controller sees of the ring for one set of broken links."""

    size: int
    forward_end: int
    """Last position the forward scan reaches."""
    backward_end: int
    """Last position the backward scan reaches (``size`` when it reaches nothing new)."""
    breaks: list[int]
    """Breaks as the controller sees them: end of the forward and of the backward scan."""

    def reaches(self, position: int) -> bool:
        """Whether the controller reaches ``position`` from one side or the other."""
        return position <= self.forward_end or position >= self.backward_end


def ring_view(size: int, breaks: Iterable[int]) -> RingView:
    """The reachability of a ring of ``size`` PDUs with the given broken links.

    Args:
        size: number of PDUs on the ring (positions ``0..size-1``).
        breaks: broken link numbers; links outside ``0..size-1`` are ignored.

    Returns:
        The view: every position is reachable unless it lies strictly after the first
        break and up to the last one.
    """
    valid = sorted({b for b in breaks if 0 <= b < size})
    if not valid:
        return RingView(size, size - 1, size, [])
    first, last = valid[0], valid[-1]
    seen = [first] if first == last else [first, last]
    return RingView(size, first, last + 1, seen)


def break_problem(size: int, breaks: list[int]) -> str | None:
    """Why ``breaks`` is not a valid list of links for a ring of ``size``, or None."""
    for b in breaks:
        if not 0 <= b < size:
            return f"link {b} does not exist on a ring of {size} PDUs (links 0 to {size - 1})"
    if len(set(breaks)) != len(breaks):
        return "a link is listed twice"
    return None
