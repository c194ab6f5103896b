"""``[engine] max-groups-per-task`` on a real server: a windowed task over four series with a
limit of two holds two windows, and the points of the other two are counted as refused where
an operator reads node statistics: the task API, ``leyden show``, ``/metrics`` and
``/kapacitor/v1/debug/vars``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from threaded_server import LiveServer

SCRIPT = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |mean('usage_idle')
    |alert()
        .crit(lambda: "mean" < 10)
"""
HOSTS = ("a", "b", "c", "d")


def _get(server: LiveServer, path: str) -> str:
    with urllib.request.urlopen(server.url + path, timeout=10) as resp:
        body: bytes = resp.read()
    return body.decode()


def test_the_refused_groups_are_counted_everywhere(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    config = load_config(
        None, {"KAPACITOR_ENGINE_MAX_GROUPS_PER_TASK": "2"}, integrations=INTEGRATIONS.sections()
    )
    server = live_server(config)
    tick = tmp_path / "cpu.tick"
    tick.write_text(SCRIPT)
    assert server.cli("define", "cpu", "-tick", str(tick)) == (0, "", "")
    assert server.cli("enable", "cpu")[0] == 0
    # host a and b come first, so they are the two groups held
    lines = [
        f"cpu,host={h} usage_idle=5 {(i + 1) * 1_000_000_000}" for i in range(30) for h in HOSTS
    ]
    server.write("\n".join(lines) + "\n")

    stats = json.loads(_get(server, "/kapacitor/v1/tasks/cpu"))["stats"]["node-stats"]
    assert stats["window2"]["working_cardinality"] == 2
    assert stats["window2"]["groups_refused"] == 60
    assert stats["mean3"]["working_cardinality"] == stats["alert4"]["working_cardinality"] == 2
    assert "groups_refused" not in stats["alert4"]  # nothing refused there: Kapacitor's shape

    code, out, err = server.cli("show", "cpu")
    assert (code, err) == (0, "")
    assert 'groups_refused="60"' in out

    scrape = {
        (s.labels.get("node"), s.name): s.value
        for family in text_string_to_metric_families(_get(server, "/metrics"))
        for s in family.samples
        if s.labels.get("task") == "cpu"
    }
    assert scrape[("window2", "leyden_node_groups_refused_total")] == 60
    assert scrape[("alert4", "leyden_node_groups_refused_total")] == 0

    debug = json.loads(_get(server, "/kapacitor/v1/debug/vars"))
    assert debug["kapacitor"]["nodes:cpu:window2"]["values"]["groups_refused"] == 60
