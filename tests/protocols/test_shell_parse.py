"""The shell's tokenizer (``protocols/shell/parse.py``): the same words as
``shlex.split(posix=True)`` and the same statements as the character loop it replaced,
on a corpus and on generated input; linear time; the line and script limits; errors
that say what is wrong (issue 14, items 3 and 9)."""

from __future__ import annotations

import asyncio
import random
import shlex
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enerteg_tui.protocols.shell import parse
from enerteg_tui.protocols.shell.parse import (
    MAX_LINE_CHARS, MAX_SCRIPT_CHARS, UsageError, parse_script, parse_script_async,
    split_statements, split_words,
)


def reference_statements(text: str) -> list[str]:
    """The statement splitter the shell used before (a character loop), as the oracle."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    escape = False
    for ch in text:
        if escape:
            cur.append(ch)
            escape = False
            continue
        if ch == "\\" and quote != "'":
            cur.append(ch)
            escape = True
            continue
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch in ";\n\r":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip() and not s.strip().startswith("#")]


def shlex_or_error(text: str) -> list[str] | str:
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return "error"


def ours_or_error(text: str) -> list[str] | str:
    try:
        return split_words(text)
    except UsageError:
        return "error"


CORPUS = [
    "", " ", "ls", "ls  config ", "cd config/snmp_agent; cat _data",
    'put name="Rack 7 PDU"', "put name='Rack 7 PDU'", 'put a="x\\"y"', "put a='x\\'",
    'put a="\\\\"', 'put a="\\n"', "put a=\\ b", "put a=''", 'put a=""', "''", '""',
    "a'b'c\"d\"e", "x\\", 'x"\\', "'unclosed", '"unclosed', "a\\\nb", "tab\there",
    "nul\x00byte", "vt\x0bvt", "é ü ß", "#not a comment here", "a#b", "put x=[1,2] y={}",
    'put k="a;b"', "put k='a\nb'", "\\'", '\\"', "\\\\", 'a"b c"d', "\r\n", "a\rb",
]


@pytest.mark.parametrize("text", CORPUS)
def test_words_match_shlex_on_the_corpus(text: str) -> None:
    assert ours_or_error(text) == shlex_or_error(text)


@pytest.mark.parametrize("text", CORPUS + ["ls; pwd", "a 'b;c'; d", "# c\nls", 'a "x\\";y"; b'])
def test_statements_match_the_old_splitter_on_the_corpus(text: str) -> None:
    assert split_statements(text) == reference_statements(text)


ALPHABET = " \t\r\n'\"\\;#ab=é\x00\x0b"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_words_match_shlex_on_generated_input(text: str) -> None:
    assert ours_or_error(text) == shlex_or_error(text)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_statements_match_the_old_splitter_on_generated_input(text: str) -> None:
    assert split_statements(text) == reference_statements(text)


def test_words_and_statements_match_on_20k_random_strings() -> None:
    rnd = random.Random(14)
    for _ in range(20_000):
        text = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 16)))
        assert ours_or_error(text) == shlex_or_error(text), repr(text)
        assert split_statements(text) == reference_statements(text), repr(text)


def test_a_long_word_takes_linear_time() -> None:
    # shlex took seconds here (it grows a word one character at a time)
    for n in (MAX_LINE_CHARS - 20, 16 * (MAX_LINE_CHARS - 20)):
        text = 'put name="' + "A" * n + '"'
        t0 = time.perf_counter()
        assert split_words(text) == ["put", "name=" + "A" * n]
        split_statements(text)
        assert time.perf_counter() - t0 < 0.5


def test_quote_errors_say_which_quote_and_where() -> None:
    with pytest.raises(UsageError) as err:
        split_words('put name="Rack 7')
    text = str(err.value)
    assert "double quote (\") at character 10 is never closed" in text
    assert "No closing quotation" not in text
    with pytest.raises(UsageError) as err:
        split_words("put name='x")
    assert "single quote (') at character 10" in str(err.value)


def test_a_final_backslash_is_explained_not_shlex_words() -> None:
    with pytest.raises(UsageError) as err:
        split_words("put name=x\\")
    text = str(err.value)
    assert "No escaped character" not in text
    assert "ends with a lone backslash" in text and "\\\\" in text


def test_an_error_quotes_a_long_command_cut_with_its_length() -> None:
    with pytest.raises(UsageError) as err:
        split_words('put a="' + "x" * 10_000)
    assert "(10,007 characters)" in str(err.value)
    assert len(str(err.value)) < 300


def test_line_and_script_limits_say_the_limit() -> None:
    with pytest.raises(UsageError) as err:
        parse_script("ls " + "x" * MAX_LINE_CHARS)
    assert str(err.value).startswith("the command line is 65,539 characters long; the limit "
                                     "is 65,536 characters")
    with pytest.raises(UsageError) as err:
        parse_script("ls\n" + "x" * (MAX_LINE_CHARS + 1) + "\npwd")
    assert str(err.value).startswith("line 2 of the script is 65,537 characters long")
    with pytest.raises(UsageError) as err:
        parse_script(("ls\n" * (MAX_SCRIPT_CHARS // 3 + 1)))
    assert "the script is 1,048,578 characters long; the limit is 1,048,576" in str(err.value)
    # at the limits exactly: taken
    assert parse_script("pwd " + "x" * (MAX_LINE_CHARS - 4))[0].words[0] == "pwd"


def test_a_bad_statement_does_not_stop_the_ones_before_it() -> None:
    stmts = parse_script("pwd; put a='x; ls")
    assert stmts[0].words == ["pwd"] and stmts[0].error is None
    assert stmts[1].error is not None


async def test_big_input_is_parsed_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = parse.parse_script

    def spy(text: str):
        threads.append(threading.get_ident())
        return real(text)

    monkeypatch.setattr(parse, "parse_script", spy)
    await parse_script_async("ls")
    await parse_script_async("ls " + "x" * parse.OFF_LOOP_CHARS)
    loop_thread = threading.get_ident()
    assert threads[0] == loop_thread and threads[1] != loop_thread
    with pytest.raises(UsageError):
        await parse_script_async("x" * (MAX_SCRIPT_CHARS + 1))
    assert len(threads) == 2            # refused before any parsing
    await asyncio.sleep(0)
