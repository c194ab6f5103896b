"""A query node's live side: answers to batches (Kapacitor's ``ResultToBufferedBatches`` and
TMax rules), and the runner on a simulated clock against the in-memory cluster."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from leyden.clock import SimulatedClock
from leyden.engine.batch_query import BatchQueryError
from leyden.engine.batch_results import ResultError, series_to_batches
from leyden.engine.batch_runner import BatchQueryRunner, plan_from_properties, start_batch_queries
from leyden.engine.influx import InfluxDBError, MemoryCluster, MemoryInfluxDB, Series
from leyden.engine.model import Batch, Dimensions
from leyden.go.types import Duration, Time
from leyden.tasks.runner import build
from leyden.tick.pipeline.graph import TimeDimension

S, M = 10**9, 60 * 10**9
T0 = int(Time.parse_rfc3339("2020-01-01T00:00:00Z"))


def cpu_series(host: str, *rows: tuple[int, Any]) -> Series:
    return Series("cpu", {"host": host}, ("time", "mean"), [[t, v] for t, v in rows])


# --- answers to batches ------------------------------------------------------------------


def test_series_become_batches_per_group() -> None:
    series = [cpu_series("a", (T0, 1), (T0 + 10 * S, 2.5)), cpu_series("b", (T0, 3))]
    a, b = series_to_batches(series, stop=T0 + M, by_name=False, grouped_by_time=True)
    assert (a.name, a.group, a.tags, a.dims) == (
        "cpu",
        "host=a",
        {"host": "a"},
        Dimensions(False, ("host",)),
    )
    assert [(p.time, p.fields, p.tags) for p in a.points] == [
        (T0, {"mean": 1.0}, {"host": "a"}),
        (T0 + 10 * S, {"mean": 2.5}, {"host": "a"}),
    ]
    assert type(a.points[0].fields["mean"]) is float  # JSON numbers are float64 in Kapacitor
    assert a.tmax == T0 + 10 * S  # grouped by time: the latest point
    assert b.group == "host=b" and b.tmax == T0


def test_tmax_is_stop_without_group_by_time_or_points() -> None:
    series = [cpu_series("a", (T0, 1)), cpu_series("b", (T0, None))]
    a, b = series_to_batches(series, stop=T0 + M, by_name=False, grouped_by_time=False)
    assert a.tmax == T0 + M
    # a row whose values are all null (fill(null)) is no point; the batch stays, empty
    assert b.points == [] and b.tmax == T0 + M
    (c,) = series_to_batches(
        [cpu_series("c", (T0, None))], stop=T0 + M, by_name=False, grouped_by_time=True
    )
    assert c.points == [] and c.tmax == T0 + M


def test_group_by_measurement_puts_the_name_in_the_group() -> None:
    series = [
        Series("process_a", {"host": "h"}, ("time", "sum"), [[T0, 1]]),
        Series("process_b", {}, ("time", "sum"), [[T0, 2]]),
    ]
    a, b = series_to_batches(series, stop=T0, by_name=True, grouped_by_time=False)
    assert a.group == "process_a\nhost=h" and a.dims == Dimensions(True, ("host",))
    assert b.group == "process_b" and b.tags == {}
    plain = series_to_batches(series, stop=T0, by_name=False, grouped_by_time=False)
    assert [x.group for x in plain] == ["host=h", ""]


def test_rfc3339_times_and_other_values() -> None:
    s = Series("m", {}, ("time", "s", "b", "i"), [["2020-01-01T00:00:01.5Z", "x", True, None]])
    (batch,) = series_to_batches([s], stop=T0, by_name=False, grouped_by_time=True)
    assert batch.points[0].time == T0 + 1_500_000_000
    assert batch.points[0].fields == {"s": "x", "b": True}
    with pytest.raises(ResultError, match="unexpected time format"):
        series_to_batches(
            [Series("m", {}, ("time", "v"), [["yesterday", 1]])],
            stop=0,
            by_name=False,
            grouped_by_time=False,
        )


# --- the runner ----------------------------------------------------------------------------


async def settle() -> None:
    """Let the runner's task take every step it can (no real time passes)."""
    for _ in range(50):
        await asyncio.sleep(0)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Batch], int]] = []

    def __call__(self, batches: list[Batch], now: int) -> None:
        self.calls.append((batches, now))


def make_runner(
    props: dict[str, Any], cluster: MemoryCluster, clock: SimulatedClock
) -> tuple[BatchQueryRunner, Recorder]:
    rec = Recorder()
    plan = plan_from_properties({"query": "SELECT mean(usage) FROM telegraf.autogen.cpu", **props})
    return BatchQueryRunner(plan, MemoryInfluxDB([cluster]), rec, clock=clock, name="t/query1"), rec


