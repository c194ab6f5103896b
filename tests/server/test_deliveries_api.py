"""The deliveries API and ``/metrics`` (issue 10 item 5): Kapacitor's shapes (``link``
objects, ``{"error","message"}``) and clear answers for unknown IDs.  That no secret shows is
checked end to end (tests/e2e/test_e2e_deliveries.py), where real handlers queue the rows.

Rows are put in the runtime's outbox directly; the e2e tests (test_e2e_delivery.py) look at
rows real handlers queued, with the dispatcher running."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from auth_headers import basic_auth

from leyden.config import load_config
from leyden.delivery.outbox import Delivery, NewDelivery, topic_handler_key
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify._http import DeliveryResult
from leyden.runtime import Runtime
from leyden.server import deliveries_api, metrics
from leyden.server._http import SERVICES_KEY
from leyden.server.app import create_app

BASE = "/kapacitor/v1/deliveries"
SHOWN = "https://discord.com/api/webhooks/123/…"  # the outbox stores destinations redacted


def _event(alert_id: str, level: Level = Level.CRITICAL, message: str = "cpu high") -> Event:
    state = EventState(
        id=alert_id,
        message=message,
        details="",
        time=Time(1_700_000_000 * 1_000_000_000),
        duration=Duration(0),
        level=level,
    )
    data = EventData(name="cpu", task_name="cpu_alert", tags={"host": "a"}, fields={"v": 99.0})
    return Event("cpu", state, data, Level.OK)


def _add(runtime: Runtime, alert_id: str, *, dead: str = "", handler: str = "h1") -> Delivery:
    outbox = runtime.outbox
    (row_id,) = outbox.add(
        [
            NewDelivery.of(
                _event(alert_id),
                handler=topic_handler_key("cpu", handler),
                kind="discord",
                destination=SHOWN,
            )
        ]
    )
    # taken at once, so no dispatcher sends it: dead, or due in an hour
    assert [row.id for row in outbox.claim(1, destination=SHOWN)] == [row_id]
    if dead:
        outbox.mark_dead(row_id, dead)
    else:
        outbox.retry_at(row_id, time.time() + 3600, "HTTP 503 Service Unavailable")
    row = outbox.get(row_id)
    assert row is not None
    return row


@pytest.fixture
async def server(aiohttp_client: Any, make_runtime: Any) -> tuple[TestClient, Runtime]:
    """The deliveries routes and ``/metrics`` over a runtime that is not started: no
    dispatcher sends (or dead-letters) the rows of handlers these tests never define."""
    runtime = make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()))
    app = web.Application()
    app[SERVICES_KEY] = runtime
    deliveries_api.install(app)
    metrics.install(app)
    client = await aiohttp_client(app)
    return client, runtime


@pytest.fixture
async def served(aiohttp_client: Any, make_runtime: Any) -> tuple[TestClient, Runtime]:
    """The whole server application, started."""
    runtime = make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()))
    client = await aiohttp_client(create_app(runtime))
    return client, runtime


async def test_the_server_serves_them(served: Any) -> None:
    client, _ = served
    resp = await client.get(BASE)
    assert resp.status == 200
    assert await resp.json() == {"link": {"rel": "self", "href": BASE}, "deliveries": []}
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert "# TYPE leyden_deliveries_queued gauge" in await resp.text()
    resp = await client.get(f"{BASE}/1/nope")
    assert resp.status == 404
    assert await resp.json() == {"error": "Not Found", "message": "Not Found"}


async def test_list_shows_every_row_with_links(server: Any) -> None:
    client, runtime = server
    waiting = _add(runtime, "cpu:host=a")
    dead = _add(runtime, "cpu:host=b", dead="HTTP 400 Bad Request: embed too long")
    resp = await client.get(BASE)
    assert resp.status == 200
    body = await resp.json()
    assert body["link"] == {"rel": "self", "href": BASE}
    rows = body["deliveries"]
    assert [r["id"] for r in rows] == [str(waiting.id), str(dead.id)]
    first = rows[0]
    assert first["link"] == {"rel": "self", "href": f"{BASE}/{waiting.id}"}
    assert first["state"] == "queued"
    assert first["kind"] == "discord"
    assert first["handler"] == "topic:cpu:h1"
    assert first["destination"] == SHOWN
    assert first["alert-id"] == "cpu:host=a"
    assert first["level"] == "CRITICAL"
    assert first["previous-level"] == "OK"
    assert first["message"] == "cpu high"
    assert first["attempts"] == 1
    assert first["last-error"] == "HTTP 503 Service Unavailable"
    assert first["created"].endswith("Z") and first["next-attempt"] > first["created"]
    assert "event" not in first
    assert rows[1]["state"] == "dead"
    assert rows[1]["last-error"] == "HTTP 400 Bad Request: embed too long"


async def test_list_pattern_and_state(server: Any) -> None:
    client, runtime = server
    a = _add(runtime, "cpu:host=a", handler="ops")
    b = _add(runtime, "mem:host=b", dead="gone", handler="dev")

    async def ids(**query: str) -> list[str]:
        resp = await client.get(BASE, params=query)
        assert resp.status == 200
        return [r["id"] for r in (await resp.json())["deliveries"]]

    assert await ids(pattern="topic:cpu:ops") == [str(a.id)]
    assert await ids(pattern="mem:*") == [str(b.id)]
    assert await ids(pattern="*discord.com*") == [str(a.id), str(b.id)]
    assert await ids(state="dead") == [str(b.id)]
    assert await ids(state="queued") == [str(a.id)]
    assert await ids(pattern="nothing*") == []
    resp = await client.get(BASE, params={"state": "sent"})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == body["message"]
    assert 'unknown delivery state "sent"' in body["error"]


async def test_show_has_the_event(server: Any) -> None:
    client, runtime = server
    row = _add(runtime, "cpu:host=a")
    resp = await client.get(f"{BASE}/{row.id}")
    assert resp.status == 200
    body = await resp.json()
    assert body["id"] == str(row.id)
    assert body["event"]["id"] == "cpu:host=a"
    assert body["event"]["level"] == "CRITICAL"
    assert body["event"]["message"] == "cpu high"


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("DELETE", ""), ("POST", "/retry")])
async def test_unknown_and_bad_ids_are_clear_errors(server: Any, method: str, suffix: str) -> None:
    client, _ = server
    resp = await client.request(method, f"{BASE}/4242{suffix}")
    assert resp.status == 404
    assert await resp.json() == {
        "error": "no delivery with ID 4242",
        "message": "no delivery with ID 4242",
    }
    resp = await client.request(method, f"{BASE}/abc{suffix}")
    assert resp.status == 400
    assert (await resp.json())["error"] == 'invalid delivery ID "abc": want a number below 2^63'
    # too big for a row ID: the client's mistake, not the store's
    resp = await client.request(method, f"{BASE}/{'9' * 30}{suffix}")
    assert resp.status == 400
    assert "want a number below 2^63" in (await resp.json())["error"]


async def test_retry_one_and_all(server: Any) -> None:
    client, runtime = server
    waiting = _add(runtime, "cpu:host=a")
    dead1 = _add(runtime, "cpu:host=b", dead="HTTP 400")
    dead2 = _add(runtime, "cpu:host=c", dead="HTTP 400")
    before = time.time()
    resp = await client.post(f"{BASE}/{waiting.id}/retry")
    assert resp.status == 200
    body = await resp.json()
    assert body["state"] == "queued"
    assert Time.parse_rfc3339(body["next-attempt"]) <= Time(int((time.time() + 1) * 1e9))
    row = runtime.outbox.get(waiting.id)
    assert row is None or row.next_attempt <= time.time()
    assert row is None or row.next_attempt >= before - 1
    resp = await client.post(f"{BASE}/retry")
    assert resp.status == 200
    assert await resp.json() == {"link": {"rel": "self", "href": BASE}, "retried": 2}
    for dead in (dead1, dead2):
        again = runtime.outbox.get(dead.id)
        assert again is None or again.state != "dead"


def _break(runtime: Runtime) -> None:
    """The destination answered 404 Unknown Webhook: its breaker opens (as the dispatcher does)."""
    runtime.alerts.dispatcher.breakers.open(
        SHOWN,
        kind="discord",
        fingerprint="sha256:0",
        result=DeliveryResult("permanent", 404, "Unknown Webhook (10015)", code=10015),
        now=time.time(),
    )


async def test_a_row_behind_an_open_breaker_is_shown_held_and_a_retry_closes_it(
    server: Any,
) -> None:
    client, runtime = server
    held = _add(runtime, "cpu:host=a")
    dead = _add(runtime, "cpu:host=b", dead="HTTP 400")
    _break(runtime)
    resp = await client.get(BASE)
    rows = (await resp.json())["deliveries"]
    assert [r["state"] for r in rows] == ["held", "dead"]
    assert rows[0]["last-error"] == (
        "held: webhook broken (HTTP 404: Unknown Webhook (10015)); no request is made until "
        "its URL changes or a delivery is retried (leyden retry-delivery)"
    )
    assert rows[1]["last-error"] == "HTTP 400"
    resp = await client.get(BASE, params={"state": "held"})
    assert [r["id"] for r in (await resp.json())["deliveries"]] == [str(held.id)]
    resp = await client.get(BASE, params={"state": "queued"})
    assert (await resp.json())["deliveries"] == []
    resp = await client.get(f"{BASE}/{held.id}")
    assert (await resp.json())["state"] == "held"

    resp = await client.post(f"{BASE}/{held.id}/retry")  # leyden retry-delivery ID
    assert resp.status == 200
    assert (await resp.json())["state"] == "queued"
    assert runtime.alerts.dispatcher.breakers.get(SHOWN) is None

    _break(runtime)
    resp = await client.post(f"{BASE}/retry")  # leyden retry-delivery -all
    assert await resp.json() == {
        "link": {"rel": "self", "href": BASE},
        "retried": 1,
        "breakers-closed": 1,
    }
    assert runtime.alerts.dispatcher.breakers.get(SHOWN) is None
    assert dead.id


async def test_retry_of_a_row_in_flight_is_refused(server: Any) -> None:
    client, runtime = server
    outbox = runtime.outbox
    (row_id,) = outbox.add(
        [NewDelivery.of(_event("x"), handler="topic:t:h", kind="post", destination="http://x/")]
    )
    outbox.claim(1, destination="http://x/")
    resp = await client.post(f"{BASE}/{row_id}/retry")
    assert resp.status == 409
    assert "is being sent now" in (await resp.json())["error"]


async def test_delete(server: Any) -> None:
    client, runtime = server
    row = _add(runtime, "cpu:host=a", dead="HTTP 400")
    resp = await client.delete(f"{BASE}/{row.id}")
    assert resp.status == 204
    assert runtime.outbox.get(row.id) is None
    resp = await client.delete(f"{BASE}/{row.id}")
    assert resp.status == 404


async def test_metrics_exposition(server: Any) -> None:
    client, runtime = server
    _add(runtime, "cpu:host=a", dead="HTTP 400")
    runtime.delivery_counters.sent["discord", SHOWN] += 7
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = await resp.text()
    labels = f'destination="{SHOWN}",kind="discord"'
    assert f"leyden_deliveries_sent_total{{{labels}}} 7.0" in text
    assert f"leyden_deliveries_dead{{{labels}}} 1.0" in text
    assert "# TYPE leyden_deliveries_oldest_queued_age_seconds gauge" in text


AUTH_CONF = """
[http]
  auth-enabled = true
[auth]
  enabled = true
[[auth.users]]
  username = "reader"
  password = "re4der-Pa55word!"
  permissions = ["api"]
[[auth.users]]
  username = "writer"
  password = "wr1ter-Pa55word!"
  permissions = ["write_points"]
"""


def _basic(user: str, password: str) -> str:
    return basic_auth(user, password)["Authorization"]


@pytest.mark.parametrize("path", ["/metrics", BASE])
async def test_auth_guards_metrics_and_deliveries(
    aiohttp_client: Any, make_runtime: Any, tmp_path: Path, path: str
) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(AUTH_CONF)
    config = load_config(str(conf), {}, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config)))
    assert (await client.get(path)).status == 401
    writer = {"Authorization": _basic("writer", "wr1ter-Pa55word!")}
    resp = await client.get(path, headers=writer)
    assert resp.status == 403
    assert 'does not have "read" privilege' in (await resp.json())["error"]
    reader = {"Authorization": _basic("reader", "re4der-Pa55word!")}
    assert (await client.get(path, headers=reader)).status == 200
