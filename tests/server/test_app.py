"""The HTTP surface of ``leyden serve``: ping, writes, service tests, error shapes."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leyden import KAPACITOR_VERSION
from leyden.config import load_config
from leyden.lineprotocol import WirePoint
from leyden.notify import INTEGRATIONS
from leyden.server.app import create_app


class Recorder:
    def __init__(self) -> None:
        self.points: list[tuple[str, str, WirePoint]] = []

    def receive(self, db: str, rp: str, point: WirePoint) -> None:
        self.points.append((db, rp, point))


@pytest.fixture
async def server(aiohttp_client: Any, make_runtime: Any) -> tuple[TestClient, Any, Recorder]:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    services = make_runtime(config)
    recorder = Recorder()
    services.router.subscribe(recorder, [("telegraf", "autogen"), ("telegraf", "")], [None])
    client = await aiohttp_client(create_app(services))
    return client, services, recorder


async def test_ping_get_and_head(server: Any) -> None:
    client, _, _ = server
    for method in ("GET", "HEAD"):
        resp = await client.request(method, "/kapacitor/v1/ping")
        assert resp.status == 204
        assert resp.headers["X-Kapacitor-Version"] == KAPACITOR_VERSION
        assert resp.headers["Request-Id"]


async def test_request_id_is_echoed(server: Any) -> None:
    client, _, _ = server
    resp = await client.get("/kapacitor/v1/ping", headers={"Request-Id": "abc-123"})
    assert resp.headers["Request-Id"] == "abc-123"


async def test_unknown_route_is_kapacitor_error_shape(server: Any) -> None:
    client, _, _ = server
    resp = await client.get("/kapacitor/v1/nope")
    assert resp.status == 404
    assert await resp.json() == {"error": "Not Found", "message": "Not Found"}


@pytest.mark.parametrize("path", ["/write", "/kapacitor/v1/write"])
async def test_write_good_body_reaches_engine(server: Any, path: str) -> None:
    client, services, recorder = server
    body = "cpu,host=a usage_idle=12.5 1000000000\ncpu,host=b usage_idle=99 2000000000\n"
    resp = await client.post(f"{path}?db=telegraf&rp=autogen", data=body)
    assert resp.status == 204
    assert [(db, rp, p.name, p.tags, p.fields, p.time) for db, rp, p in recorder.points] == [
        ("telegraf", "autogen", "cpu", {"host": "a"}, {"usage_idle": 12.5}, 1_000_000_000),
        ("telegraf", "autogen", "cpu", {"host": "b"}, {"usage_idle": 99.0}, 2_000_000_000),
    ]
    assert services.router.stats.points_received == 2


async def test_write_requires_db(server: Any) -> None:
    client, _, recorder = server
    resp = await client.post("/write", data="cpu value=1")
    assert resp.status == 400
    assert await resp.text() == "database is required\n"
    assert recorder.points == []


async def test_write_empty_body_is_200(server: Any) -> None:
    client, _, _ = server
    resp = await client.post("/write?db=telegraf", data="")
    assert resp.status == 200


@pytest.mark.parametrize(
    ("precision", "stamp", "expected_ns"),
    [
        ("n", "5", 5),
        ("ns", "5", 5),
        ("u", "5", 5_000),
        ("ms", "5", 5_000_000),
        ("s", "5", 5_000_000_000),
        ("m", "5", 300_000_000_000),
        ("h", "5", 18_000_000_000_000),
    ],
)
async def test_write_precisions(server: Any, precision: str, stamp: str, expected_ns: int) -> None:
    client, _, recorder = server
    resp = await client.post(
        f"/write?db=telegraf&rp=autogen&precision={precision}", data=f"cpu value=1 {stamp}"
    )
    assert resp.status == 204
    assert recorder.points[-1][2].time == expected_ns


async def test_write_bad_precision(server: Any) -> None:
    client, _, _ = server
    resp = await client.post("/write?db=telegraf&precision=fortnight", data="cpu value=1")
    assert resp.status == 400
    assert "invalid precision" in await resp.text()


async def test_write_missing_timestamp_is_now(server: Any) -> None:
    import time

    client, _, recorder = server
    before = time.time_ns()
    resp = await client.post("/write?db=telegraf&rp=autogen", data="cpu value=1")
    after = time.time_ns()
    assert resp.status == 204
    assert before <= recorder.points[-1][2].time <= after


async def test_write_mixed_body_accepts_good_lines_and_names_bad_ones(server: Any) -> None:
    client, services, recorder = server
    body = "cpu value=1 1\ncpu value=oops 2\ncpu value=3 3\n"
    resp = await client.post("/write?db=telegraf&rp=autogen", data=body)
    assert resp.status == 400
    text = await resp.text()
    assert "line 2" in text
    assert "2 points accepted, 1 lines rejected" in text
    assert [p.fields["value"] for _, _, p in recorder.points] == [1.0, 3.0]
    assert services.router.stats.write_errors == 1


async def test_write_all_bad_body(server: Any) -> None:
    client, _, recorder = server
    resp = await client.post("/write?db=telegraf", data="garbage\n")
    assert resp.status == 400
    assert "line 1" in await resp.text()
    assert recorder.points == []


async def test_write_gzip_body(server: Any) -> None:
    client, _, recorder = server
    body = gzip.compress(b"cpu,host=z value=7i 9\n")
    resp = await client.post(
        "/write?db=telegraf&rp=autogen", data=body, headers={"Content-Encoding": "gzip"}
    )
    assert resp.status == 204
    assert recorder.points[-1][2].fields == {"value": 7}


async def test_write_bad_gzip(server: Any) -> None:
    client, _, _ = server
    resp = await client.post(
        "/write?db=telegraf", data=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert resp.status == 400
    assert "invalid gzip body" in await resp.text()


async def test_write_without_rp_uses_default_retention_policy(
    aiohttp_client: Any, make_runtime: Any
) -> None:
    config = load_config(
        None,
        {"KAPACITOR_DEFAULT_RETENTION_POLICY": "autogen"},
        integrations=INTEGRATIONS.sections(),
    )
    services = make_runtime(config)
    recorder = Recorder()
    services.router.subscribe(recorder, [("telegraf", "autogen")], ["cpu"])
    client = await aiohttp_client(create_app(services))
    resp = await client.post("/write?db=telegraf", data="cpu value=1 1\nmem value=2 2\n")
    assert resp.status == 204
    assert [(rp, p.name) for _, rp, p in recorder.points] == [("autogen", "cpu")]


async def test_debug_vars_counts_points(server: Any) -> None:
    client, _, _ = server
    await client.post("/write?db=telegraf&rp=autogen", data="cpu value=1 1\ncpu value=2 2\n")
    body = await (await client.get("/kapacitor/v1/debug/vars")).json()
    assert body["write"]["points_received"] == 2
    assert body["write"]["per_dbrp"] == {"telegraf.autogen": 2}


async def test_service_tests_listing(server: Any) -> None:
    client, _, _ = server
    resp = await client.get("/kapacitor/v1/service-tests")
    assert resp.status == 200
    body = await resp.json()
    assert body["link"] == {"rel": "self", "href": "/kapacitor/v1/service-tests"}
    [discord] = [s for s in body["services"] if s["name"] == "discord"]
    assert discord["name"] == "discord"
    assert discord["link"]["href"] == "/kapacitor/v1/service-tests/discord"
    assert discord["options"]["message"] == "test discord message"
    assert discord["options"]["level"] == "INFO"
    resp = await client.get("/kapacitor/v1/service-tests?pattern=nosuch*")
    assert (await resp.json())["services"] == []


async def test_service_test_unknown_service(server: Any) -> None:
    client, _, _ = server
    resp = await client.post("/kapacitor/v1/service-tests/nosuch", json={})
    assert resp.status == 404
    assert "nosuch" in (await resp.json())["error"]


async def test_service_test_bad_json(server: Any) -> None:
    client, _, _ = server
    resp = await client.post("/kapacitor/v1/service-tests/discord", data="{nope")
    assert resp.status == 400
    assert "failed to decode JSON" in (await resp.json())["error"]


async def test_service_test_disabled_default_workspace_fails_with_reason(server: Any) -> None:
    # The embedded defaults have one disabled discord section, as Kapacitor's do.
    client, _, _ = server
    resp = await client.post("/kapacitor/v1/service-tests/discord", json={})
    assert resp.status == 200
    body = await resp.json()
    assert body["success"] is False
    assert "not enabled" in body["message"]


async def test_service_test_unknown_discord_workspace(server: Any) -> None:
    """Kapacitor's text (``workspace id not found``), then the workspaces there are; the
    embedded default is the unnamed one, named in words rather than as ``""``."""
    client, _, _ = server
    resp = await client.post("/kapacitor/v1/service-tests/discord", json={"workspace": "nope"})
    assert resp.status == 200
    assert await resp.json() == {
        "success": False,
        "message": 'workspace id not found: "nope" is not configured; configured workspaces: '
        "the unnamed default (used when the name is left empty)",
    }
