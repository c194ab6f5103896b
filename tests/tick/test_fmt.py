"""Formatter output against Kapacitor's tickfmt: fmt/ pairs, pipeline-tick/ canonical files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leyden.tick.ast import ChainNode, FunctionNode
from leyden.tick.fmt import format_float, format_script
from leyden.tick.parser import parse

CORPUS = Path(os.environ.get("LEYDEN_TICK_CORPUS", "/work/shared/tick-corpus"))
VALID = CORPUS / "valid"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="TICKscript corpus not present")


def _files(pattern: str) -> list[Path]:
    return sorted(VALID.glob(pattern)) if CORPUS.is_dir() else []


def _id(p: Path) -> str:
    return str(p.relative_to(VALID))


_FMT_INPUTS = [p for p in _files("fmt/*.tick") if not p.name.endswith(".formatted.tick")]


@pytest.mark.parametrize("path", _FMT_INPUTS, ids=_id)
def test_fmt_pair_byte_for_byte(path: Path) -> None:
    expected = path.with_name(path.name[: -len(".tick")] + ".formatted.tick").read_text()
    assert format_script(path.read_text()) == expected


@pytest.mark.parametrize("path", _files("pipeline-tick/*.tick"), ids=_id)
def test_canonical_script_formats_to_itself(path: Path) -> None:
    text = path.read_text()
    assert format_script(text) == text


def _has_chained_argument(text: str) -> bool:
    """Kapacitor's own formatter is not idempotent when a call argument is itself a chain such as
    ``influxql.agg.sum``: the first pass breaks the chain over lines, the second then sees a
    multi-line argument list. We print what Kapacitor prints, so such files settle on pass two."""

    def walk(node: object) -> bool:
        if isinstance(node, FunctionNode) and any(isinstance(a, ChainNode) for a in node.args):
            return True
        children = getattr(node, "__slots__", ())
        for name in children:
            value = getattr(node, name, None)
            for child in value if isinstance(value, list) else [value]:
                if hasattr(child, "pos") and walk(child):
                    return True
        return False

    return walk(parse(text))


@pytest.mark.parametrize("path", _files("**/*.tick"), ids=_id)
def test_formatting_is_idempotent(path: Path) -> None:
    once = format_script(path.read_text())
    twice = format_script(once)
    if _has_chained_argument(once):
        assert format_script(twice) == twice
    else:
        assert twice == once


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, "0.5"), (1.0, "1.0"), (1e16, "10000000000000000.0"), (1.5e-7, "0.00000015")],
)
def test_float_format_is_go_f_minus_one(value: float, text: str) -> None:
    assert format_float(value) == text


def test_small_layouts() -> None:
    assert format_script("var x = 0644\nvar y=.5") == "var x = 0644\n\nvar y = 0.5\n"
    assert format_script("f('it\\'s')") == "f('it\\'s')\n"
    assert format_script("// tail") == "// tail\n\n"
    src = 'stream|from().where(lambda: ("a" > 1) AND TRUE)|alert()'
    assert format_script(src) == (
        'stream\n    |from()\n        .where(lambda: ("a" > 1) AND TRUE)\n    |alert()\n'
    )


@pytest.mark.parametrize(
    "lam",
    [
        "(/a.*/)",
        '(/^s[a-z]+$/) - float("value")',
        "(/x/) + 1 * 2",
        "-(/x/) + 1",
        '("a" =~ /x/) + 1',
        "(/a/) - (/b/) * 2",
    ],
)
def test_lambda_starting_with_a_regex_keeps_parentheses(lam: str) -> None:
    # Found by `make fuzz` (bench/fuzz/props.py): the formatter dropped the parentheses and
    # wrote `lambda: /a.*/`, which does not parse.
    once = format_script(f"stream|from()|log(lambda: {lam})")
    assert format_script(once) == once
    assert "/) " in once or once.rstrip().endswith("/))")
