"""Kapacitor's batch integration tests (``integrations/batcher_test.go``), run as data.

Each folder under ``cases/`` holds a test's TICKscript, its ``.brpl`` recordings (one per
``query()``, script order) and ``case.json`` with what Kapacitor's test expects: the final
``httpOut`` result, the requests its ``httptest`` handler received (in order), or the error
starting the task.  ``extract.py`` derived them from the Go source; the case format is the
stream kit's (``../shared/conformance/README.md``).  Each case runs through
:func:`leyden.replay.replay`, the code behind ``leyden replay``, in this process, against a real
loopback HTTP server that records what handlers post.  Tests that are not cases are listed with
the reason in ``SKIPPED.md``; ``KNOWN_FAILURES`` names the Kapacitor behaviour a case needs and
Leyden does not match yet.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from leyden.config import load_config
from leyden.engine.node import TaskError
from leyden.go.strconv import parse_go_duration
from leyden.go.types import Time, go_json
from leyden.notify import INTEGRATIONS
from leyden.replay import ReplayError, parse_dbrp, replay
from leyden.tick.errors import TickError

CASES = Path(__file__).resolve().parent / "cases"

#: case → the Kapacitor behaviour it needs that Leyden does not match yet
KNOWN_FAILURES: dict[str, str] = {}


def _params() -> list[Any]:
    out = []
    for d in sorted(p for p in CASES.iterdir() if (p / "case.json").exists()):
        marks = []
        if d.name in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[d.name], strict=True))
        out.append(pytest.param(d, id=d.name, marks=marks))
    return out


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CaptureServer:
    url: str
    requests: list[Captured] = field(default_factory=list)


@contextmanager
def capture_server(delay_s: float) -> Iterator[CaptureServer]:
    """A loopback HTTP server recording every request (answering 200 after ``delay_s``, as the
    Go test's handler sleeps)."""
    lock = threading.Lock()
    captured: list[Captured] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                captured.append(Captured(self.path, dict(self.headers), body))
            if delay_s:
                time.sleep(delay_s)
            try:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the client gave up (its timeout): nothing to answer
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cap = CaptureServer(f"http://127.0.0.1:{server.server_address[1]}", captured)
        yield cap
    finally:
        server.shutdown()
        server.server_close()


# --- comparison (Kapacitor's compareResults / compareAlertData) ------------------------------


def _same_value(exp: Any, got: Any, column: str, tol: float) -> bool:
    if column == "time" and isinstance(exp, str) and isinstance(got, str):
        return int(Time.parse_rfc3339(exp)) == int(Time.parse_rfc3339(got))
    if isinstance(exp, bool) or isinstance(got, bool):
        return exp is got
    if isinstance(exp, int | float) and isinstance(got, int | float):
        return math.isclose(exp, got, rel_tol=tol, abs_tol=0.0)
    return bool(exp == got)


def _row(r: dict[str, Any]) -> tuple[str, dict[str, str], list[str], list[list[Any]]]:
    return r.get("name") or "", r.get("tags") or {}, r.get("columns") or [], r.get("values") or []


def _diff_rows(exp: dict[str, Any], got: dict[str, Any], tol: float) -> str | None:
    en, et, ec, ev = _row(exp)
    gn, gt, gc, gv = _row(got)
    if (en, et, ec) != (gn, gt, gc):
        return f"series {en} {et} {ec} != got {gn} {gt} {gc}"
    if len(ev) != len(gv):
        return f"series {en} {et}: {len(ev)} rows expected, got {len(gv)}: {gv}"
    for i, (er, gr) in enumerate(zip(ev, gv, strict=True)):
        if len(er) != len(gr) or not all(
            _same_value(e, g, c, tol) for e, g, c in zip(er, gr, ec, strict=False)
        ):
            return f"series {en} {et} row {i}: expected {er}, got {gr}"
    return None


def diff_results(exp: Any, got: Any, tol: float, ignore_order: bool = False) -> str | None:
    es = list((exp or {}).get("series") or [])
    gs = list((got or {}).get("series") or [])
    if len(es) != len(gs):
        return f"{len(es)} series expected, got {len(gs)}: {json.dumps(gs)[:2000]}"
    if ignore_order:
        key = lambda r: (_row(r)[0], sorted(_row(r)[1].items()))  # noqa: E731
        es, gs = sorted(es, key=key), sorted(gs, key=key)
    for e, g in zip(es, gs, strict=True):
        problem = _diff_rows(e, g, tol)
        if problem:
            return problem
    return None


_ALERT_ZERO: dict[str, Any] = {
    "id": "",
    "message": "",
    "details": "",
    "time": "0001-01-01T00:00:00Z",
    "duration": 0,
    "level": "OK",
    "previousLevel": "OK",
    "recoverable": False,
    "data": None,
}


def diff_alert_data(
    exp: dict[str, Any], got: dict[str, Any], tol: float, ignore: list[str]
) -> str | None:
    for key, zero in _ALERT_ZERO.items():
        if key in ignore:
            continue
        e, g = exp.get(key, zero), got.get(key, zero)
        if key == "data":
            problem = diff_results(e, g, tol)
            if problem:
                return f"data: {problem}"
        elif key == "time":
            if int(Time.parse_rfc3339(e)) != int(Time.parse_rfc3339(g)):
                return f"time: expected {e}, got {g}"
        elif e != g:
            return f"{key}: expected {e!r}, got {g!r}"
    return None


# --- the test ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", _params())
async def test_kapacitor_batch_case(case_dir: Path, tmp_path: Path) -> None:
    spec = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    expect, compare = spec["expect"], spec["compare"]
    tol = float(compare.get("float_rel_tol", 1e-9))
    delay_s = compare.get("post_delay_ns", 0) / 1e9
    with capture_server(delay_s) as server:
        script = tmp_path / "task.tick"
        text = (case_dir / "task.tick").read_text(encoding="utf-8")
        script.write_text(text.replace("{{POST_URL}}", server.url), encoding="utf-8")
        data = [case_dir / f for f in spec["data"]]
        config = load_config(None, {}, integrations=INTEGRATIONS.sections())
        until = parse_go_duration(spec["until"]) if spec.get("until") else None
        run = replay(
            script,
            data,
            config=config,
            name=spec["task_name"],
            dbrps=[parse_dbrp(spec["dbrp"])],
            until=until,
        )
        if "error" in expect:
            with pytest.raises((ReplayError, TaskError, TickError, ValueError)) as info:
                await run
            assert expect["error"] in str(info.value)
            return
        task = await run
        requests = list(server.requests)
    for endpoint, want in (expect.get("http_out") or {}).items():
        got = json.loads(go_json(task.http_out().get(endpoint, {})))
        ignore_order = bool(compare.get("http_out_ignore_series_order"))
        problem = diff_results(want, got, tol, ignore_order)
        assert problem is None, f"httpOut {endpoint}: {problem}"
    if "post_requests" in expect:
        want_reqs = expect["post_requests"]
        bodies = [r.body.decode() for r in requests]
        assert len(requests) == len(want_reqs), f"{len(want_reqs)} requests expected: {bodies}"
        ignore = list(compare.get("post_body_ignore_fields", []))
        for n, (want_req, got_req) in enumerate(zip(want_reqs, requests, strict=True), 1):
            if "path" in want_req:
                assert got_req.path == want_req["path"], f"request {n}: path"
            body = json.loads(got_req.body)
            if compare.get("post_body_format") == "alert_data":
                problem = diff_alert_data(want_req["body"], body, tol, ignore)
            else:
                problem = diff_results(want_req["body"], body, tol)
            assert problem is None, f"request {n}: {problem}"