async def test_runs_on_schedule_and_emits() -> None:
    clock = SimulatedClock(T0 + 7 * S)
    cluster = MemoryCluster(
        "default", answer=lambda q: [cpu_series("a", (T0 + M, 1), (T0 + M + 30 * S, 2))]
    )
    runner, rec = make_runner(
        {
            "every": Duration(M),
            "period": Duration(2 * M),
            "align": True,
            "groupBy": [TimeDimension(Duration(30 * S)), "host"],
        },
        cluster,
        clock,
    )
    runner.start()
    await settle()
    assert cluster.queries == []  # nothing before the first tick
    clock.advance_to(T0 + M)
    await settle()
    clock.advance_to(T0 + 2 * M)
    await settle()
    await runner.stop()
    assert [q[0] for q in cluster.queries] == [
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE time >= '2019-12-31T23:59:00Z' "
        "AND time < '2020-01-01T00:01:00Z' GROUP BY time(30s, 0s), host",
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE time >= '2020-01-01T00:00:00Z' "
        "AND time < '2020-01-01T00:02:00Z' GROUP BY time(30s, 0s), host",
    ]
    assert [now for _, now in rec.calls] == [T0 + M, T0 + 2 * M]
    batches = rec.calls[0][0]
    assert [(b.group, b.tmax, len(b.points)) for b in batches] == [("host=a", T0 + M + 30 * S, 2)]
    # the runner counts failed queries; batches and points are counted where they arrive
    # (the query node: tests/engine/test_query.py)
    assert runner.stats.as_dict() == {"query_errors": 0, "batches_queried": 0, "points_queried": 0}
    assert sum(len(b.points) for call, _ in rec.calls for b in call) == 4


async def test_failures_are_counted_logged_once_and_survived(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SimulatedClock(T0)
    cluster = MemoryCluster("default", answer=lambda q: [cpu_series("a", (T0, 1))])
    runner, rec = make_runner({"every": Duration(10 * S)}, cluster, clock)
    runner.start()
    cluster.fail = InfluxDBError('cluster "default": database not found: "telegraf"')
    with caplog.at_level(logging.INFO, logger="leyden.task"):
        for i in range(1, 4):
            clock.advance_to(T0 + i * 10 * S)
            await settle()
        cluster.fail = None
        for i in range(4, 6):
            clock.advance_to(T0 + i * 10 * S)
            await settle()
        cluster.fail = InfluxDBError("connection refused")
        clock.advance_to(T0 + 60 * S)
        await settle()
    await runner.stop()
    assert runner.runs == 6
    assert runner.stats.query_errors == 4
    assert len(rec.calls) == 2
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert messages == [
        (
            "ERROR",
            't/query1: error executing query on cluster \'default\': cluster "default": database not found: "telegraf" (logged once until it works)',
        ),
        ("INFO", "t/query1: query on cluster 'default' works again"),
        (
            "ERROR",
            "t/query1: error executing query on cluster 'default': connection refused (logged once until it works)",
        ),
    ]
    # the task and node are keys of every line too (``leyden watch t`` selects on them)
    assert {tuple(r.fields.items()) for r in caplog.records} == {  # type: ignore[attr-defined]
        (("task", "t"), ("node", "query1"))
    }


async def test_a_failing_task_does_not_stop_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimulatedClock(T0)
    cluster = MemoryCluster("default", answer=lambda q: [cpu_series("a", (T0, 1))])
    seen: list[int] = []

    def emit(batches: list[Batch], now: int) -> None:
        seen.append(now)
        raise RuntimeError("boom")

    plan = plan_from_properties({"query": "SELECT v FROM db.rp.m", "every": Duration(S)})
    runner = BatchQueryRunner(plan, MemoryInfluxDB([cluster]), emit, clock=clock)
    runner.start()
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        for i in (1, 2):
            clock.advance_to(T0 + i * S)
            await settle()
    await runner.stop()
    assert seen == [T0 + S, T0 + 2 * S]


async def test_unknown_cluster_names_the_configured_ones() -> None:
    clock = SimulatedClock(T0)
    plan = plan_from_properties(
        {"query": "SELECT v FROM db.rp.m", "every": Duration(S), "cluster": "prod"}
    )
    clusters = MemoryInfluxDB([MemoryCluster("default"), MemoryCluster("backup")])
    runner = BatchQueryRunner(plan, clusters, Recorder(), clock=clock)
    with pytest.raises(BatchQueryError) as info:
        runner.start()
    assert (
        str(info.value)
        == 'failed to get InfluxDB client: unknown InfluxDB cluster "prod" (configured: "default", "backup")'
    )


async def test_named_cluster_and_stop_before_first_run() -> None:
    clock = SimulatedClock(T0)
    backup = MemoryCluster("backup")
    plan = plan_from_properties(
        {"query": "SELECT v FROM db.rp.m", "every": Duration(S), "cluster": "backup"}
    )
    runner = BatchQueryRunner(
        plan, MemoryInfluxDB([MemoryCluster("default"), backup]), Recorder(), clock=clock
    )
    runner.start()
    clock.advance_to(T0 + S)
    await settle()
    await runner.stop()
    clock.advance_to(T0 + 5 * S)
    await settle()
    assert len(backup.queries) == 1


async def test_cron_runner_queries_the_period_before_each_match() -> None:
    clock = SimulatedClock(T0 + 5 * S)
    cluster = MemoryCluster("default")
    runner, _ = make_runner(
        {"cron": "*/30 * * * * * *", "period": Duration(30 * S), "offset": Duration(10 * S)},
        cluster,
        clock,
    )
    runner.start()
    clock.advance_to(T0 + 30 * S)
    await settle()
    await runner.stop()
    assert [q[0] for q in cluster.queries] == [
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE time >= '2019-12-31T23:59:50Z' AND time < '2020-01-01T00:00:20Z'"
    ]


# --- a task's query nodes, from a TICKscript ---------------------------------------------

JOIN_TICK = """
var errors = batch
    |query('SELECT sum(value) FROM "pages"."autogen".errors')
        .period(1m)
        .every(1m)
        .align()
        .groupBy(time(10s), 'page')
        .fill(0)
var views = batch
    |query('SELECT sum(value) FROM "pages"."autogen".views')
        .every(30s)
        .cluster('backup')
errors
    |join(views)
        .as('errors', 'views')
"""


async def test_start_batch_queries_runs_every_query_node() -> None:
    pipeline = build(JOIN_TICK, filename="join.tick")
    clock = SimulatedClock(T0)
    default, backup = MemoryCluster("default"), MemoryCluster("backup")
    emitted: dict[str, int] = {}

    def emit_for(spec: Any) -> Any:
        return lambda batches, now: emitted.__setitem__(spec.name, now)

    queries = start_batch_queries(
        "join", pipeline, MemoryInfluxDB([default, backup]), clock, emit_for
    )
    assert [r.name for r in queries.runners] == ["join/query1", "join/query2"]
    clock.advance_to(T0 + M)
    await settle()
    await queries.stop()
    assert [q[0] for q in default.queries] == [
        "SELECT sum(value) FROM pages.autogen.errors WHERE time >= '2020-01-01T00:00:00Z' "
        "AND time < '2020-01-01T00:01:00Z' GROUP BY time(10s, 0s), page fill(0)"
    ]
    assert [q[0] for q in backup.queries] == [
        "SELECT sum(value) FROM pages.autogen.views WHERE time >= '2020-01-01T00:00:00Z' "
        "AND time < '2020-01-01T00:00:30Z'",
        "SELECT sum(value) FROM pages.autogen.views WHERE time >= '2020-01-01T00:00:30Z' "
        "AND time < '2020-01-01T00:01:00Z'",
    ]
    assert emitted == {}  # the in-memory clusters answered no series


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "batch|query('SELECT v FROM db.rp.m').every(1s).cluster('nope')",
            'query1: failed to get InfluxDB client: unknown InfluxDB cluster "nope" '
            '(configured: "default")',
        ),
        (
            "batch|query('SELECT v FROM db.rp.m').every(1s).cron('@daily')",
            "query1: must not set both 'every' and 'cron' properties",
        ),
        (
            "batch|query('DROP DATABASE _internal').every(1s)",
            'query1: query is not a select statement "DROP DATABASE _internal"',
        ),
        (
            "batch|query('SELECT v FROM db.rp.m').every(1s).fill('zero')",
            "query1: unexpected fill option zero",
        ),
    ],
)
async def test_start_batch_queries_refuses(script: str, message: str) -> None:
    cluster = MemoryCluster("default")
    with pytest.raises(ValueError) as info:
        start_batch_queries(
            "t",
            build(script, filename="t.tick"),
            MemoryInfluxDB([cluster]),
            SimulatedClock(T0),
            lambda spec: Recorder(),
        )
    assert str(info.value) == message


