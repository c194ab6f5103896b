"""The log over HTTP (server/logs_api.py, leyden/logstream.py): Kapacitor's log sessions and
loglevel API, and the fan-out that never makes logging wait for a client."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from auth_headers import basic_auth as _basic

from leyden import log
from leyden.config import load_config
from leyden.logstream import LogStreams, parse_filter
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime
from leyden.server.app import create_app
from leyden.server.logs_api import STREAMS_KEY

task_log = logging.getLogger("leyden.task")


@pytest.fixture
def restore_level() -> Iterator[None]:
    before = log.server_level()
    yield
    log._set(before)


@pytest.fixture
async def client(aiohttp_client: Any, make_runtime: Any) -> TestClient:
    runtime: Runtime = make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()))
    c: TestClient = await aiohttp_client(create_app(runtime))
    return c


def _streams(client: TestClient) -> LogStreams:
    return client.app[STREAMS_KEY]


async def _opened(client: TestClient, count: int) -> None:
    for _ in range(1000):
        if len(_streams(client).sessions) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the session did not open")


# --- the filter ------------------------------------------------------------------------------


def test_filter_is_kapacitors() -> None:
    assert parse_filter([("lvl", "error")]) == ([("lvl", "error")], logging.DEBUG)
    assert parse_filter([("lvl", "error+")]) == ([], logging.ERROR)
    assert parse_filter([("lvl", "info+"), ("cool", "tag")]) == ([("cool", "tag")], logging.INFO)
    assert parse_filter([("lvl", "warn")]) == ([("lvl", "warning")], logging.DEBUG)
    with pytest.raises(ValueError, match="query params cannot contain duplicate params"):
        parse_filter([("task", "a"), ("task", "b")])
    with pytest.raises(ValueError, match="unknown level 'loud\\+'"):
        parse_filter([("lvl", "loud+")])


# --- the stream ------------------------------------------------------------------------------


async def test_json_lines_matching_every_tag(client: TestClient) -> None:
    resp = await client.get(
        "/kapacitor/v1preview/logs?task=cpu&node=log2&lvl=info%2B",
        headers={"Accept": "application/json"},
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    await _opened(client, 1)
    task_log.info("point", extra={"fields": {"task": "other", "node": "log2"}})
    task_log.debug("point", extra={"fields": {"task": "cpu", "node": "log2"}})  # below info+
    task_log.info("point", extra={"fields": {"task": "cpu", "node": "log2", "n": 3}})
    line = json.loads(await resp.content.readline())
    assert list(line) == ["ts", "lvl", "msg", "service", "task", "node", "n"]
    assert (line["lvl"], line["msg"], line["service"], line["n"]) == ("info", "point", "task", 3)
    assert line["ts"].endswith("Z")
    resp.close()


async def test_logfmt_by_default_on_kapacitors_path_and_ours(client: TestClient) -> None:
    for path in ("/kapacitor/v1preview/logs", "/kapacitor/v1/logs"):
        resp = await client.get(f"{path}?msg=hello")
        assert resp.headers["Content-Type"] == "application/logfmt"
        await _opened(client, 1)
        task_log.warning("hello", extra={"fields": {"task": "cpu"}})
        line = (await resp.content.readline()).decode()
        assert line.startswith("ts=")
        assert line.endswith(" lvl=warning msg=hello service=task task=cpu\n")
        resp.close()
        await _closed(client)


async def _closed(client: TestClient) -> None:
    for _ in range(1000):
        if not _streams(client).sessions:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the session did not end")


async def test_a_session_ends_when_its_client_goes(client: TestClient) -> None:
    handler_count = len(logging.getLogger("leyden").handlers)
    resp = await client.get("/kapacitor/v1preview/logs")
    await _opened(client, 1)
    assert _streams(client) in logging.getLogger("leyden").handlers
    # no stream asked lvl=X+: debug lines are wanted, so the logger lets them through
    assert logging.getLogger("leyden").isEnabledFor(logging.DEBUG)
    resp.close()
    await _closed(client)
    assert len(logging.getLogger("leyden").handlers) == handler_count
    assert logging.getLogger("leyden").level == log.server_level()


async def test_duplicate_params_are_a_400(client: TestClient) -> None:
    resp = await client.get("/kapacitor/v1preview/logs?a=1&a=2")
    assert resp.status == 400
    assert (await resp.json())["error"] == "query params cannot contain duplicate params"


async def test_shutdown_ends_the_streams(client: TestClient) -> None:
    resp = await client.get("/kapacitor/v1preview/logs?task=none")
    await _opened(client, 1)
    _streams(client).close_all()
    assert await resp.content.read() == b""  # the stream ends, no line
    await _closed(client)


# --- never waiting for a client --------------------------------------------------------------


async def test_a_slow_client_loses_lines_counted_and_is_told() -> None:
    streams = LogStreams("leyden.test-streams")
    session = streams.open([], logging.DEBUG, as_json=True, size=2)
    logger = logging.getLogger("leyden.test-streams")
    for i in range(5):
        logger.info("line", extra={"fields": {"i": i}})
    assert session.queue.qsize() == 2 and session.dropped == 3
    first = json.loads(session.queue.get_nowait() or "")
    assert first["i"] == 0
    notice = json.loads(session.notice() or "")
    assert (notice["msg"].startswith("log lines dropped"), notice["dropped"]) == (True, 3)
    assert session.notice() is None
    streams.end(session)
    assert streams.dropped == 3 and streams not in logger.handlers


async def test_lines_from_another_thread_reach_the_loop() -> None:
    streams = LogStreams("leyden.test-threads")
    session = streams.open([("task", "t")], logging.DEBUG, as_json=False)
    logger = logging.getLogger("leyden.test-threads")
    worker = threading.Thread(
        target=lambda: logger.error("from a thread", extra={"fields": {"task": "t"}})
    )
    worker.start()
    worker.join()
    line = await asyncio.wait_for(session.queue.get(), 10)
    assert line is not None and 'msg="from a thread"' in line and "task=t" in line
    streams.end(session)


# --- the level -------------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_level")
async def test_loglevel_is_kapacitors_api(client: TestClient) -> None:
    log.set_level("info")
    resp = await client.post("/kapacitor/v1/loglevel", json={"level": "DEBUG"})
    assert resp.status == 204
    assert log.server_level() == logging.DEBUG
    resp = await client.post("/kapacitor/v1/loglevel", json={"level": "verbose"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid log level"
    assert log.server_level() == logging.DEBUG
    resp = await client.post("/kapacitor/v1/loglevel", data=b"[")
    assert resp.status == 400
    assert (await resp.json())["error"].startswith("invalid json: ")


@pytest.mark.usefixtures("restore_level")
async def test_a_stream_sees_debug_while_the_file_keeps_its_level(client: TestClient) -> None:
    """Kapacitor's sessions get every level; the server's log keeps its own."""
    file_lines: list[logging.LogRecord] = []

    class File(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            file_lines.append(record)

    file = File()
    logging.getLogger("leyden").addHandler(file)
    try:
        log.set_level("info")
        assert file.level == logging.INFO
        resp = await client.get("/kapacitor/v1preview/logs?task=dbg")
        await _opened(client, 1)
        task_log.debug("detail", extra={"fields": {"task": "dbg"}})
        line = (await resp.content.readline()).decode()
        assert "lvl=debug msg=detail" in line
        assert [r for r in file_lines if r.getMessage() == "detail"] == []  # filtered there
        resp.close()
        await _closed(client)
        assert not logging.getLogger("leyden").isEnabledFor(logging.DEBUG)
    finally:
        logging.getLogger("leyden").removeHandler(file)


AUTH = """
[http]
  auth-enabled = true
