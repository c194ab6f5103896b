"""The TICKscript and Go template limits (issue 16): each refused at line:column naming the
limit, one past it; accepted at it; and no input makes the parsers, the builder or the lambda
compiler raise anything but their own errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leyden import limits
from leyden.go.template import Template, TemplateError
from leyden.go.template import _parse as template_parse
from leyden.tick.builder import build_pipeline
from leyden.tick.errors import TickError
from leyden.tick.lambdas import CompileError, compile_lambda
from leyden.tick.parser import parse, parse_lambda

HEAD = "stream|from().measurement('m')"


def _and(n: int) -> str:
    return " AND ".join(['"v" > 1'] * n)


def test_expression_depth_at_and_over_the_limit() -> None:
    # n terms: n - 1 ANDs over comparisons two levels deep: depth n + 1
    compile_lambda(parse_lambda(_and(limits.MAX_EXPRESSION_DEPTH - 1)))
    with pytest.raises(TickError) as caught:
        parse_lambda(_and(limits.MAX_EXPRESSION_DEPTH))
    err = caught.value
    assert f"more than {limits.MAX_EXPRESSION_DEPTH} levels deep" in err.message
    # at the AND that made it too deep: the last one
    assert (err.line, err.col) == (1, len(_and(limits.MAX_EXPRESSION_DEPTH - 1)) + 2)


@pytest.mark.parametrize(
    ("open_", "close"),
    [("(", ")"), ("-", ""), ("!", "")],
)
def test_nesting_at_and_over_the_limit(open_: str, close: str) -> None:
    operand = '"v"' if open_ != "!" else "TRUE"

    def nested(n: int) -> str:
        return open_ * n + operand + close * n

    parse_lambda(nested(limits.MAX_NESTING - 1))
    with pytest.raises(TickError) as caught:
        parse_lambda(nested(limits.MAX_NESTING + 5))
    assert f"more than {limits.MAX_NESTING} levels" in caught.value.message
    assert caught.value.col == limits.MAX_NESTING * len(open_) + 1


def test_function_call_nesting_at_and_over_the_limit() -> None:
    def calls(n: int) -> str:
        return "abs(" * n + '"v"' + ")" * n + " > 1"

    compile_lambda(parse_lambda(calls(limits.MAX_CALL_NESTING)))
    with pytest.raises(TickError) as caught:
        parse_lambda(calls(limits.MAX_CALL_NESTING + 1))
    assert f"nest more than {limits.MAX_CALL_NESTING} deep" in caught.value.message
    assert caught.value.col == 4 * limits.MAX_CALL_NESTING + 1


def test_chain_length_and_pipeline_nodes() -> None:
    longest = HEAD + "|log()" * (limits.MAX_CHAIN_LENGTH - 2)
    assert len(build_pipeline(longest).nodes) == limits.MAX_CHAIN_LENGTH  # with stream
    with pytest.raises(TickError, match=f"longer than {limits.MAX_CHAIN_LENGTH} links"):
        parse(longest + "|log()")
    # chains continued through vars: each short, the pipeline still bounded
    lines = ["var a0 = stream|from()"]
    lines += [f"var a{i + 1} = a{i}|log()" for i in range(limits.MAX_PIPELINE_NODES + 5)]
    with pytest.raises(TickError) as caught:
        build_pipeline("\n".join(lines))
    assert f"more than {limits.MAX_PIPELINE_NODES} nodes" in caught.value.message
    assert caught.value.line == limits.MAX_PIPELINE_NODES  # the var that made one too many


def test_script_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_SCRIPT_BYTES", 100)
    parse(HEAD + "\n" + "/" * (100 - len(HEAD) - 1))
    with pytest.raises(TickError) as caught:
        parse(HEAD + "\n// é" + "x" * 100)
    assert "over the limit of 100 bytes" in caught.value.message
    assert (caught.value.line, caught.value.col) == (2, 100 - len(HEAD) - 1 + 1)
    with pytest.raises(TickError, match="over the limit of 100 bytes"):
        parse_lambda('"v" > 1' + " " * 100)


def test_where_calls_combined_are_bounded() -> None:
    # each .where() ANDs its lambda to those before: one level more each
    script = HEAD + '.where(lambda: "v" > 1)' * limits.MAX_EXPRESSION_DEPTH
    with pytest.raises(TickError, match="levels deep with its vars"):
        build_pipeline(script)


def test_a_lambda_python_cannot_compile_is_a_compile_error() -> None:
    """Built without the parser (as the builder's inlining can), too deep for Python."""
    deep = parse_lambda('"v" > 1')
    expr = deep.expression
    for _ in range(3000):
        expr = type(expr)(expr.pos, "AND", expr, deep.expression)
    with pytest.raises(CompileError, match="too complex to compile"):
        compile_lambda(expr)


# --- properties ----------------------------------------------------------------------------

_atoms = st.sampled_from(['"v"', "1", "1.5", "TRUE", "'s'", "5m", "abs(1)", '"x" > 2'])
_ops = st.sampled_from([" AND ", " OR ", " + ", " * ", " > ", " == ", " - "])


@st.composite
def _expressions(draw: st.DrawFn) -> str:
    """Expressions with random nesting, up to well past each limit."""
    parts = [draw(_atoms)]
    for _ in range(draw(st.integers(0, 400))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            parts = ["(", *parts, ")"]
        elif kind == 1:
            parts = ["-", *parts]
        elif kind == 2:
            parts = ["abs(", *parts, ")"]
        else:
            parts = [*parts, draw(_ops), draw(_atoms)]
    return "".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions())
def test_any_expression_parses_and_compiles_or_is_refused_cleanly(text: str) -> None:
    try:
        node = parse_lambda(text)
    except TickError:
        return
    try:
        compile_lambda(node)
    except CompileError as exc:
        assert "too complex" not in exc.message, text  # the parser's limits come first


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            ["|log()", "|log().level('INFO')", "|eval(lambda: 1).as('x')", "|where(lambda: TRUE)"]
        ),
        max_size=1200,
    )
)
def test_any_chain_builds_or_is_refused_cleanly(links: list[str]) -> None:
    script = HEAD + "".join(links)
    try:
        pipeline = build_pipeline(script)
    except TickError as exc:
        assert "the limit" in exc.message
        return
    assert len(pipeline.nodes) <= limits.MAX_PIPELINE_NODES


