"""httpPost: rows POSTed in order to a real local server, off the per-point path."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from engine_support import context
from multidict import CIMultiDict

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.config import BasicAuth, Config, HTTPPostConfig
from leyden.engine.model import Point
from leyden.engine.node import TaskError
from leyden.engine.task import Task
from leyden.runtime import httppost_endpoints
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
T0 = 31_536_000 * S


@dataclass
class Server:
    url: str
    requests: list[dict[str, object]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server("")

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        srv.requests.append(
            {"path": request.path_qs, "headers": request.headers.copy(), "body": body}
        )
        status = srv.statuses[len(srv.requests) - 1] if srv.statuses else 200
        return web.Response(status=status, text=f"answer {len(srv.requests)}")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    srv.url = f"http://127.0.0.1:{port}"
    yield srv
    await runner.cleanup()


def make_task(script: str, config: Config | None = None) -> Task:
    pipeline = build_pipeline('dbrp "db"."rp"\n' + script)
    endpoints = httppost_endpoints(config or Config())
    ctx = context("t", SimulatedClock(T0), httppost_endpoints=endpoints)
    return Task("t", pipeline, ctx, [("db", "rp")])


def send(task: Task, line: str) -> None:
    p = lineprotocol.parse(line, precision="s", now_ns=0).points[0]
    p.time += T0
    task.receive("db", "rp", p)


def post_node(task: Task) -> object:
    return next(n for n in task.nodes.values() if n.kind == "httpPost")


async def test_posts_result_json_in_order_and_forwards_at_once(server: Server) -> None:
    task = make_task(
        f"stream|from().measurement('cpu').groupBy('host')"
        f"|httpPost('{server.url}/x').header('my', 'header')|httpOut('out')"
    )
    for i in range(5):
        send(task, f"cpu,host=a,type=idle value={i}.5 {i}")
    # forwarded before any request went out: the point path does not wait for HTTP
    assert task.http_out()["out"]["series"][0]["values"][0][1] == 4.5
    assert server.requests == []
    await task.drain()
    assert len(server.requests) == 5
    first = server.requests[0]
    assert first["path"] == "/x"
    headers = first["headers"]
    assert isinstance(headers, CIMultiDict)
    assert headers["my"] == "header" and headers["Content-Type"] == "application/json"
    assert first["body"] == (
        '{"series":[{"name":"cpu","tags":{"host":"a","type":"idle"},'
        '"columns":["time","value"],"values":[["1971-01-01T00:00:00Z",0.5]]}]}\n'
    )
    values = [json.loads(str(r["body"]))["series"][0]["values"][0][1] for r in server.requests]
    assert values == [0.5, 1.5, 2.5, 3.5, 4.5]


async def test_url_is_a_template_over_the_row(server: Server) -> None:
    task = make_task(
        "stream|from().measurement('cpu')"
        f"|httpPost('{server.url}/{{{{ .Name }}}}/?host={{{{ index .Tags \"host\" }}}}')"
    )
    send(task, "cpu,host=serverA v=1 0")
    await task.drain()
    assert server.requests[0]["path"] == "/cpu/?host=serverA"


async def test_code_field_forwards_after_the_response_in_order(server: Server) -> None:
    server.statuses = [200, 404, 500]
    task = make_task(
        f"stream|from().measurement('cpu')|httpPost('{server.url}').codeField('code')"
        "|httpOut('out')"
    )
    outs: list[Point] = []

    class Cap:
        def point(self, p: Point) -> None:
            outs.append(p)

    post_node(task).children.append(Cap())  # type: ignore[attr-defined]
    for i in range(3):
        send(task, f"cpu v={i} {i}")
    assert outs == []  # waits for its response
    await task.drain()
    assert [(p.fields["code"], p.fields["v"]) for p in outs] == [(200, 0.0), (404, 1.0), (500, 2.0)]
    assert post_node(task).stats.errors == 2  # type: ignore[attr-defined]


async def test_endpoint_from_config_with_row_template_and_basic_auth(server: Server) -> None:
    config = Config(
        httppost=[
            HTTPPostConfig(
                endpoint="test",
                url=server.url + "/ep",
                headers={"X-From": "config", "X-Both": "config"},
                basic_auth=BasicAuth("user", "pw"),
                row_template='{{.Name}} {{index .Tags "host"}}{{range .Values}} '
                '{{index . "time"}} {{index . "value"}}{{end}}',
            )
        ]
    )
    task = make_task(
        "stream|from().measurement('cpu')|httpPost().endpoint('test').header('x-both', 'node')",
        config,
    )
    send(task, "cpu,host=h value=97.1 0")
    await task.drain()
    req = server.requests[0]
    assert req["path"] == "/ep"
    assert req["body"] == "cpu h 1971-01-01 00:00:00 +0000 UTC 97.1"
    headers = req["headers"]
    assert isinstance(headers, CIMultiDict)
    assert headers["X-From"] == "config" and headers.getall("X-Both") == ["node"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()
    assert "Content-Type" not in headers  # Go sets none for a templated body


def test_endpoint_repr_shows_neither_credentials_nor_url() -> None:
    """The task services (and their endpoints) may be printed in a log or a traceback: the
    basic auth in the headers and a token in the URL's path stay out, as in the config."""
    config = Config(
        httppost=[
            HTTPPostConfig(
                endpoint="ep",
                url="https://example.com/hook/secret-token",
                headers={"X-Api-Key": "secret-key"},
                basic_auth=BasicAuth("user", "secret-pw"),
            )
        ]
    )
    endpoints = httppost_endpoints(config)
    shown = repr(endpoints) + repr(context(httppost_endpoints=endpoints).services)
    assert "ep" in shown
    encoded = base64.b64encode(b"user:secret-pw").decode()
    for secret in ("secret-token", "secret-key", encoded):
        assert secret not in shown


