"""Property-based fuzzing with hypothesis: grammar-shaped inputs and round trips.

Byte mutation (:mod:`bench.fuzz.run`) is fast but rarely builds a well-formed input far from
the seeds; these strategies build them from the grammar: points with any names, tags and typed
fields; TICKscript chains of real node and property names with generated lambdas; nested
lambda expressions; Go template actions; task bodies, handler files and config files from
generated documents; InfluxQL ``SELECT``s.  Every input must give only the target's documented
errors, and three round trips must hold: a formatted point parses back to the same point, a
formatted TICKscript formats to itself, a rendered ``SELECT`` renders to itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench.fuzz import targets


class _Budget(BaseException):
    """The property's share of time is used up (not a failure)."""


#: hypothesis types categories as Literals; these are plain tuples
_NO_SURROGATES: Any = ("Cs",)
_PRINTABLE: Any = ("Cs", "Cc")
_TEXT = st.text(st.characters(blacklist_categories=_NO_SURROGATES), max_size=12)
_WORD = st.text("abcxyz_019 .,=\\\"'-", min_size=1, max_size=8)
_NUM = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "1.5", "-2", "1e3", "010", "0.0"]),
)
_DUR = st.builds(
    lambda n, u: f"{n}{u}",
    st.integers(0, 10**6),
    st.sampled_from(["u", "ms", "s", "m", "h", "d", "w"]),
)


def _lambda_expr() -> st.SearchStrategy[str]:
    leaf = st.one_of(
        st.sampled_from(['"value"', '"host"', '"n"', '"missing"', "TRUE", "FALSE", "x"]),
        _NUM,
        _DUR,
        _WORD.map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"),
        st.sampled_from(["/a.*/", "/^s[a-z]+$/"]),
    )
    ops = st.sampled_from(
        ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "AND", "OR", "=~", "!~"]
    )
    funcs = st.sampled_from(
        [
            "abs",
            "sigma",
            "count",
            "int",
            "float",
            "string",
            "bool",
            "if",
            "strLength",
            "strReplace",
            "min",
            "max",
            "pow",
            "isPresent",
            "duration",
            "spread",
            "unixNano",
            "hour",
        ]
    )

    def grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda a, o, b: f"{a} {o} {b}", children, ops, children),
            st.builds(lambda a: f"({a})", children),
            st.builds(lambda o, a: f"{o}{a}", st.sampled_from(["-", "!"]), children),
            st.builds(
                lambda f, args: f"{f}({', '.join(args)})", funcs, st.lists(children, max_size=3)
            ),
        )

    return st.recursive(leaf, grow, max_leaves=12)


def _tickscript() -> st.SearchStrategy[str]:
    lam = _lambda_expr().map(lambda e: f"lambda: {e}")
    arg = st.one_of(lam, _NUM, _DUR, _WORD.map(lambda s: repr(s)), st.just("*"))
    node = st.sampled_from(
        [
            "window",
            "alert",
            "eval",
            "where",
            "groupBy",
            "mean",
            "sum",
            "log",
            "httpOut",
            "derivative",
            "stateDuration",
            "shift",
            "default",
            "flatten",
            "join",
            "union",
            "sample",
            "stats",
            "top",
            "percentile",
            "deadman",
            "delete",
            "influxDBOut",
            "sideload",
        ]
    )
    prop = st.sampled_from(
        [
            "period",
            "every",
            "crit",
            "warn",
            "info",
            "as",
            "tags",
            "field",
            "message",
            "id",
            "details",
            "database",
            "unit",
            "nonNegative",
            "stateChangesOnly",
            "byMeasurement",
            "align",
            "fill",
            "discord",
            "post",
            "topic",
            "quiet",
            "round",
        ]
    )
    call = st.builds(
        lambda sep, name, args: f"{sep}{name}({', '.join(args)})",
        st.sampled_from(["|", "."]),
        st.one_of(node, prop),
        st.lists(arg, max_size=3),
    )
    head = st.sampled_from(
        [
            "stream\n    |from()\n        .measurement('cpu')",
            "var x = stream|from()\nx",
            "batch\n    |query('SELECT mean(v) FROM db..m')\n        .period(1m).every(1m)",
            'dbrp "db"."rp"\nstream|from()',
            'var t = 5\nvar l = lambda: "v" > t\nstream|from()|where(l)',
        ]
    )
    return st.builds(lambda h, cs: h + "\n".join(cs), head, st.lists(call, max_size=8))


