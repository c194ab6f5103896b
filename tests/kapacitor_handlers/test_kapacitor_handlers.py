"""Kapacitor's handler tests, run as data: what each service's test server must receive.

Two sources in influxdata/kapacitor (commit ``7702d12d``), one folder per case under ``cases/``:

* ``integrations/streamer_test.go``'s ``TestStream_Alert<Kind>``: a TICKscript whose alert
  node names the handler (``.slack().channel('#alerts')``), the ``kapacitor.conf`` the Go test
  built in ``tmInit``, the recording it replays.  ``case.json`` has ``"type": "stream"``; the
  case runs through :func:`leyden.replay.replay`, the code behind ``leyden replay``.
* ``server/server_test.go``'s ``TestServer_AlertHandlers``: a topic handler (``kind`` and
  ``options``; ``handlers``, a list with their ``id``, for ``…_MultipleHandlers``) on topic
  ``test``, the server config its ``setup`` made, and one point through
  the Go test's task (``alert().topic('test').id('id').message('message')
  .details('details').crit(lambda: TRUE)``).  ``"type": "topic"``; the case runs in a runtime
  built by the composition root, as ``leyden serve`` builds it.

``servers`` names the capture servers the case needs (:mod:`servers`) and their answers;
their placeholders (``{{HTTP_URL}}`` …) are filled in ``kapacitor.conf``, ``task.tick`` and
the handler options.  ``expect`` maps each server to the records it must have received, in any
order (Go's ``compareListIgnoreOrder``), or in order with ``"order": "sequence"``.  A record
matches when every key the expectation names is equal: ``headers`` checks only the headers it
lists (``null`` means absent), ``json`` the whole decoded body (numbers as numbers: Go decodes
them into ``float64``).  ``KNOWN_FAILURES`` names what Leyden does not match yet, and why.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from servers import SERVERS, CaptureServer

from leyden import API_BASE
from leyden.clock import SimulatedClock
from leyden.config import Config, load_config
from leyden.go.strconv import parse_go_duration
from leyden.lineprotocol import parse
from leyden.model.records import HandlerRecord
from leyden.notify import INTEGRATIONS
from leyden.replay import parse_dbrp, replay
from leyden.runtime import build_runtime
from leyden.store import Store
from leyden.tasks.manager import check
from leyden.tasks.runner import build

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"

#: case → the Kapacitor behaviour it needs that Leyden does not match yet
KNOWN_FAILURES: dict[str, str] = {}

#: the task of TestServer_AlertHandlers, for every topic case
TOPIC_TASK = """
stream
    |from()
        .measurement('alert')
    |alert()
        .topic('test')
        .id('id')
        .message('message')
        .details('details')
        .crit(lambda: TRUE)
