"""The pipeline builder against Kapacitor's corpus, the seed's scripts and our own rules."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leyden.engine.nodes  # noqa: F401  (imported for its registrations: NODE_CLASSES complete)
from leyden.engine.node import NODE_CLASSES
from leyden.go.types import Duration
from leyden.notify import INTEGRATIONS
from leyden.tick import ast as A
from leyden.tick.builder import ZeroVar, build_pipeline, task_vars_from_json
from leyden.tick.errors import TickError
from leyden.tick.pipeline import NodeSpec, TimeDimension
from leyden.tick.pipeline.handlers import HANDLER_TYPES
from leyden.tick.pipeline.tables import NODE_TYPES
from leyden.tick.values import STAR, StarValue, go_pattern, typed_value_from_json

CORPUS = Path("/work/shared/tick-corpus")
MANIFEST = json.loads((CORPUS / "valid" / "MANIFEST.json").read_text())
PIPELINE_FILES = [e for e in MANIFEST["files"] if e.get("pipeline")]

# Every kind the language has: a runtime that ran all of them (only a UDF stays unsupported).
EVERY_NODE_KIND = frozenset(t.kind for t in NODE_TYPES.values())
EVERY_HANDLER_KIND = frozenset(h.kind for h in HANDLER_TYPES.values())


def runtime_kinds() -> tuple[Collection[str], Collection[str]]:
    """What this server runs: the engine's node classes and the alert service's handler kinds."""
    return NODE_CLASSES, INTEGRATIONS.tick_kinds()


# Corpus files marked "pipeline" that Kapacitor's own evaluator rejects too (they come from
# formatter tests, a Go-built pipeline that skips validation, or an outdated example).
KAPACITOR_REJECTS = {
    "examples/scores/top_scores.tick": 'no property method "from" on *pipeline.StreamNode',
    "fmt/TestFormat_10.tick": 'no global function "stream" defined',
    "fmt/TestFormat_11.tick": 'no global function "stream" defined',
    "fmt/TestFormat_12.tick": 'no global function "stream" defined',
    "fmt/TestFormat_18.tick": 'no global function "stream" defined',
    "misc/Test_ListTemplates_2.tick": 'error calling func "query"',
    "pipeline-tick/TestBarrierNode_barrier_with_delete.tick": "idle must be greater than zero",
}


def build(text: str, **kw: Any) -> Any:
    return build_pipeline(text, filename="t.tick", **kw)


def fails(text: str, **kw: Any) -> TickError:
    with pytest.raises(TickError) as info:
        build(text, **kw)
    return info.value


# -- corpus -------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", PIPELINE_FILES, ids=lambda e: e["file"])
def test_corpus_valid_scripts_build(entry: dict[str, Any]) -> None:
    text = (CORPUS / "valid" / entry["file"]).read_text()
    if entry["file"] in KAPACITOR_REJECTS:
        err = fails(text, ignore_missing_vars=True)
        assert KAPACITOR_REJECTS[entry["file"]] in err.message
        return
    p = build_pipeline(text, filename=entry["file"], ignore_missing_vars=True)
    kinds = {n.kind for n in p.nodes}
    for name in entry.get("nodes", []):
        if name in {"from", "window", "alert", "count", "join", "union", "eval", "where"}:
            assert name in kinds, f"{name} missing from {sorted(kinds)}"
    # The manifest's handler list is a regex scan: `.teams(` may be opsGenie's teams option.
    option_names = {p.name.lower() for t in HANDLER_TYPES.values() for p in t.properties.values()}
    for h in entry.get("handlers", []):
        if h.lower() in option_names:
            continue
        handlers = {hs.kind.lower() for n in p.nodes for hs in n.handlers}
        if h.lower() in {k.lower() for k in HANDLER_TYPES} - {"log"}:
            assert h.lower() in handlers
    if entry.get("udfs"):
        unsupported = p.unsupported(EVERY_NODE_KIND, EVERY_HANDLER_KIND)
        assert any(u.what.startswith("udf ") for u in unsupported)
    if entry["kind"] in ("stream", "batch"):
        assert p.task_type == entry["kind"]


INVALID = json.loads((CORPUS / "invalid" / "cases.json").read_text())
# Cases whose scripts need Go host objects (a Go func `f`, a Go struct `a`) in the scope.
NEEDS_HOST = {"TestEvaluate_StringQuotesError", "TestStrictEvaluate"}
# Derived cases written as `stream|window()`: Kapacitor's StreamNode has no window() (only
# from/stats/deadman), so Kapacitor itself stops there; we test the same texts under from().
RESTATED = {"derived_wrong_argument_type", "derived_too_many_arguments"}


def _kapacitor_message(text: str) -> tuple[str, tuple[int, int] | None]:
    m = re.match(r"line (\d+) char (\d+): (.*)", text, re.S)
    if m:
        return m.group(3), (int(m.group(1)), int(m.group(2)))
    return text, None


@pytest.mark.parametrize(
    "case",
    [c for c in INVALID if c["stage"] in ("eval", "task-type")],
    ids=lambda c: c["name"],
)
def test_corpus_invalid_cases_fail(case: dict[str, Any]) -> None:
    if case["name"] in NEEDS_HOST | RESTATED:
        pytest.skip("needs Go host objects / restated below")
    kw: dict[str, Any] = {}
    if "predefined_vars" in case:
        kw["task_vars"] = task_vars_from_json(case["predefined_vars"])
    err = fails(case["script"], **kw)
    expected = case.get("error") or case.get("derived_error")
    if expected:
        message, pos = _kapacitor_message(expected)
        assert message.rstrip() in err.message or err.message.startswith(message)
        if pos:
            assert (err.line, err.col) == pos
    if case["name"] == "TestTaskTypeFromProgram_mixed_type":
        assert "both batch" in err.message and "stream" in err.message
        assert (err.line, err.col) == (4, 12)
    if case["name"] == "TestTaskTypeFromProgram_missing_batch_or_stream":
        assert 'name "testing" is undefined' in err.message


def test_wrong_argument_type_restated() -> None:
    err = fails("stream|from()|window().period('10s')")
    assert err.message.startswith('error calling func "period" on obj *pipeline.WindowNode: ')
    assert (err.line, err.col) == (1, 24)
    assert "without quotes" in err.message


def test_too_many_arguments_restated() -> None:
    err = fails("stream|from()|window().period(10s, 20s)")
    assert err.message == "too many arguments to set property Period on *pipeline.WindowNode"
    assert (err.line, err.col) == (1, 24)


def test_window_is_not_a_stream_method() -> None:
    err = fails("stream|window()")
    assert err.message.startswith('no method or property "window" on *pipeline.StreamNode')
    assert "|from" in err.message


def test_double_quoted_string_argument() -> None:
    err = fails('stream|from().measurement("cpu")')
    assert err.message.startswith(
        "cannot assign *ast.ReferenceNode to type string, did you use double quotes instead of "
        "single quotes?"
    )
    assert (err.line, err.col) == (1, 15)


# -- lambdas/vars.json ------------------------------------------------------------------------

VARS = json.loads((CORPUS / "lambdas" / "vars.json").read_text())


def _same(actual: Any, expected: dict[str, Any]) -> bool:
    kind = expected["type"]
    if expected.get("zero"):
        if kind in ("lambda", "regex", "star"):
            return isinstance(actual, ZeroVar) and actual.type == kind
        return actual == typed_value_from_json(expected) or (kind == "list" and actual == [])
    if kind == "lambda":
        from leyden.tick.fmt import format_node

        if not isinstance(actual, A.LambdaNode):
            return False
        text = format_node(actual.expression)
        return text == expected["text"] or "lambda" in expected["text"]
    if kind == "regex":
        return go_pattern(actual) == expected["value"] or (
            actual.pattern == typed_value_from_json(expected).pattern
        )
    if kind == "star":
        return isinstance(actual, StarValue)
    if kind == "list":
        return len(actual) == len(expected["value"]) and all(
            _same(a, e) for a, e in zip(actual, expected["value"], strict=True)
        )
    want = typed_value_from_json(expected)
    return type(actual) is type(want) and actual == want


@pytest.mark.parametrize("vec", [v for v in VARS if "host" not in v], ids=lambda v: v["name"])
def test_vars_vectors(vec: dict[str, Any]) -> None:
    kw: dict[str, Any] = {"ignore_missing_vars": vec.get("ignore_missing_vars", False)}
    if "defined_vars" in vec:
        kw["task_vars"] = task_vars_from_json(vec["defined_vars"])
    p = build(vec["script"], **kw)
    for name, expected in vec.get("scope", {}).items():
        assert name in p.scope, name
        assert _same(p.scope[name], expected), (name, p.scope[name], expected)
    for name, expected in vec.get("vars", {}).items():
        assert p.vars[name].type == expected["type"]
    if "pipeline" in vec:
        assert [n.kind for n in p.nodes] == vec["pipeline"]["nodes"]
        window = next(n for n in p.nodes if n.kind == "window")
        for key, value in vec["pipeline"]["window"].items():
            assert window.properties[key] == typed_value_from_json(value)


# -- the seed's scripts -------------------------------------------------------------------------

DISCORD_CPU = """stream
  |from()
    .measurement('cpu')
  |alert()
    .warn(lambda: "usage_idle" < 20)
    .stateChangesOnly()
    .message('Hey, check your CPU')
    .discord()
      .embedTitle('Uh Oh!')
