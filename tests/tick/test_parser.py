"""Parser against the corpus: Kapacitor's ASTs, every valid script, every lex/parse error."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from leyden.tick.ast import (
    BinaryNode,
    ChainNode,
    DeclarationNode,
    FunctionNode,
    LambdaNode,
    NumberNode,
    RegexNode,
    to_dict,
)
from leyden.tick.errors import TickError, suggest
from leyden.tick.parser import parse, parse_lambda

CORPUS = Path(os.environ.get("LEYDEN_TICK_CORPUS", "/work/shared/tick-corpus"))
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="TICKscript corpus not present")


def _json(rel: str) -> list[dict]:
    return json.loads((CORPUS / rel).read_text()) if CORPUS.is_dir() else []


def _valid_files() -> list[Path]:
    return sorted((CORPUS / "valid").rglob("*.tick")) if CORPUS.is_dir() else []


@pytest.mark.parametrize("case", _json("parser/ast_cases.json"), ids=lambda c: c["name"])
def test_ast_matches_kapacitor(case: dict) -> None:
    program = parse(case["script"])
    if "ast" in case:
        assert to_dict(program) == case["ast"]
    else:
        assert program.nodes[0].args[0].literal == case["string_literal"]


@pytest.mark.parametrize("path", _valid_files(), ids=lambda p: str(p.relative_to(CORPUS / "valid")))
def test_valid_script_parses(path: Path) -> None:
    parse(path.read_text(), str(path))


_PARSE_CASES = [c for c in _json("invalid/cases.json") if c["stage"] in ("lex", "parse")]


@pytest.mark.parametrize("case", _PARSE_CASES, ids=lambda c: c["name"])
def test_invalid_script_fails_with_kapacitor_message(case: dict) -> None:
    with pytest.raises(TickError) as info:
        parse(case["script"], "task.tick")
    err = info.value
    assert str(err) == f"task.tick:{err.line}:{err.col}: {err.message}"
    if case.get("regex_error") or case["match"] == "any":
        return
    # Our own hints ride after Kapacitor's text, in parentheses.
    message = re.sub(r' \(did you mean "[^"]*"\?\)$', "", err.message)
    if case["match"] == "exact":
        assert message == case["error"]
    else:
        assert message.startswith(case["error"])
    m = re.search(r" line (\d+) char (\d+) ", case["error"])
    if m and "did you mean" not in err.message:
        assert (err.line, err.col) == (int(m.group(1)), int(m.group(2)))


def test_error_position_and_render() -> None:
    script = "a\n\n\nvar b = stream.window()var period)\n\nvar x = 1"
    with pytest.raises(TickError) as info:
        parse(script, "task.tick")
    err = info.value
    assert str(err) == (
        'task.tick:4:34: parser: unexpected ) line 4 char 34 in "var period)". '
        'expected: "identifier"'
    )
    assert err.render().splitlines()[1:] == [
        "    var b = stream.window()var period)",
        "                                     ^",
    ]
    assert err.render(caret=False).count("\n") == 1


def test_lamda_typo_suggests_lambda_at_the_identifier() -> None:
    script = "stream\n    |from()\n    |where(lamda: 'count' > 0)\n"
    with pytest.raises(TickError) as info:
        parse(script, "seed.tick")
    err = info.value
    assert 'did you mean "lambda:"?' in err.message
    assert "unknown state, last char: ':'" in err.message
    assert (err.line, err.col) == (3, 12)
    assert err.render().splitlines()[-1] == "               ^^^^^^"


def test_unrelated_colon_gets_no_lambda_hint() -> None:
    with pytest.raises(TickError) as info:
        parse("stream|where(host: 1)")
    assert "did you mean" not in info.value.message


def test_suggest() -> None:
    assert suggest("lamda", ["lambda", "var"]) == "lambda"
    assert suggest("windw", ["window", "where", "from"]) == "window"
    assert suggest("zzz", ["window", "where"]) is None


def test_values_and_shapes() -> None:
    program = parse(
        "var a = 0644\nvar b = .5\nvar c = 1w\nvar d = 'it\\'s'\n"
        'var e = lambda: "v" =~ /^a\\/b$/ AND !FALSE\nstream|from()@udf().x(1,)'
    )
    a, b, c, d, e, chain = program.nodes
    assert isinstance(a.right, NumberNode) and (a.right.int64, a.right.base) == (420, 8)
    assert b.right.float64 == 0.5 and b.right.is_float
    assert c.right.ns == 7 * 24 * 3600 * 10**9
    assert d.right.literal == "it's"
    lam = e.right
    assert isinstance(e, DeclarationNode) and isinstance(lam, LambdaNode)
    assert isinstance(lam.expression, BinaryNode) and lam.expression.operator == "AND"
    regex = lam.expression.left.right
    assert isinstance(regex, RegexNode) and regex.literal == "^a\\/b$"
    assert regex.regex.search("a/b") and not regex.regex.search("a/b\n")
    assert isinstance(chain, ChainNode) and chain.operator == "."
    assert chain.left.operator == "@" and chain.left.right.type == "dynamic"
    assert isinstance(chain.right, FunctionNode) and len(chain.right.args) == 1


def test_precedence_and_unary() -> None:
    lam = parse_lambda('!FALSE == TRUE OR -"v" < 0 AND 1 + 2 * 3 > 4')
    top = lam.expression
    assert top.operator == "OR"
    assert top.left.operator == "==" and top.left.left.operator == "!"
    right = top.right
    assert right.operator == "AND" and right.right.operator == ">"
    assert right.right.left.operator == "+" and right.right.left.right.operator == "*"


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("var x = 99999999999999999999", 'illegal number syntax: "99999999999999999999"'),
        ("var x = 99999999999999999h", "overflowed duration"),
        ("var x = /a(?=b)/", "invalid or unsupported Perl syntax"),
        ("var x = /\\1/", "invalid escape sequence"),
        ("var x = /a**/", "invalid nested repetition operator"),
        ("var x = /a{1001}/", "invalid repeat count"),
        ("var x = /[a/", "missing closing ]"),
        ("var x = /a)/", "unexpected )"),
        ("var x = ((((((((((((((((((((" * 100, "parser:"),
    ],
)
def test_value_errors(script: str, fragment: str) -> None:
    with pytest.raises(TickError) as info:
        parse(script)
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"^\d+$", "123", True),
        (r"^\d+$", "١٢٣", False),  # Go's \d is ASCII only
        (r"^a$", "a\n", False),  # Go's $ never matches before a final newline
        (r"(?m)^a$", "b\na\n", True),
        (r"a(?i)b|c", "aB", True),
        (r"a(?i)b|c", "C", True),  # the flag reaches past '|' in the same group
        (r"(?i:A)b", "aB", False),
        (r"\Q.*\E", ".*", True),
        (r"\Q.*\E", "ab", False),
        (r"^[[:alpha:]]+$", "abC", True),
        (r"^[^[:digit:]]$", "5", False),
        (r"^\pL$", "é", True),
        (r"^\p{Nd}$", "x", False),
        (r"(?P<host>\w+)", "srv1", True),
        (r"(?<host>\w+)", "srv1", True),
        (r"\bcpu\b", "a cpu b", True),
        (r"^x{,2}$", "x{,2}", True),  # not a repeat in Go: a literal
        (r"(?s)a.b", "a\nb", True),
        (r"a.b", "a\nb", False),
    ],
)
def test_go_regex_semantics(pattern: str, text: str, matches: bool) -> None:
    from leyden.tick.regex import compile_go

    assert bool(compile_go(pattern).search(text)) is matches


def test_go_regex_ungreedy_flag() -> None:
    from leyden.tick.regex import compile_go

    assert compile_go(r"(?U)a+").match("aaa").group(0) == "a"
    assert compile_go(r"(?U)a+?").match("aaa").group(0) == "aaa"
