"""The loopback route: ``kapacitorLoopback`` points reach the tasks reading their database after
the write that made them (a server: on the next turn of the event loop; ``leyden replay``:
after each recorded point), through the router as a write does, over HTTP too."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from leyden import lineprotocol
from leyden.cli import main as leyden_main
from leyden.config import Config
from leyden.go.types import go_json
from leyden.loopback import MAX_ROUNDS
from leyden.replay import main as replay_main
from leyden.runtime import Runtime
from leyden.tasks.manager import check
from leyden.tasks.runner import build
from threaded_server import LiveServer

LOOP = """stream
    |from()
        .measurement('cpu')
    |kapacitorLoopback()
        .database('loop')
        .retentionPolicy('autogen')
        .tag('via', 'loopback')
"""
COUNT = """stream
    |from()
        .measurement('cpu')
        .where(lambda: "via" == 'loopback')
    |window()
        .period(10s)
        .every(10s)
    |count('v')
    |httpOut('count')
"""


def points(*lines: str) -> list[lineprotocol.WirePoint]:
    return lineprotocol.parse("\n".join(lines), precision="s", now_ns=0).points


async def test_a_server_delivers_looped_back_points_after_the_current_write(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(Config())
    runtime.runner.start("loop", build(LOOP, filename="loop"), [("telegraf", "autogen")])
    count = runtime.runner.start("count", build(COUNT, filename="count"), [("loop", "autogen")])
    runtime.router.write_points("telegraf", "autogen", points("cpu v=1 0", "cpu v=2 1"))
    # queued, not routed from inside the write
    assert runtime.loopback.pending == 2
    assert runtime.router.stats.per_dbrp.get(("loop", "autogen"), 0) == 0
    await asyncio.sleep(0)  # the next turn of the loop
    assert runtime.loopback.pending == 0
    assert runtime.router.stats.per_dbrp[("loop", "autogen")] == 2
    runtime.router.write_points("telegraf", "autogen", points("cpu v=3 10"))
    await asyncio.sleep(0)
    out = json.loads(go_json(count.http_out()))
    assert out["count"]["series"][0]["values"] == [["1970-01-01T00:00:10Z", 2]]
    assert count.nodes["from1"].stats.emitted == 3


async def test_tasks_looping_into_each_other_are_cut_after_max_rounds(
    make_runtime: Callable[..., Runtime],
) -> None:
    """A loops telegraf into loop, B loops loop into telegraf: Kapacitor's start-time check
    cannot see it (each task alone is fine); the points stop after MAX_ROUNDS rounds."""
    runtime = make_runtime(Config())
    back = LOOP.replace("'loop'", "'telegraf'").replace(".tag('via', 'loopback')", "")
    runtime.runner.start("a", build(LOOP, filename="a"), [("telegraf", "autogen")])
    runtime.runner.start("b", build(back, filename="b"), [("loop", "autogen")])
    runtime.router.write_points("telegraf", "autogen", points("cpu v=1 0"))
    for _ in range(10 * MAX_ROUNDS):  # a round per turn of the event loop
        if not runtime.loopback.pending:
            break
        await asyncio.sleep(0)
    assert runtime.loopback.pending == 0 and runtime.loopback.loops_cut == 1
    per_dbrp = runtime.router.stats.per_dbrp
    half = MAX_ROUNDS // 2
    assert (per_dbrp[("telegraf", "autogen")], per_dbrp[("loop", "autogen")]) == (1 + half, half)


def test_over_http_a_write_reaches_the_task_reading_the_loopback(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    for task_id, script, db in (("loop", LOOP, "telegraf"), ("count", COUNT, "loop")):
        body = {
            "id": task_id,
            "dbrps": [{"db": db, "rp": "autogen"}],
            "script": script,
            "status": "enabled",
        }
        request(f"{server.url}/kapacitor/v1/tasks", json.dumps(body).encode())
    request(f"{server.url}/write?db=telegraf&rp=autogen&precision=s", b"cpu v=1 0\ncpu v=2 1")
    request(f"{server.url}/write?db=telegraf&rp=autogen&precision=s", b"cpu v=3 10")
    with urllib.request.urlopen(f"{server.url}/kapacitor/v1/tasks/count/count") as resp:
        result = json.loads(resp.read())
    assert result["series"][0]["values"] == [["1970-01-01T00:00:10Z", 2]]
    with urllib.request.urlopen(f"{server.url}/kapacitor/v1/tasks/loop") as resp:
        loop = json.loads(resp.read())
    assert loop["error"] == "" and loop["executing"] is True
    assert loop["stats"]["node-stats"]["kapacitor_loopback2"]["points_written"] == 3


def request(url: str, body: bytes) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")) as resp:
        assert resp.status in (200, 204)


# --- leyden replay ----------------------------------------------------------------------------

RECORDING = "".join(
    f"dbname\nrpname\ncpu value={v} {t:010d}\n"
    for v, t in ((45, 1), (25, 2), (23, 3), (78, 10), (97, 11), (62, 12), (32, 16))
)


def test_replay_delivers_looped_back_points_after_each_point(tmp_path: Path) -> None:
    """Kapacitor's TestStream_KapacitorLoopback as one script: a task without a dbrp reads
    every database, the recorded one and the loopback's."""
    script = tmp_path / "loop.tick"
    script.write_text(
        "stream|from().database('dbname').measurement('cpu')"
        "|kapacitorLoopback().database('new-dbname').retentionPolicy('new-rpname')\n"
        "stream|from().database('new-dbname').measurement('cpu')"
        "|window().every(10s).period(10s)|count('value')|httpOut('count')\n"
    )
    data = tmp_path / "loop.srpl"
    data.write_text(RECORDING)
    out = tmp_path / "out.json"
    code = replay_main([str(script), "--data", str(data), "--until", "20s", "--http-out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())["count"]
    assert result["series"][0]["values"] == [["1971-01-01T00:00:10Z", 4]]


def test_replay_stops_points_looping_without_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A task without a dbrp reads the database it loops into: replay still ends."""
    script = tmp_path / "self.tick"
    script.write_text(
        "stream|from().measurement('cpu')|kapacitorLoopback().database('x').retentionPolicy('y')\n"
    )
    data = tmp_path / "one.srpl"
    data.write_text("dbname\nrpname\ncpu value=1 0000000001\n")
    assert replay_main([str(script), "--data", str(data)]) == 0
    err = capsys.readouterr().err  # (replay logs to stderr)
    assert err.count("loop points back into each other without end") == 1
    assert f"rounds={MAX_ROUNDS}" in err


def test_vet_and_enabling_accept_both_output_nodes(tmp_path: Path) -> None:
    """They were accepted in scripts but refused when enabled; now the server runs them."""
    script = tmp_path / "out.tick"
    script.write_text(
        "stream|from().measurement('cpu')|influxDBOut().database('db')\n"
        "stream|from().measurement('mem')"
        "|kapacitorLoopback().database('loop').retentionPolicy('autogen')\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert leyden_main(["vet", str(script)], out, err) == 0
    assert err.getvalue() == ""
    check(build(script.read_text(), filename="out.tick"), "out.tick")  # raises if refused
