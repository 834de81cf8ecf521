"""Line editing, history and completion of ``enerteg_tui.protocols.shell.lineedit``."""

from __future__ import annotations

import asyncio

import pytest

from enerteg_tui.protocols.shell.lineedit import LineEditor, longest_common_prefix
from enerteg_tui.protocols.shell.term import MemoryTerm

LEFT, RIGHT, UP, DOWN = "\x1b[D", "\x1b[C", "\x1b[A", "\x1b[B"
HOME, END, DELETE = "\x1b[H", "\x1b[F", "\x1b[3~"
WORDS = ["config/", "sensor/", "cat", "cd", "ls", "lsof", "put"]


def completer(line: str, cursor: int) -> list[str]:
    """Complete the word before ``cursor`` from ``WORDS``."""
    word = line[:cursor].rsplit(" ", 1)[-1]
    return [w for w in WORDS if w.startswith(word)]


async def read(term: MemoryTerm, typed: str, editor: LineEditor | None = None,
               prompt: str = "> ") -> str | None:
    """Feed ``typed`` and return what one ``readline`` gives."""
    term.feed(typed)
    editor = editor or LineEditor(term, completer=completer)
    return await asyncio.wait_for(editor.readline(prompt), 2)


@pytest.fixture
def term() -> MemoryTerm:
    return MemoryTerm(size=(40, 10))


async def test_prompt_text_and_enter(term: MemoryTerm) -> None:
    assert await read(term, "ls config\r") == "ls config"
    assert term.screen()[0] == "> ls config"
    assert term.output.startswith("\r> ") and term.output.endswith("\r\n")


@pytest.mark.parametrize(("typed", "line"), [
    ("abd" + LEFT + "c" + END + "e\r", "abcde"),
    ("bc" + HOME + "a" + RIGHT + RIGHT + RIGHT + "d\r", "abcd"),
    ("bc\x01a\x05d\r", "abcd"),
    ("abxc" + LEFT + "\x7f\r", "abc"),
    ("abxc" + LEFT + LEFT + DELETE + "\r", "abc"),
    ("abc" + LEFT + LEFT + "\x0b\r", "a"),
    ("abc" + LEFT + "\x15\r", "c"),
    ("put a/b  value\x17\r", "put a/b  "),
    ("put a/b value" + LEFT * 5 + "\x17\r", "put value"),
    ("abc" + LEFT + "\x04\r", "ab"),
    ("abc\x15x\x19\r", "xabc"),
    ("ab\x08\r", "a"),
])
async def test_editing_keys(term: MemoryTerm, typed: str, line: str) -> None:
    assert await read(term, typed) == line


async def test_screen_shows_line_and_cursor_after_edits(term: MemoryTerm) -> None:
    await read(term, "hello world" + LEFT * 5 + "\x17" + "\r")
    assert term.screen()[0] == "> world"


async def test_cursor_position_after_moving(term: MemoryTerm) -> None:
    term.feed("abcdef" + LEFT * 2)
    editor = LineEditor(term)
    task = asyncio.create_task(editor.readline("> "))
    await asyncio.sleep(0.05)
    assert term.screen()[0] == "> abcdef" and term.cursor == (0, 6)
    assert term.output.endswith("\x1b[K\x1b[2D")
    term.feed("\r")
    assert await asyncio.wait_for(task, 2) == "abcdef"


async def test_ctrl_l_clears_and_redraws(term: MemoryTerm) -> None:
    term.write("old output\r\n")
    assert await read(term, "ab\x0cc\r") == "abc"
    assert "\x1b[2J" in term.output
    assert term.screen()[0] == "> abc"


async def test_long_line_wraps_and_edits(term: MemoryTerm) -> None:
    long = "x" * 50
    assert await read(term, long + HOME + "a" + END + "z\r") == "a" + long + "z"
    assert term.screen()[:2] == ["> a" + "x" * 37, "x" * 13 + "z"]


async def test_ctrl_c_discards_line(term: MemoryTerm) -> None:
    assert await read(term, "rm everything\x03") == ""
    assert "^C\r\n" in term.output


async def test_ctrl_d_on_empty_line_exits(term: MemoryTerm) -> None:
    assert await read(term, "\x04") is None


async def test_eof_returns_none_even_with_partial_line(term: MemoryTerm) -> None:
    term.feed("partial")
    term.close()
    assert await read(term, "") is None


