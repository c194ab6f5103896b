"""Batch queries as Leyden builds them, run by the real influxd on data written to it.

Each case builds a ``query`` node's plan from TICKscript-like properties, runs one scheduled
run through :class:`BatchQueryRunner` against influxd (through a small adapter of the
``influxdb`` client to the engine's cluster port) and checks the batches that come back.
Without ``influxd`` the tests are skipped (the shared ``influxd`` fixture says how to install it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from influxd import Influxd

from leyden.clock import SimulatedClock
from leyden.engine.batch_runner import BatchQueryRunner, plan_from_properties, start_batch_queries
from leyden.engine.influx import InfluxDBError, Series
from leyden.engine.model import Batch
from leyden.go.types import Duration, Time
from leyden.tasks.runner import build
from leyden.tick.pipeline.graph import TimeDimension

S, M = 10**9, 60 * 10**9
T0 = int(Time.parse_rfc3339("2020-01-01T00:00:00Z"))


class ClientCluster:
    """The engine's cluster port over the ``influxdb`` client (in a thread, as it blocks)."""

    name = "default"

    def __init__(self, client: Any) -> None:
        self.client = client
        self.sent: list[str] = []

    async def query(
        self, command: str, *, database: str = "", retention_policy: str = "", post: bool = False
    ) -> list[Series]:
        self.sent.append(command)
        try:
            result = await asyncio.to_thread(self.client.query, command, epoch="ns")
        except Exception as exc:  # the client raises its own errors
            raise InfluxDBError(str(exc)) from None
        return [
            Series(s["name"], s.get("tags") or {}, tuple(s["columns"]), s["values"])
            for s in result.raw.get("series", [])
        ]

    async def write(self, body: bytes, **kwargs: Any) -> None:
        raise NotImplementedError


class OneCluster:
    def __init__(self, cluster: ClientCluster) -> None:
        self.cluster = cluster

    def get(self, name: str) -> ClientCluster:
        return self.cluster

    def names(self) -> list[str]:
        return ["default"]


@pytest.fixture
def loaded(influxd: Influxd) -> ClientCluster:
    """Two hosts, one point every 10 s for 2 minutes from T0 (usage = minute*100 + second),
    and a ``mem`` measurement; nothing between T0+2m and T0+3m."""
    client = influxd.client()
    client.create_database("telegraf")
    lines = []
    for k in range(12):
        t = T0 + k * 10 * S
        for host, base in (("a", 0), ("b", 1000)):
            lines.append(f"cpu,host={host},group=g1 usage={base + k} {t}")
        lines.append(f"mem,host=a used={k} {t}")
    client.write_points(lines, database="telegraf", protocol="line", time_precision="n")
    return ClientCluster(client)


async def run(cluster: ClientCluster, props: dict[str, Any], tick: int) -> list[Batch]:
    plan = plan_from_properties({"every": Duration(M), **props})
    got: list[list[Batch]] = []
    runner = BatchQueryRunner(
        plan, OneCluster(cluster), lambda b, now: got.append(b), clock=SimulatedClock(tick)
    )
    runner.start()
    await runner.run_once(tick)
    await runner.stop()
    assert runner.stats.query_errors == 0, cluster.sent
    return got[0] if got else []


