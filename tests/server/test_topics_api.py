"""The alert topic and topic-handler API: Kapacitor's shapes and texts, persistence, restarts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from leyden.clock import Clock, SimulatedClock
from leyden.config import Config, load_config
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.notify import INTEGRATIONS
from leyden.notify.discord.config import DiscordConfig
from leyden.runtime import Runtime
from leyden.server.app import create_app
from leyden.server.topics_api import TOPIC_HANDLERS_KEY

TOPICS = "/kapacitor/v1/alerts/topics"
S = 1_000_000_000

CPU_SCRIPT = (
    "stream|from().measurement('cpu').groupBy('host')"
    '|alert().warn(lambda: "v" > 5).crit(lambda: "v" > 10).topic(\'cpu\')'
)


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator(rate_limit=50)
    await emu.start()
    yield emu
    await emu.stop()


MakeServices = Callable[..., Runtime]


@pytest.fixture
def make_services(make_runtime: MakeServices) -> MakeServices:
    """``make_services(db, emulator=None, clock=None)``: a server runtime with two Discord
    workspaces (on the emulator when given)."""

    def make(
        db: Path | str, emulator: DiscordEmulator | None = None, clock: Clock | None = None
    ) -> Runtime:
        return make_runtime(_config(emulator), db=db, clock=clock)

    return make


def _config(emulator: DiscordEmulator | None) -> Config:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    base = (
        emulator.webhook_url
        if emulator is not None
        else (lambda i, t: f"http://127.0.0.1:9/{i}/{t}")
    )
    config.integrations["discord"] = [
        DiscordConfig(enabled=True, default=True, workspace="guild-alerts", url=base("1", "t1")),
        DiscordConfig(
            enabled=True, workspace="guild-errors", username="StatsBot", url=base("2", "t2")
        ),
    ]
    return config


@asynccontextmanager
async def running(services: Runtime) -> AsyncIterator[TestClient]:
    app = create_app(services)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def client(tmp_path: Path, make_services: MakeServices) -> AsyncIterator[TestClient]:
    async with running(make_services(tmp_path / "leyden.db")) as c:
        yield c


async def answer(resp: Any) -> tuple[int, Any]:
    text = await resp.text()
    return resp.status, json.loads(text) if text.strip() else None


async def define_cpu_task(client: TestClient) -> None:
    resp = await client.post(
        "/kapacitor/v1/tasks",
        json={
            "id": "cpu_alert",
            "type": "stream",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": CPU_SCRIPT,
            "status": "enabled",
        },
    )
    assert resp.status == 200, await resp.text()


async def drain(client: TestClient) -> None:
    """Wait until the alert service delivered everything queued (handlers run off the path)."""
    await client.server.app[TOPIC_HANDLERS_KEY].alerts.drain()


async def write(client: TestClient, body: str) -> None:
    resp = await client.post("/write?db=telegraf&rp=autogen", data=body)
    assert resp.status == 204, await resp.text()
    await drain(client)


# --- topics ----------------------------------------------------------------------------------


async def test_topics_list_and_get(client: TestClient) -> None:
    await define_cpu_task(client)
    await write(client, "cpu,host=a v=12 1000000000\ncpu,host=b v=7 1000000000\n")
    resp = await client.get(TOPICS)
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    text = await resp.text()
    assert text == (
        "{\n"
        '    "link": {\n'
        '        "rel": "self",\n'
        '        "href": "/kapacitor/v1/alerts/topics"\n'
        "    },\n"
        '    "topics": [\n'
        "        {\n"
        '            "link": {\n'
        '                "rel": "self",\n'
        '                "href": "/kapacitor/v1/alerts/topics/cpu"\n'
        "            },\n"
        '            "id": "cpu",\n'
        '            "level": "CRITICAL",\n'
        '            "collected": 2,\n'
        '            "events-link": {\n'
        '                "rel": "events",\n'
        '                "href": "/kapacitor/v1/alerts/topics/cpu/events"\n'
        "            },\n"
        '            "handlers-link": {\n'
        '                "rel": "handlers",\n'
        '                "href": "/kapacitor/v1/alerts/topics/cpu/handlers"\n'
        "            },\n"
        '            "delivery-errors": 0\n'
        "        }\n"
        "    ]\n"
        "}"
    )
    status, body = await answer(await client.get(f"{TOPICS}/cpu"))
    assert status == 200 and body["id"] == "cpu" and body["collected"] == 2
    status, body = await answer(await client.get(f"{TOPICS}?min-level=crit"))
    assert status == 400 and body == {
        "error": "unknown alert level 'CRIT'",
        "message": "unknown alert level 'CRIT'",
    }
    status, body = await answer(await client.get(f"{TOPICS}?min-level=critical&pattern=c*"))
    assert [t["id"] for t in body["topics"]] == ["cpu"]
    assert body["link"]["href"] == f"{TOPICS}?min-level=critical&pattern=c*"
    status, body = await answer(await client.get(f"{TOPICS}?pattern=m*"))
    assert body["topics"] == []
    status, body = await answer(await client.get(f"{TOPICS}?pattern=["))
    assert status == 400 and body["error"] == "invalid pattern: syntax error in pattern"
    status, body = await answer(await client.get(f"{TOPICS}/nope"))
    assert status == 404 and body["error"] == 'unknown topic: "nope"'


async def test_events(client: TestClient) -> None:
    await define_cpu_task(client)
    await write(client, "cpu,host=a v=12 1000000000\ncpu,host=b v=7 1000000000\n")
    await write(client, "cpu,host=a v=13 61000000000\n")
    status, body = await answer(await client.get(f"{TOPICS}/cpu/events?min-level=CRITICAL"))
    assert status == 200
    assert body == {
        "link": {"rel": "self", "href": f"{TOPICS}/cpu/events"},
        "topic": "cpu",
        "events": [
            {
                "link": {"rel": "self", "href": f"{TOPICS}/cpu/events/cpu:host=a"},
                "id": "cpu:host=a",
                "state": {
                    "message": "cpu:host=a is CRITICAL",
                    "details": body["events"][0]["state"]["details"],
                    "time": "1970-01-01T00:01:01Z",
                    "duration": "1m0s",  # a Go duration string here, not nanoseconds
                    "level": "CRITICAL",
                },
            }
        ],
    }
    status, body = await answer(await client.get(f"{TOPICS}/cpu/events"))
    assert [e["id"] for e in body["events"]] == ["cpu:host=a", "cpu:host=b"]
    status, body = await answer(await client.get(f"{TOPICS}/cpu/events/cpu:host=b"))
    assert status == 200 and body["state"]["level"] == "WARNING"
    status, body = await answer(await client.get(f"{TOPICS}/cpu/events/nope"))
    assert status == 404 and body["error"] == 'unknown event "nope" in topic "cpu"'
    status, body = await answer(await client.get(f"{TOPICS}/other/events"))
    # Kapacitor answers 500; the unknown topic is the client's mistake
    assert status == 404 and body["error"] == 'failed to get topic events: unknown topic "other"'


async def test_delete_topic_clears_events_and_keeps_handlers(
    client: TestClient, tmp_path: Path
) -> None:
    await define_cpu_task(client)
    log = tmp_path / "cpu.log"
    resp = await client.post(
        f"{TOPICS}/cpu/handlers", json={"id": "log", "kind": "log", "options": {"path": str(log)}}
    )
    assert resp.status == 200
    await write(client, "cpu,host=a v=12 1000000000\n")
    resp = await client.delete(f"{TOPICS}/cpu")
    assert resp.status == 204 and await resp.text() == ""
    # gone from the topic API, as in Kapacitor ...
    status, body = await answer(await client.get(f"{TOPICS}/cpu/events"))
    assert status == 404 and body["error"] == 'failed to get topic events: unknown topic "cpu"'
    assert (await client.get(f"{TOPICS}/cpu")).status == 404
    _, body = await answer(await client.get(TOPICS))
    assert "cpu" not in [t["id"] for t in body["topics"]]
    # ... but its handlers stay (and stay attached: Kapacitor loses them until a restart)
    _, body = await answer(await client.get(f"{TOPICS}/cpu/handlers"))
    assert [h["id"] for h in body["handlers"]] == ["log"]
    await write(client, "cpu,host=a v=12 2000000000\n")
    _, body = await answer(await client.get(f"{TOPICS}/cpu/events"))
    assert [e["id"] for e in body["events"]] == ["cpu:host=a"]
    assert len(log.read_text().splitlines()) == 2
    assert (await client.delete(f"{TOPICS}/never-existed")).status == 204
    # a handler added to a deleted topic makes it anew (Kapacitor's RegisterHandler)
    assert (await client.delete(f"{TOPICS}/cpu")).status == 204
    assert (await client.get(f"{TOPICS}/cpu")).status == 404
    resp = await client.post(
        f"{TOPICS}/cpu/handlers", json={"id": "log2", "kind": "log", "options": {"path": str(log)}}
    )
    assert resp.status == 200
    assert (await client.get(f"{TOPICS}/cpu")).status == 200


# --- handlers --------------------------------------------------------------------------------


async def test_handler_create_shape(client: TestClient, tmp_path: Path) -> None:
    resp = await client.post(
        f"{TOPICS}/cpu/handlers",
        json={
            "id": "discord-cpu",
            "topic": "ignored-the-url-wins",
            "kind": "discord",
            "options": {"workspace": "guild-alerts", "embed-title": "<b>{{ .Level }}</b>"},
            "match": "changed() == TRUE",
        },
    )
    assert resp.status == 200
    assert await resp.text() == (
        "{\n"
        '    "link": {\n'
        '        "rel": "self",\n'
        '        "href": "/kapacitor/v1/alerts/topics/cpu/handlers/discord-cpu"\n'
        "    },\n"
        '    "id": "discord-cpu",\n'
        '    "kind": "discord",\n'
        '    "options": {\n'
        '        "embed-title": "\\u003cb\\u003e{{ .Level }}\\u003c/b\\u003e",\n'
        '        "workspace": "guild-alerts"\n'
        "    },\n"
        '    "match": "changed() == TRUE"\n'
        "}"
    )
    status, body = await answer(await client.get(f"{TOPICS}/cpu/handlers/discord-cpu"))
    assert status == 200 and body["options"]["workspace"] == "guild-alerts"
    # Registering a handler creates its topic, as in Kapacitor.
    status, body = await answer(await client.get(f"{TOPICS}/cpu"))
    assert status == 200 and body["level"] == "OK" and body["collected"] == 0


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("{", 400, "invalid handler json: "),
        (
            '{"id": 5, "kind": "log"}',
            400,
            "invalid handler json: json: cannot unmarshal number into Go struct field HandlerSpec.id of type string",
        ),
        (
            '{"id": "x", "kind": "log", "options": [1]}',
            400,
            "invalid handler json: json: cannot unmarshal array into Go struct field HandlerSpec.options",
        ),
        (
            '{"id": "a b", "kind": "log"}',
            400,
            "invalid handler spec: handler ID must contain only letters, numbers, '-', '.' and '_'. \"a b\"",
        ),
        ('{"id": "x"}', 400, "invalid handler spec: handler Kind must not be empty"),
        (
            '{"id": "x", "kind": "nosuch"}',
            400,
            'failed to create handler: unsupported action kind "nosuch"; supported kinds: aggregate, ',
        ),
        (
            '{"id": "x", "kind": "log", "options": {"path": "/tmp/x", "bogus": 1}}',
            400,
            "failed to create handler: invalid log handler option(s): bogus",
        ),
        (
            '{"id": "x", "kind": "log", "options": {"path": "rel"}}',
            400,
            "failed to create handler: log path must be absolute: rel is not absolute",
        ),
        (
            '{"id": "x", "kind": "log", "options": {"path": "/tmp/x"}, "match": "nope"}',
            400,
            'failed to create handler: unknown identifier "nope"',
        ),
        (
            '{"id": "x", "kind": "aggregate", "options": {"interval": 0, "topic": "t"}}',
            400,
            "failed to create handler: aggregate handler option 'interval' must be positive, got 0s",
        ),
        (
            '{"id": "x", "kind": "discord", "options": {"workspace": "guild-typo"}}',
            400,
            'failed to create handler: discord workspace "guild-typo" is not configured; '
            "configured workspaces: guild-alerts, guild-errors",
        ),
    ],
)
async def test_handler_create_errors(
    client: TestClient, body: str, status: int, error: str
) -> None:
    resp = await client.post(f"{TOPICS}/cpu/handlers", data=body)
    got_status, got = await answer(resp)
    assert got_status == status
    assert got["error"].startswith(error), got["error"]
    assert got["message"] == got["error"]
    _, listed = await answer(await client.get(f"{TOPICS}/cpu/handlers"))
    assert listed["handlers"] == []


async def test_handler_duplicate_get_put_patch_delete(client: TestClient, tmp_path: Path) -> None:
    url = f"{TOPICS}/cpu/handlers"
    spec = {"id": "log", "kind": "log", "options": {"path": str(tmp_path / "a.log")}}
    assert (await client.post(url, json=spec)).status == 200
    status, body = await answer(await client.post(url, json=spec))
    assert status == 500
    assert body["error"] == (
        'failed to create handler: cannot register handler, handler with ID "log" already exists'
    )
    status, body = await answer(await client.get(f"{url}/nope"))
    assert status == 404 and body["error"] == 'unknown handler: "nope"'
    for method in ("PUT", "PATCH"):
        status, body = await answer(await client.request(method, f"{url}/nope", data="[]"))
        assert status == 404 and body["error"] == 'unknown handler: "nope"'
    # PUT replaces the whole spec; the topic comes from the URL.
    replaced = {
        "id": "log",
        "topic": "x",
        "kind": "log",
        "options": {"path": str(tmp_path / "b.log"), "mode": 420},
    }
    status, body = await answer(await client.put(f"{url}/log", json=replaced))
    assert status == 200 and body["options"] == {"mode": 420, "path": str(tmp_path / "b.log")}
    status, body = await answer(await client.put(f"{url}/log", data="{"))
    assert status == 400 and body["error"].startswith("failed to unmarshal JSON: ")
    status, body = await answer(
        await client.put(f"{url}/log", json={"id": "log", "kind": "log", "options": {"x": 1}})
    )
    assert status == 400 and body["error"].startswith(
        "failed to update handler: invalid log handler option(s): x"
    )
    # JSON Patch: rename and add a match.
    patch = [
        {"op": "replace", "path": "/id", "value": "log2"},
        {"op": "add", "path": "/match", "value": "level() >= WARNING"},
        {"op": "test", "path": "/options/mode", "value": 420},
    ]
    resp = await client.patch(
        f"{url}/log", data=json.dumps(patch), headers={"Content-Type": "application/json+patch"}
    )
    status, body = await answer(resp)
    assert status == 200
    assert body["link"]["href"] == f"{url}/log2" and body["match"] == "level() >= WARNING"
    _, listed = await answer(await client.get(url))
    assert [h["id"] for h in listed["handlers"]] == ["log2"]
    status, body = await answer(
        await client.patch(
            f"{url}/log2", data='[{"op": "replace", "path": "/topic", "value": "mem"}]'
        )
    )
    assert (
        status == 500 and body["error"] == "failed to update handler: cannot change topic in update"
    )
    status, body = await answer(await client.patch(f"{url}/log2", data='{"op": "replace"}'))
    assert status == 400 and body["error"].startswith("invalid patch json: ")
    status, body = await answer(
        await client.patch(f"{url}/log2", data='[{"op": "remove", "path": "/nope"}]')
    )
    assert status == 400 and body["error"].startswith(
        "failed to apply patch: remove operation does not apply"
    )
    status, body = await answer(
        await client.patch(f"{url}/log2", data='[{"op": "replace", "path": "/id", "value": 7}]')
    )
    assert status == 400 and body["error"].startswith(
        "failed to unmarshal patched json: json: cannot unmarshal number"
    )
    assert (await client.delete(f"{url}/log2")).status == 204
    assert (await client.delete(f"{url}/log2")).status == 204  # absent: still 204
    _, listed = await answer(await client.get(url))
    assert listed == {"link": {"rel": "self", "href": url}, "topic": "cpu", "handlers": []}


async def test_handler_list_pattern_and_unknown_topic(client: TestClient, tmp_path: Path) -> None:
    for hid in ("b-log", "a-log", "other"):
        spec = {"id": hid, "kind": "log", "options": {"path": str(tmp_path / hid)}}
        assert (await client.post(f"{TOPICS}/cpu/handlers", json=spec)).status == 200
    _, body = await answer(await client.get(f"{TOPICS}/cpu/handlers?pattern=*-log"))
    assert [h["id"] for h in body["handlers"]] == ["a-log", "b-log"]
    assert body["link"]["href"] == f"{TOPICS}/cpu/handlers?pattern=*-log"
    status, body = await answer(await client.get(f"{TOPICS}/nothing/handlers"))
    assert status == 200 and body["handlers"] == [] and body["topic"] == "nothing"
    status, body = await answer(await client.get(f"{TOPICS}/cpu/handlers?pattern=[]"))
    assert status == 400 and body["error"] == "invalid pattern: syntax error in pattern"


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("alerta", {"token": "t0k3n-s3cr3t", "origin": "o"}),
        ("servicenow", {"password": "t0k3n-s3cr3t", "source": "o"}),
        ("servicenow", {"url": "https://admin:t0k3n-s3cr3t@sn.example/api", "source": "o"}),
        ("pagerduty2", {"routing-key": "t0k3n-s3cr3t", "links": [{"href": "o"}]}),
    ],
)
async def test_token_and_password_options_are_redacted(
    client: TestClient, kind: str, options: dict[str, str]
) -> None:
    spec = {"id": kind, "kind": kind, "options": options}
    resp = await client.post(f"{TOPICS}/cpu/handlers", json=spec)
    text = await resp.text()
    assert resp.status == 200, text
    assert "t0k3n-s3cr3t" not in text
    assert ("[REDACTED]" in text or "https://sn.example/…" in text) and '"o"' in text
    _, body = await answer(await client.get(f"{TOPICS}/cpu/handlers/{kind}"))
    assert "t0k3n-s3cr3t" not in json.dumps(body)


async def test_post_handler_url_and_auth_header_are_redacted(client: TestClient) -> None:
    url = "https://discord.com/api/webhooks/123/secret-token"
    spec = {
        "id": "post",
        "kind": "post",
        "options": {"url": url, "headers": {"Authorization": "Bearer s3cr3t", "X-Team": "ops"}},
    }
    resp = await client.post(f"{TOPICS}/cpu/handlers", json=spec)
    text = await resp.text()
    assert resp.status == 200
    assert "secret-token" not in text and "s3cr3t" not in text
    body = json.loads(text)
    assert body["options"]["headers"] == {"Authorization": "[REDACTED]", "X-Team": "ops"}
    # The stored spec keeps the real URL: a patch of something else does not lose it.
    resp = await client.patch(
        f"{TOPICS}/cpu/handlers/post",
        data='[{"op": "add", "path": "/match", "value": "changed()"}]',
    )
    assert resp.status == 200
    registry = client.server.app[TOPIC_HANDLERS_KEY]
    stored = registry.get("cpu", "post")
    assert stored is not None and stored.options["url"] == url


# --- behaviour through the server ------------------------------------------------------------


async def test_match_handler_sees_only_changes(client: TestClient, tmp_path: Path) -> None:
    await define_cpu_task(client)
    log = tmp_path / "changes.log"
    spec = {
        "id": "changes",
        "kind": "log",
        "options": {"path": str(log)},
        "match": "changed() AND \"host\" == 'a'",
    }
    assert (await client.post(f"{TOPICS}/cpu/handlers", json=spec)).status == 200
    for i, v in enumerate((12, 13, 7, 1, 12)):
        await write(
            client, f"cpu,host=a v={v} {i + 1}000000000\ncpu,host=b v={v} {i + 1}000000000\n"
        )
    got = [(x["previousLevel"], x["level"]) for x in map(json.loads, log.read_text().splitlines())]
    assert got == [
        ("OK", "CRITICAL"),
        ("CRITICAL", "WARNING"),
        ("WARNING", "OK"),
        ("OK", "CRITICAL"),
    ]


async def test_handlers_and_topic_state_survive_a_restart(
    tmp_path: Path, make_services: MakeServices
) -> None:
    db = tmp_path / "leyden.db"
    log = tmp_path / "cpu.log"
    async with running(make_services(db)) as client:
        await define_cpu_task(client)
        spec = {"id": "log", "kind": "log", "options": {"path": str(log)}, "match": "changed()"}
        assert (await client.post(f"{TOPICS}/cpu/handlers", json=spec)).status == 200
        await write(client, "cpu,host=a v=12 1000000000\n")
    assert len(log.read_text().splitlines()) == 1
    async with running(make_services(db)) as client:
        status, body = await answer(await client.get(f"{TOPICS}/cpu"))
        assert status == 200 and body["level"] == "CRITICAL"
        _, body = await answer(await client.get(f"{TOPICS}/cpu/events"))
        assert [e["id"] for e in body["events"]] == ["cpu:host=a"]
        _, body = await answer(await client.get(f"{TOPICS}/cpu/handlers"))
        assert [(h["id"], h["match"]) for h in body["handlers"]] == [("log", "changed()")]
        # Still CRITICAL after the restart: no change, nothing logged; then the recovery is.
        await write(client, "cpu,host=a v=13 2000000000\n")
        await write(client, "cpu,host=a v=1 3000000000\n")
        assert (await client.delete(f"{TOPICS}/cpu/handlers/log")).status == 204
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["previousLevel"], x["level"]) for x in lines] == [
        ("OK", "CRITICAL"),
        ("CRITICAL", "OK"),
    ]
    async with running(make_services(db)) as client:
        _, body = await answer(await client.get(f"{TOPICS}/cpu/handlers"))
        assert body["handlers"] == []


async def test_seed_aggregate_flow_through_the_api(
    tmp_path: Path, emulator: DiscordEmulator, make_services: MakeServices
) -> None:
    """The seed's 500_errors.tick → 500-errors-24h aggregate → Discord workspace guild-errors."""
    clock = SimulatedClock(0)
    async with running(make_services(tmp_path / "leyden.db", emulator, clock)) as client:
        script = (
            "stream|from().measurement('errors').groupBy('500')"
            "|alert().info(lambda: \"count\" > 0).noRecoveries().topic('500-errors')"
        )
        resp = await client.post(
            "/kapacitor/v1/tasks",
            json={
                "id": "500_errors",
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "script": script,
                "status": "enabled",
            },
        )
        assert resp.status == 200, await resp.text()
        aggregate = {
            "id": "500-errors-24h",
            "kind": "aggregate",
            "options": {
                "interval": "24h",
                "topic": "500-errors-24h",
                "message": "{{ .Count }} 500 errors last 24 hours.",
            },
        }
        assert (await client.post(f"{TOPICS}/500-errors/handlers", json=aggregate)).status == 200
        daily = {
            "id": "discord-500-errors-daily",
            "kind": "discord",
            "options": {"workspace": "guild-errors"},
        }
        assert (await client.post(f"{TOPICS}/500-errors-24h/handlers", json=daily)).status == 200
        for i in range(4):
            await write(client, f"errors count={i + 1} {i + 1}000000000\n")
        assert emulator.messages == []
        clock.advance_to(86_400 * S)
        await drain(client)
        [message] = emulator.messages
        assert message.webhook_id == "2" and message.payload["username"] == "StatsBot"
        assert message.payload["embeds"][0]["description"] == "4 500 errors last 24 hours."
        _, body = await answer(await client.get(f"{TOPICS}/500-errors-24h/events"))
        assert [(e["id"], e["state"]["level"]) for e in body["events"]] == [
            ("500-errors-24h", "INFO")
        ]
