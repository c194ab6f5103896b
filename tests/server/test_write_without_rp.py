"""``POST /write?db=telegraf`` (Telegraf's default: no ``rp=``) while a task reads
``"telegraf"."autogen"`` and ``default-retention-policy`` is empty: the write is accepted, the
points reach no task (as in Kapacitor), and Leyden says so once in the log with the fix and
counts them in ``/metrics`` and ``debug/vars``.  With the fix applied they are routed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime
from leyden.server.app import create_app

ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]

TASK = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |httpOut('cpu')
"""
POINTS = "cpu,host=a usage_idle=5 1000000000\ncpu,host=b usage_idle=90 1000000000\n"


async def _client(
    aiohttp_client: ClientFactory, make_runtime: MakeRuntime, env: dict[str, str]
) -> TestClient:
    config = load_config(None, env, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config)))
    resp = await client.post(
        "/kapacitor/v1/tasks", json={"id": "cpu", "script": TASK, "status": "enabled"}
    )
    assert resp.status == 200, await resp.text()
    return client


async def _unrouted(client: TestClient) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    return {
        s.labels["database"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "leyden_points_without_rp_unrouted_total"
    }


async def _rows(client: TestClient) -> int:
    out = await (await client.get("/kapacitor/v1/tasks/cpu/cpu")).json()
    return len(out.get("series") or [])


async def test_rp_less_points_are_counted_and_explained_once(
    aiohttp_client: ClientFactory, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    client = await _client(aiohttp_client, make_runtime, {})
    with caplog.at_level(logging.WARNING, logger="leyden"):
        for _ in range(2):
            assert (await client.post("/write?db=telegraf", data=POINTS)).status == 204
        assert await _rows(client) == 0
        assert (await client.post("/write?db=telegraf&rp=autogen", data=POINTS)).status == 204
    assert await _rows(client) == 2  # hosts a and b: the write naming its rp reached the task
    assert await _unrouted(client) == {"telegraf": 4}
    body = await (await client.get("/kapacitor/v1/debug/vars")).json()
    assert body["write"]["points_without_rp_unrouted"] == {"telegraf": 4}
    [warning] = [r for r in caplog.records if "reach no task" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert warning.fields["db"] == "telegraf"  # type: ignore[attr-defined]
    assert "rp=autogen" in warning.fields["fix"]  # type: ignore[attr-defined]


async def test_the_fix_in_the_config_routes_them(
    aiohttp_client: ClientFactory, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    client = await _client(
        aiohttp_client, make_runtime, {"KAPACITOR_DEFAULT_RETENTION_POLICY": "autogen"}
    )
    with caplog.at_level(logging.WARNING, logger="leyden"):
        assert (await client.post("/write?db=telegraf", data=POINTS)).status == 204
    assert await _rows(client) == 2
    assert await _unrouted(client) == {}
    assert not [r for r in caplog.records if "reach no task" in r.getMessage()]