def _template() -> st.SearchStrategy[str]:
    pipeline = st.one_of(
        st.sampled_from(
            [
                ".",
                ".ID",
                ".Name",
                ".Level",
                ".Tags",
                ".Fields.value",
                ".Missing.x",
                "$",
                "$x",
                "nil",
                "true",
                "3",
                "1.5",
                '"s"',
                "`r`",
            ]
        ),
        st.builds(
            lambda f, a: f"{f} {' '.join(a)}",
            st.sampled_from(
                [
                    "printf",
                    "index",
                    "len",
                    "eq",
                    "ne",
                    "lt",
                    "and",
                    "or",
                    "not",
                    "html",
                    "js",
                    "urlquery",
                    "print",
                    "println",
                    "slice",
                    "call",
                ]
            ),
            st.lists(
                st.sampled_from(
                    [".Tags", '"host"', "1", "2.5", ".Level", '"%d %s %v"', "nil", "$x"]
                ),
                max_size=3,
            ),
        ),
    )
    action = st.one_of(
        pipeline.map(lambda p: "{{" + p + "}}"),
        st.builds(lambda p, body: f"{{{{if {p}}}}}{body}{{{{else}}}}-{{{{end}}}}", pipeline, _WORD),
        st.builds(lambda p, body: f"{{{{range {p}}}}}{body}{{{{end}}}}", pipeline, _WORD),
        st.builds(lambda p, body: f"{{{{with $x := {p}}}}}{body}{{{{end}}}}", pipeline, _WORD),
        _WORD,
    )
    return st.lists(action, max_size=8).map("".join)


_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        _TEXT,
    ),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(_TEXT, c, max_size=4)),
    max_leaves=16,
)


def _task_body() -> st.SearchStrategy[bytes]:
    var = st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "bool",
                    "int",
                    "float",
                    "duration",
                    "string",
                    "regex",
                    "lambda",
                    "star",
                    "list",
                    "x",
                ]
            ),
            "value": _JSON,
        }
    )
    body = st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(_WORD, _JSON),
            "type": st.sampled_from(["stream", "batch", "", "x"]),
            "dbrps": st.one_of(
                st.lists(st.fixed_dictionaries({"db": _JSON, "rp": _JSON}), max_size=2), _JSON
            ),
            "script": st.one_of(_tickscript(), _JSON),
            "status": st.sampled_from(["enabled", "disabled", "", "x"]),
            "vars": st.one_of(st.dictionaries(_WORD, st.one_of(var, _JSON), max_size=3), _JSON),
        },
    )
    return st.one_of(
        body.map(lambda b: json.dumps(b).encode()), _JSON.map(lambda b: json.dumps(b).encode())
    )


def _handler_doc() -> st.SearchStrategy[bytes]:
    doc = st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(_WORD, _JSON),
            "topic": st.one_of(_WORD, _JSON),
            "kind": st.one_of(
                st.sampled_from(["discord", "post", "log", "slack", "tcp", "x"]), _JSON
            ),
            "match": st.one_of(_lambda_expr(), _JSON),
            "options": st.one_of(st.dictionaries(_WORD, _JSON, max_size=4), _JSON),
            "other": _JSON,
        },
    )
    return st.one_of(
        doc.map(lambda d: json.dumps(d).encode()),
        doc.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode()),
    )


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if not isinstance(v, float) or math.isfinite(v) else "0.0"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def _config() -> st.SearchStrategy[bytes]:
    sections = st.sampled_from(
        [
            "http",
            "logging",
            "storage",
            "alert",
            "delivery",
            "engine",
            "auth",
            "discord",
            "influxdb",
            "slack",
            "smtp",
            "nope",
        ]
    )
    keys = st.one_of(
        st.sampled_from(
            [
                "enabled",
                "bind-address",
                "url",
                "workspace",
                "level",
                "file",
                "auth-enabled",
                "default",
                "timeout",
                "username",
                "password",
                "max-attempts",
                "dir",
                "urls",
            ]
        ),
        _WORD,
    )
    leaf = st.one_of(
        st.booleans(),
        st.integers(-(2**64), 2**64),
        st.floats(),
        _TEXT,
        st.sampled_from(["10s", "1h", ":9092", "http://x"]),
    )
    value = st.one_of(leaf, st.lists(leaf, max_size=3))
    table = st.dictionaries(keys, value, max_size=4)

    def emit(doc: list[tuple[str, bool, dict[str, Any]]]) -> bytes:
        out = []
        for name, many, tbl in doc:
            out.append(f"[[{name}]]" if many else f"[{name}]")
            out += [f"  {json.dumps(k)} = {_toml_value(v)}" for k, v in tbl.items()]
        return "\n".join(out).encode()

    return st.lists(
        st.tuples(sections, st.booleans(), table), max_size=4, unique_by=lambda t: t[0]
    ).map(emit)


def _select() -> st.SearchStrategy[str]:
    field = st.one_of(
        st.sampled_from(
            [
                "*",
                "v",
                '"usage idle"',
                "v::field",
                "t::tag",
                "mean(v)",
                "count(distinct(v))",
                "v + 2 * w",
                "-v",
                "top(v, 3)",
                "percentile(v, 95.5)",
            ]
        ),
        _NUM,
    )
    cond = st.one_of(
        st.builds(
            lambda a, o, b: f"{a} {o} {b}",
            st.sampled_from(["host", "v", "time", '"t k"']),
            st.sampled_from(["=", "!=", "<>", "<", ">=", "=~", "!~"]),
            st.one_of(_NUM, _DUR, st.sampled_from(["'a'", "/x.*/", "now() - 1h", "true"])),
        ),
    )
    return st.builds(
        lambda fs, m, ws, g, tail: (
            f"SELECT {', '.join(fs)} FROM {m}"
            + (f" WHERE {' AND '.join(ws)}" if ws else "")
            + g
            + tail
        ),
        st.lists(field, min_size=1, max_size=3),
        st.sampled_from(["m", "db.rp.m", "db..m", '"a b"', "/c.*/", "(SELECT v FROM m)"]),
        st.lists(cond, max_size=3),
        st.sampled_from(
            [
                "",
                " GROUP BY *",
                " GROUP BY time(10s), host fill(none)",
                " GROUP BY time(1m, 5s) fill(0)",
            ]
        ),
        st.sampled_from(
            ["", " LIMIT 3", " ORDER BY time DESC", " SLIMIT 1 SOFFSET 2", " TZ('UTC')"]
        ),
    )


