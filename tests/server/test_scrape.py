"""``GET /metrics`` and ``GET /kapacitor/v1/debug/vars`` over a running app: a task defined,
points written, an alert fired, then both read back (the scrape parsed with prometheus-client's
own parser)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from leyden import KAPACITOR_VERSION
from leyden.config import load_config
from leyden.model.records import TaskRecord
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime
from leyden.server.app import create_app

ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]

CPU = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .warn(lambda: "usage_idle" < 50)
        .crit(lambda: "usage_idle" < 10)
        .topic('cpu')
"""

IDLE = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('mem')
    |log()
"""

POINTS = (
    "cpu,host=a usage_idle=5 1000000000\n"
    "cpu,host=b usage_idle=90 1000000000\n"
    "cpu,host=c usage_idle=40 1000000000\n"
    "cpu,host=d usage_idle=95 1000000000\n"
    "cpu,host=a usage_idle=3 2000000000\n"
)


@pytest.fixture
def runtime(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()))


@pytest.fixture
async def client(aiohttp_client: ClientFactory, runtime: Runtime) -> TestClient:
    app = create_app(runtime)
    c = await aiohttp_client(app)
    for task_id, script, status in (("cpu", CPU, "enabled"), ("idle", IDLE, "disabled")):
        resp = await c.post(
            "/kapacitor/v1/tasks", json={"id": task_id, "script": script, "status": status}
        )
        assert resp.status == 200, await resp.text()
    assert (await c.post("/write?db=telegraf&rp=autogen", data=POINTS)).status == 204
    assert (await c.post("/write?db=telegraf&rp=autogen", data="cpu usage_idle=\n")).status == 400
    assert (await c.post("/write?db=other", data="x v=1 1\n")).status == 204
    return c


def _samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by name, then by its sorted labels."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def _one(samples: dict[tuple[tuple[str, str], ...], float], **labels: str) -> float:
    """The value of the one sample whose labels include ``labels``."""
    [value] = [v for k, v in samples.items() if set(labels.items()) <= set(k)]
    return value


async def test_metrics_has_writes_tasks_nodes_alerts_topics_and_deliveries(
    client: TestClient,
) -> None:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    m = _samples(text)

    assert families["leyden_write_requests"] == "counter"
    assert m["leyden_write_requests_total"] == {
        (("database", "other"),): 1,
        (("database", "telegraf"),): 2,
    }
    assert m["leyden_write_errors_total"] == {
        (("database", "other"),): 0,
        (("database", "telegraf"),): 1,
    }
    assert _one(m["leyden_points_received_total"], database="telegraf") == 5
    assert _one(m["leyden_points_received_total"], database="other") == 1
    assert m["leyden_points_routed_total"] == {(): 5}
    # db=other without rp=: no task reads that database, so not the rp trap
    assert families["leyden_points_without_rp_unrouted"] == "counter"
    assert "leyden_points_without_rp_unrouted_total" not in m

    assert m["leyden_tasks"] == {(("status", "disabled"),): 1, (("status", "enabled"),): 1}
    assert _one(m["leyden_task_executing"], task="cpu") == 1
    assert _one(m["leyden_task_executing"], task="idle") == 0
    assert _one(m["leyden_task_failed"], task="cpu") == 0
    assert _one(m["leyden_task_throughput_points_per_second"], task="cpu") >= 0

    assert _one(m["leyden_node_collected_total"], task="cpu", node="alert2") == 5
    assert _one(m["leyden_node_emitted_total"], task="cpu", node="stream0") == 5
    assert _one(m["leyden_node_errors_total"], task="cpu", node="alert2") == 0
    cardinality = _one(m["leyden_node_working_cardinality"], task="cpu", node="alert2")
    shown = await (await client.get("/kapacitor/v1/tasks/cpu")).json()
    assert cardinality == shown["stats"]["node-stats"]["alert2"]["working_cardinality"] == 4
    assert _one(m["leyden_node_working_cardinality"], task="cpu", node="from1") == 0
    assert _one(m["leyden_node_avg_exec_time_seconds"], task="cpu", node="alert2") >= 0
    assert _one(m["leyden_node_collected_total"], node="alert2", kind="alert") == 5
    alerts = m["leyden_alerts_triggered_total"]
    assert _one(alerts, task="cpu", node="alert2", level="CRITICAL") == 2  # host a, twice
    assert _one(alerts, task="cpu", node="alert2", level="WARNING") == 1
    assert _one(alerts, task="cpu", node="alert2", level="OK") == 0

    assert m["leyden_topic_events_collected_total"] == {(("topic", "cpu"),): 3}
    events = m["leyden_topic_events"]
    assert _one(events, topic="cpu", level="CRITICAL") == 1
    assert _one(events, topic="cpu", level="WARNING") == 1

    # the delivery families of the outbox stay (nothing delivered here: no handler)
    for name in ("leyden_deliveries_sent", "leyden_deliveries_queued", "leyden_deliveries_dead"):
        assert name in families


async def test_metrics_follow_the_counters_between_scrapes(client: TestClient) -> None:
    before = _samples(await (await client.get("/metrics")).text())
    await client.post("/write?db=telegraf&rp=autogen", data="cpu,host=e usage_idle=1 3000000000\n")
    after = _samples(await (await client.get("/metrics")).text())
    for name, labels, grew in (
        ("leyden_write_requests_total", {"database": "telegraf"}, 1),
        ("leyden_points_received_total", {"database": "telegraf"}, 1),
        ("leyden_node_collected_total", {"node": "alert2"}, 1),
        ("leyden_alerts_triggered_total", {"node": "alert2", "level": "CRITICAL"}, 1),
    ):
        assert _one(after[name], **labels) - _one(before[name], **labels) == grew, name


async def test_working_cardinality_is_read_from_the_node_at_scrape_time(
    client: TestClient,
) -> None:
    """The alert node's groups (hosts a to d), read again on every scrape: three new hosts
    make seven."""
    m = _samples(await (await client.get("/metrics")).text())
    assert _one(m["leyden_node_working_cardinality"], node="alert2") == 4
    more = "".join(f"cpu,host={h} usage_idle=90 3000000000\n" for h in "efg")
    assert (await client.post("/write?db=telegraf&rp=autogen", data=more)).status == 204
    m = _samples(await (await client.get("/metrics")).text())
    assert _one(m["leyden_node_working_cardinality"], node="alert2") == 7


async def test_debug_vars_has_kapacitors_shape(client: TestClient) -> None:
    resp = await client.get("/kapacitor/v1/debug/vars")
    assert resp.status == 200
    body = await resp.json()
    for key in ("cluster_id", "server_id", "host", "cmdline", "memstats", "platform"):
        assert key in body, key
    assert body["product"] == "kapacitor"
    assert body["version"] == KAPACITOR_VERSION
    assert (body["num_tasks"], body["num_enabled_tasks"], body["num_subscriptions"]) == (2, 1, 0)
    assert body["host"] == "localhost"
    assert len(body["cluster_id"]) == 36 and body["cluster_id"] != body["server_id"]
    assert body["memstats"]["Sys"] > 0
    assert body["write"]["points_received"] == 6

    stats = list(body["kapacitor"].values())
    for stat in stats:
        assert set(stat) == {"name", "tags", "values"}
        assert stat["tags"]["cluster_id"] == body["cluster_id"]
        assert stat["tags"]["server_id"] == body["server_id"]
        assert stat["tags"]["host"] == "localhost"
    [alert] = [s for s in stats if s["name"] == "nodes" and s["tags"]["node"] == "alert2"]
    assert {k: alert["tags"][k] for k in ("task", "type", "kind")} == {
        "task": "cpu",
        "type": "stream",
        "kind": "alert",
    }
    values = alert["values"]
    assert (values["crits_triggered"], values["warns_triggered"]) == (2, 1)
    shown = await (await client.get("/kapacitor/v1/tasks/cpu")).json()
    assert (
        values["working_cardinality"]
        == shown["stats"]["node-stats"]["alert2"]["working_cardinality"]
    )
    assert {"avg_exec_time_ns", "errors", "alerts_triggered"} <= set(values)
    [topic] = [s for s in stats if s["name"] == "topics"]
    assert (topic["tags"]["id"], topic["values"]) == ("cpu", {"collected": 3})
    ingress = {
        tuple(s["tags"][k] for k in ("database", "retention_policy", "measurement")): s["values"][
            "points_received"
        ]
        for s in stats
        if s["name"] == "ingress" and s["tags"]["task_master"] == "main"
    }
    # per measurement, as Kapacitor; no rp= and no default-retention-policy: Kapacitor's empty rp
    assert ingress == {("telegraf", "autogen", "cpu"): 5, ("other", "", "x"): 1}
    # the IDs are the server's own: the same on every read
    again = await (await client.get("/kapacitor/v1/debug/vars")).json()
    assert (again["cluster_id"], again["server_id"]) == (body["cluster_id"], body["server_id"])


async def test_a_delivered_alert_shows_in_the_delivery_metrics(
    client: TestClient, runtime: Runtime, aiohttp_server: Any
) -> None:
    """An alert posted to a loopback receiver counts as sent on the same scrape as the
    engine's families."""
    received: list[Any] = []

    async def sink(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=200)

    target = web.Application()
    target.router.add_post("/hook", sink)
    server = await aiohttp_server(target)
    script = CPU.replace(".topic('cpu')", f".post('{server.make_url('/hook')}')")
    resp = await client.post(
        "/kapacitor/v1/tasks", json={"id": "posted", "script": script, "status": "enabled"}
    )
    assert resp.status == 200, await resp.text()
    body = "cpu,host=z usage_idle=1 5000000000\n"
    assert (await client.post("/write?db=telegraf&rp=autogen", data=body)).status == 204
    await runtime.alerts.drain()
    assert [r["level"] for r in received] == ["CRITICAL"]
    m = _samples(await (await client.get("/metrics")).text())
    assert _one(m["leyden_deliveries_sent_total"], kind="post") == 1
    assert _one(m["leyden_deliveries_queued"], kind="post") == 0
    assert _one(m["leyden_alerts_triggered_total"], task="posted", level="CRITICAL") == 1


async def test_an_enabled_task_that_could_not_start_reads_as_failed(
    aiohttp_client: ClientFactory, runtime: Runtime
) -> None:
    """A stored enabled task whose script no longer builds is enabled but not executing: the
    scrape says failed, and debug/vars still counts it among the enabled tasks as Kapacitor."""
    broken = TaskRecord(
        id="broken",
        type="stream",
        dbrps=(("telegraf", "autogen"),),
        tickscript="stream\n    |from()\n        .measurement('cpu')\n    |nosuchnode()\n",
        status="enabled",
    )
    runtime.store.put_task(broken)
    client = await aiohttp_client(create_app(runtime))
    shown = await (await client.get("/kapacitor/v1/tasks/broken")).json()
    assert shown["error"]
    m = _samples(await (await client.get("/metrics")).text())
    assert _one(m["leyden_task_failed"], task="broken") == 1
    assert _one(m["leyden_task_executing"], task="broken", status="enabled") == 0
    assert not [
        k for k in m.get("leyden_task_throughput_points_per_second", {}) if "broken" in str(k)
    ]
    body = await (await client.get("/kapacitor/v1/debug/vars")).json()
    assert (body["num_tasks"], body["num_enabled_tasks"]) == (1, 1)
