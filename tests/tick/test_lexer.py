"""Lexer token streams against Kapacitor's lex_test.go cases (lexer/cases.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from leyden.tick.lexer import tokenize

CORPUS = Path(os.environ.get("LEYDEN_TICK_CORPUS", "/work/shared/tick-corpus"))
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="TICKscript corpus not present")


def _cases() -> list[dict]:
    if not CORPUS.is_dir():
        return []
    return json.loads((CORPUS / "lexer" / "cases.json").read_text())


@pytest.mark.parametrize("case", _cases(), ids=lambda c: repr(c["input"])[:40])
def test_token_stream_matches_kapacitor(case: dict) -> None:
    got = [(t.type, t.pos, t.text) for t in tokenize(case["input"])]
    assert got == [(t["type"], t["pos"], t["text"]) for t in case["tokens"]]


@pytest.mark.parametrize(
    ("text", "types"),
    [
        # '/' divides after a value and starts a regex where an operand may start.
        ('"a" / 2', ["reference", "/", "number", "EOF"]),
        ('"a" + /x/', ["reference", "+", "regex", "EOF"]),
        ("lambda: /x/", ["lambda", "/", "identifier", "/", "EOF"]),
        ("x = //", ["identifier", "=", "regex", "EOF"]),
        # '*' is the star token in operand position, multiplication after a value.
        ("groupBy(*)", ["identifier", "(", "*", ")", "EOF"]),
        # 1h30m is two tokens; 1.5s is a number then an identifier.
        ("1h30m", ["duration", "duration", "EOF"]),
        ("1.5s", ["number", "identifier", "EOF"]),
        ("1ms", ["duration", "EOF"]),
        ("true", ["identifier", "EOF"]),
        ("a !== b", ["identifier", "!=", "ERR"]),
    ],
)
def test_context_dependent_tokens(text: str, types: list[str]) -> None:
    assert [t.type for t in tokenize(text)] == types


def test_positions_are_utf8_byte_offsets() -> None:
    toks = tokenize("'é' x")
    assert [(t.type, t.pos) for t in toks] == [("string", 0), ("identifier", 5), ("EOF", 6)]


def test_adjacent_comment_lines_merge_and_blank_line_splits() -> None:
    toks = tokenize("// a\n  // b\n\n// c\nx")
    assert [t.type for t in toks] == ["//", "//", "identifier", "EOF"]
    assert toks[0].text == "// a\n  // b\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("'abc", "unterminated string"),
        ('"abc', "unterminated field reference"),
        ("/abc", "unterminated regex"),
        ("1.2.3", "multiple decimals in number"),
        ("_x", "unknown state, last char: '_'"),
        ("+1", "unknown state, last char: '+'"),
        ("\x00", "unknown state, last char: '\\x00'"),
    ],
)
def test_lexer_errors_end_the_stream(text: str, message: str) -> None:
    last = tokenize(text)[-1]
    assert (last.type, last.text) == ("ERR", message)