async def test_type_ahead_is_kept_for_the_next_line(term: MemoryTerm) -> None:
    editor = LineEditor(term)
    term.feed("one\r\ntwo\r")
    assert await asyncio.wait_for(editor.readline("> "), 2) == "one"
    assert await asyncio.wait_for(editor.readline("> "), 2) == "two"


async def test_history_up_down_keeps_draft(term: MemoryTerm) -> None:
    history: list[str] = []
    editor = LineEditor(term, history)
    for line in ["ls", "", "cd config", "cd config", "cat x"]:
        editor.add_history(line)
    assert history == ["ls", "cd config", "cat x"]
    assert await read(term, "dra" + UP + UP + "\r", editor) == "cd config"
    assert await read(term, "draft" + UP + UP + UP + UP + DOWN + "\r", editor) == "cd config"
    assert await read(term, "draft" + UP + UP + DOWN + DOWN + "\r", editor) == "draft"
    assert await read(term, "draft" + UP + DOWN + DOWN + DOWN + "!\r", editor) == "draft!"
    assert history == ["ls", "cd config", "cat x"]   # readline itself adds nothing


async def test_history_is_trimmed(term: MemoryTerm) -> None:
    editor = LineEditor(term)
    for i in range(600):
        editor.add_history(f"cmd {i}")
    assert len(editor.history) == 500 and editor.history[-1] == "cmd 599"


async def test_tab_single_candidate_completes_with_space(term: MemoryTerm) -> None:
    assert await read(term, "pu\t\r") == "put "
    assert await read(term, "ls con\t\r") == "ls config/"


async def test_tab_keeps_text_after_cursor(term: MemoryTerm) -> None:
    assert await read(term, "p x" + LEFT * 2 + "\t\r") == "put  x"


async def test_tab_several_candidates_extends_common_prefix(term: MemoryTerm) -> None:
    assert await read(term, "l\t\r") == "ls"


async def test_double_tab_lists_candidates_and_redraws(term: MemoryTerm) -> None:
    assert await read(term, "c\t\t\r") == "c"
    screen = term.screen()
    assert screen[0] == "> c"
    assert "cat" in screen[1] and "cd" in screen[1]
    assert screen[2] == "> c"


async def test_listing_fits_terminal_width() -> None:
    term = MemoryTerm(size=(20, 10))
    words = [f"item{i:02}" for i in range(10)]
    editor = LineEditor(term, completer=lambda line, cur: words)
    assert await read(term, "\t\t\r", editor) == "item0"
    rows = [r for r in term.screen() if r.startswith("item")]
    assert len(rows) == 5 and all(len(r) < 20 for r in rows)
    assert rows[0].split() == ["item00", "item05"]


async def test_quoted_space_stays_in_the_word(term: MemoryTerm) -> None:
    seen: list[tuple[str, int]] = []

    def spy(line: str, cursor: int) -> list[str]:
        seen.append((line, cursor))
        return ['"a b c"']

    editor = LineEditor(term, completer=spy)
    assert await read(term, 'put "a b\t\r', editor) == 'put "a b c" '
    assert seen == [('put "a b', 8)]


async def test_failing_completer_beeps(term: MemoryTerm) -> None:
    def broken(line: str, cursor: int) -> list[str]:
        raise RuntimeError("boom")

    assert await read(term, "x\t\r", LineEditor(term, completer=broken)) == "x"
    assert "\x07" in term.output


def test_longest_common_prefix() -> None:
    assert longest_common_prefix(["config/", "cat", "cd"]) == "c"
    assert longest_common_prefix(["ls", "lsof"]) == "ls"
    assert longest_common_prefix([]) == ""


async def test_a_line_over_max_length_is_discarded_up_to_enter(term: MemoryTerm) -> None:
    editor = LineEditor(term, max_length=100)
    for chunk in ("ls " + "x" * 60, "y" * 60, "z" * 500):
        term.feed(chunk)
    term.feed("\r")
    term.feed("pwd\r")
    assert await asyncio.wait_for(editor.readline("> "), 2) == ""
    assert "the line is longer than 100 characters, the limit" in term.output
    assert "a line of 623 characters was discarded; the limit is 100 characters" in term.output
    assert "zzz" not in term.output                      # dropped, not echoed
    assert await asyncio.wait_for(editor.readline("> "), 2) == "pwd"


async def test_a_line_at_max_length_is_taken(term: MemoryTerm) -> None:
    editor = LineEditor(term, max_length=100)
    term.feed("a" * 100 + "\r")
    assert await asyncio.wait_for(editor.readline("> "), 2) == "a" * 100