def _lp_points() -> st.SearchStrategy[Any]:
    from leyden.lineprotocol import UInt, WirePoint

    # No backslash: a name ending in one before an escaped "=" or "," cannot round-trip in
    # InfluxDB's format either (backslashes themselves are never escaped).
    name = st.text(
        st.characters(blacklist_categories=_PRINTABLE, blacklist_characters="\\"),
        min_size=1,
        max_size=10,
    )
    tags = st.dictionaries(name, name, max_size=3).map(lambda d: dict(sorted(d.items())))
    fv = st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.integers(0, 2**64 - 1).map(UInt),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.text(st.characters(blacklist_categories=_NO_SURROGATES), max_size=10),
    )
    fields = st.dictionaries(name, fv, min_size=1, max_size=3)
    return st.builds(
        WirePoint, name, tags, fields, st.integers(-(2**63) + 2, 2**63 - 2)
    )  # InfluxDB's time range


def _checks() -> dict[str, list[tuple[st.SearchStrategy[Any], Callable[[Any], None]]]]:
    """target → [(strategy, check)]; a check raises on a broken property."""
    from leyden.engine.influxql_select import parse_select
    from leyden.lineprotocol import format_point, parse
    from leyden.tick.errors import TickError
    from leyden.tick.fmt import format_script

    loaded: dict[str, targets.Target] = {}

    def safe(name: str, conv: Callable[[Any], bytes] = lambda b: b) -> Callable[[Any], None]:
        def check(value: Any) -> None:
            target = loaded.get(name) or loaded.setdefault(name, targets.load(name))
            with contextlib.suppress(*target.allowed):
                target.run(conv(value))

        return check

    def lp_roundtrip(point: Any) -> None:
        try:
            line = format_point(point)
        except ValueError:
            return  # a name format_point refuses (documented)
        result = parse(line, now_ns=1)
        assert not result.errors and result.points == [point], (line, result)

    def tick_fmt(text: str) -> None:
        safe("tickscript", str.encode)(text)
        try:
            once = format_script(text)
        except TickError:
            return
        assert format_script(once) == once, once

    def select_render(text: str) -> None:
        safe("influxql", str.encode)(text)
        try:
            first = parse_select(text).select
        except ValueError:
            return
        if first is not None:
            again = parse_select(first.render()).select
            assert again is not None and again.render() == first.render(), first.render()

    return {
        "lineprotocol": [
            (_lp_points(), lp_roundtrip),
            (st.binary(max_size=200), safe("lineprotocol")),
        ],
        "tickscript": [(_tickscript(), tick_fmt)],
        "lambda": [(_lambda_expr(), safe("lambda", str.encode))],
        "gotemplate": [(_template(), safe("gotemplate", str.encode))],
        "task_json": [(_task_body(), safe("task_json"))],
        "handler_file": [(_handler_doc(), safe("handler_file"))],
        "config_toml": [(_config(), safe("config_toml"))],
        "influxql": [(_select(), select_render)],
    }


def _property(
    strategy: st.SearchStrategy[Any],
    check: Callable[[Any], None],
    stop_at: float,
    counter: list[int],
) -> Callable[[], None]:
    @settings(
        max_examples=10**9,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def prop(value: Any) -> None:
        if time.monotonic() > stop_at:
            raise _Budget
        counter[0] += 1
        check(value)

    return prop


def run_all(names: list[str], seconds: float) -> Iterator[tuple[str, int, list[str]]]:
    """Run each target's properties for its share of ``seconds``; yield (name, examples,
    failures)."""
    checks = _checks()
    for name in names:
        pairs = checks.get(name, [])
        counter, problems, start = [0], [], time.monotonic()
        for strategy, check in pairs:
            stop_at = time.monotonic() + seconds / len(names) / max(1, len(pairs))

            prop = _property(strategy, check, stop_at, counter)
            said = io.StringIO()  # hypothesis prints a seed for the _Budget stop: keep it quiet
            try:
                with contextlib.redirect_stdout(said):
                    prop()
            except _Budget:
                pass
            except Exception as exc:  # a property failed: hypothesis notes the example
                notes = " ".join(getattr(exc, "__notes__", []))
                problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]} {notes[:500]}")
        print(
            f"{name:<14}{counter[0]:>10,} examples {time.monotonic() - start:>8.1f}s "
            f"{len(problems)} failures",
            flush=True,
        )
        yield name, counter[0], problems
