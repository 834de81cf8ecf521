"""``squeeze_sgr`` drops only style codes that change nothing (issue 18 item 5: a
115200-baud serial line): a terminal shows the same characters with the same colours
and attributes, from fewer bytes."""

from __future__ import annotations

import pyte

from enerteg_tui.protocols.sgr import squeeze_sgr

R = "\x1b[0m"
A = "\x1b[38;5;253;48;5;234m"
B = "\x1b[1;38;5;253;48;5;234m"


def screen_of(frame: str) -> list[list[tuple[str, str, str, bool, bool, bool]]]:
    screen = pyte.Screen(40, 4)
    pyte.Stream(screen).feed(frame)
    return [[(c.data, c.fg, c.bg, c.bold, c.reverse, c.underscore)
             for c in (screen.buffer[y][x] for x in range(40))] for y in range(4)]


def test_repeated_styles_are_dropped_and_the_screen_is_the_same() -> None:
    row = (f"\x1b[2;1H{A}Outlet 3{R}{A} {R}{B}  1.23 A{R}{A} {R}{B}  4.56{R}{A} {R}"
           f"{A}[##   ]{R}\x1b[3;1H{A}next{R}{A} row{R}")
    out = squeeze_sgr(row)
    assert len(out) < len(row)
    assert row.count(A) == 7 and out.count(A) == 5 and out.count(B) == 2
    assert screen_of(out) == screen_of(row)


def test_nothing_dropped_after_a_lone_code() -> None:
    # after a lone reset or a bare attribute the style in force is not known
    for frame in (f"{A}x{R}{B}y{R}{A}z{R}", f"{R}{A}x\x1b[1mbold{R}{A}plain{R}",
                  f"{R}{A}x\x1b[7my{R}{A}z"):
        assert squeeze_sgr(frame) == frame
        assert screen_of(squeeze_sgr(frame)) == screen_of(frame)


def test_a_frame_without_pairs_is_returned_as_is() -> None:
    frame = "\x1b[?25l\x1b[1;1Hhello"
    assert squeeze_sgr(frame) is frame


def test_each_frame_stands_alone() -> None:
    # the first pair of a frame is always kept: the previous frame may have been dropped
    assert squeeze_sgr(f"{R}{A}x") == f"{R}{A}x"