async def test_start_logs_the_query_warnings(caplog: pytest.LogCaptureFixture) -> None:
    plan = plan_from_properties(
        {"query": "SELECT v FROM db.rp.m GROUP BY host", "every": Duration(S)}
    )
    runner = BatchQueryRunner(
        plan, MemoryInfluxDB(), Recorder(), clock=SimulatedClock(T0), name="t/query1"
    )
    with caplog.at_level(logging.WARNING, logger="leyden.task"):
        runner.start()
    await runner.stop()
    assert [r.getMessage() for r in caplog.records] == [
        "t/query1: the query's own GROUP BY host is dropped, as Kapacitor drops it: "
        "group with the node's .groupBy() instead"
    ]


async def test_an_answer_that_cannot_be_read_is_counted_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found in review: anything but an InfluxDB error used to end the loop silently, and
    the task's stop then raised it."""
    clock = SimulatedClock(T0)
    broken = [True]

    def answer(q: str) -> list[Any]:
        if broken[0]:
            raise AttributeError("'str' object has no attribute 'get'")
        return [cpu_series("a", (T0, 1))]

    cluster = MemoryCluster("default", answer=answer)
    runner, rec = make_runner({"every": Duration(10 * S)}, cluster, clock)
    runner.start()
    with caplog.at_level(logging.INFO, logger="leyden.task"):
        clock.advance_to(T0 + 10 * S)
        await settle()
        broken[0] = False
        clock.advance_to(T0 + 20 * S)
        await settle()
    await runner.stop()  # does not raise
    assert runner.runs == 2 and runner.stats.query_errors == 1
    assert len(rec.calls) == 1
    assert any("could not be used" in r.getMessage() for r in caplog.records)
