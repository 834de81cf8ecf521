"""Key decoding and the test terminal of ``enerteg_tui.protocols.shell.term``."""

from __future__ import annotations

import asyncio

import pytest

from enerteg_tui.protocols.shell.term import (
    BACKSPACE, DELETE, DOWN, END, ENTER, EOF, ESCAPE, HOME, LEFT, PAGE_DOWN, PAGE_UP, RIGHT,
    TAB, TEXT, UP, Key, KeyParser, KeyReader, MemoryTerm, TermIO, next_key, text_width,
)


def names(keys: list[Key]) -> list[str]:
    """Key names, with text keys written as ``text:<chars>``."""
    return [f"text:{k.text}" if k.name == TEXT else k.name for k in keys]


@pytest.mark.parametrize(("chunk", "expected"), [
    ("abc", ["text:abc"]),
    ("ab\rcd", ["text:ab", ENTER, "text:cd"]),
    ("\r\n", [ENTER]),
    ("\n", [ENTER]),
    ("\r\r", [ENTER, ENTER]),
    ("\x7f\x08", [BACKSPACE, BACKSPACE]),
    ("\t", [TAB]),
    ("\x01\x03\x04\x05\x0b\x0c\x15\x17",
     ["ctrl-a", "ctrl-c", "ctrl-d", "ctrl-e", "ctrl-k", "ctrl-l", "ctrl-u", "ctrl-w"]),
    ("\x1b[A\x1b[B\x1b[C\x1b[D", [UP, DOWN, RIGHT, LEFT]),
    ("\x1bOA\x1bOB\x1bOC\x1bOD", [UP, DOWN, RIGHT, LEFT]),
    ("\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[7~\x1b[8~\x1bOH\x1bOF", [HOME, END, HOME, END, HOME, END, HOME, END]),
    ("\x1b[3~\x1b[5~\x1b[6~", [DELETE, PAGE_UP, PAGE_DOWN]),
    ("\x1b[1;5C", [RIGHT]),
    ("é日本", ["text:é日本"]),
])
def test_parses_keys(chunk: str, expected: list[str]) -> None:
    assert names(KeyParser().feed(chunk)) == expected


@pytest.mark.parametrize("chunk", ["\x1b[15~", "\x1b[200~", "\x1b[?1;2c", "\x1bOP", "\x1b[<0;3;4M", "\x00\x1c"])
def test_unknown_sequences_are_swallowed(chunk: str) -> None:
    assert KeyParser().feed("a" + chunk + "b") == [Key(TEXT, "a"), Key(TEXT, "b")]


def test_broken_sequence_keeps_the_following_key() -> None:
    assert names(KeyParser().feed("\x1b[1\rx")) == [ENTER, "text:x"]


def test_escape_followed_by_plain_key_is_esc_then_key() -> None:
    assert names(KeyParser().feed("\x1b:wq")) == [ESCAPE, "text::wq"]
    assert names(KeyParser().feed("\x1b\x1b[A")) == [ESCAPE, UP]


@pytest.mark.parametrize(("seq", "key"), [("\x1b[3~", DELETE), ("\x1bOD", LEFT), ("\x1b[1;5A", UP)])
def test_sequence_split_across_chunks(seq: str, key: str) -> None:
    for cut in range(1, len(seq)):
        parser = KeyParser()
        assert parser.feed(seq[:cut]) == [] and parser.pending
        assert parser.feed(seq[cut:] + "x") == [Key(key), Key(TEXT, "x")]


def test_cr_lf_split_across_chunks_counts_once() -> None:
    parser = KeyParser()
    assert parser.feed("ls\r") == [Key(TEXT, "ls"), Key(ENTER)]
    assert parser.feed("\nx\n") == [Key(TEXT, "x"), Key(ENTER)]


def test_flush_turns_lone_esc_into_escape_and_drops_partial_csi() -> None:
    parser = KeyParser()
    parser.feed("\x1b")
    assert parser.flush() == [Key(ESCAPE)]
    parser.feed("\x1b[1")
    assert parser.flush() == [] and not parser.pending


async def test_next_key_lone_esc_after_timeout() -> None:
    term = MemoryTerm()
    term.feed("\x1b")
    key = await asyncio.wait_for(next_key(term), 1)
    assert key == Key(ESCAPE)


async def test_next_key_split_sequence_arriving_in_time() -> None:
    term = MemoryTerm()
    term.feed("\x1b")

    async def later() -> None:
        await asyncio.sleep(0.01)
        term.feed("[A")

    task = asyncio.create_task(later())
    assert await asyncio.wait_for(next_key(term), 1) == Key(UP)
    await task


async def test_next_key_keeps_the_read_running_across_the_esc_timeout() -> None:
    term = MemoryTerm()
    term.feed("\x1b")
    reader = KeyReader(esc_timeout=0.01)
    assert await reader.next_key(term) == Key(ESCAPE)
    term.feed("q")
    assert await asyncio.wait_for(reader.next_key(term), 1) == Key(TEXT, "q")


async def test_next_key_eof_flushes_and_sticks() -> None:
    term = MemoryTerm()
    term.feed("a\x1b")
    term.close()
    assert [await next_key(term) for _ in range(4)] == [Key(TEXT, "a"), Key(ESCAPE), Key(EOF), Key(EOF)]


async def test_reader_is_shared_per_terminal() -> None:
    term = MemoryTerm()
    term.feed("a\rb")
    assert await next_key(term) == Key(TEXT, "a")
    assert await next_key(term) == Key(ENTER)
    assert await next_key(term) == Key(TEXT, "b")


def test_memory_term_is_a_termio_with_a_screen() -> None:
    term = MemoryTerm(size=(10, 3))
    assert isinstance(term, TermIO)
    term.write("hello\r\nworld\x1b[2;3H\x1b[K")
    assert term.screen() == ["hello", "wo", ""]
    term.size = (4, 2)
    assert term.size == (4, 2) and term.screen() == ["hell", "wo"]
    assert "world" in term.output


def test_text_width_counts_cells() -> None:
    assert text_width("abc") == 3
    assert text_width("日本") == 4
    assert text_width("e\u0301") == 1
