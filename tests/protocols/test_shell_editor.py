"""The vim-like ``_data`` editor of ``enerteg_tui.protocols.shell.editor``, driven by keys."""

from __future__ import annotations

import asyncio
import json

from enerteg_tui.protocols.shell.editor import NOT_SAVED, EditResult, edit_document
from enerteg_tui.protocols.shell.term import MemoryTerm

ESC, ENTER, BS = "\x1b", "\r", "\x7f"
UP, DOWN, RIGHT, LEFT = "\x1b[A", "\x1b[B", "\x1b[C", "\x1b[D"
DOC = '{\n  "a": 1\n}\n'


async def json_ok(text: str) -> str | None:
    """Accept JSON, refuse anything else with the parser's message."""
    try:
        json.loads(text)
    except ValueError as exc:
        return f"Invalid JSON: {exc}"
    return None


async def accept(text: str) -> str | None:
    """Accept anything."""
    return None


class Session:
    """An editor running on a ``MemoryTerm`` as a task, fed key by key."""

    def __init__(self, text: str, validate=json_ok, size: tuple[int, int] = (80, 10)) -> None:
        self.term = MemoryTerm(size=size)
        self.task = asyncio.create_task(edit_document(self.term, text, title="t/_data", validate=validate))

    async def keys(self, *chunks: str) -> None:
        """Feed each chunk and let the editor take it (a trailing lone ESC resolves)."""
        for chunk in chunks:
            self.term.feed(chunk)
            await asyncio.sleep(0.08 if chunk.endswith(ESC) else 0.01)

    async def until(self, text: str) -> list[str]:
        """Wait until ``text`` is visible; return the screen."""
        for _ in range(200):
            if any(text in row for row in self.term.screen()):
                return self.term.screen()
            await asyncio.sleep(0.01)
        raise AssertionError(f"{text!r} never shown: {self.term.screen()}")

    async def result(self, *chunks: str) -> EditResult:
        """Feed ``chunks`` and return the editor's result."""
        await self.keys(*chunks)
        return await asyncio.wait_for(self.task, 3)


async def edit(text: str, *chunks: str, validate=accept) -> EditResult:
    """Edit ``text`` with ``chunks`` typed; the last chunk must end the session."""
    return await Session(text, validate).result(*chunks)


async def test_insert_text_and_wq_returns_saved_text() -> None:
    s = Session(DOC)
    result = await s.result("jA", ', "b": 2' + ESC + ":wq" + ENTER)
    assert result == EditResult(True, '{\n  "a": 1, "b": 2\n}\n')
    assert s.term.output.startswith("\x1b[?1049h") and s.term.output.endswith("\x1b[?1049l")


async def test_screen_shows_document_status_and_tildes() -> None:
    s = Session(DOC)
    screen = await s.until("t/_data")
    assert screen[:4] == ["{", '  "a": 1', "}", "~"]
    assert screen[-1].endswith("t/_data  1,1") and len(screen) == 10
    await s.keys("i")
    assert "-- INSERT --" in (await s.until("INSERT"))[-1]
    await s.result(ESC + ":q!" + ENTER)


async def test_invalid_write_shows_message_and_stays_then_q_bang() -> None:
    s = Session(DOC)
    await s.keys("x:w" + ENTER)
    screen = await s.until("Invalid JSON")
    assert "Invalid JSON: Extra data" in screen[-1]
    assert not s.task.done()
    await s.keys(":q" + ENTER)
    await s.until(NOT_SAVED)
    assert await s.result(":q!" + ENTER) == EditResult(False, DOC)


async def test_write_then_more_edits_then_q_bang_keeps_last_saved() -> None:
    s = Session(DOC)
    await s.keys("jA, \"b\": 2" + ESC + ":w" + ENTER)
    await s.until("written")
    await s.keys("ggx")
    result = await s.result(":q!" + ENTER)
    assert result == EditResult(True, '{\n  "a": 1, "b": 2\n}\n')


async def test_wq_and_x_refused_while_invalid() -> None:
    s = Session(DOC)
    await s.keys("x:wq" + ENTER)
    await s.until("Invalid JSON")
    await s.keys(":x" + ENTER)
    await s.until("Invalid JSON")
    assert await s.result("u:x" + ENTER) == EditResult(True, DOC)


