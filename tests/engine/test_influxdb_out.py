"""influxDBOut: buffered writes to the in-memory InfluxDB twin, on a simulated clock.

The node's per-point path only encodes; writes go out on the event loop, so every test drains
the task (``Task.drain``: until the queued writes are done or wait for a retry) before looking
at what the cluster received.  Flush ticks and retry backoff run on the task clock, moved by
hand here: nothing depends on wall time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from engine_support import context

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.engine.influx import InfluxDBError, MemoryCluster, MemoryInfluxDB, WriteRecord
from leyden.engine.node import TaskError
from leyden.engine.nodes.influxdb_out import (
    BACKOFF_BASE,
    InfluxDBOutNode,
    create_statement,
    quote_ident,
)
from leyden.engine.router import Router
from leyden.engine.task import Task
from leyden.tasks.stats import RunningTask
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
T0 = 31_536_000 * S
DOWN = InfluxDBError('cluster "default": connection refused', retryable=True)
NO_DB = InfluxDBError('cluster "default": database not found: "nope"')


class Recording(MemoryCluster):
    """The twin, also counting attempts (failed ones too) and keeping the order of requests."""

    def __init__(self, name: str = "default") -> None:
        super().__init__(name)
        self.attempts = 0
        self.requests: list[str] = []
        #: failures for the next write attempts, in order (then ``fail``, then success)
        self.plan: list[InfluxDBError] = []

    async def write(self, body: bytes, **options: Any) -> None:
        self.attempts += 1
        self.requests.append("write")
        if self.plan:
            raise self.plan.pop(0)
        await super().write(body, **options)

    async def query(self, command: str, **options: Any) -> list[Any]:
        self.requests.append(command)
        return await super().query(command, **options)


class Hanging(MemoryCluster):
    """A cluster whose writes never answer."""

    async def write(self, body: bytes, **options: Any) -> None:
        await asyncio.Event().wait()


class Run:
    """One started task on a router, its clock and its (first) cluster."""

    def __init__(
        self,
        script: str,
        *clusters: MemoryCluster,
        dbrps: tuple[tuple[str, str], ...] = (("db", "rp"),),
    ) -> None:
        self.clock = SimulatedClock(T0)
        self.clusters = list(clusters) or [Recording()]
        ctx = context("t", self.clock, influxdb=MemoryInfluxDB(self.clusters))
        self.task = Task("t", build_pipeline(script), ctx, dbrps)
        self.router = Router()
        self.task.start(self.router)

    @property
    def cluster(self) -> Any:
        return self.clusters[0]

    @property
    def node(self) -> InfluxDBOutNode:
        return next(n for n in self.task.nodes.values() if isinstance(n, InfluxDBOutNode))

    def send(self, *lines: str, db: str = "db", rp: str = "rp") -> None:
        for line in lines:
            p = lineprotocol.parse(line, precision="s", now_ns=0).points[0]
            p.time += T0
            self.router.write_points(db, rp, [p])

    async def advance(self, seconds: float) -> None:
        """Move the task clock (flush ticks, backoff) and let the writes it started finish."""
        self.clock.advance_to(self.clock.now() + int(seconds * S))
        await self.task.drain()

    async def stop(self) -> None:
        """As ``TaskRunner.stop``: drain, stop, drain."""
        await self.task.drain()
        self.task.stop(self.router)
        await self.task.drain()


def logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    """How many log records hold ``text`` in their message or their fields."""
    return sum(
        text in r.getMessage() + " " + " ".join(map(str, getattr(r, "fields", {}).values()))
        for r in caplog.records
    )


def bodies(cluster: MemoryCluster) -> list[str]:
    return [w.body.decode() for w in cluster.writes]


# --- buffering and flushing ------------------------------------------------------------------


async def test_a_full_buffer_is_written_at_once_in_one_request() -> None:
    run = Run("stream|from().measurement('cpu')|influxDBOut().database('out').buffer(3)")
    run.send("cpu,host=a v=1 0", "cpu,host=b v=2 1")
    await run.task.drain()
    assert run.cluster.writes == []  # two of three: still buffered
    run.send("cpu,host=a v=3i 2")
    await run.task.drain()
    assert run.cluster.writes == [
        WriteRecord(
            "out",
            "rp",  # the point's own retention policy: none was set
            "ns",
            "",
            f"cpu,host=a v=1.0 {T0}\ncpu,host=b v=2.0 {T0 + S}\ncpu,host=a v=3i {T0 + 2 * S}\n".encode(),
        )
    ]
    assert run.node.points_written == 3


async def test_the_flush_interval_writes_what_is_buffered_on_the_task_clock() -> None:
    run = Run("stream|from()|influxDBOut().flushInterval(10s)")
    run.send("cpu v=1 0", "cpu v=2 3")
    await run.advance(9.9)  # the clock, not the data, decides (the points are 3 s apart)
    assert run.cluster.writes == []
    await run.advance(0.1)
    assert bodies(run.cluster) == [f"cpu v=1.0 {T0}\ncpu v=2.0 {T0 + 3 * S}\n"]
    run.send("cpu v=3 12")
    await run.advance(8)  # T0+18s: the next tick is at T0+20s (a ticker, from the start)
    assert len(run.cluster.writes) == 1
    await run.advance(2)
    assert bodies(run.cluster)[1] == f"cpu v=3.0 {T0 + 12 * S}\n"


async def test_defaults_are_kapacitors_buffer_1000_and_flush_interval_10s() -> None:
    run = Run("stream|from()|influxDBOut()")
    assert (run.node.size, run.node.flush_interval) == (1000, 10 * S)
    run.send(*(f"cpu v={i} {i % 5}" for i in range(999)))
    await run.task.drain()
    assert run.cluster.writes == []
    run.send("cpu v=1 4")
    await run.task.drain()
    assert len(run.cluster.writes) == 1 and run.cluster.writes[0].body.count(b"\n") == 1000


async def test_points_of_different_databases_are_written_separately() -> None:
    run = Run("stream|from()|influxDBOut().buffer(2)", dbrps=(("db", "rp"), ("db2", "rp2")))
    run.send("cpu v=1 0")
    run.send("cpu v=2 0", db="db2", rp="rp2")
    await run.task.drain()
    assert run.cluster.writes == []
    run.send("cpu v=3 1", db="db2", rp="rp2")
    await run.task.drain()
    [only] = run.cluster.writes
    assert (only.database, only.retention_policy) == ("db2", "rp2")
    await run.stop()
    assert [(w.database, w.retention_policy) for w in run.cluster.writes] == [
        ("db2", "rp2"),
        ("db", "rp"),
    ]


# --- what is written --------------------------------------------------------------------------


async def test_measurement_tags_precision_and_consistency() -> None:
    run = Run(
        "stream|from().measurement('cpu')|influxDBOut().database('db').retentionPolicy('rp')"
        ".measurement('m').tag('host', 'override').tag('dc', 'eu').precision('s')"
        ".writeConsistency('all').buffer(1)"
    )
    run.send('cpu,host=a,cpu=cpu0 usage=1.5,n=3i,up=true,s="x y" 10')
    await run.task.drain()
    assert run.cluster.writes == [
        WriteRecord(
            "db",
            "rp",
            "s",
            "all",
            f'm,cpu=cpu0,dc=eu,host=override usage=1.5,n=3i,up=true,s="x y" {T0 // S + 10}\n'.encode(),
        )
    ]


@pytest.mark.parametrize(
    ("written", "sent", "divisor"),
    [("", "ns", 1), ("ns", "ns", 1), ("us", "u", 1000), ("u", "u", 1000), ("ms", "ms", 10**6),
     ("m", "m", 60 * S), ("h", "h", 3600 * S)],
)  # fmt: skip
async def test_precision_sets_the_unit_of_the_timestamps(
    written: str, sent: str, divisor: int
) -> None:
    run = Run(f"stream|from()|influxDBOut().precision('{written}').buffer(1)")
    run.send("cpu v=1 7200")
    await run.task.drain()
    [write] = run.cluster.writes
    assert write.precision == sent
    assert write.body == f"cpu v=1.0 {(T0 + 7200 * S) // divisor}\n".encode()


async def test_a_batch_is_written_with_its_points_tags_and_the_nodes_database() -> None:
    run = Run(
        "stream|from().measurement('cpu').groupBy('host')|window().period(2s).every(2s)"
        "|influxDBOut().database('out').buffer(2)"
    )
    run.send("cpu,host=a v=1 0", "cpu,host=a v=2 1", "cpu,host=a v=3 2")
    await run.task.drain()
    [write] = run.cluster.writes
    # a batch carries no retention policy: InfluxDB's default one (rp= left empty)
    assert (write.database, write.retention_policy) == ("out", "")
    assert write.body == f"cpu,host=a v=1.0 {T0}\ncpu,host=a v=2.0 {T0 + S}\n".encode()


async def test_a_point_without_a_database_is_an_error_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = Run(
        "stream|from().measurement('cpu')|window().period(1s).every(1s)|count('v')"
        "|influxDBOut().buffer(1)"
    )
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        run.send("cpu v=1 0", "cpu v=1 1", "cpu v=1 2", "cpu v=1 3")
        await run.stop()
    assert run.cluster.writes == []
    assert run.node.stats.errors == 3
    assert logged(caplog, "set .database()") == 1


async def test_a_point_line_protocol_cannot_carry_is_counted_not_written() -> None:
    run = Run("stream|from()|eval(lambda: \"v\" / 0.0).as('inf')|influxDBOut().buffer(1)")
    run.send("cpu v=1 0")
    await run.task.drain()
    assert run.cluster.writes == []
    assert run.node.stats.errors == 1


# --- .create() --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("db", "rp", "statement"),
    [
        ("db", "", "CREATE DATABASE db"),
        ("db", "rp", "CREATE DATABASE db WITH NAME rp"),
        ("my-db", "default", 'CREATE DATABASE "my-db" WITH NAME "default"'),
        ('we"ird', "_ok1", 'CREATE DATABASE "we\\"ird" WITH NAME _ok1'),
    ],
)
def test_create_statement_quotes_as_influxql_does(db: str, rp: str, statement: str) -> None:
    assert create_statement(db, rp) == statement


@pytest.mark.parametrize(
    ("ident", "quoted"),
    [("cpu", "cpu"), ("_x9", "_x9"), ("9x", '"9x"'), ("Select", '"Select"'), ("a b", '"a b"'),
     ("", '""'), ("é", '"é"'), ("a\\b", '"a\\\\b"'), ("a\nb", '"a\\nb"')],
)  # fmt: skip
def test_quote_ident(ident: str, quoted: str) -> None:
    assert quote_ident(ident) == quoted


async def test_create_runs_when_the_task_starts_before_any_point() -> None:
    run = Run(
        "stream|from().where(lambda: \"host\" == 'nonexistant')"
        "|influxDBOut().create().database('db').retentionPolicy('rp')"
    )
    await run.task.drain()
    assert run.cluster.queries == [("CREATE DATABASE db WITH NAME rp", "", "", True)]
    run.send("cpu v=1 0")
    await run.stop()
    assert len(run.cluster.queries) == 1  # once


async def test_create_failing_for_now_holds_the_writes_back_until_it_passes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = Recording()
    cluster.fail = DOWN
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        run = Run("stream|from()|influxDBOut().create().database('db').buffer(1)", cluster)
        run.send("cpu v=1 0")
        await run.task.drain()
        await run.advance(1)
    # tried as the task started (the point was queued by then), and at the retry 1 s later
    assert cluster.writes == [] and cluster.requests == ["CREATE DATABASE db"] * 2
    assert logged(caplog, "failed to create database") == 1
    cluster.fail = None
    await run.advance(2)
    assert cluster.requests[-2:] == ["CREATE DATABASE db", "write"]
    assert bodies(cluster) == [f"cpu v=1.0 {T0}\n"]


async def test_create_refused_is_logged_and_the_writes_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = Recording()
    cluster.fail = InfluxDBError("not authorized to create database")
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        run = Run("stream|from()|influxDBOut().create().database('db').buffer(1)", cluster)
        await run.task.drain()
        cluster.fail = None
        run.send("cpu v=1 0", "cpu v=2 1")
        await run.task.drain()
    assert cluster.requests == ["CREATE DATABASE db", "write", "write"]
    assert logged(caplog, "failed to create database") == 1
    assert logged(caplog, "not authorized") == 1


# --- failures ---------------------------------------------------------------------------------


async def test_a_write_that_may_pass_is_retried_with_doubling_backoff_on_the_task_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = Recording()
    cluster.plan = [DOWN, DOWN]
    run = Run("stream|from()|influxDBOut().buffer(2)", cluster)
    with caplog.at_level(logging.INFO, logger="leyden.task"):
        run.send("cpu v=1 0", "cpu v=2 1")
        await run.task.drain()
        assert (cluster.attempts, run.node.write_errors) == (1, 1)
        await run.advance(BACKOFF_BASE / S - 0.001)
        assert cluster.attempts == 1
        await run.advance(0.001)  # 1 s after the failure
        assert (cluster.attempts, run.node.write_errors) == (2, 2)
        await run.advance(1.999)  # the second wait is 2 s
        assert cluster.attempts == 2
        await run.advance(0.001)
    assert cluster.attempts == 3 and run.node.points_written == 2
    assert bodies(cluster) == [f"cpu v=1.0 {T0}\ncpu v=2.0 {T0 + S}\n"]
    assert caplog.text.count("failed to write points to InfluxDB; retrying") == 1
    assert "writes to InfluxDB resumed" in caplog.text


async def test_later_writes_wait_behind_the_one_being_retried() -> None:
    cluster = Recording()
    cluster.plan = [DOWN]
    run = Run("stream|from()|influxDBOut().buffer(1)", cluster)
    run.send("cpu v=1 0")
    await run.task.drain()
    run.send("cpu v=2 1", "cpu v=3 2")
    await run.task.drain()
    assert cluster.writes == []
    await run.advance(1)
    assert [b.split()[1] for b in bodies(cluster)] == ["v=1.0", "v=2.0", "v=3.0"]


async def test_a_refused_write_is_dropped_counted_and_its_reason_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = Recording()
    cluster.plan = [NO_DB, NO_DB]
    run = Run("stream|from()|influxDBOut().buffer(1)", cluster)
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        run.send("cpu v=1 0", "cpu v=2 1", "cpu v=3 2")
        await run.task.drain()
    assert cluster.attempts == 3  # no retry
    assert bodies(cluster) == [f"cpu v=3.0 {T0 + 2 * S}\n"]
    node = run.node
    assert (node.write_errors, node.points_dropped, node.points_written) == (2, 2, 1)
    assert logged(caplog, "database not found") == 1


async def test_a_long_outage_drops_the_oldest_points_beyond_the_backlog_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = Recording()
    cluster.fail = DOWN
    run = Run("stream|from()|influxDBOut().buffer(2)", cluster)
    run.node.max_backlog = 4
    with caplog.at_level(logging.INFO, logger="leyden.task"):
        run.send("cpu v=0 0", "cpu v=1 0")
        await run.task.drain()  # the first write fails: it waits for its retry
        run.send(*(f"cpu v={i} 0" for i in range(2, 12)))
        await run.task.drain()
        assert run.node.points_dropped == 8
        cluster.fail = None
        await run.advance(1)
    # the oldest waiting ones went; the newest two writes are kept
    values = [line.split()[1] for body in bodies(cluster) for line in body.splitlines()]
    assert values == ["v=8.0", "v=9.0", "v=10.0", "v=11.0"]
    assert caplog.text.count("dropping the oldest points") == 1
    assert "writes to InfluxDB resumed" in caplog.text


# --- stop -------------------------------------------------------------------------------------


async def test_stop_writes_what_is_buffered() -> None:
    run = Run("stream|from()|influxDBOut()")
    run.send("cpu v=1 0", "cpu v=2 1")
    await run.stop()
    assert bodies(run.cluster) == [f"cpu v=1.0 {T0}\ncpu v=2.0 {T0 + S}\n"]


async def test_stop_with_influxdb_down_tries_once_and_drops_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = Recording()
    cluster.fail = DOWN
    run = Run("stream|from()|influxDBOut().buffer(2)", cluster)
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        run.send("cpu v=1 0", "cpu v=2 1", "cpu v=3 2")
        await run.task.drain()  # one write waits for its retry, one point is buffered
        await run.stop()
    assert cluster.attempts == 2  # the retry, cut short by the stop; then nothing more
    assert run.node.points_dropped == 3
    assert caplog.text.count("task stopped with points not written to InfluxDB") == 1


async def test_stop_gives_up_after_its_time_limit() -> None:
    run = Run("stream|from()|influxDBOut()", Hanging())
    run.node.stop_timeout = 0.01
    run.send("cpu v=1 0")
    await run.stop()
    assert run.node.points_dropped == 1 and run.node.points_written == 0


async def test_stop_gives_up_on_a_write_already_in_flight() -> None:
    """A write sent before the stop (buffer(1)) to an InfluxDB that never answers: the drain
    before ``stop()`` is bounded too, so the task stops (found in review: it hung)."""
    run = Run("stream|from()|influxDBOut().buffer(1)", Hanging())
    run.node.stop_timeout = 0.01
    run.send("cpu v=1 0")
    await asyncio.wait_for(run.stop(), 30)
    assert run.node.points_written == 0


# --- statistics and refusals ------------------------------------------------------------------


async def test_node_statistics_use_kapacitors_names() -> None:
    cluster = Recording()
    cluster.plan = [NO_DB]
    run = Run("stream|from()|influxDBOut().buffer(1)", cluster)
    run.send("cpu v=1 0", "cpu v=2 1")
    await run.task.drain()
    stats = RunningTask.started(run.task).stats()["node-stats"]["influxdb_out2"]
    assert stats["points_written"] == 1
    assert stats["write_errors"] == 1
    assert stats["points_dropped"] == 1
    assert stats["collected"] == 2 and stats["emitted"] == 0


def test_an_unknown_cluster_is_refused_naming_the_configured_ones() -> None:
    with pytest.raises(
        TaskError,
        match='influxdb_out2: failed to get InfluxDB client: unknown InfluxDB cluster "c" '
        r'\(configured: "a", "b"\)',
    ):
        Run("stream|from()|influxDBOut().cluster('c')", MemoryCluster("a"), MemoryCluster("b"))


def test_without_any_cluster_configured_the_task_is_refused() -> None:
    pipeline = build_pipeline("stream|from()|influxDBOut()")
    with pytest.raises(TaskError, match=r"no \[\[influxdb\]\] cluster is configured"):
        Task("t", pipeline, context("t"), [])


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (".precision('x')", 'invalid precision "x": use one of ns, u, ms, s, m, h'),
        (".flushInterval(0s)", "flushInterval must be positive"),
        (".create()", r"\.create\(\) needs \.database\(\)"),
    ],
)
def test_settings_that_cannot_work_are_refused_when_the_task_starts(
    settings: str, error: str
) -> None:
    with pytest.raises(TaskError, match=error):
        Run(f"stream|from()|influxDBOut(){settings}")


def test_the_cluster_is_named_by_cluster_or_is_the_default() -> None:
    a, b = MemoryCluster("a"), MemoryCluster("b")
    assert Run("stream|from()|influxDBOut()", a, b).node.cluster is a
    assert Run("stream|from()|influxDBOut().cluster('b')", a, b).node.cluster is b
