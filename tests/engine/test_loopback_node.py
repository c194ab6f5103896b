"""kapacitorLoopback: what the node hands to the loopback port (which the runtime delivers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from engine_support import context

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.engine.node import TaskError
from leyden.engine.nodes.loopback import KapacitorLoopbackNode
from leyden.engine.router import Router
from leyden.engine.task import Task
from leyden.lineprotocol import WirePoint
from leyden.tasks.stats import RunningTask
from leyden.tick.builder import build_pipeline

S = 1_000_000_000


class Port:
    """The loopback port: records what it was handed, routes nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[WirePoint]]] = []

    def __call__(self, db: str, rp: str, points: Sequence[WirePoint]) -> None:
        self.calls.append((db, rp, list(points)))


def start(
    script: str, port: Port | None, dbrps: Sequence[tuple[str, str]] = (("db", "rp"),)
) -> tuple[Task, Router]:
    ctx = replace(context("t", SimulatedClock(0), loopback=port), dbrps=tuple(dbrps))
    task = Task("t", build_pipeline(script), ctx, dbrps)
    router = Router()
    task.start(router)
    return task, router


def send(router: Router, *lines: str) -> None:
    for line in lines:
        router.write_points("db", "rp", lineprotocol.parse(line, precision="s", now_ns=0).points)


def test_points_go_to_the_port_renamed_and_tagged_not_through_the_router() -> None:
    port = Port()
    _, router = start(
        "stream|from().measurement('cpu')|kapacitorLoopback().database('loop')"
        ".retentionPolicy('autogen').measurement('m').tag('host', 'x').tag('dc', 'eu')",
        port,
    )
    send(router, "cpu,host=a,cpu=c0 v=1.5,n=2i 10")
    assert port.calls == [
        (
            "loop",
            "autogen",
            [WirePoint("m", {"cpu": "c0", "dc": "eu", "host": "x"}, {"v": 1.5, "n": 2}, 10 * S)],
        )
    ]
    assert router.stats.points_received == 1  # the router saw only the write itself


def test_without_measurement_or_tags_the_point_keeps_its_name_and_tags() -> None:
    port = Port()
    _, router = start(
        "stream|from()|kapacitorLoopback().database('loop').retentionPolicy('autogen')", port
    )
    send(router, "cpu,host=a v=1 1", "mem,host=b v=2 2")
    assert [(p.name, p.tags) for _, _, [p] in port.calls] == [
        ("cpu", {"host": "a"}),
        ("mem", {"host": "b"}),
    ]


def test_a_batch_is_looped_back_point_by_point_in_one_call() -> None:
    port = Port()
    task, router = start(
        "stream|from().measurement('cpu').groupBy('host')|window().period(2s).every(2s)"
        "|kapacitorLoopback().database('loop').retentionPolicy('autogen').tag('w', '2s')",
        port,
    )
    send(router, "cpu,host=a v=1 0", "cpu,host=a v=2 1", "cpu,host=a v=3 2")
    [(db, rp, points)] = port.calls
    assert (db, rp) == ("loop", "autogen")
    assert points == [
        WirePoint("cpu", {"host": "a", "w": "2s"}, {"v": 1.0}, 0),
        WirePoint("cpu", {"host": "a", "w": "2s"}, {"v": 2.0}, S),
    ]
    stats = RunningTask.started(task).stats()["node-stats"]["kapacitor_loopback3"]
    assert stats["points_written"] == 2


def test_measurement_applies_to_batches_too() -> None:
    port = Port()
    _, router = start(
        "stream|from()|window().period(1s).every(1s)"
        "|kapacitorLoopback().database('loop').retentionPolicy('autogen').measurement('m')",
        port,
    )
    send(router, "cpu v=1 0", "cpu v=2 1")
    assert [p.name for _, _, points in port.calls for p in points] == ["m"]


def test_a_task_reading_what_it_loops_into_is_refused() -> None:
    with pytest.raises(TaskError, match=r'kapacitor_loopback2: loop detected on dbrp: "db"\."rp"'):
        start("stream|from()|kapacitorLoopback().database('db').retentionPolicy('rp')", Port())


def test_a_process_without_a_loopback_refuses_the_node() -> None:
    with pytest.raises(TaskError, match="cannot write points back into the server"):
        start("stream|from()|kapacitorLoopback().database('x').retentionPolicy('y')", None)


def test_the_node_is_registered() -> None:
    from leyden.engine.node import NODE_CLASSES

    assert NODE_CLASSES["kapacitorLoopback"] is KapacitorLoopbackNode
