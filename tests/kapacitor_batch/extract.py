"""Turn Kapacitor's ``integrations/batcher_test.go`` into the data cases of this folder.

Run by hand (``python tests/kapacitor_batch/extract.py``) against the bare mirror of
influxdata/kapacitor; it rewrites ``cases/`` and is kept so the cases can be re-derived and
checked against their source.  It reads the Go source as data: the TICKscripts, the expected
``models.Result`` / ``alert.Data`` literals (evaluated by the small Go-literal reader below) and
the arguments of ``testBatcherWithOutput``/``testBatcher``/``fastForwardTask``.  Tests it
cannot turn into a case are listed, with the reason, in ``SKIPPED.md`` (written by hand).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIRROR = Path("/work/.mirror/influxdata+kapacitor/repo")
COMMIT = "7702d12d3565322d70a8b88273b218e6f11f8ab6"
SOURCE = "integrations/batcher_test.go"
HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"

#: tests not turned into cases (see SKIPPED.md)
SKIP = {"TestBatch_Flux"}

_DURATIONS = {
    "time.Nanosecond": 1,
    "time.Microsecond": 1_000,
    "time.Millisecond": 1_000_000,
    "time.Second": 1_000_000_000,
    "time.Minute": 60_000_000_000,
    "time.Hour": 3_600_000_000_000,
}
_LEVELS = {
    "alert.OK": "OK",
    "alert.Info": "INFO",
    "alert.Warning": "WARNING",
    "alert.Critical": "CRITICAL",
}


def git_show(path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(MIRROR), "show", f"{COMMIT}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


class Instant(int):
    """A Go ``time.Time`` (ns since the epoch), written as RFC 3339."""

    def rfc3339(self) -> str:
        secs, nanos = divmod(int(self), 1_000_000_000)
        text = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if nanos:
            text += "." + f"{nanos:09d}".rstrip("0")
        return text + "Z"


_TOKEN = re.compile(
    r"\s+|//[^\n]*|(?P<raw>`[^`]*`)|(?P<str>\"(?:\\.|[^\"\\])*\")"
    r"|(?P<num>\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(?P<p>[{}\[\](),:*+\-/])"
)


def tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read Go at {text[pos : pos + 40]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind is not None:
            out.append((kind, m.group(kind)))
    return out


class GoReader:
    """Evaluates the Go composite literals and expressions the tests use."""

    def __init__(self, text: str, env: dict[str, Any] | None = None) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.env = env or {}

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise ValueError(f"expected {value!r}, got {tok[1]!r} at token {self.i}")
        self.i += 1
        return tok

    def skip_type(self) -> bool:
        """Consume a type (``[]T``, ``map[K]V``, ``interface{}``, ``pkg.Name``); False if the
        tokens are not one."""
        kind, v = self.peek()
        if v == "[":
            if self.peek(1)[1] != "]":
                return False
            self.i += 2
            return self.skip_type()
        if v == "map":
            self.take()
            self.take("[")
            self.skip_type()
            self.take("]")
            return self.skip_type()
        if v in ("interface", "struct"):
            self.take()
            self.take("{")
            self.take("}")
            return True
        if kind == "id":
            self.take()
            return True
        return False

    def value(self) -> Any:
        if self.peek()[1] == "{":
            return self.composite()
        start = self.i
        if self.skip_type() and self.peek()[1] == "{":
            return self.composite()
        self.i = start
        return self.expr()

    def composite(self) -> Any:
        self.take("{")
        items: list[Any] = []
        keyed: dict[str, Any] = {}
        while self.peek()[1] != "}":
            kind, v = self.peek()
            if kind == "id" and self.peek(1)[1] == ":":
                self.take()
                self.take(":")
                keyed[_json_key(v)] = self.value()
            else:
                first = self.value()
                if self.peek()[1] == ":":
                    self.take()
                    keyed[str(first)] = self.value()
                else:
                    items.append(first)
            if self.peek()[1] == ",":
                self.take()
        self.take("}")
        return keyed if keyed else items

    def expr(self) -> Any:
        left = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            right = self.term()
            left = left + right if op == "+" else left - right
        return left

    def term(self) -> Any:
        left = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            right = self.unary()
            if op == "*":
                left = left * right
            elif isinstance(left, int) and isinstance(right, int):
                left = left // right
            else:
                left = left / right
        return left

    def unary(self) -> Any:
        if self.peek()[1] == "-":
            self.take()
            return -self.unary()
        return self.primary()

    def primary(self) -> Any:
        kind, v = self.take()
        if kind == "num":
            return float(v) if ("." in v or "e" in v.lower()) else int(v)
        if kind == "str":
            return json.loads(v)
        if kind == "raw":
            return v[1:-1]
        if v == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind != "id":
            raise ValueError(f"unexpected {v!r}")
        if self.peek()[1] == "(":
            self.take()
            args: list[Any] = []
            while self.peek()[1] != ")":
                args.append(self.value())
                if self.peek()[1] == ",":
                    self.take()
            self.take(")")
            return _call(v, args)
        if v in _DURATIONS:
            return _DURATIONS[v]
        if v in _LEVELS:
            return _LEVELS[v]
        if v in ("nil", "time.UTC"):
            return None
        if v in ("true", "false"):
            return v == "true"
        if v in self.env:
            return self.env[v]
        raise ValueError(f"unknown identifier {v}")


def _json_key(go_name: str) -> str:
    return "id" if go_name == "ID" else go_name[0].lower() + go_name[1:]


def _call(name: str, args: list[Any]) -> Any:
    if name == "time.Date":
        y, mo, d, h, mi, s, ns = (int(a) for a in args[:7])
        base = datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp()
        return Instant((int(base) + s) * 1_000_000_000 + ns)
    if name == "mustParseTime":
        dt = datetime.fromisoformat(args[0].replace("Z", "+00:00"))
        return Instant(int(dt.timestamp()) * 1_000_000_000)
    if name in ("int", "int64", "float64", "time.Duration"):
        return args[0]
    raise ValueError(f"unknown function {name}")


def to_json(v: Any) -> Any:
    if isinstance(v, Instant):
        return v.rfc3339()
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def literal_at(text: str, start: int, env: dict[str, Any] | None = None) -> tuple[Any, int]:
    """The Go literal beginning at ``text[start]`` (a type or ``{``) and where it ends."""
    depth = 0
    i = text.index("{", start)
    j = i
    while True:
        c = text[j]
        if c == "`":
            j = text.index("`", j + 1)
        elif c == '"':
            j += 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
        j += 1
    src = text[start : j + 1]
    value = GoReader(src, env).value()
    return to_json(value), j + 1


def functions(src: str) -> dict[str, tuple[int, str]]:
    starts = [(m.group(1), m.start()) for m in re.finditer(r"^func (Test\w+)\(", src, re.M)]
    out: dict[str, tuple[int, str]] = {}
    for k, (name, pos) in enumerate(starts):
        end = starts[k + 1][1] if k + 1 < len(starts) else src.index("\n// Helper", pos)
        out[name] = (src.count("\n", 0, pos) + 1, src[pos:end])
    return out


def _script(raw: str) -> str:
    return raw.replace("` + ts.URL + `", "{{POST_URL}}").strip("\n") + "\n"


def handler(body: str) -> tuple[str, list[dict[str, Any]], str, int] | None:
    """(body format, expected requests in order, ignored alert field, answer delay in ns) of
    the test's ``httptest`` handler."""
    m = re.search(r"ts := httptest\.NewServer\(", body)
    if m is None:
        return None
    end = body.index("defer ts.Close()", m.end())
    h = body[m.end() : end]
    fmt = "alert_data" if "alert.Data{}" in h else "result"
    reqs: list[dict[str, Any]] = []
    pat = re.compile(r"(?:expAd|er\.Result|er)\s*:?=\s*(?=alert\.Data\{|models\.Result\{)")
    cases = [(int(c.group(1)), c.start()) for c in re.finditer(r"case (\d+):", h)]
    for k, lm in enumerate(pat.finditer(h)):
        rc = k + 1
        for n, pos in cases:
            if pos < lm.start():
                rc = n
        value, stop = literal_at(h, lm.end(), {"rc": rc})
        req: dict[str, Any] = {"body": value}
        url = re.match(r"\s*er\.url = (\"[^\"]*\")", h[stop:])
        if url:
            req["path"] = json.loads(url.group(1))
        reqs.append(req)
    sleep = re.search(r"time\.Sleep\(([^)]*)\)", h)
    delay = int(GoReader(sleep.group(1)).expr()) if sleep else 0
    return fmt, reqs, ("data" if "ad.Data = models.Result{}" in h else ""), delay


def extract() -> list[str]:
    src = git_show(SOURCE)
    made: list[str] = []
    if CASES.exists():
        shutil.rmtree(CASES)
    for fname, (line, body) in functions(src).items():
        if fname in SKIP:
            continue
        calls: list[dict[str, Any]] = []
        script = ""
        er: Any = None
        pat = re.compile(
            r"script = `(?P<script>(?:[^`]|` \+ ts\.URL \+ `)*)`"
            r"|\ber :?= (?=models\.Result\{)"
            r"|testBatcherWithOutput\(t, \"(?P<wname>\w+)\", script, (?P<wdur>\d+)\*time\.(?P<wu>\w+), er, (?P<ord>true|false)\)"
            r"|testBatcher\(t, \"(?P<bname>\w+)\", script\)"
            r"|fastForwardTask\(clock, et, replayErr, tm, (?P<fdur>\d+)\*time\.(?P<fu>\w+)\)"
        )
        hstart = body.find("ts := httptest.NewServer(")
        hend = body.find("defer ts.Close()") if hstart >= 0 else -1
        pos = 0
        while True:
            m = pat.search(body, pos)
            if m is None:
                break
            pos = m.end()
            if hstart <= m.start() < hend:
                continue
            if m.group("script") is not None:
                script = _script(m.group("script"))
            elif m.group(0).startswith("er"):
                er, pos = literal_at(body, m.end())
            elif m.group("wname"):
                calls.append(
                    {
                        "data": m.group("wname"),
                        "until": m.group("wdur") + _unit(m.group("wu")),
                        "script": script,
                        "http_out": er,
                        "ignore_order": m.group("ord") == "true",
                    }
                )
            elif m.group("bname"):
                calls.append({"data": m.group("bname"), "script": script})
            elif m.group("fdur"):
                calls[-1]["until"] = m.group("fdur") + _unit(m.group("fu"))
        if fname == "TestBatch_InvalidQuery":
            calls = _invalid_query_cases(body)
        hd = handler(body)
        for k, call in enumerate(calls):
            name = fname if len(calls) == 1 else f"{fname}_{k}"
            write_case(name, fname, line, call, hd)
            made.append(name)
    return made


def _unit(go: str) -> str:
    return {"Second": "s", "Millisecond": "ms", "Minute": "m", "Hour": "h"}[go]


def _invalid_query_cases(body: str) -> list[dict[str, Any]]:
    out = []
    for m in re.finditer(r"script: `([^`]*)`,\s*err:\s*(`[^`]*`|\"(?:\\.|[^\"\\])*\")", body):
        err = m.group(2)
        err = err[1:-1] if err.startswith("`") else json.loads(err)
        out.append(
            {
                "script": m.group(1) + "\n",
                "error": err,
                "data": None,
                "until": None,
                "task": "invalid",
            }
        )
    return out


def write_case(
    name: str,
    func: str,
    line: int,
    call: dict[str, Any],
    hd: tuple[str, list[dict[str, Any]], str, int] | None,
) -> None:
    d = CASES / name
    d.mkdir(parents=True)
    (d / "task.tick").write_text(call["script"], encoding="utf-8")
    data: list[str] = []
    if call["data"]:
        i = 0
        while True:
            f = f"{call['data']}.{i}.brpl"
            try:
                text = git_show(f"integrations/testdata/{f}")
            except subprocess.CalledProcessError:
                break
            (d / f).write_text(text, encoding="utf-8")
            data.append(f)
            i += 1
    expect: dict[str, Any] = {}
    compare: dict[str, Any] = {"float_rel_tol": 1e-9}
    if call.get("http_out") is not None:
        expect["http_out"] = {call["data"]: call["http_out"]}
        if call.get("ignore_order"):
            compare["http_out_ignore_series_order"] = True
    if call.get("error"):
        expect["error"] = call["error"]
    if hd is not None:
        fmt, reqs, ignore, delay = hd
        compare["post_body_format"] = fmt
        compare["post_order"] = "sequence"
        if delay:
            compare["post_delay_ns"] = delay
        if ignore:
            compare["post_body_ignore_fields"] = [ignore]
        if reqs:
            expect["post_requests"] = reqs
    case = {
        "name": name,
        "source": {
            "repo": "influxdata/kapacitor",
            "commit": COMMIT,
            "file": SOURCE,
            "func": func,
            "line": line,
        },
        "task_name": call.get("task") or call["data"] or func,
        "dbrp": "dbname.rpname",
        "until": call["until"],
        "data": data,
        "expect": expect,
        "compare": compare,
    }
    (d / "case.json").write_text(json.dumps(case, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    names = extract()
    print(f"{len(names)} cases", file=sys.stderr)
