"""Requests `make fuzz` (bench/fuzz/api.py) found answered with a 500; each is a 4xx now."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from leyden.server.app import create_app


@pytest.fixture
async def client(aiohttp_client: Any, make_runtime: Any) -> TestClient:
    services = make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()))
    return await aiohttp_client(create_app(services))  # type: ignore[no-any-return]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/kapacitor/v1/tasks"),
        ("POST", "/kapacitor/v1/config/"),
        ("POST", "/kapacitor/v1/loglevel"),
        ("PATCH", "/kapacitor/v1/tasks/x"),
    ],
)
async def test_a_body_that_is_not_its_content_encoding_is_a_400(
    client: TestClient, method: str, path: str, encoding: str
) -> None:
    resp = await client.request(
        method, path, data=b'{"id": "t"}', headers={"Content-Encoding": encoding}
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["error"].startswith("cannot read the request body: ")


async def test_a_static_file_name_too_long_for_the_os_is_a_404(client: TestClient) -> None:
    resp = await client.get("/status/static/" + "a" * 5000)
    assert resp.status == 404


@pytest.mark.parametrize("body", [b"[" * 2000 + b"]" * 2000, b'{"a":' * 5000 + b"1" + b"}" * 5000])
async def test_a_deeply_nested_loglevel_body_is_a_400(client: TestClient, body: bytes) -> None:
    resp = await client.post("/kapacitor/v1/loglevel", data=body)
    assert resp.status == 400
