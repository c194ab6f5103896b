"""A write without ``rp=`` while ``default-retention-policy`` is empty: its points go to the
empty retention policy, which a task reading ``"telegraf"."autogen"`` never sees (Kapacitor's
``TaskMaster.WritePoints`` does the same).  The router counts the points that missed a task
that way, says so once per database with the fix, and leaves every other write alone."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from leyden.clock import SimulatedClock
from leyden.config import load_config
from leyden.engine.model import Point
from leyden.engine.router import Router
from leyden.lineprotocol import WirePoint
from leyden.model.records import TaskRecord
from leyden.notify import INTEGRATIONS
from leyden.runtime import build_runtime
from leyden.store import Store
from leyden.workers.pool import RemoteTask


class Reader:
    def __init__(self) -> None:
        self.got: list[tuple[str, str, str]] = []

    def receive(self, db: str, rp: str, point: WirePoint) -> None:
        raise AssertionError("handed whole writes")

    def receive_points(self, points: Sequence[Point], memo: dict[Any, Any]) -> None:
        self.got.extend((p.db, p.rp, p.name) for p in points)


def write(names: str) -> list[WirePoint]:
    return [WirePoint(n, {}, {"v": 1.0}, i) for i, n in enumerate(names.split())]


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "leyden.write" and r.levelno == logging.WARNING]


def test_points_missed_for_want_of_rp_are_counted_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()
    cpu = Reader()
    router.subscribe(cpu, [("telegraf", "autogen")], ["cpu"])
    with caplog.at_level(logging.WARNING, logger="leyden"):
        router.write_points("telegraf", "", write("cpu cpu mem"))
        router.write_points("telegraf", "", write("cpu"))
    assert cpu.got == []
    # mem is read by no task, rp or not: it is not the trap
    assert router.stats.points_without_rp_unrouted == {"telegraf": 3}
    [warning] = warnings(caplog)
    fields = warning.fields  # type: ignore[attr-defined]
    assert fields["db"] == "telegraf"
    assert fields["tasks_read"] == "telegraf.autogen"
    assert "rp=autogen" in fields["fix"]
    assert 'default-retention-policy = "autogen"' in fields["fix"]
    assert "reach no task" in warning.getMessage()
    # another database warns on its own
    router.subscribe(Reader(), [("other", "two"), ("other", "one")], [None])
    with caplog.at_level(logging.WARNING, logger="leyden"):
        router.write_points("other", "", write("x"))
    assert [w.fields["tasks_read"] for w in warnings(caplog)] == [  # type: ignore[attr-defined]
        "telegraf.autogen",
        "other.one,other.two",
    ]
    assert router.stats.points_without_rp_unrouted == {"telegraf": 3, "other": 1}


def test_writes_that_reach_their_tasks_or_no_task_at_all_are_not_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()
    cpu = Reader()
    router.subscribe(cpu, [("telegraf", "autogen")], ["cpu"])
    with caplog.at_level(logging.WARNING, logger="leyden"):
        router.write_points("telegraf", "autogen", write("cpu"))  # named: routed
        router.write_points("nobody", "", write("cpu"))  # no task reads that database
        defaulted = Router("autogen")
        defaulted.subscribe(Reader(), [("telegraf", "autogen")], ["cpu"])
        defaulted.write_points("telegraf", "", write("cpu"))  # the default rp applies
    assert cpu.got == [("telegraf", "autogen", "cpu")]
    assert router.stats.points_without_rp_unrouted == {}
    assert defaulted.stats.points_without_rp_unrouted == {}
    assert warnings(caplog) == []


def test_a_task_reading_every_dbrp_takes_the_rp_less_points() -> None:
    router = Router()
    everything = Reader()
    router.subscribe(everything, None, ["cpu"])  # a task defined without dbrp
    router.subscribe(Reader(), [("telegraf", "autogen")], ["cpu", "mem"])
    router.write_points("telegraf", "", write("cpu mem"))
    assert everything.got == [("telegraf", "", "cpu")]
    assert router.stats.points_without_rp_unrouted == {"telegraf": 1}  # mem only


def test_the_engine_workers_tasks_count_too() -> None:
    """With engine workers the router of the server's process reads no task itself: what
    the workers' tasks read comes from the pool (``rps_elsewhere``)."""
    router = Router()
    router.rps_elsewhere = lambda db: {"autogen"} if db == "telegraf" else set()
    router.write_points("telegraf", "", write("cpu mem"))
    router.write_points("other", "", write("cpu"))
    assert router.stats.points_without_rp_unrouted == {"telegraf": 2}


def test_the_count_follows_routing_changes() -> None:
    router = Router()
    router.write_points("telegraf", "", write("cpu"))
    task = Reader()
    router.subscribe(task, [("telegraf", "autogen")], ["cpu"])
    router.write_points("telegraf", "", write("cpu"))
    router.unsubscribe(task)
    router.write_points("telegraf", "", write("cpu"))
    assert router.stats.points_without_rp_unrouted == {"telegraf": 1}


def test_the_runtime_wires_the_workers_tasks_into_the_router() -> None:
    """Built with engine workers (not started: no process is spawned), the router asks the
    pool which retention policies the workers' tasks read."""
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    store = Store(":memory:")
    try:
        runtime = build_runtime(config, store=store, clock=SimulatedClock(0), engine_workers=2)
        pool = runtime.pool
        assert pool is not None
        assert runtime.router.rps_elsewhere == pool.rps_read
        record = TaskRecord("cpu", "stream", (("telegraf", "autogen"),), "stream|from()")
        pool.workers[1].tasks["cpu"] = RemoteTask(record)
        runtime.router.write_points("telegraf", "", write("cpu"))
        assert runtime.router.stats.points_without_rp_unrouted == {"telegraf": 1}
    finally:
        store.close()