def test_unknown_endpoint_is_a_task_error() -> None:
    with pytest.raises(TaskError, match="endpoint 'nope' does not exist"):
        make_task("stream|from()|httpPost().endpoint('nope')")


async def test_unreachable_server_counts_an_error_and_logs_no_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    task = make_task(
        "stream|from()|httpPost('http://127.0.0.1:1/secret-token').codeField('c')|httpOut('o')"
    )
    send(task, "cpu v=1 0")
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        await task.drain()
    assert post_node(task).stats.errors == 1  # type: ignore[attr-defined]
    assert task.http_out()["o"]["series"][0]["values"][0][1] == 0  # code 0: no response
    assert "secret-token" not in caplog.text


def test_without_an_event_loop_requests_wait_for_drain() -> None:
    task = make_task("stream|from()|httpPost('http://127.0.0.1:1/')")
    send(task, "cpu v=1 0")
    node = post_node(task)
    assert len(node.queue) == 1  # type: ignore[attr-defined]
    asyncio.run(task.drain())
    assert len(node.queue) == 0 and node.stats.errors == 1  # type: ignore[attr-defined]


async def test_drain_after_stop_sends_what_a_join_flushed(server: Server) -> None:
    task = make_task(
        "var a = stream|from().measurement('a')\n"
        "var b = stream|from().measurement('b')\n"
        f"a|join(b).as('a', 'b').fill('null')|httpPost('{server.url}')"
    )
    send(task, "a v=1 0")
    await task.drain()
    assert server.requests == []
    task.stop()
    await task.drain()
    body = json.loads(str(server.requests[0]["body"]))
    assert body["series"][0]["columns"] == ["time", "a.v", "b.v"]


async def test_working_cardinality_counts_the_groups_posted(server: Server) -> None:
    """Kapacitor's httpPost consumes its edge group by group: its working_cardinality is the
    groups seen (it keeps no other state per group)."""
    task = make_task(f"stream|from().measurement('cpu').groupBy('host')|httpPost('{server.url}')")
    for i, host in enumerate("abcab"):
        send(task, f"cpu,host={host} value={i} {i}")
    assert post_node(task).cardinality() == 3  # type: ignore[attr-defined]
    await task.drain()
    assert len(server.requests) == 5