@st.composite
def _templates(draw: st.DrawFn) -> str:
    out = "x"
    for _ in range(draw(st.integers(0, 120))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            out = "{{if 1}}" + out + "{{end}}"
        elif kind == 1:
            out = "{{with .}}" + out + "{{else}}y{{end}}"
        elif kind == 2:
            out = "{{range $i := .}}" + out + "{{end}}"
        else:
            out = "{{print " + "(" * 3 + "1" + ")" * 3 + "}}" + out
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_templates())
def test_any_template_parses_and_runs_or_is_refused_cleanly(text: str) -> None:
    try:
        template = Template.parse(text)
    except TemplateError as exc:
        assert "the limit" in str(exc)
        return
    template.execute([1])


def test_template_limits_name_the_place() -> None:
    depth = template_parse.MAX_TEMPLATE_NESTING
    Template.parse("{{if 1}}" * depth + "x" + "{{end}}" * depth)
    with pytest.raises(TemplateError) as caught:
        Template.parse("a\n" + "{{if 1}}" * (depth + 1) + "x" + "{{end}}" * (depth + 1))
    # at the keyword of the clause one too deep
    assert str(caught.value).startswith(f"template: template:2:{8 * depth + 2}: actions nest")
    big = "x" * (template_parse.MAX_TEMPLATE_BYTES + 1)
    with pytest.raises(TemplateError, match="over the limit of 65536 bytes"):
        Template.parse(big)
