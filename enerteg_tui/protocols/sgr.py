"""Drop the colour and attribute codes of a console frame that change nothing.

Textual writes every segment as ``ESC[0m ESC[<style>m text``: a reset and the segment's
whole style, even when the previous segment had the same style. On a table row that
is most of the bytes (a 160-column device row: ~700 bytes, ~70 % SGR codes), and on a
115200-baud serial line (~11,500 bytes/s) or a slow SSH link the operator then reads
values late. ``squeeze_sgr`` removes a reset-and-set pair that sets exactly the style
already in force; it emits no new codes, so it is safe for every terminal (a vt100 knows
only resets, not the ``22``/``27`` "off" codes a diff encoder would need). The state is
tracked within one frame only: a frame dropped for a slow peer cannot leave the next
one relying on a style the terminal never got.
"""

from __future__ import annotations

import re

__all__ = ["squeeze_sgr"]

_SGR = re.compile(r"\x1b\[0m\x1b\[([0-9;]*)m|\x1b\[([0-9;]*)m")


def squeeze_sgr(frame: str) -> str:
    """``frame`` without ``ESC[0m ESC[Xm`` pairs that repeat the style already in force.

    The style in force is known after a reset (``ESC[0m``: the default) and after one
    code following a reset (a whole style, as Textual writes them); any further code
    makes it unknown, and nothing is dropped until the next reset.
    """
    if "\x1b[0m\x1b[" not in frame:
        return frame
    out: list[str] = []
    pos = 0
    style: str | None = None
    for m in _SGR.finditer(frame):
        pair = m.group(1)
        if pair is not None:
            if pair == style:
                out.append(frame[pos:m.start()])
                pos = m.end()
            else:
                style = pair
            continue
        params = m.group(2)
        if params in ("0", ""):
            style = ""
        elif style == "":
            style = params
        else:
            style = None
    out.append(frame[pos:])
    return "".join(out)
