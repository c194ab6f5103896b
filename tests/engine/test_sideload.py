"""sideload(): values from YAML/JSON files by tag hierarchy, converted to the defaults' types."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import context

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.engine.node import TaskError
from leyden.engine.nodes.sideload import convert
from leyden.engine.task import Task
from leyden.tick.builder import build_pipeline


def make_task(script: str) -> Task:
    pipeline = build_pipeline('dbrp "db"."rp"\n' + script)
    return Task("t", pipeline, context("t", SimulatedClock()), [("db", "rp")])


def test_convert_follows_kapacitor() -> None:
    assert convert(2.0, 0) == 2 and isinstance(convert(2.0, 0), int)
    assert convert("12", 0) == 12
    assert convert(3, 0.0) == 3.0
    assert convert("t", False) is True
    assert convert(1.5, "") == "1.5" and convert(True, "") == "true"
    with pytest.raises(ValueError, match="cannot convert value of type float64 to type int64"):
        convert(2.5, 0)
    with pytest.raises(ValueError, match="cannot convert value of type bool to type float64"):
        convert(True, 0.0)


def test_values_by_order_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "a.yml").write_text("cpus: 8\nrole: db\n")
    (tmp_path / "default.json").write_text('{"cpus": 2, "mem": "x"}')
    task = make_task(
        "stream|from().groupBy('host')|sideload()"
        f".source('file://{tmp_path}')"
        ".order('host/{{.host}}.yml', 'default.json')"
        ".field('cpus', 0).field('mem', 1.0).field('none', 'dflt').tag('role', 'unknown')"
        "|httpOut('out')"
    )
    sideload = next(n for n in task.nodes.values() if n.kind == "sideload")
    for host in ("a", "b"):
        task.receive("db", "rp", lineprotocol.WirePoint("m", {"host": host}, {"v": 1.0}, 0))
    rows = task.http_out()["out"]["series"]
    assert rows[0]["tags"] == {"host": "a", "role": "db"}
    assert rows[0]["columns"] == ["time", "cpus", "mem", "none", "v"]
    assert rows[0]["values"][0][1:] == [8, 1.0, "dflt", 1.0]  # mem "x" is no float: default
    assert rows[1]["tags"] == {"host": "b", "role": "unknown"}
    assert rows[1]["values"][0][1] == 2
    assert sideload.stats.errors == 2


def test_bad_sources_are_task_errors(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="only file:// sources"):
        make_task("stream|from()|sideload().source('http://127.0.0.1:1/x')")
    with pytest.raises(TaskError, match="is not a directory"):
        make_task(f"stream|from()|sideload().source('file://{tmp_path}/missing')")
    (tmp_path / "bad.yml").write_text("a: [1,\n")
    with pytest.raises(TaskError, match="failed to parse values file"):
        make_task(f"stream|from()|sideload().source('file://{tmp_path}')")
