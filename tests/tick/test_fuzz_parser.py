"""Fuzzing: whatever the text, parse and format_script raise TickError and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leyden.tick.errors import TickError
from leyden.tick.fmt import format_script
from leyden.tick.lexer import tokenize
from leyden.tick.parser import parse

CORPUS = Path(os.environ.get("LEYDEN_TICK_CORPUS", "/work/shared/tick-corpus"))
_SCRIPTS = (
    [p.read_text() for p in sorted((CORPUS / "valid").rglob("*.tick"))][::7]
    if CORPUS.is_dir()
    else []
) or ['stream|from().where(lambda: "a" > 1)|alert().crit(lambda: TRUE)']

# Characters that mean something to the lexer, plus some multi-byte ones.
_ALPHABET = st.sampled_from(
    list("abcdefghlmsuwxyzAORTUE_0123456789 \t\n.,|@()[]*/+-%!=<>~'\"\\:{}#;?µé∂\u2028")
)
_TEXT = st.text(_ALPHABET, max_size=80) | st.text(max_size=40)


def _check(text: str) -> None:
    tokenize(text)
    for fn in (parse, format_script):
        try:
            fn(text)
        except TickError as e:
            assert str(e).startswith("<tickscript>:")
            e.render()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_random_text_raises_only_tick_error(text: str) -> None:
    _check(text)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_SCRIPTS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.text(_ALPHABET, min_size=1, max_size=3))
        if kind == "insert":
            text = text[:i] + piece + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 5)) :]
        else:
            text = text[:i] + piece + text[i + len(piece) :]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_scripts_raise_only_tick_error(text: str) -> None:
    _check(text)


def test_deep_nesting_is_a_tick_error() -> None:
    for text in ("(" * 5000, "!" * 5000 + "1", "f(" * 3000, "var x = /" + "(" * 3000 + "/"):
        _check(text)
