"""influxDBOut as a server runs it: defined and enabled through the task manager of a runtime
from the composition root, writing to the in-memory InfluxDB twin (the real ``[[influxdb]]``
client is the composition root's to wire; its end-to-end test lives with it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from leyden import lineprotocol
from leyden.config import Config
from leyden.engine.influx import MemoryCluster, MemoryInfluxDB
from leyden.runtime import Runtime
from leyden.tasks.manager import TaskRequestError

SCRIPT = """stream
  |from()
    .measurement('cpu')
  |influxDBOut()
    .cluster('{cluster}')
    .database('copy')
    .tag('via', 'leyden')
    .buffer(2)
"""


def with_clusters(runtime: Runtime, *clusters: MemoryCluster) -> None:
    runtime.runner.services = replace(
        runtime.task_services, influxdb=MemoryInfluxDB(list(clusters))
    )


async def test_an_enabled_task_writes_and_disabling_it_writes_what_is_buffered(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(Config())
    cluster = MemoryCluster("main")
    with_clusters(runtime, cluster)
    record, _ = await runtime.tasks.create(
        {
            "id": "copy",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": SCRIPT.format(cluster="main"),
            "status": "enabled",
        }
    )
    assert record.error == "" and runtime.tasks.is_executing("copy")
    body = lineprotocol.parse("cpu,host=a v=1 1\ncpu,host=b v=2 2\ncpu v=3 3", precision="s")
    runtime.router.write_points("telegraf", "autogen", body.points)
    task = runtime.tasks.running("copy")
    assert task is not None
    await task.drain()  # the full buffer went out on the loop
    assert [w.body for w in cluster.writes] == [
        b"cpu,host=a,via=leyden v=1.0 1000000000\ncpu,host=b,via=leyden v=2.0 2000000000\n"
    ]
    await runtime.tasks.disable("copy")
    assert cluster.writes[-1].body == b"cpu,via=leyden v=3.0 3000000000\n"
    assert {(w.database, w.retention_policy) for w in cluster.writes} == {("copy", "autogen")}


async def test_an_unknown_cluster_is_the_tasks_error_naming_the_configured_ones(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(Config())
    with_clusters(runtime, MemoryCluster("main"), MemoryCluster("backup"))
    why = (
        'influxdb_out2: failed to get InfluxDB client: unknown InfluxDB cluster "nope" '
        '(configured: "main", "backup")'
    )
    with pytest.raises(TaskRequestError) as refused:  # Kapacitor answers 500 with the reason
        await runtime.tasks.create(
            {
                "id": "copy",
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "script": SCRIPT.format(cluster="nope"),
                "status": "enabled",
            }
        )
    assert (refused.value.status, refused.value.message) == (500, why)
    assert not runtime.tasks.is_executing("copy")
    stored = runtime.tasks.get("copy")
    assert stored is not None and stored.error == why