async def test_q_refused_when_modified_and_allowed_when_clean() -> None:
    s = Session("abc")
    await s.keys("x:q" + ENTER)
    await s.until(NOT_SAVED)
    assert not s.task.done()
    assert await s.result("u:q" + ENTER) == EditResult(False, "abc")


async def test_x_deletes_char() -> None:
    assert (await edit("abc\n", "lx:wq" + ENTER)).text == "ac\n"


async def test_dd_then_u_restores_and_dd_p_moves_line() -> None:
    assert (await edit("one\ntwo\nthree", "dd:wq" + ENTER)).text == "two\nthree"
    assert (await edit("one\ntwo\nthree", "jddu:wq" + ENTER)).text == "one\ntwo\nthree"
    assert (await edit("one\ntwo\nthree", "ddp:wq" + ENTER)).text == "two\none\nthree"
    assert (await edit("one\ntwo", "jddkP:wq" + ENTER)).text == "two\none"
    assert (await edit("only", "dd:wq" + ENTER)).text == ""


async def test_undo_is_multi_level_and_redo() -> None:
    result = await edit("abc", "ihey" + ESC, "xxuu:wq" + ENTER)
    assert result.text == "heyabc"
    assert (await edit("abc", "ihey" + ESC, "xuu:wq" + ENTER)).text == "abc"
    assert (await edit("abc", "xxuu\x12:wq" + ENTER)).text == "bc"


async def test_hjkl_and_arrows_move() -> None:
    text = "abc\ndef\nghi"
    assert (await edit(text, "jlx:wq" + ENTER)).text == "abc\ndf\nghi"
    assert (await edit(text, DOWN + RIGHT + "x:wq" + ENTER)).text == "abc\ndf\nghi"
    assert (await edit(text, "jjllkhx:wq" + ENTER)).text == "abc\ndf\nghi"
    assert (await edit(text, DOWN + DOWN + RIGHT + RIGHT + UP + LEFT + "x:wq" + ENTER)).text == "abc\ndf\nghi"
    assert (await edit(text, "hhhkkkx:wq" + ENTER)).text == "bc\ndef\nghi"


async def test_line_start_end_top_bottom() -> None:
    text = "abc\n  def\nghi"
    assert (await edit(text, "$x:wq" + ENTER)).text == "ab\n  def\nghi"
    assert (await edit(text, "$0x:wq" + ENTER)).text == "bc\n  def\nghi"
    assert (await edit(text, "Gx:wq" + ENTER)).text == "abc\n  def\nhi"
    assert (await edit(text, "Gggx:wq" + ENTER)).text == "bc\n  def\nghi"
    assert (await edit(text, "$jx:wq" + ENTER)).text == "abc\n  de\nghi"


async def test_open_lines_and_append_insert_variants() -> None:
    text = "  a\nb"
    assert (await edit(text, "oX" + ESC + ":wq" + ENTER)).text == "  a\nX\nb"
    assert (await edit(text, "OX" + ESC + ":wq" + ENTER)).text == "X\n  a\nb"
    assert (await edit(text, "A!" + ESC + ":wq" + ENTER)).text == "  a!\nb"
    assert (await edit(text, "I>" + ESC + ":wq" + ENTER)).text == "  >a\nb"
    assert (await edit(text, "jaZ" + ESC + ":wq" + ENTER)).text == "  a\nbZ"
    assert (await edit(text, "jiZ" + ESC + ":wq" + ENTER)).text == "  a\nZb"


async def test_esc_moves_cursor_left_like_vim() -> None:
    assert (await edit("abc", "A" + ESC, "x:wq" + ENTER)).text == "ab"


async def test_o_after_lone_esc() -> None:
    result = await edit("a", "A1" + ESC, "O0" + ESC, ":wq" + ENTER)
    assert result.text == "0\na1"


async def test_insert_enter_splits_and_backspace_joins() -> None:
    assert (await edit("abcd", "lli" + ENTER + ESC + ":wq" + ENTER)).text == "ab\ncd"
    assert (await edit("ab\ncd", "ji" + BS + ESC + ":wq" + ENTER)).text == "abcd"
    assert (await edit("ab", "A" + BS + "\x1b[D" + "x" + ESC + ":wq" + ENTER)).text == "xa"


