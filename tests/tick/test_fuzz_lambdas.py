"""Fuzz: random lambda expressions over random scopes raise only EvalError or CompileError."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leyden.go.types import Duration, Time
from leyden.tick.errors import TickError
from leyden.tick.functions import BUILTINS
from leyden.tick.lambdas import CompileError, EvalError, compile_lambda
from leyden.tick.parser import parse_lambda
from leyden.tick.values import MISSING

NAMES = ("a", "b", "c", "time")
BINOPS = ("+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "AND", "OR")
FUNCS = sorted(n for n in BUILTINS if n not in ("now", "rand"))

literals = st.one_of(
    st.integers(min_value=0, max_value=2**63 - 1).map(str),
    st.sampled_from(["0", "1", "5", "0.0", "1.5", "2.0", "-1"]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(
        lambda f: repr(f) if "e" not in repr(f) else "3.0"
    ),
    st.sampled_from(["'a'", "'abc'", "''", "TRUE", "FALSE", "1s", "5m", "1h", "1u", "10ms"]),
    st.sampled_from([f'"{n}"' for n in NAMES]),
)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(BINOPS), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(
            children,
            st.sampled_from(("==", "=~", "!~")),
            st.sampled_from(["/a.*/", "/^$/", "/(x)/"]),
        ).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"!{c}"),
        st.tuples(st.sampled_from(FUNCS), st.lists(children, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
    )


expressions = st.recursive(literals, _extend, max_leaves=8)

values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Duration),
    st.integers(min_value=0, max_value=2**62).map(Time),
    st.just(MISSING),
    st.just(None),
    st.just(re.compile("a")),
    st.just(object()),
)
scopes = st.dictionaries(st.sampled_from(NAMES), values, max_size=4)
fields = st.dictionaries(
    st.sampled_from(NAMES[:3]), values.filter(lambda v: v is not None), max_size=3
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=expressions, scope=scopes, point=fields, tag_value=st.sampled_from([None, "x"]))
def test_only_lambda_errors(
    text: str, scope: dict[str, Any], point: dict[str, Any], tag_value: str | None
) -> None:
    try:
        node = parse_lambda(text)
    except TickError:
        return
    try:
        c = compile_lambda(node, source=text)
    except CompileError as e:
        assert str(e)
        return
    tags = {"c": tag_value} if tag_value is not None else {}
    for run in (
        lambda: c.eval(scope),
        lambda: c.eval_bool(scope),
        lambda: c.eval_point(1_000_000_000, point, tags),
        lambda: c.eval_point_bool(1_000_000_000, point, tags),
        lambda: c.clone().eval_as(scope, "float"),
    ):
        try:
            run()
        except EvalError as e:
            assert str(e)


@settings(max_examples=200, deadline=None)
@given(
    a=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    b=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_integer_arithmetic_stays_int64(a: int, b: int) -> None:
    for op in ("+", "-", "*", "/", "%"):
        c = compile_lambda(parse_lambda(f'"a" {op} "b"'))
        try:
            v = c.eval({"a": a, "b": b})
        except EvalError as e:
            assert b == 0 and str(e) == "runtime error: integer divide by zero"
            continue
        assert type(v) is int and -(2**63) <= v < 2**63
