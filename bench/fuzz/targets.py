"""The parsers under fuzz: one :class:`Target` each, with its seeds, dictionary and contract.

A target's ``run(data)`` feeds one input to the parser the way Leyden's own callers do (the
write endpoint, the task API, ``define-topic-handler``, ``serve -config`` …) and lets through
only the errors the parser documents (``allowed``); any other exception, a RecursionError or
a hang is a crash.  Seeds come from the shared corpora (``../shared/tick-corpus``,
``../shared/conformance``) when present, the repository's examples and test fixtures, and a
few hand-written inputs, so the fuzzer also works in a checkout without ``../shared``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LEYDEN_SHARED", ROOT.parent / "shared"))
if not SHARED.is_dir():  # a worktree: the shared folder sits beside the main checkout
    SHARED = Path("/work/shared")


@dataclass
class Target:
    """One parser: ``run`` raises only ``allowed`` errors for any input."""

    name: str
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    seeds: list[bytes]
    #: tokens the mutator inserts (keywords, operators, delimiters of the grammar)
    tokens: list[bytes] = field(default_factory=list)
    #: inputs are cut to this size (a slow pure-Python parser such as PyYAML's gets short ones)
    max_len: int = 65536


def _files(pattern: str, base: Path) -> Iterator[Path]:
    if base.is_dir():
        yield from sorted(base.glob(pattern))


def _read(path: Path, limit: int = 16384) -> bytes:
    try:
        return path.read_bytes()[:limit]
    except OSError:
        return b""


def _scripts() -> list[str]:
    """TICKscripts: the shared corpus, the conformance kit's tasks, the repo's examples."""
    out = [
        _read(p).decode("utf-8", "replace")
        for p in [
            *_files("valid/**/*.tick", SHARED / "tick-corpus"),
            *_files("cases/*/task.tick", SHARED / "conformance"),
            *_files("**/*.tick", ROOT / "examples"),
        ]
    ]
    invalid = SHARED / "tick-corpus" / "invalid" / "cases.json"
    if invalid.is_file():
        for case in json.loads(invalid.read_text()):
            if isinstance(case, dict) and isinstance(case.get("script"), str):
                out.append(case["script"])
    return [s for s in out if s] or [
        "stream|from().measurement('cpu')|alert().crit(lambda: \"v\" > 1)"
    ]


def _lambdas() -> list[str]:
    cases = SHARED / "tick-corpus" / "lambdas" / "cases.json"
    out: list[str] = []
    if cases.is_file():
        out = [
            c["expression"]
            for c in json.loads(cases.read_text())
            if isinstance(c.get("expression"), str)
        ]
    for script in _scripts():
        out += re.findall(r"lambda:\s*([^)\n]{1,200})\)", script)
    return out or ['"value" > 10 AND "host" == \'a\'']


# --- line protocol --------------------------------------------------------------------------


def _lp_seeds() -> list[bytes]:
    seeds = [
        b'cpu,host=a,region=us\\ west value=1.5,n=2i,u=3u,s="x\\"y",b=true 1000000000',
        b"m v=1\nm,t=1 v=2 2\n\n# comment\nm v=-1e-3 3\r\n",
        b'w\\,x,t\\ a=b\\=c f\\ g="multi\nline",h=F',
    ]
    for srpl in _files("cases/*/*.srpl", SHARED / "conformance"):
        lines = [ln for ln in _read(srpl, 4096).split(b"\n") if b"=" in ln]
        seeds.append(b"\n".join(lines[:20]))
    fixture = ROOT / "tests" / "test_lineprotocol.py"
    seeds += [
        s.encode() for s in re.findall(r'"([a-z][^"\n]{4,120}=[^"\n]*)"', fixture.read_text())
    ]
    return seeds


def _lineprotocol() -> Target:
    from leyden.lineprotocol import parse

    precisions = ("ns", "u", "ms", "s", "m", "h")

    def run(data: bytes) -> object:
        return parse(data, precision=precisions[len(data) % len(precisions)], now_ns=1)

    return Target(
        "lineprotocol",
        run,
        (),
        _lp_seeds(),
        [b",", b"=", b" ", b"\\", b'"', b"\n", b"i", b"u", b"e+", b"t", b"T", b"-", b"."],
    )


# --- TICKscript: lexer, parser and builder in one go ----------------------------------------

_TICK_TOKENS = [
    s.encode()
    for s in (
        "|",
        ".",
        "@",
        "(",
        ")",
        "[",
        "]",
        ",",
        "lambda: ",
        "var ",
        " = ",
        "'",
        '"',
        "'''",
        "//",
        "\n",
        "AND",
        "OR",
        "!",
        "-",
        "=~",
        "!~",
        "/x/",
        "1m",
        "10s",
        "1.5",
        "TRUE",
        "*",
        "stream",
        "batch",
        "|from()",
        "|window()",
        "|alert()",
        "|eval()",
        "|query('",
        "dbrp ",
        ".crit(",
        ".period(",
        ".as(",
        "|log()",
        "|httpOut('",
        "sigma(",
        "if(",
    )
]


def _tick() -> Target:
    from leyden.tick.builder import build_pipeline
    from leyden.tick.errors import TickError

    def run(data: bytes) -> object:
        return build_pipeline(data.decode("utf-8", "replace"), filename="fuzz.tick")

    seeds = [s.encode() for s in _scripts()]
    return Target("tickscript", run, (TickError,), seeds, _TICK_TOKENS)


def _lambda() -> Target:
    from leyden.tick.errors import TickError
    from leyden.tick.lambdas import CompileError, EvalError, compile_lambda
    from leyden.tick.parser import parse_lambda

    scope = {"value": 1.5, "v": 2, "host": "serverA", "n": -3, "ok": True, "value2": 4.0}

    def run(data: bytes) -> object:
        text = data.decode("utf-8", "replace")
        fn = compile_lambda(parse_lambda(text), source=text)
        return fn.eval_as(scope, ("bool", "float", "int", "string")[len(data) % 4])

    return Target(
        "lambda",
        run,
        (TickError, CompileError, EvalError),
        [s.encode() for s in _lambdas()],
        _TICK_TOKENS,
    )


# --- Go templates ----------------------------------------------------------------------------

_TEMPLATES = [
    '{{ .ID }} is {{ .Level }}: {{ index .Tags "host" }} {{ .Fields.value }}',
    '{{ if eq .Level "CRITICAL" }}!{{ else if .Recoverable }}ok{{ else }}-{{ end }}',
    "{{ range $k, $v := .Tags }}{{ $k }}={{ $v }},{{ end }}",
    '{{define "T"}}x{{.}}{{end}}{{template "T" .Name}}',
    '{{ printf "%0.2f %d %s %v %q" .Fields.value 3 "s" .Tags .Name }}',
    "{{ with .Fields }}{{ len . }}{{ end }}{{ html .Message }}{{ js .Name | urlquery }}",
    "{{/* comment */}}{{- .Name -}} {{ and 1 0 }} {{ or .X 2 }} {{ not true }}",
    '{{ $x := 1 }}{{ $x = 2 }}{{ $x }} {{ lt 1 2.0 }} {{ index .Tags }} {{ slice "abc" 1 2 }}',
    '{{ block "b" . }}{{ .Level }}{{ end }} {{ print nil }} {{ call .F }} {{ .Time.Unix }}',
]


def _template() -> Target:
    from leyden.go.template import Template, TemplateError, TemplateExecError
    from leyden.go.types import StringMap

    data = {
        "ID": "cpu:host=a",
        "Name": "cpu",
        "Level": "CRITICAL",
        "Message": "<b>m</b>",
        "Recoverable": True,
        "Tags": StringMap({"host": "a", "region": "us"}),
        "Fields": {"value": 97.5, "n": 3},
    }
    seeds = list(_TEMPLATES)
    for script in _scripts():
        seeds += [m for m in re.findall(r"'([^'\n]*\{\{[^'\n]*)'", script)]

    def run(data_: bytes) -> object:
        tmpl = Template.parse(data_.decode("utf-8", "replace"))
        return tmpl.execute(data)

    tokens = [
        s.encode()
        for s in (
            "{{",
            "}}",
            "{{-",
            "-}}",
            " end ",
            " if ",
            " range ",
            " else ",
            ".",
            "$",
            "|",
            "(",
            ")",
            '"',
            "`",
            " := ",
            "printf ",
            "index ",
            "define ",
            "template ",
        )
    ]
    return Target(
        "gotemplate", run, (TemplateError, TemplateExecError), [s.encode() for s in seeds], tokens
    )


# --- JSON bodies of the task API --------------------------------------------------------------


def _task_body() -> Target:
    from leyden import limits
    from leyden.tasks import manager as m
    from leyden.tasks.runner import build
    from leyden.tick.errors import TickError

    def run(data: bytes) -> object:
        try:  # leyden.server.tasks_api.read_body
            decoded = limits.loads_json(data) if data.strip() else None
        except (ValueError, UnicodeDecodeError):  # JSONLimitError is a ValueError too
            return None
        if not isinstance(decoded, dict):
            return None
        # leyden.tasks.manager.TaskManager._create's checks, in its order
        m.json_string(decoded, "id")
        m._task_type(decoded)
        script = m.json_string(decoded, "script")
        m._dbrps(decoded)
        m._status(decoded)
        vars_ = m._vars(decoded)
        return build(script, filename="fuzz", vars=vars_) if script else None

    seeds = [
        json.dumps(
            {
                "id": "t1",
                "type": "stream",
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "script": s[:2000],
                "status": "disabled",
                "vars": {
                    "crit": {"type": "float", "value": 90},
                    "period": {"type": "duration", "value": 60000000000},
                    "l": {"type": "list", "value": [{"type": "string", "value": "a"}]},
                    "f": {"type": "lambda", "value": '"v" > 1'},
                    "s": {"type": "star", "value": ""},
                },
            }
        ).encode()
        for s in _scripts()[:60]
    ]
    tokens = [s.encode() for s in ("{", "}", "[", "]", ":", ",", '"', "null", "1e999", "-0")]
    return Target(
        "task_json",
        run,
        (m.TaskRequestError, TickError, ValueError),
        seeds,
        [*tokens, *_TICK_TOKENS],
    )


# --- files: handler YAML/JSON and the TOML config ----------------------------------------------


def _scratch(name: str) -> Path:
    base = Path(os.environ.get("LEYDEN_FUZZ_TMP", tempfile.gettempdir()))
    folder = base / f"leyden-fuzz-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _handler_file() -> Target:
    from leyden.cli._common import FileError
    from leyden.cli.topics import read_handler_file
    from leyden.client import ClientError

    yaml_path, json_path = _scratch("handler.yaml"), _scratch("handler.json")

    def run(data: bytes) -> object:
        path = json_path if data[:1] in (b"{", b"[") else yaml_path
        path.write_bytes(data)
        return read_handler_file(str(path))

    seeds = [_read(p) for p in _files("*.yaml", ROOT / "examples")]
    seeds += [
        b"id: h\ntopic: cpu\nkind: discord\nmatch: changed() == TRUE\noptions:\n  workspace: ops\n",
        b'{"id":"h","topic":"t","kind":"post","options":{"url":"http://x","headers":{"a":"b"}}}',
        b"id: &a h\ntopic: *a\nkind: log\noptions: {path: /tmp/x, mode: 0644}\nextra: 2001-01-01\n",
    ]
    tokens = [
        s.encode()
        for s in (":", "- ", "{", "}", "[", "]", "&a", "*a", "!!", "'", '"', "\n  ", "? ")
    ]
    return Target("handler_file", run, (ClientError, FileError), seeds, tokens, max_len=1024)


def _config() -> Target:
    from leyden.config import ConfigError
    from leyden.config.load import load_config
    from leyden.notify import INTEGRATIONS

    sections = INTEGRATIONS.sections()
    path = _scratch("kapacitor.conf")

    def run(data: bytes) -> object:
        path.write_bytes(data)
        return load_config(str(path), {}, integrations=sections)

    seeds = [_read(p) for p in _files("**/*.conf", ROOT / "examples")]
    seeds += [_read(p) for p in _files("cases/*/kapacitor.conf", ROOT / "tests" / "kapacitor_api")]
    tokens = [
        s.encode()
        for s in (
            "[",
            "]",
            "[[",
            "]]",
            " = ",
            '"',
            "'''",
            "\n",
            "true",
            "1e3",
            "0x1F",
            "{",
            "}",
            ",",
        )
    ]
    return Target("config_toml", run, (ConfigError,), [s for s in seeds if s], tokens)


# --- InfluxQL of batch query() --------------------------------------------------------------


def _influxql() -> Target:
    from leyden.engine.influxql_select import InfluxQLError, parse_select

    def run(data: bytes) -> object:
        parsed = parse_select(data.decode("utf-8", "replace"))
        return parsed.select.render() if parsed.select is not None else parsed.first_text

    seeds = [
        'SELECT mean("usage") AS m, * FROM "telegraf"."autogen".cpu WHERE host =~ /a.*/ AND '
        "time > now() - 1h GROUP BY time(10s), * fill(none) ORDER BY time DESC LIMIT 10 SLIMIT 2 "
        "TZ('UTC')",
        "SELECT a::field + 2 * (b - 1.5) INTO db..m FROM (SELECT x FROM y) WHERE t != 'q' OR z <> 3",
        "SELECT DISTINCT(v) FROM db..m; SHOW DATABASES",
    ]
    for script in _scripts():
        seeds += re.findall(r"query\('''(.*?)'''\)", script, re.S)
        seeds += re.findall(r"query\('([^']*)'\)", script)
    tokens = [
        s.encode()
        for s in (
            "SELECT ",
            " FROM ",
            " WHERE ",
            " GROUP BY ",
            "(",
            ")",
            '"',
            "'",
            "/",
            "::",
            ";",
            " fill(",
            "time(",
            "*",
            "10s",
            "now()",
        )
    ]
    return Target("influxql", run, (InfluxQLError,), [s.encode() for s in seeds], tokens)


#: fastest first, so the time they leave over goes to the slower ones
BUILDERS: dict[str, Callable[[], Target]] = {
    "influxql": _influxql,
    "gotemplate": _template,
    "lineprotocol": _lineprotocol,
    "config_toml": _config,
    "task_json": _task_body,
    "handler_file": _handler_file,
    "lambda": _lambda,
    "tickscript": _tick,
}


def load(name: str) -> Target:
    target = BUILDERS[name]()
    if not target.seeds:
        target.seeds = [b""]
    return target


def describe(value: Any) -> str:
    """A short printable preview of an input."""
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."