async def test_insert_session_is_one_undo_step() -> None:
    assert (await edit("x", "ofirst" + ENTER + "second" + ESC + "u:wq" + ENTER)).text == "x"


async def test_search_forward_repeat_wrap_and_not_found() -> None:
    text = "alpha\nbeta\ngamma beta"
    assert (await edit(text, "/beta" + ENTER + "x:wq" + ENTER)).text == "alpha\neta\ngamma beta"
    assert (await edit(text, "/beta" + ENTER + "nx:wq" + ENTER)).text == "alpha\nbeta\ngamma eta"
    assert (await edit(text, "/beta" + ENTER + "nnx:wq" + ENTER)).text == "alpha\neta\ngamma beta"
    assert (await edit(text, "/beta" + ENTER + "nNx:wq" + ENTER)).text == "alpha\neta\ngamma beta"
    s = Session(text, accept)
    await s.keys("G/alpha" + ENTER)
    await s.until("search hit BOTTOM")
    await s.keys("/zzz" + ENTER)
    await s.until("Pattern not found: zzz")
    assert await s.result("x:wq" + ENTER) == EditResult(True, "lpha\nbeta\ngamma beta")


async def test_esc_cancels_pending_and_command_line() -> None:
    assert (await edit("a\nb", "d" + ESC, "j:dd" + ESC, "x:wq" + ENTER)).text == "a\n"


async def test_unknown_command_is_reported() -> None:
    s = Session("a")
    await s.keys(":frobnicate" + ENTER)
    await s.until("Not an editor command: frobnicate")
    assert await s.result(":q" + ENTER) == EditResult(False, "a")


async def test_validator_exception_is_a_refusal() -> None:
    async def broken(text: str) -> str | None:
        raise RuntimeError("db gone")

    s = Session("a", broken)
    await s.keys(":w" + ENTER)
    await s.until("Validation failed: db gone")
    assert await s.result(":q!" + ENTER) == EditResult(False, "a")


async def test_multiline_validator_message_is_shown_whole() -> None:
    async def picky(text: str) -> str | None:
        return "first problem\nsecond problem"

    s = Session("a", picky)
    await s.keys(":w" + ENTER)
    screen = await s.until("second problem")
    assert "first problem" in screen[-2] and "second problem" in screen[-1]
    await s.result(":q!" + ENTER)


async def test_eof_returns_what_was_saved() -> None:
    s = Session("a", accept)
    await s.keys("ib" + ESC + ":w" + ENTER)
    await s.until("written")
    await s.keys("x")
    s.term.close()
    assert await asyncio.wait_for(s.task, 3) == EditResult(True, "ba")
    s2 = Session("a", accept)
    s2.term.close()
    assert await asyncio.wait_for(s2.task, 3) == EditResult(False, "a")


async def test_scrolls_to_keep_cursor_visible() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    s = Session(text, accept, size=(30, 6))
    await s.keys("G")
    screen = await s.until("line 99")
    assert screen[4] == "line 99" and s.term.cursor == (4, 0)
    await s.keys("gg")
    assert (await s.until("line 0"))[0] == "line 0"
    await s.keys("A" + "x" * 40)
    assert s.term.screen()[0].endswith("x" * 20)
    await s.result(ESC + ":q!" + ENTER)


async def test_resize_during_edit_does_not_crash() -> None:
    text = "\n".join(f"row {i} " + "y" * 50 for i in range(30))
    s = Session(text, accept, size=(80, 24))
    await s.keys("jjj")
    s.term.size = (20, 5)
    await s.keys("j")
    screen = await s.until("row 4")
    assert len(screen) == 5 and all(len(r) <= 20 for r in screen)
    s.term.size = (1, 1)
    await s.keys("k$")
    s.term.size = (60, 10)
    await s.keys("0x")
    await s.until("ow 3")
    result = await s.result(":wq" + ENTER)
    assert result.saved and "\now 3 " in result.text


async def test_goto_line_command() -> None:
    assert (await edit("a\nb\nc", ":3" + ENTER + "x:wq" + ENTER)).text == "a\nb\n"