def rows(batch: Batch, field: str) -> list[tuple[int, Any]]:
    return [((p.time - T0) // S, p.fields.get(field)) for p in batch.points]


async def test_raw_query_in_the_window(loaded: ClientCluster) -> None:
    (b,) = await run(
        loaded, {"query": "SELECT usage FROM telegraf.autogen.cpu WHERE host = 'a'"}, T0 + M
    )
    assert rows(b, "usage") == [(0, 0.0), (10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0), (50, 5.0)]
    assert b.tmax == T0 + M and b.group == ""
    assert loaded.sent == [
        "SELECT usage FROM telegraf.autogen.cpu WHERE host = 'a' AND "
        "time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:01:00Z'"
    ]


async def test_group_by_time_and_tags(loaded: ClientCluster) -> None:
    batches = await run(
        loaded,
        {
            "query": 'SELECT mean("usage") AS "usage" FROM "telegraf"."autogen"."cpu"',
            "period": Duration(2 * M),
            "groupBy": [TimeDimension(Duration(30 * S)), "host", "group"],
        },
        T0 + 2 * M,
    )
    assert [(b.group, b.tags, b.tmax) for b in batches] == [
        ("group=g1,host=a", {"group": "g1", "host": "a"}, T0 + 90 * S),
        ("group=g1,host=b", {"group": "g1", "host": "b"}, T0 + 90 * S),
    ]
    assert rows(batches[0], "usage") == [(0, 1.0), (30, 4.0), (60, 7.0), (90, 10.0)]
    assert 'GROUP BY time(30s, 0s), host, "group"' in loaded.sent[0]


async def test_or_condition_stays_inside_the_window(loaded: ClientCluster) -> None:
    """Kapacitor would send ``host = 'a' OR host = 'b' AND time >= …``: all of host a's points."""
    (b,) = await run(
        loaded,
        {"query": "SELECT usage FROM telegraf.autogen.cpu WHERE host = 'a' OR host = 'b'"},
        T0 + M,
    )
    assert len(b.points) == 12
    assert all(T0 <= p.time < T0 + M for p in b.points)


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        (None, [(90, 10.0)]),  # fill(null): the empty intervals are no points
        ("none", [(90, 10.0)]),
        (0, [(90, 10.0), (120, 0.0), (150, 0.0)]),
        ("previous", [(90, 10.0), (120, 10.0), (150, 10.0)]),
    ],
)
async def test_fill(loaded: ClientCluster, fill: Any, expected: list[tuple[int, Any]]) -> None:
    props: dict[str, Any] = {
        "query": "SELECT mean(usage) AS usage FROM telegraf.autogen.cpu WHERE host = 'a'",
        "period": Duration(90 * S),
        "groupBy": [TimeDimension(Duration(30 * S))],
    }
    if fill is not None:
        props["fill"] = fill
    (b,) = await run(loaded, props, T0 + 3 * M)
    assert rows(b, "usage") == expected


async def test_group_by_measurement(loaded: ClientCluster) -> None:
    batches = await run(
        loaded,
        {
            "query": "SELECT last(*) FROM telegraf.autogen./cpu|mem/",
            "groupByMeasurement": True,
            "groupBy": ["host"],
        },
        T0 + M,
    )
    assert sorted(b.group for b in batches) == ["cpu\nhost=a", "cpu\nhost=b", "mem\nhost=a"]
    mem = next(b for b in batches if b.name == "mem")
    assert mem.points[0].fields == {"last_used": 5.0}


async def test_align_group_starts_intervals_at_the_query_start(loaded: ClientCluster) -> None:
    """period 1m from :30 with time(1m): aligned, one interval at :30; not, two halves."""
    props: dict[str, Any] = {
        "query": "SELECT count(usage) AS n FROM telegraf.autogen.cpu WHERE host = 'a'",
        "groupBy": [TimeDimension(Duration(M))],
    }
    (aligned,) = await run(loaded, {**props, "alignGroup": True}, T0 + 90 * S)
    assert rows(aligned, "n") == [(30, 6.0)]
    loaded.sent.clear()
    (plain,) = await run(loaded, props, T0 + 90 * S)
    assert rows(plain, "n") == [(0, 3.0), (60, 3.0)]


async def test_a_tickscript_s_query_nodes_on_schedule(loaded: ClientCluster) -> None:
    """From a TICKscript to batches: every query node runs on the task clock, on the beat."""
    script = """
    var cpu = batch
        |query('SELECT max(usage) AS peak FROM telegraf.autogen.cpu')
            .period(1m)
            .every(1m)
            .align()
            .groupBy('host')
    var mem = batch
        |query('SELECT count(used) AS n FROM telegraf.autogen.mem')
            .every(30s)
            .align()
    cpu|join(mem).as('cpu', 'mem')
    """
    clock = SimulatedClock(T0 + 5 * S)
    got: dict[str, list[tuple[int, list[Batch]]]] = {"query1": [], "query2": []}
    queries = start_batch_queries(
        "e2e",
        build(script, filename="e2e.tick"),
        OneCluster(loaded),
        clock,
        lambda spec: lambda batches, now: got[spec.name].append((now, batches)),
    )
    try:
        clock.advance_to(T0 + M)
        async with asyncio.timeout(30):  # influxd answers in milliseconds; this only bounds a hang
            while len(got["query1"]) < 1 or len(got["query2"]) < 2:
                await asyncio.sleep(0.01)
                clock.advance_to(T0 + M)  # the 30 s run re-arms at T0+1m once it has finished
    finally:
        await queries.stop()
    ((now, cpu),) = got["query1"]
    assert now == T0 + M
    assert [(b.group, rows(b, "peak"), b.tmax) for b in cpu] == [
        ("host=a", [(50, 5.0)], T0 + M),
        ("host=b", [(50, 1005.0)], T0 + M),
    ]
    assert [(now, [rows(b, "n") for b in batches]) for now, batches in got["query2"]] == [
        (T0 + 30 * S, [[(0, 3.0)]]),
        (T0 + M, [[(30, 3.0)]]),
    ]