"""


def _params() -> list[Any]:
    out = []
    for d in sorted(p for p in CASES.iterdir() if (p / "case.json").exists()):
        marks = []
        if d.name in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[d.name], strict=True))
        out.append(pytest.param(d, id=d.name, marks=marks))
    return out


def fill(value: Any, placeholders: dict[str, str]) -> Any:
    """``{{NAME}}`` → its value, in strings anywhere inside ``value``."""
    if isinstance(value, str):
        for name, text in placeholders.items():
            value = value.replace("{{" + name + "}}", text)
        return value
    if isinstance(value, list):
        return [fill(v, placeholders) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, placeholders) for k, v in value.items()}
    return value


def _config(case_dir: Path, spec: dict[str, Any], tmp: Path, holes: dict[str, str]) -> Config:
    name = spec.get("config")
    path = None
    if name:
        path = tmp / "kapacitor.conf"
        path.write_text(fill((case_dir / name).read_text(encoding="utf-8"), holes), "utf-8")
    return load_config(str(path) if path else None, {}, integrations=INTEGRATIONS.sections())


def _same(exp: Any, got: Any) -> bool:
    if isinstance(exp, dict) and isinstance(got, dict):
        return exp.keys() == got.keys() and all(_same(exp[k], got[k]) for k in exp)
    if isinstance(exp, list) and isinstance(got, list):
        return len(exp) == len(got) and all(_same(e, g) for e, g in zip(exp, got, strict=True))
    if isinstance(exp, bool) or isinstance(got, bool):
        return exp is got
    if isinstance(exp, int | float) and isinstance(got, int | float):
        return float(exp) == float(got)
    return bool(exp == got)


def matches(exp: dict[str, Any], got: dict[str, Any]) -> str | None:
    """Why ``got`` is not the record ``exp`` describes, or None."""
    for key, want in exp.items():
        if key == "headers":
            headers = {k.lower(): v for k, v in got.get("headers", {}).items()}
            for name, value in want.items():
                if headers.get(name.lower()) != value:
                    return f"header {name}: expected {value!r}, got {headers.get(name.lower())!r}"
        elif not _same(want, got.get(key)):
            return f"{key}: expected {json.dumps(want)}, got {json.dumps(got.get(key))}"
    return None


def compare(server: str, want: list[dict[str, Any]], got: list[dict[str, Any]], order: str) -> None:
    shown = json.dumps(got, indent=1, default=str)[:4000]
    assert len(got) == len(want), f"{server}: {len(want)} expected, got {len(got)}: {shown}"
    if order == "sequence":
        for n, (e, g) in enumerate(zip(want, got, strict=True), 1):
            problem = matches(e, g)
            assert problem is None, f"{server} record {n}: {problem}"
        return
    left = list(got)
    for n, e in enumerate(want, 1):
        problems = [matches(e, g) for g in left]
        if None not in problems:
            raise AssertionError(f"{server}: no record matches expectation {n}: {problems}")
        left.pop(problems.index(None))


async def _run_stream(
    case_dir: Path, spec: dict[str, Any], config: Config, tmp: Path, holes: dict[str, str]
) -> None:
    script = tmp / "task.tick"
    script.write_text(fill((case_dir / "task.tick").read_text("utf-8"), holes), "utf-8")
    data = [HERE / "data" / f for f in spec["data"]]
    await replay(
        script,
        data,
        config=config,
        name=spec["task_name"],
        dbrps=[parse_dbrp(spec.get("dbrp", "dbname.rpname"))],
        until=parse_go_duration(spec["until"]) if spec.get("until") else None,
    )


async def _run_topic(spec: dict[str, Any], config: Config, holes: dict[str, str]) -> None:
    # one handler (TestServer_AlertHandlers) or several on the topic (…_MultipleHandlers)
    handlers = fill(spec.get("handlers") or [{"id": "testAlertHandlers", **spec["handler"]}], holes)
    runtime = build_runtime(
        config, store=Store(":memory:"), clock=SimulatedClock(0), simulated=True
    )
    try:
        await runtime.start()
        for handler in handlers:
            runtime.topic_handlers.register(
                HandlerRecord("test", handler["id"], handler["kind"], handler.get("options", {}))
            )
        pipeline = build(TOPIC_TASK, filename="testAlertHandlers")
        check(pipeline, "testAlertHandlers")
        task = runtime.runner.start("testAlertHandlers", pipeline, [("mydb", "myrp")])
        parsed = parse(b"alert value=1 0000000000", precision="s")
        assert not parsed.errors
        runtime.router.write_points("mydb", "myrp", parsed.points)
        await runtime.runner.stop(task)
        await runtime.alerts.drain()
    finally:
        await runtime.close()


@pytest.mark.parametrize("case_dir", _params())
async def test_kapacitor_handler_case(case_dir: Path, tmp_path: Path) -> None:
    spec = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    servers: dict[str, CaptureServer] = {}
    holes: dict[str, str] = {"CASE_DIR": str(tmp_path)}
    try:
        for name, options in spec.get("servers", {}).items():
            server = SERVERS[name]()
            servers[name] = server
            holes.update(await server.start(dict(options or {})))
        config = _config(case_dir, spec, tmp_path, holes)
        # Kapacitor's HTTPDService.URL(), which PagerDuty sends as client_url
        holes["KAPACITOR_URL"] = f"http://{config.http.bind_address}{API_BASE}"
        if spec["type"] == "stream":
            await _run_stream(case_dir, spec, config, tmp_path, holes)
        else:
            await _run_topic(spec, config, holes)
        await asyncio.sleep(0)
    finally:
        for server in servers.values():
            await server.stop()
    order = spec.get("order", "any")
    for name, want in spec["expect"].items():
        compare(name, fill(want, holes), servers[name].received(), order)