[auth]
  enabled = true
[[auth.users]]
  username = "ops"
  password = "0ps-Pa55word!"
  permissions = ["all"]
[[auth.users]]
  username = "telegraf"
  password = "Te1egraf-Pa55!"
  permissions = ["write_points"]
"""


@pytest.mark.usefixtures("restore_level")
async def test_behind_the_same_auth_and_audited_with_the_user(
    aiohttp_client: Any, make_runtime: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kapacitor.conf"
    path.write_text(AUTH)
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    client: TestClient = await aiohttp_client(create_app(make_runtime(config)))
    caplog.set_level(logging.INFO, logger="leyden.audit")
    log.set_level("info")
    ops = _basic("ops", "0ps-Pa55word!")
    telegraf = _basic("telegraf", "Te1egraf-Pa55!")
    for method, url in (
        ("GET", "/kapacitor/v1preview/logs"),
        ("POST", "/kapacitor/v1/loglevel"),
        ("GET", "/kapacitor/v1/storage/backup"),
    ):
        assert (await client.request(method, url, json={"level": "debug"})).status == 401
        resp = await client.request(method, url, json={"level": "debug"}, headers=telegraf)
        assert resp.status == 403
    assert log.server_level() == logging.INFO
    resp = await client.post("/kapacitor/v1/loglevel", json={"level": "debug"}, headers=ops)
    assert resp.status == 204
    [line] = [r for r in caplog.records if r.name == "leyden.audit"]
    fields = line.fields  # type: ignore[attr-defined]
    assert (fields["user"], fields["action"], fields["level"]) == ("ops", "set-log-level", "debug")
    resp = await client.get("/kapacitor/v1/storage/backup", headers=ops)
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="leyden.db"'
    data = await resp.read()
    assert len(data) == int(resp.headers["Content-Length"]) and data[:6] == b"SQLite"
