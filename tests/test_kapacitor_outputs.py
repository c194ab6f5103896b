"""Kapacitor's stream tests of ``influxDBOut`` and ``kapacitorLoopback``, as data.

``kapacitor_outputs/cases.json`` holds what ``integrations/streamer_test.go`` expects (the
requests its mock InfluxDB received, the output of the task reading a loopback, the error of a
task that would loop), with the recordings the Go tests replay.  Each case runs as ``leyden
replay`` runs a task (the runtime from the composition root on a simulated clock, the
recording delivered point by point, looped-back points after each), with the in-memory InfluxDB
twin standing in for the Go test's mock server; several tasks share one runtime, as they share
Kapacitor's task master in the Go test.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.config import Config
from leyden.engine.influx import MemoryCluster, MemoryInfluxDB
from leyden.engine.node import TaskError
from leyden.engine.task import Task
from leyden.go.strconv import parse_go_duration
from leyden.go.types import go_json
from leyden.replay import REPLAY_ZERO_NS, read_srpl, rebased
from leyden.runtime import build_runtime
from leyden.store import Store
from leyden.tasks.manager import check
from leyden.tasks.runner import build

HERE = Path(__file__).parent / "kapacitor_outputs"
CASES = json.loads((HERE / "cases.json").read_text(encoding="utf-8"))["cases"]


def _ns(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()) * 10**9


async def run_case(case: dict[str, Any]) -> tuple[MemoryCluster, dict[str, Task], str]:
    """Start the case's tasks, replay its recording, stop them; the cluster, the tasks (by
    name) and the error starting one, if any."""
    runtime = build_runtime(
        Config(), store=Store(":memory:"), clock=SimulatedClock(REPLAY_ZERO_NS), simulated=True
    )
    cluster = MemoryCluster("default")
    runtime.runner.services = replace(runtime.task_services, influxdb=MemoryInfluxDB([cluster]))
    tasks: dict[str, Task] = {}
    error = ""
    try:
        for spec in case["tasks"]:
            pipeline = build(spec["script"], filename=spec["name"])
            check(pipeline, spec["name"])
            dbrps = [tuple(d) for d in spec.get("dbrps", [["dbname", "rpname"]])]
            try:
                tasks[spec["name"]] = runtime.runner.start(spec["name"], pipeline, dbrps)
            except TaskError as exc:
                error = str(exc)
        clock = runtime.clock
        assert isinstance(clock, SimulatedClock)
        if case["data"]:
            limit = REPLAY_ZERO_NS + parse_go_duration(case["until"])
            for rec in rebased(read_srpl(HERE / case["data"])):
                if rec.point.time > limit:
                    break
                clock.advance_to(rec.point.time)
                runtime.router.write_points(rec.db, rec.rp, [rec.point])
                runtime.loopback.flush()
            clock.advance_to(limit)
        for task in tasks.values():
            await runtime.runner.stop(task)
    finally:
        await runtime.close()
    return cluster, tasks, error


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_kapacitor_case(case: dict[str, Any]) -> None:
    cluster, tasks, error = await run_case(case)
    expect = case["expect"]
    if "start_error" in expect:
        assert expect["start_error"] in error
        return
    assert error == ""
    if "writes" in expect:
        got = []
        for w in cluster.writes:
            parsed = lineprotocol.parse(w.body, precision=w.precision)
            assert parsed.errors == []
            got.append(
                {
                    "db": w.database,
                    "rp": w.retention_policy,
                    "precision": w.precision,
                    "points": [
                        {"name": p.name, "tags": p.tags, "fields": p.fields, "time": p.time}
                        for p in parsed.points
                    ],
                }
            )
        for write in expect["writes"]:
            for point in write["points"]:
                point["time"] = _ns(point["time"])
        assert got == expect["writes"]
    if "queries" in expect:
        assert [q[0] for q in cluster.queries] == expect["queries"]
        assert all(post for *_, post in cluster.queries)  # CREATE goes by POST
    for task_name, endpoints in expect.get("http_out", {}).items():
        out = json.loads(go_json(tasks[task_name].http_out()))
        for endpoint, result in endpoints.items():
            assert out[endpoint] == result
