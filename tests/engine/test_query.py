"""The ``query()`` batch source: its one entry point, its statistics and its refusals."""

from __future__ import annotations

import pytest
from engine_support import context

from leyden.engine.model import Batch, BatchPoint, Dimensions
from leyden.engine.node import NODE_CLASSES, TaskError
from leyden.engine.nodes.query import QueryNode
from leyden.engine.router import Router
from leyden.engine.task import Task
from leyden.lineprotocol import WirePoint
from leyden.tick.builder import build_pipeline

SCRIPT = """\
batch
  |query('SELECT mean(v) FROM "db"."rp"."cpu"')
    .period(10s)
    .every(10s)
    .groupBy(time(2s), 'host')
  |httpOut('out')
"""


def _task(script: str = SCRIPT) -> Task:
    return Task("t", build_pipeline(script), context(), [("db", "rp")])


def _batch(tags: dict[str, str], tmax: int, *times: int) -> Batch:
    points = [BatchPoint(t, {"mean": float(t)}, tags) for t in times]
    return Batch("cpu", "", tags, Dimensions(), tmax, points)


def test_emit_batches_groups_by_the_series_tags_and_counts() -> None:
    task = _task()
    task.start(Router())
    (query,) = task.query_nodes
    assert isinstance(query, QueryNode)
    query.emit_batches([_batch({"host": "a"}, 4, 2, 4), _batch({"host": "b"}, 0)], now_ns=10)
    out = task.http_out()["out"]["series"]
    assert [(s["tags"], len(s.get("values") or [])) for s in out] == [
        ({"host": "a"}, 2),
        ({"host": "b"}, 0),
    ]
    assert query.query_stats == {"batches_queried": 2, "points_queried": 2, "query_errors": 0}


def test_a_batch_without_time_takes_the_query_stop_time() -> None:
    task = _task()
    seen: list[Batch] = []

    class Sink:
        def batch(self, b: Batch) -> None:
            seen.append(b)

    (query,) = task.query_nodes
    query.children = [Sink()]  # type: ignore[list-item]
    assert isinstance(query, QueryNode)
    query.emit_batches([_batch({"host": "a"}, 0, 1), _batch({"host": "a"}, 7, 1)], now_ns=99)
    assert [b.tmax for b in seen] == [99, 7]
    assert seen[0].group == "host=a" and seen[0].dims == Dimensions(False, ("host",))


def test_a_batch_task_reads_no_written_point() -> None:
    task = _task()
    router = Router()
    task.start(router)
    router.write_points("db", "rp", [WirePoint("cpu", {"host": "a"}, {"mean": 1.0}, 1)])
    assert task.http_out()["out"] == {"series": None}
    assert task.query_nodes[0].stats.collected == 0


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (
            "SELECT v FROM db.rp.m; DROP DATABASE _internal",
            "query must be a single select statement, got 2 statements",
        ),
        ("DROP DATABASE _internal", 'query is not a select statement "DROP DATABASE _internal"'),
    ],
)
def test_the_query_must_be_one_select(query: str, error: str) -> None:
    with pytest.raises(TaskError, match=error):
        _task(f"batch|query('{query}').every(1s)")


def test_a_semicolon_inside_quotes_does_not_split_the_query() -> None:
    _task("batch|query('SELECT v FROM m WHERE t = \\'a;b\\'').every(1s)|httpOut('o')")


def test_query_flux_is_refused_as_flux() -> None:
    pipeline = build_pipeline("batch|queryFlux('from(bucket:\"b\")').every(1s)|httpOut('o')")
    (use,) = pipeline.unsupported(NODE_CLASSES, ())
    assert (use.what, use.node) == ("Flux queries (queryFlux)", "queryFlux1")
