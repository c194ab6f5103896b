"""Issue 16: bad input is a clear 4xx naming the limit and the place, and the rest of the
request survives; compiling runs off the event loop with a time limit.

One test per case of the issue's hostile-request run (each was a 500 or a stall before)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leyden import limits, lineprotocol
from leyden.config import load_config
from leyden.lineprotocol import WirePoint
from leyden.notify import INTEGRATIONS
from leyden.server import write as write_module
from leyden.server.app import create_app
from leyden.tasks import manager as manager_module
from leyden.tick.fmt import formatted

TASKS = "/kapacitor/v1/tasks"
TEMPLATES = "/kapacitor/v1/templates"
HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"
NOW = 1_700_000_000_000_000_000


class Recorder:
    def __init__(self) -> None:
        self.points: list[WirePoint] = []

    def receive(self, db: str, rp: str, point: WirePoint) -> None:
        self.points.append(point)


@pytest.fixture
async def server(aiohttp_client: Any, make_runtime: Any) -> tuple[TestClient, Any, Recorder]:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    services = make_runtime(config)
    recorder = Recorder()
    services.router.subscribe(recorder, [("telegraf", "autogen"), ("telegraf", "")], [None])
    client = await aiohttp_client(create_app(services))
    return client, services, recorder


async def _error(resp: Any) -> str:
    body = await resp.json()
    assert body["error"] == body["message"]
    error: str = body["error"]
    return error


# --- line protocol -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ("cpu v=" + "9" * 5000 + "i 2", "integer value"),
        ("cpu v=2 " + "1" * 5000, "timestamp"),
    ],
)
async def test_a_5000_digit_number_costs_its_line_only(server: Any, bad: str, what: str) -> None:
    client, _, recorder = server
    body = f"cpu v=1i 1\n{bad}\ncpu v=3i 3\n"
    resp = await client.post("/write?db=telegraf", data=body)
    assert resp.status == 400
    text = await resp.text()
    assert text.startswith("partial write: 2 points accepted, 1 lines rejected:")
    assert f"line 2: {what}" in text and "value out of range" in text
    assert len(text) < 400  # the number is shortened in the message
    assert [p.fields["v"] for p in recorder.points] == [1, 3]


# --- JSON bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", TASKS),
        ("POST", TEMPLATES),
        ("POST", HANDLERS),
        ("POST", "/kapacitor/v1/config/smtp"),
        ("POST", "/kapacitor/v1/service-tests/discord"),
    ],
)
async def test_deeply_nested_json_is_a_400_naming_the_limit(
    server: Any, method: str, path: str
) -> None:
    client, _, _ = server
    for depth in (limits.MAX_JSON_DEPTH + 1, 100_000):
        body = '{"id": "x", "vars": ' + "[" * depth + "]" * depth + "}"
        resp = await client.request(method, path, data=body)
        assert resp.status == 400, (path, depth, await resp.text())
        assert f"deeper than {limits.MAX_JSON_DEPTH} levels" in await _error(resp)


async def test_json_at_the_nesting_limit_is_decoded(server: Any) -> None:
    client, _, _ = server
    depth = limits.MAX_JSON_DEPTH - 1
    body = '{"id": "x", "junk": ' + "[" * depth + "]" * depth + "}"
    resp = await client.post(TASKS, data=body)
    assert resp.status == 400
    assert await _error(resp) == "must provide TICKscript"  # decoded, then refused for that


async def test_an_api_body_over_the_limit_is_a_413(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, recorder = server
    monkeypatch.setattr(limits, "MAX_API_BODY", 1000)
    resp = await client.post(TASKS, data=json.dumps({"id": "x", "script": "x" * 2000}))
    assert resp.status == 413
    assert "over 1000 bytes (the limit for API requests)" in await _error(resp)
    # writes keep their own, larger limit
    resp = await client.post("/write?db=telegraf", data="cpu v=1i 1\n" * 200)
    assert resp.status == 204
    assert len(recorder.points) == 200


# --- TICKscript --------------------------------------------------------------------------------


async def _define(client: TestClient, script: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        TASKS,
        json={
            "id": "bomb",
            "type": "stream",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": script,
        },
    )
    return resp.status, await resp.json()


async def test_a_10000_long_log_chain_is_a_400_at_the_link_over_the_limit(server: Any) -> None:
    client, _, _ = server
    head = "stream|from().measurement('m')"
    status, body = await _define(client, head + "|log()" * 10_000)
    assert status == 400
    assert f"chain is longer than {limits.MAX_CHAIN_LENGTH} links" in body["error"]
    # at the first link over the limit: |from() and .measurement() are the first two
    assert body["position"]["line"] == 1
    assert body["position"]["column"] == len(head) + 6 * (limits.MAX_CHAIN_LENGTH - 2) + 1


async def test_a_window_chain_thousands_long_is_a_400(server: Any) -> None:
    client, _, _ = server
    status, body = await _define(
        client, "stream|from().measurement('m')" + "|window().period(1s).every(1s)" * 3000
    )
    assert status == 400 and "the limit)" in body["error"]


async def test_a_20000_term_and_is_a_400_naming_the_depth_limit(server: Any) -> None:
    client, _, _ = server
    terms = " AND ".join(['"v" > 1'] * 20_000)
    status, body = await _define(
        client, f"stream|from().measurement('m')|where(lambda: {terms})|log()"
    )
    assert status == 400
    assert f"more than {limits.MAX_EXPRESSION_DEPTH} levels deep" in body["error"]
    assert body["position"]["line"] == 1


async def test_a_script_over_the_size_limit_is_a_400(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, _ = server
    monkeypatch.setattr(limits, "MAX_SCRIPT_BYTES", 4096)
    script = "stream|from().measurement('m')|log()\n" + "// padding\n" * 1000
    status, body = await _define(client, script)
    assert status == 400
    assert "over the limit of 4096 bytes" in body["error"]
    assert body["position"]["line"] == 1 + (4096 - 37) // 11 + 1


async def test_scripts_within_the_limits_are_defined_and_run(server: Any) -> None:
    """The limits leave room: a 900-node chain and a 150-term AND are defined and enabled
    (the engine starts them: no RecursionError in the task's start either)."""
    client, _, _ = server
    terms = " AND ".join(['"v" > 0'] * 150)
    script = f"stream|from().measurement('m')|where(lambda: {terms})" + "|log()" * 900
    resp = await client.post(
        TASKS,
        json={
            "id": "big",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": script,
            "status": "enabled",
        },
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["executing"] is True and body["error"] == ""
    resp = await client.get(f"{TASKS}/big")
    assert resp.status == 200


async def test_deep_lambda_vars_are_refused_before_they_multiply(server: Any) -> None:
    """Each lambda var uses the one before twice: inlined, the last would have 2**40 nodes."""
    client, _, _ = server
    lines = ['var l0 = lambda: "v" > 1']
    lines += [f"var l{i} = lambda: l{i - 1} AND l{i - 1}" for i in range(1, 41)]
    lines.append("stream|from().measurement('m')|where(l40)|log()")
    status, body = await _define(client, "\n".join(lines))
    assert status == 400
    assert "(the limit)" in body["error"]


async def test_an_alert_message_template_nested_too_deeply_names_the_limit(server: Any) -> None:
    """Templates are parsed when the task starts (as Kapacitor): the start error names the
    limit and the template's place, with no traceback."""
    client, _, _ = server
    message = "{{if 1}}" * 200 + "x" + "{{end}}" * 200
    script = f"stream|from().measurement('m')|alert().crit(lambda: TRUE).message('{message}')"
    resp = await client.post(
        TASKS,
        json={
            "id": "bomb",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": script,
            "status": "enabled",
        },
    )
    error = await _error(resp)
    assert "invalid .message() template: template: message:1:" in error
    assert "actions nest more than 50 deep" in error
    assert "Traceback" not in error


# --- compiling off the loop, with a time limit -------------------------------------------------


@pytest.fixture
def slow_compile(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Compiles block until the test sets the event (never longer than 10 s)."""
    release = threading.Event()
    real = manager_module._build_compiled

    def blocked(*args: Any) -> Any:
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(manager_module, "_build_compiled", blocked)
    yield release
    release.set()


async def test_a_compile_over_the_time_limit_is_a_400_and_the_server_answers_meanwhile(
    server: Any, slow_compile: threading.Event
) -> None:
    client, services, _ = server
    services.tasks.compile_timeout = 0.2
    resp = await client.post(
        TASKS, json={"id": "slow", "script": "stream|from().measurement('m')|log()"}
    )
    assert resp.status == 400
    assert await _error(resp) == (
        "compiling the TICKscript took longer than 0.2s (the limit, [http] compile-timeout)"
    )
    # the compile thread is still blocked: the loop is not, and serves other requests
    assert (await client.get("/kapacitor/v1/ping")).status == 204
    assert (await client.get(f"{TASKS}/slow")).status == 404  # nothing was stored
    slow_compile.set()


# --- topic handlers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (
            {"id": "h", "kind": "nosuch"},
            'failed to create handler: unsupported action kind "nosuch"; supported kinds: ',
        ),
        (
            {"id": "h", "kind": "log", "options": {"path": "/tmp/x", "bogus": 1}},
            "failed to create handler: invalid log handler option(s): bogus",
        ),
        (
            {"id": "h", "kind": "slack", "options": {"channel": 5}},
            "failed to create handler: ",
        ),
        (
            {
                "id": "h",
                "kind": "log",
                "options": {"path": "/tmp/x"},
                "match": " AND ".join(["level() > OK"] * 20_000),
            },
            "failed to create handler: invalid match expression: match:1:",
        ),
    ],
)
async def test_topic_handler_kind_and_option_errors_are_400s(
    server: Any, spec: dict[str, Any], error: str
) -> None:
    client, _, _ = server
    resp = await client.post(HANDLERS, json=spec)
    assert resp.status == 400
    text = await _error(resp)
    assert text.startswith(error), text
    if spec["kind"] == "nosuch":
        supported = text.split("supported kinds: ", 1)[1].split(", ")
        assert {"discord", "log", "post", "aggregate", "publish"} <= set(supported)


# --- write bodies with quotes are parsed in slices, exactly as whole -----------------------


def _sliced(body: bytes, size: int) -> tuple[list[WirePoint], list[tuple[int, str]]]:
    lines = body.split(b"\n")
    done = 0
    points: list[WirePoint] = []
    errors: list[tuple[int, str]] = []
    while done < len(lines):
        part, taken = write_module._parse_slice(lines, done, size, "ns", NOW)
        assert taken >= 1
        points += part.points
        errors += [(e.line + done, e.message.split(":", 1)[1]) for e in part.errors]
        done += taken
    return points, errors


_LINES = st.sampled_from(
    [
        'm v="a',
        'b"',
        'm v="x\\"y",w=1i',
        "c",
        'm,t=a"b v=2',
        'm v="closed" 5',
        "m v=1i",
        "",
        '"',
        'm v="a\nb"',
        "bad line",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINES, max_size=40), size=st.integers(1, 8), joined=st.integers(5, 40))
def test_a_body_parsed_in_slices_is_parsed_as_a_whole(
    lines: list[str], size: int, joined: int
) -> None:
    body = "\n".join(lines).encode()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lineprotocol, "MAX_JOINED_LINE", joined)
        whole = lineprotocol.parse(body, now_ns=NOW)
        points, errors = _sliced(body, size)
    assert points == whole.points
    assert errors == [(e.line, e.message.split(":", 1)[1]) for e in whole.errors]


async def test_a_quoted_body_gives_the_loop_back_between_slices(server: Any) -> None:
    client, _, recorder = server
    feed = client.app[write_module.WRITE_FEED_KEY]
    feed.budget = 0.0  # every slice ends a turn
    body = "".join(f'log,host=h msg="line {i}",n={i}i {i}\n' for i in range(2000))
    resp = await client.post("/write?db=telegraf", data=body)
    assert resp.status == 204
    assert len(recorder.points) == 2000 and recorder.points[-1].fields["msg"] == "line 1999"
    assert feed.yields > 1


def test_a_string_broken_by_a_later_line_does_not_loop_the_slicer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Line 1's string is broken by line 2 (not open at the end), line 2's runs to the end
    of the slice: the slice is cut before line 2, where line 1 alone reads as open again
    (this went round for ever once)."""
    monkeypatch.setattr(lineprotocol, "MAX_JOINED_LINE", 20)
    body = b'm v="a\nm v="b\nc\nm v=1i 1\nd\ne'
    whole = lineprotocol.parse(body, now_ns=NOW)
    for size in (1, 2, 3, 4):
        points, errors = _sliced(body, size)
        assert points == whole.points
        assert errors == [(e.line, e.message.split(":", 1)[1]) for e in whole.errors]


async def test_showing_a_task_builds_and_formats_it_off_the_loop(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a restart nothing is built yet: GET /tasks prepares each script on the compile
    thread, and a script that does not build is remembered with its error."""
    client, services, _ = server
    script = "stream|from().measurement('m')|log()"
    for task_id in ("good", "bad"):
        resp = await client.post(
            TASKS, json={"id": task_id, "dbrps": [{"db": "d", "rp": "r"}], "script": script}
        )
        assert resp.status == 200
    manager = services.tasks
    bad = manager.get("bad")
    assert bad is not None
    manager.store.put_task(replace(bad, tickscript="stream|from()|nosuch()"))
    manager._pipelines.clear()  # as after a restart
    formatted.cache_clear()
    threads: list[str] = []
    real_build = manager_module.build

    def build(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(manager_module, "build", build)
    for _ in range(2):
        resp = await client.get(TASKS)
        assert resp.status == 200
        tasks = {t["id"]: t for t in (await resp.json())["tasks"]}
        assert tasks["good"]["dot"] and tasks["bad"]["dot"] is None
        resp = await client.get(f"{TASKS}/bad")
        assert "no method or property" in (await resp.json())["error"]
    assert len(threads) == 2  # once each: the error is remembered too
    assert all(name.startswith("leyden-compile") for name in threads), threads
