"""Lambda compiler: every expression vector of tick-corpus/lambdas/cases.json, plus the API."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from leyden.go.types import Duration, Time
from leyden.tick.lambdas import CompiledLambda, CompileError, EvalError, compile_lambda
from leyden.tick.parser import parse, parse_lambda
from leyden.tick.values import MISSING, typed_value_from_json

CORPUS = Path(os.environ.get("LEYDEN_TICK_CORPUS", "/work/shared/tick-corpus"))
CASES_FILE = CORPUS / "lambdas" / "cases.json"
VARS_FILE = CORPUS / "lambdas" / "vars.json"


def _load(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else []


EXPR_CASES = [c for c in _load(CASES_FILE) if c.get("level") != "call"]

# Derived vectors (no Kapacitor test asserts them) that contradict Kapacitor's source, with why.
KNOWN_DIVERGENT = {
    "derived/duration('1h30m')": (
        "Kapacitor's duration() signatures are (duration), (int|float|string, duration): a lone "
        "string fails the signature check (semantics §1.5 and README §3 say so too)"
    ),
}


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The corpus's times are UTC; our time functions read the local zone, as Kapacitor's do."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def same_value(got: Any, want: Any) -> bool:
    if type(got) is not type(want):
        return False
    if type(got) is float and math.isnan(got):
        return math.isnan(want)
    if isinstance(got, re.Pattern):
        return got.pattern == want.pattern
    return bool(got == want)


def decode_scope(scope: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: typed_value_from_json(v) for k, v in (scope or {}).items()}


def program_vars(text: str) -> dict[str, Any]:
    """Just enough of the pipeline builder to evaluate `var x = <literal or lambda>` lines."""
    out: dict[str, Any] = {}
    for stmt in parse(text).nodes:
        assert type(stmt).__name__ == "DeclarationNode", stmt
        right = stmt.right
        kind = type(right).__name__
        if kind == "LambdaNode":
            out[stmt.left.ident] = right
        elif kind == "RegexNode":
            out[stmt.left.ident] = right.regex
        else:
            out[stmt.left.ident] = compile_lambda(right, scope_vars=out).eval({})
    return out


def check(result: Mapping[str, Any], run: Any) -> None:
    if "error" in result:
        with pytest.raises((EvalError, CompileError)) as info:
            run()
        got = str(info.value)
        want = result["error"]
        match = result.get("error_match", "exact")
        if match == "trimmed":
            assert got.strip() == want.strip()
        elif match == "prefix":
            assert got.startswith(want), got
        else:
            assert got == want
    else:
        got = run()
        want = typed_value_from_json(result)
        assert same_value(got, want), (got, want)


def steps(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "sequence" in case:
        return list(case["sequence"])
    return [{"scope": case.get("scope"), "result": case["result"]}]


@pytest.mark.skipif(not EXPR_CASES, reason="tick corpus not available")
@pytest.mark.parametrize("case", EXPR_CASES, ids=[c["name"] for c in EXPR_CASES])
def test_corpus_expression(case: dict[str, Any]) -> None:
    if case["name"] in KNOWN_DIVERGENT:
        with pytest.raises(CompileError, match=r'^Cannot call function "duration" with args'):
            compile_lambda(parse_lambda(case["expression"]))
        return
    mode = case.get("eval", "value")
    scope_vars = program_vars(case["vars"]) if case.get("vars") else {}
    node = parse_lambda(case["expression"])
    check_signatures = case.get("evaluator") != "function-node"
    compiled: list[CompiledLambda] = []

    def compile_once() -> CompiledLambda:
        if not compiled:
            compiled.append(
                compile_lambda(
                    node,
                    scope_vars=scope_vars,
                    source=case["expression"],
                    check_signatures=check_signatures,
                )
            )
        return compiled[0]

    for step in steps(case):
        if step.get("reset"):
            compile_once().reset()
            continue
        scope = decode_scope(step.get("scope"))
        check(step["result"], lambda scope=scope: compile_once().eval_as(scope, mode))


def test_corpus_count() -> None:
    if not CASES_FILE.exists():
        pytest.skip("tick corpus not available")
    assert len(EXPR_CASES) == 724


# --- vars.json: the parts that need no pipeline builder ---------------------------------------

VARS_CASES = {c["name"]: c for c in _load(VARS_FILE)}


@pytest.mark.skipif(not VARS_CASES, reason="tick corpus not available")
def test_vars_type_conversion_messages() -> None:
    case = VARS_CASES["TestEvaluate_Vars_TypeConversion"]
    got = program_vars(case["script"])
    for name, want in case["scope"].items():
        assert same_value(got[name], typed_value_from_json(want)), name


@pytest.mark.skipif(not VARS_CASES, reason="tick corpus not available")
def test_vars_unary_on_identifiers() -> None:
    got = program_vars("var x = 3m\nvar y = -x\nvar n = TRUE\nvar m = !n\nvar z = x + y\n")
    want = VARS_CASES["TestValidateTemplate_Vars"]["scope"]
    for name, value in want.items():
        assert same_value(got[name], typed_value_from_json(value)), name


def test_vars_all_types_arithmetic() -> None:
    got = program_vars(
        "var integer = 42\nvar intergerMath = (integer * 2) - ( 6 * 9 ) + (36 / 3)\n"
        "var float = 3.14\nvar tastyPie = float * 42.0\nvar intFloat = int(sqrt(float)) * 3\n"
        "var duration = 5m\nvar later = duration + 1m\nvar boolean = TRUE\nvar f = boolean AND FALSE\n"
        "var str = 'this is a string'\nvar strA = str + ' concat'\n"
    )
    assert got["intergerMath"] == 42
    assert got["tastyPie"] == 131.88
    assert got["intFloat"] == 3
    assert got["later"] == Duration(360_000_000_000)
    assert got["f"] is False
    assert got["strA"] == "this is a string concat"


def test_lambda_var_inside_lambda_has_own_state() -> None:
    scope_vars = program_vars(
        'var lambda = lambda: "value" > 0\nvar l = lambda: lambda OR "value" < -100'
    )
    outer = compile_lambda(scope_vars["l"].expression, scope_vars=scope_vars)
    assert outer.eval_bool({"value": 5}) is True
    assert outer.eval_bool({"value": -5}) is False
    assert outer.eval_bool({"value": -500}) is True


# --- API behaviour ----------------------------------------------------------------------------


def lam(text: str, **kw: Any) -> CompiledLambda:
    return compile_lambda(parse_lambda(text), source=text, **kw)


def test_eval_point_reads_fields_then_tags() -> None:
    c = lam('"value" > 10 AND "host" == \'a\'')
    assert c.references == frozenset({"value", "host"})
    assert c.eval_point_bool(0, {"value": 11}, {"host": "a"}) is True
    assert c.eval_point_bool(0, {"value": 11.5}, {"host": "b"}) is False
    assert c.eval_point_bool(0, {"value": 1}, {"host": "a"}) is False
    with pytest.raises(EvalError, match=r'^cannot have field and tags with same name "host"$'):
        c.eval_point_bool(0, {"value": 11, "host": "x"}, {"host": "a"})


def test_missing_values() -> None:
    c = lam('"value" > 10')
    with pytest.raises(EvalError, match=r'^left reference value "value" is missing value$'):
        c.eval_point_bool(0, {}, {})
    with pytest.raises(EvalError, match=r"^invalid comparison operator > for type missing$"):
        c.eval_point(0, {}, {})
    with pytest.raises(EvalError, match=r'^missing value: "x"$'):
        lam('"x"').eval_point(0, {}, {})
    assert lam('isPresent("x")').eval_point_bool(0, {}, {}) is False
    assert lam('isPresent("x") AND "x" > 5').eval_point_bool(0, {}, {}) is False
    with pytest.raises(
        EvalError,
        match=r'^Cannot call function "sqrt" argument "x" is missing, values in scope are \[\]$',
    ):
        lam('sqrt("x")').eval_point(0, {}, {})


def test_time_reference_is_the_point_time() -> None:
    c = lam('hour("time") == 3 AND unixNano("time") > 0')
    assert c.eval_point_bool(1_546_398_245_000_000_000, {}, {}) is True
    assert lam('"time"').eval_raw({"time": Time(5)}) == Time(5)
    with pytest.raises(EvalError, match=r"^expression returned unexpected type time$"):
        lam('"time"').eval_point(5, {}, {})


def test_field_type_may_change_between_points() -> None:
    c = lam('"value" * 2')
    assert c.eval_point(0, {"value": 3}, {}) == 6
    with pytest.raises(EvalError, match="got float \\* int"):
        c.eval_point(0, {"value": 1.5}, {})
    assert type(lam('"value" * 2.0').eval({"value": 1.5})) is float


def test_integer_division_follows_go() -> None:
    assert lam("-7 / 2").eval({}) == -3
    assert lam("-7 % 3").eval({}) == -1
    assert lam('"a" / "b"').eval({"a": 7, "b": -2}) == -3
    assert lam('"a" % "b"').eval({"a": 7, "b": -2}) == 1
    for text in (
        "10 / 0",
        "10 % 0",
        '"a" / "b"',
        '"a" % "b"',
        "1h / (1h - 1h)",
        'abs(float("a" / "c"))',
    ):
        with pytest.raises(EvalError, match=r"^runtime error: integer divide by zero$"):
            lam(text).eval({"a": 1, "b": 0, "c": 0})
    assert lam("9223372036854775807 + 1").eval({}) == -9223372036854775808
    assert math.isinf(lam('"a" / 0.0').eval({"a": 1.0}))


def test_duration_arithmetic_keeps_duration_type() -> None:
    for text, want in (
        ("1h + 30m", Duration(5_400_000_000_000)),
        ("2 * 1m", Duration(120_000_000_000)),
        ('"d" * 1.5', Duration(90_000_000_000)),
        ('"d" / 2', Duration(30_000_000_000)),
        ("-1m", Duration(-60_000_000_000)),
    ):
        got = lam(text).eval({"d": Duration(60_000_000_000)})
        assert type(got) is Duration and got == want, text
    assert type(lam("1h / 30m").eval({})) is int


def test_compile_errors_carry_position() -> None:
    with pytest.raises(CompileError) as info:
        lam("'a' + 1")
    assert str(info.value) == (
        "mismatched type to binary operator. got string + int. see bool(), int(), float(), string(), duration()"
    )
    assert info.value.line == 1 and info.value.col == 5
    assert info.value.located().startswith("line 1 char 5: ")
    with pytest.raises(CompileError, match=r'^undefined function: "nope"$'):
        lam("nope(1)")
    with pytest.raises(
        CompileError, match=r'^Failed to handle 1 argument: Cannot call function "sqrt"'
    ):
        lam("abs(sqrt(1))")
    with pytest.raises(
        CompileError, match=r'^Cannot call function "strLength" with args \("x": \?,"y": \?\)'
    ):
        lam('strLength("x", "y")')
    with pytest.raises(CompileError, match=r'^name "foo" is undefined'):
        lam("foo > 1")


def test_identifiers_take_var_values() -> None:
    c = lam('"v" > crit AND "d" < window', scope_vars={"crit": 5.0, "window": Duration(10)})
    assert c.eval_bool({"v": 6, "d": Duration(5)}) is True


def test_clone_and_reset_give_fresh_state() -> None:
    c = lam("count()")
    assert [c.eval({}), c.eval({})] == [1, 2]
    d = c.clone()
    assert d.eval({}) == 1
    assert c.eval({}) == 3
    c.reset()
    assert c.eval({}) == 1
    # eval and eval_point share one state
    assert c.eval_point(0, {}, {}) == 2


def test_eval_bool_type_errors() -> None:
    with pytest.raises(EvalError, match=r"^expression returned unexpected type float64$"):
        lam("5.0 + 10.0").eval_bool({})
    with pytest.raises(
        EvalError, match=r"^TypeGuard: expression returned unexpected type int, expected boolean$"
    ):
        lam('"x"').eval_bool({"x": 1})
    with pytest.raises(EvalError, match=r'^reference "x" is missing value$'):
        lam('"x"').eval_point_bool(0, {}, {})


def test_runtime_call_errors_are_wrapped() -> None:
    with pytest.raises(EvalError, match=r'^error calling "strSubstring": stop index too large'):
        lam('strSubstring("s", 0, 10)').eval({"s": "abc"})
    with pytest.raises(
        EvalError, match=r'^Failed to handle 1 argument: error calling "strSubstring"'
    ):
        lam('strLength(strSubstring("s", 0, 10))').eval({"s": "abc"})
    with pytest.raises(EvalError, match=r'^Cannot call function "sqrt" with args \("x": int\)'):
        lam('sqrt("x")').eval({"x": 1})
    with pytest.raises(EvalError, match=r"^Failed to handle 1 argument: mismatched type"):
        lam('sqrt("x" + 1.0)').eval({"x": 1})


def test_scope_lookup_errors() -> None:
    with pytest.raises(EvalError, match=r'^name "x" is undefined. Names in scope: a,b$'):
        lam('"x" > 1').eval({"a": 1, "b": 2})
    with pytest.raises(EvalError, match=r'^referenced value "x" is nil.$'):
        lam('"x" > 1').eval({"x": None})


def test_missing_marker_in_scope() -> None:
    assert lam('isPresent("x")').eval_bool({"x": MISSING}) is False
