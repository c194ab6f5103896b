"""An alert over four series, seen the three ways an operator reads node statistics: the task
API's ``stats.node-stats`` (Kapacitor's ``GET /kapacitor/v1/tasks/ID``), ``leyden show`` (the
graph's node attributes) and ``/metrics``: ``working_cardinality`` 4 on the alert node, 0 on
stream and from, and every node timed (``avg_exec_time_ns``) once enough points went through.
A real server on loopback, the CLI's own HTTP client, the scrape parsed by prometheus-client.
And Kapacitor's own expectation for a task no point reached yet (``server_test.go``).
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from leyden.engine.task import SAMPLE_EVERY
from threaded_server import LiveServer

SCRIPT = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .warn(lambda: "usage_idle" < 50)
        .crit(lambda: "usage_idle" < 10)
"""
HOSTS = ("a", "b", "c", "d")


def _get(server: LiveServer, path: str) -> str:
    with urllib.request.urlopen(server.url + path, timeout=10) as resp:
        body: bytes = resp.read()
    return body.decode()


def test_alert_over_four_series_reads_four_everywhere(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server()
    tick = tmp_path / "cpu.tick"
    tick.write_text(SCRIPT)
    assert server.cli("define", "cpu", "-tick", str(tick)) == (0, "", "")
    assert server.cli("enable", "cpu")[0] == 0
    lines = [
        f"cpu,host={h} usage_idle={(i * 7) % 100} {(i + 1) * 1_000_000_000}"
        for i in range(SAMPLE_EVERY)
        for h in HOSTS
    ]
    for k in range(0, len(lines), 100):
        server.write("\n".join(lines[k : k + 100]) + "\n")

    stats = json.loads(_get(server, "/kapacitor/v1/tasks/cpu"))["stats"]["node-stats"]
    assert {n: s["working_cardinality"] for n, s in stats.items()} == {
        "stream0": 0,
        "from1": 0,
        "alert2": 4,
    }
    assert all(s["avg_exec_time_ns"] > 0 for s in stats.values()), stats

    code, out, err = server.cli("show", "cpu")
    assert (code, err) == (0, "")
    shown = dict(re.findall(r'\n(\w+) \[.*?working_cardinality="(\d+)"', out))
    assert shown == {"stream0": "0", "from1": "0", "alert2": "4"}
    assert 'avg_exec_time_ns="0s"' not in out

    scrape = {
        (s.labels.get("node"), s.name): s.value
        for family in text_string_to_metric_families(_get(server, "/metrics"))
        for s in family.samples
        if s.labels.get("task") == "cpu"
    }
    assert scrape[("alert2", "leyden_node_working_cardinality")] == 4
    assert scrape[("from1", "leyden_node_working_cardinality")] == 0
    for node in ("stream0", "from1", "alert2"):
        assert scrape[(node, "leyden_node_avg_exec_time_seconds")] > 0


def test_a_task_enabled_before_any_point_shows_kapacitors_zero_stats(
    live_server: Callable[..., LiveServer],
) -> None:
    """Kapacitor's ``TestServer_EnableTask`` and ``TestServer_EnableTaskOnCreate``: the DOT of
    a just-enabled task, every node at ``avg_exec_time_ns="0s"`` and ``working_cardinality="0"``."""
    server = live_server()
    body = json.dumps(
        {
            "id": "testTaskID",
            "type": "stream",
            "dbrps": [
                {"db": "mydb", "rp": "myrp"},
                {"db": "otherdb", "rp": "default"},
            ],
            "script": "stream\n    |from()\n        .measurement('test')\n",
            "status": "enabled",
        }
    ).encode()
    req = urllib.request.Request(
        server.url + "/kapacitor/v1/tasks",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    task = json.loads(_get(server, "/kapacitor/v1/tasks/testTaskID"))
    assert task["dot"] == (
        "digraph testTaskID {\n"
        'graph [throughput="0.00 points/s"];\n'
        "\n"
        'stream0 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
        'stream0 -> from1 [processed="0"];\n'
        "\n"
        'from1 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
        "}"
    )