"""

CPU_ALERT = """stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: "usage_idle" < 5)
    .stateChangesOnly()
    .message('Hey, check your CPU')
    .topic('cpu')
"""

MULTI_WORKSPACE = """stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: "usage_idle" < 5)
    .stateChangesOnly()
    .message('Hey, I think the machine is on fire.')
    .discord()
      .workspace('alerts')
      .embedTitle('AAAAAAAAAAAAAAAAAAAAAA')
"""

ERRORS_500 = """stream
  |from()
    .measurement('errors')
    .groupBy('500')
  |alert()
    .info(lamda: 'count' > 0)
    .noRecoveries()
    .topic('500-errors')
"""


def test_seed_discord_cpu_alert() -> None:
    p = build(DISCORD_CPU)
    assert [n.name for n in p.nodes] == ["stream0", "from1", "alert2"]
    alert = p.node("alert2")
    assert alert.properties["stateChangesOnly"] is True
    assert alert.properties["message"] == "Hey, check your CPU"
    assert alert.properties["id"] == "{{ .Name }}:{{ .Group }}"
    assert isinstance(alert.properties["warn"], A.LambdaNode)
    [h] = alert.handlers
    assert (h.kind, h.properties) == ("discord", {"embedTitle": "Uh Oh!"})
    assert p.unsupported(*runtime_kinds()) == [] and p.warnings == []


def test_seed_cpu_alert_topic() -> None:
    p = build(CPU_ALERT)
    alert = p.node("alert2")
    assert alert.properties["topic"] == "cpu" and alert.handlers == []


def test_seed_multi_workspace() -> None:
    h = build(MULTI_WORKSPACE).node("alert2").handlers[0]
    assert h.properties == {"workspace": "alerts", "embedTitle": "AAAAAAAAAAAAAAAAAAAAAA"}


def test_seed_500_errors_typo_then_warning() -> None:
    err = fails(ERRORS_500)
    assert (err.line, err.filename) == (6, "t.tick")
    assert "lambda" in err.message
    p = build(ERRORS_500.replace("lamda:", "lambda:"))
    [w] = p.warnings
    assert (w.line, w.col) == (6, 19)
    assert '"count"' in w.message and "'count'" in w.message
    assert str(w).startswith("t.tick:6:19: warning: ")


# -- node graph, properties, handlers -----------------------------------------------------------


def test_ids_names_and_edges() -> None:
    p = build("stream|from()|window().period(10s).every(10s)|count('value')|alert()")
    assert [n.name for n in p.nodes] == ["stream0", "from1", "window2", "count3", "alert4"]
    w = p.node("window2")
    assert (w.wants, w.provides) == ("stream", "batch")
    assert w.properties == {"period": Duration(10_000_000_000), "every": Duration(10_000_000_000)}
    c = p.node("count3")
    assert (c.wants, c.provides, c.properties["as"]) == ("batch", "stream", "count")
    assert p.node("alert4").parents == [c]


def test_join_renumbers_like_kapacitor() -> None:
    p = build(
        "var a = stream|from().measurement('a')\n"
        "var b = stream|from().measurement('b')\n"
        "a|join(b).as('a', 'b')|alert()"
    )
    join = next(n for n in p.nodes if n.kind == "join")
    assert join.name == "join4"  # linked twice: ids 3 then 4
    assert [x.name for x in join.parents] == ["from1", "from2"]
    assert p.nodes[-1].name == "alert5"


def test_where_property_is_anded() -> None:
    p = build('stream|from().where(lambda: "a" > 1).where(lambda: "b" < 2)')
    expr = p.node("from1").properties["where"].expression
    assert isinstance(expr, A.BinaryNode) and expr.operator == "AND"


def test_vars_are_resolved_into_lambdas() -> None:
    p = build('var t = 90.0\nstream|from()|alert().crit(lambda: "v" > t)')
    expr = p.node("alert2").properties["crit"].expression
    assert isinstance(expr.right, A.NumberNode) and expr.right.float64 == 90.0


def test_alert_properties_of_section_3_1() -> None:
    p = build(
        "stream|from()|alert()"
        ".levelTag('l').levelField('lf').messageField('m').durationField('d')"
        ".idTag('it').idField('if').stateChangesOnly(5m).flapping(0.25, 0.5).history(10)"
        ".inhibit('cat', 'host', 'dc').category('c').topic('t').all().noRecoveries()"
        ".details('').id('x').info(lambda: TRUE).infoReset(lambda: TRUE)"
        ".warnReset(lambda: TRUE).critReset(lambda: TRUE)"
    )
    a = p.node("alert2").properties
    assert a["stateChangesOnlyDuration"] == Duration(300_000_000_000)
    assert (a["flapLow"], a["flapHigh"], a["history"]) == (0.25, 0.5, 10)
    assert a["inhibitors"] == [{"category": "cat", "equalTags": ["host", "dc"]}]
    assert a["levelTag"] == "l" and a["idField"] == "if" and a["all"] and a["noRecoveries"]


def test_handlers_post_log_tcp_exec_and_alert_props_after_handler() -> None:
    p = build(
        "stream|from()|alert()"
        ".post('http://x/').header('k', 'v').captureResponse().timeout(5s).skipSSLVerification()"
        ".tcp('h:1').log('/tmp/a.log').mode(0644).exec('/bin/x', 'a', 'b')"
        ".discord().avatarUrl('a').timestamp(TRUE).username('u').stateChangesOnly()"
    )
    alert = p.node("alert2")
    post, tcp, log, ex, disc = alert.handlers
    assert post.properties == {
        "url": "http://x/",
        "headers": {"k": "v"},
        "captureResponse": True,
        "timeout": Duration(5_000_000_000),
        "skipSSLVerification": True,
    }
    assert tcp.properties == {"address": "h:1"}
    assert log.properties == {"path": "/tmp/a.log", "mode": 0o644}
    assert ex.properties == {"command": ["/bin/x", "a", "b"]}
    assert disc.properties == {"avatarURL": "a", "timestamp": True, "username": "u"}
    assert alert.properties["stateChangesOnly"] is True


def test_handler_shadows_alert_property() -> None:
    a = build("stream|from()|alert().mqtt('t1').topic('t2')").node("alert2")
    assert a.handlers[0].properties["topic"] == "t2" and "topic" not in a.properties


def test_unsupported_nodes_and_handlers_are_listed() -> None:
    p = build("stream|from()|alert().slack().channel('#x')\nstream|from()@myUdf(1).opt('a')")
    whats = [u.what for u in p.unsupported(*runtime_kinds())]
    assert whats == ["udf myUdf"]  # every handler Kapacitor has runs here (issue 14)
    assert [u.what for u in p.unsupported(*runtime_kinds()[:1], ())] == [
        "handler slack",
        "udf myUdf",
    ]
    udf = p.nodes[-1]
    assert udf.name == "myUdf4" and udf.properties["options"] == [("opt", ["a"])]


def test_unsupported_answers_from_the_registries_it_is_given() -> None:
    p = build("stream|from()|window().period(1m)|count('v')|alert().slack().discord()")
    assert p.unsupported(EVERY_NODE_KIND, EVERY_HANDLER_KIND) == []
    uses = p.unsupported({"stream", "from", "alert"}, {"discord"})
    assert [(u.what, u.node) for u in uses] == [
        ("window", "window2"),
        ("count", "count3"),
        ("handler slack", "alert4"),
    ]
    assert str(uses[2]) == "handler slack (alert4) at line 1 char 54"
    everything = p.unsupported((), ())
    assert [u.what for u in everything] == [
        "stream",
        "from",
        "window",
        "count",
        "alert",
        "handler slack",
        "handler discord",
    ]
    # A kind is looked up as the runtime registers it: the canonical spelling, case and all.
    assert [u.what for u in p.unsupported(EVERY_NODE_KIND, {"Slack", "Discord"})] == [
        "handler slack",
        "handler discord",
    ]


def test_the_runtime_registers_only_kinds_the_language_has() -> None:
    # A runtime entry under a name the language lacks would leave a script saying it unsupported.
    nodes, handlers = runtime_kinds()
    assert set(nodes) <= EVERY_NODE_KIND, sorted(set(nodes) - EVERY_NODE_KIND)
    assert set(handlers) <= EVERY_HANDLER_KIND, sorted(set(handlers) - EVERY_HANDLER_KIND)


def test_every_node_and_handler_of_kapacitors_scripts_is_in_the_tables() -> None:
    # The oracle is Kapacitor's own scripts (the manifest's scan of `|name(` and of handler
    # calls), not a list restated from pipeline.py. Sources and deadman are not `|name(` there.
    scripts = [e for e in PIPELINE_FILES if e["file"] not in KAPACITOR_REJECTS]
    used_nodes = {n for e in scripts for n in e.get("nodes", [])} | {"stream", "batch", "deadman"}
    kinds = {t.kind for t in NODE_TYPES.values()}
    assert used_nodes <= kinds, sorted(used_nodes - kinds)
    used_handlers = {h for e in scripts for h in e.get("handlers", [])}
    assert used_handlers == {h.kind for h in HANDLER_TYPES.values()}


def test_deadman_builds_stats_derivative_alert() -> None:
    p = build("stream|from().measurement('cpu')|deadman(0.0, 10s)")
    assert [n.name for n in p.nodes] == [
        "stream0",
        "from1",
        "stats2",
        "noop3",
        "derivative4",
        "alert5",
    ]
    assert [s.name for s in p.sources] == ["stream0", "stats2"]
    alert = p.node("alert5")
    assert alert.properties["id"] == "{{ .Group }}:from1 for task '{{ .TaskName }}'"
    assert "points/10s." in alert.properties["message"]
    err = fails("stream|from()|deadman(0, 10s)")
    assert "write 0.0" in err.message


def test_batch_query_group_by_time() -> None:
    p = build(
        "batch|query('SELECT mean(v) FROM db.rp.m').period(1m).every(1m).groupBy(time(10s), 'h')"
    )
    q = p.node("query1")
    assert q.properties["groupBy"] == [TimeDimension(Duration(10_000_000_000)), "h"]
    assert p.task_type == "batch" and p.node("batch0").provides == "batch"


def test_validation_errors_name_the_node() -> None:
    err = fails("stream|from()|eval(lambda: 1).as('a', 'b')")
    assert "must specify same number of expressions and .as() names" in err.message
    assert (err.line, err.col) == (1, 15)
    assert "cannot group by both" in fails("stream|from().groupBy(*, 'a')").message
    assert "exclude requires" in fails("stream|from()|groupBy('a').exclude('b')").message
    err = fails("stream|from()|alert().flapping(0.2, 2.0)")
    assert "between 0 and 1" in err.message


def test_window_on_batch_edge() -> None:
    err = fails("stream|from()|window()|window()")
    assert "cannot Window batch edge" in err.message


def test_mixed_edges_via_union() -> None:
    err = fails("var w = stream|from()|window()\nstream|from()|union(w)")
    assert "cannot add child mismatched edges" in err.message


def test_unknown_property_suggests() -> None:
    err = fails("stream|from()|alert().discord().embedtitle('x')")
    assert "did you mean .embedTitle()?" in err.message
    assert (err.line, err.col) == (1, 33)


def test_unknown_chain_suggests() -> None:
    err = fails("stream|from()|windw()")
    assert "did you mean |window()?" in err.message


def test_undefined_identifier_and_immutability() -> None:
    err = fails("var x = 1\nstream|from()|window().period(y)")
    assert err.message.startswith('name "y" is undefined. Names in scope: ')
    assert (err.line, err.col) == (2, 31)
    err = fails("var stream = 1\nstream|from()")
    assert "attempted to redefine stream" in err.message


def test_task_vars_override_and_type_check() -> None:
    text = "var period = 10s\nvar f string\nstream|from()|window().period(period)|count(f)"
    p = build(text, task_vars={"period": Duration(60_000_000_000), "f": "value"})
    assert p.node("window2").properties["period"] == Duration(60_000_000_000)
    assert p.node("count3").properties["field"] == "value"
    err = fails(text, task_vars={"period": "1m", "f": "value"})
    assert err.message == "invalid type supplied for period, got string exp duration"
    err = fails(text, task_vars=task_vars_from_json({"period": {"type": "int", "value": 5}}))
    assert err.message == "invalid type supplied for period, got int exp duration"
    assert fails(text).message == 'missing value for var "f".'
    tv = task_vars_from_json(
        {"period": {"type": "duration", "value": "1m"}, "f": {"type": "string", "value": "v"}}
    )
    assert build(text, task_vars=tv).node("window2").properties["period"] == 60_000_000_000


def test_lambda_task_var() -> None:
    tv = task_vars_from_json({"c": {"type": "lambda", "value": '"v" > 1'}})
    p = build("var c lambda\nstream|from()|alert().crit(c)", task_vars=tv)
    assert isinstance(p.node("alert2").properties["crit"], A.LambdaNode)
    with pytest.raises(ValueError, match='var "x"'):
        task_vars_from_json({"x": {"value": 1}})


def test_regex_task_var_keeps_its_go_text_inside_a_lambda() -> None:
    tv = task_vars_from_json({"r": {"type": "regex", "value": "^cpu\\d$"}})
    p = build('var r regex\nstream|from().where(lambda: "host" =~ r)', task_vars=tv)
    regex = p.node("from1").properties["where"].expression.right
    assert isinstance(regex, A.RegexNode) and regex.literal == "^cpu\\d$"


def test_list_var_spreads_and_star() -> None:
    p = build("var tags = ['host', 'dc']\nstream|from().groupBy(tags)|groupBy(*)")
    assert p.node("from1").properties["groupBy"] == ["host", "dc"]
    assert p.node("groupby2").properties["dimensions"] == [STAR]


def test_top_level_arithmetic() -> None:
    p = build("var w = 5m * 2\nvar n = -w\nstream|from()|window().period(w)")
    assert p.scope["w"] == Duration(600_000_000_000) and p.scope["n"] == -600_000_000_000


def test_node_values_are_not_vars() -> None:
    p = build("var s = stream|from()")
    assert "s" not in p.vars and isinstance(p.scope["s"], NodeSpec)


def test_dbrps() -> None:
    p = build('dbrp "telegraf"."autogen"\ndbrp "a"."b"\nstream|from()')
    assert p.dbrps == [("telegraf", "autogen"), ("a", "b")]


# -- fuzzing -------------------------------------------------------------------------------------

_SAMPLE = [
    (CORPUS / "valid" / e["file"]).read_text()
    for e in PIPELINE_FILES[::12]
    if e["file"] not in KAPACITOR_REJECTS
]
_TOKENS = [
    "|",
    ".",
    "@",
    "(",
    ")",
    "'x'",
    '"x"',
    "10s",
    "1",
    "1.0",
    "lambda:",
    "*",
    ",",
    "\n",
    "stream",
    "batch",
    "var",
    "alert",
    "window",
    "[",
    "]",
    "-",
    "!",
    "TRUE",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SAMPLE),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), st.sampled_from(_TOKENS)), max_size=4),
)
def test_mutated_scripts_raise_only_tick_errors(text: str, edits: list[Any]) -> None:
    for where, cut, token in edits:
        i = int(where * len(text))
        text = text[:i] + token + text[i + cut :]
    with contextlib.suppress(TickError):
        build_pipeline(text, filename="fuzz.tick", ignore_missing_vars=True)
