"""Changes asked for by another web site's page are refused (server/origin.py); programs,
the same origin and the origins in ``[http] allowed-origins`` go through."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from leyden.config import ConfigError, load_config
from leyden.notify import INTEGRATIONS

OpenClient = Callable[[str], Awaitable[TestClient]]

TASK = (
    '{"id": "t", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}], '
    '"script": "stream\\n    |from()\\n        .measurement(\'cpu\')\\n"}'
)
# what a hostile page's <form enctype="text/plain"> posts: no preflight needed
FORGED = {"Content-Type": "text/plain", "Origin": "https://evil.example"}


async def _tasks(client: TestClient) -> list[str]:
    resp = await client.get("/kapacitor/v1/tasks")
    return [t["id"] for t in (await resp.json())["tasks"]]


async def test_a_form_from_another_site_defines_nothing(
    open_client: OpenClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await open_client("")
    with caplog.at_level(logging.WARNING, "leyden.http"):
        resp = await client.post("/kapacitor/v1/tasks", data=TASK, headers=FORGED)
    assert resp.status == 403
    error = (await resp.json())["error"]
    assert 'Origin "https://evil.example"' in error and "[http] allowed-origins" in error
    assert await _tasks(client) == []
    assert any(r.getMessage() == "cross-origin change refused" for r in caplog.records)
    # nor a write, a delete, a patch
    write = await client.post("/write?db=telegraf", data="cpu v=1", headers=FORGED)
    assert write.status == 403
    for method in ("DELETE", "PATCH"):
        resp = await client.request(method, "/kapacitor/v1/tasks/t", headers=FORGED)
        assert resp.status == 403, method


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_fetch_metadata_without_origin_is_enough_to_refuse(
    open_client: OpenClient, site: str
) -> None:
    client = await open_client("")
    resp = await client.post("/kapacitor/v1/tasks", data=TASK, headers={"Sec-Fetch-Site": site})
    assert resp.status == 403
    assert f'Sec-Fetch-Site "{site}"' in (await resp.json())["error"]


async def test_programs_and_the_same_origin_go_through(open_client: OpenClient) -> None:
    client = await open_client("")
    # the CLI, curl, Telegraf: neither header
    assert (await client.post("/kapacitor/v1/tasks", data=TASK)).status == 200
    # the status page's own button: Origin is this server, the browser says same-origin
    host = f"{client.host}:{client.port}"
    same = {"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    assert (await client.delete("/kapacitor/v1/tasks/t", headers=same)).status == 204
    # reading is answered, but without CORS headers another site's script cannot see it
    resp = await client.get("/kapacitor/v1/tasks", headers=FORGED)
    assert resp.status == 200
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_an_opaque_origin_is_another_site(open_client: OpenClient) -> None:
    client = await open_client("")
    # a sandboxed iframe or a data: page sends Origin: null
    resp = await client.post("/kapacitor/v1/tasks", data=TASK, headers={"Origin": "null"})
    assert resp.status == 403
    assert 'Origin "null"' in (await resp.json())["error"]


async def test_allowed_origins_let_a_named_site_or_any_site_change_things(
    open_client: OpenClient,
) -> None:
    # written as users write it: capitals, the default port, a trailing slash
    conf = '[http]\n  allowed-origins = ["https://Grafana.example.com:443/"]\n'
    client = await open_client(conf)
    named = {"Origin": "https://grafana.example.com", "Sec-Fetch-Site": "cross-site"}
    created = await client.post("/kapacitor/v1/tasks", data=TASK, headers=named)
    assert created.status == 200
    assert created.headers["Access-Control-Allow-Origin"] == "https://grafana.example.com"
    assert (await client.delete("/kapacitor/v1/tasks/t", headers=FORGED)).status == 403
    await client.close()
    anyone = await open_client('[http]\n  allowed-origins = ["*"]\n')  # same store: t exists
    resp = await anyone.get("/kapacitor/v1/tasks", headers=FORGED)
    assert resp.headers["Access-Control-Allow-Origin"] == "https://evil.example"  # Kapacitor's
    assert (await anyone.delete("/kapacitor/v1/tasks/t", headers=FORGED)).status == 204


def test_an_allowed_origin_must_be_an_origin(tmp_path: Path) -> None:
    path = tmp_path / "kapacitor.conf"
    path.write_text('[http]\n  allowed-origins = ["grafana.example.com/x"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    assert 'allowed-origins: "grafana.example.com/x" is not an origin' in str(caught.value)
