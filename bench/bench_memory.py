"""What a window holds: bytes per buffered point and per idle series (issue 11, item 5).

Telegraf ``cpu`` points (ten float fields ``usage_user`` … ``usage_guest_nice``, tags ``cpu``
and ``host``) go through a real task, ``from().groupBy('host')|window()``, into one of:

* ``count('usage_user')``: a consumer that reads one field;
* ``httpOut('cpu')``: a consumer that shows whole batches, so every field is kept.

The window's period is long enough that nothing is emitted.  What the window holds is measured
with tracemalloc as the memory freed when it forgets all its groups, divided by the points (or
series) it held: the parse's own garbage and other nodes' state are not counted.

An *idle series* is a group whose window exists but holds no point: each of 10,000 hosts sends
one point, then two barriers per group (what ``barrier().idle()`` sends a silent series) emit
and then purge it.

And what a real ``leyden serve`` holds (issue 16, item 3): its RSS before, with 100,000 series
through one windowed task (``groupBy|window|mean|alert``) and after the task is deleted.  RSS
need not come all the way back: CPython's allocator and glibc's malloc keep freed arenas for
reuse, so the engine test ``tests/engine/test_state_release.py`` asserts the release with
tracemalloc, and this prints RSS as a figure only.

Runs against the tree on ``PYTHONPATH``; the issue's "before" figures come from the same file
run with ``PYTHONPATH=/work/wt/before/src`` (2a5609b, whose task API differs: see ``_start``).
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
import tracemalloc
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs
from leyden import lineprotocol
from leyden.engine.node import Barrier, Node

DB, RP = "telegraf", "autogen"
S = 1_000_000_000
FIELDS = (
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
)
WINDOW = "stream|from().measurement('cpu').groupBy('host')|window().period({p}s).every({p}s)"
COUNT_ONE_FIELD = WINDOW.format(p=1_000_000) + "|count('usage_user')"
FULL_BATCH = WINDOW.format(p=1_000_000) + "|httpOut('cpu')"
IDLE = WINDOW.format(p=10) + "|count('usage_user')"


def telegraf_cpu(points: int, hosts: int, cpus: int = 4) -> bytes:
    """``points`` lines of Telegraf's ``cpu`` input: each host reports each of its cpus in turn,
    one line per second."""
    lines = []
    for i in range(points):
        host, cpu = i % hosts, (i // hosts) % cpus
        values = ",".join(
            f"{f}={(i * 7 + j * 13) % 1000 / 10 + 0.01}" for j, f in enumerate(FIELDS)
        )
        lines.append(f"cpu,cpu=cpu{cpu},host=h{host:05d} {values} {i}\n")
    return "".join(lines).encode()


def _start(script: str) -> tuple[Callable[[list[Any]], None], Node]:
    """A running task of ``script`` and the function that writes points to it; returns the
    write function and the task's window node."""
    from leyden.tick.builder import build_pipeline

    pipeline = build_pipeline(script)
    try:
        from leyden.clock import SimulatedClock
        from leyden.config import Config
        from leyden.runtime import build_runtime
        from leyden.store import Store
    except ImportError:  # 2a5609b: an Engine, tasks built by hand
        from leyden.engine.clock import SimulatedClock  # type: ignore[import-not-found, no-redef]

        from leyden.alerting.service import AlertService  # type: ignore[import-not-found]
        from leyden.engine.node import TaskContext
        from leyden.engine.router import Engine  # type: ignore[attr-defined]
        from leyden.engine.task import Task

        engine = Engine()
        ctx = TaskContext("mem", SimulatedClock(0), services={"alerts": AlertService()})  # type: ignore[arg-type]
        task = Task("mem", pipeline, ctx, [(DB, RP)])  # type: ignore[call-arg, arg-type]
        task.start(engine)

        def write_before(points: list[Any]) -> None:
            engine.write_points(DB, RP, points)

        return write_before, _window_of(task.nodes)
    config = Config()
    config.alert.persist_topics = False
    runtime = build_runtime(config, store=Store(":memory:"), clock=SimulatedClock(0))
    task = runtime.runner.start("mem", pipeline, [(DB, RP)])

    def write(points: list[Any]) -> None:
        runtime.router.write_points(DB, RP, points)

    return write, _window_of(task.nodes)


def _window_of(nodes: dict[str, Node]) -> Node:
    return next(n for n in nodes.values() if n.kind == "window")


def _freed_when_forgotten(window: Node) -> int:
    """Bytes freed when ``window`` drops every group it holds (tracemalloc must be tracing)."""
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    window._windows.clear()  # type: ignore[attr-defined]
    gc.collect()
    return held - tracemalloc.get_traced_memory()[0]


def bytes_per_point(script: str, points: int = 50_000, hosts: int = 100) -> float:
    write, window = _start(script)
    data = telegraf_cpu(points, hosts)
    tracemalloc.start()
    write(lineprotocol.parse(data, precision="s", now_ns=0).points)
    freed = _freed_when_forgotten(window)
    tracemalloc.stop()
    return freed / points


def bytes_per_idle_series(series: int = 10_000) -> float:
    write, window = _start(IDLE)
    data = telegraf_cpu(series, series, cpus=1)
    tracemalloc.start()
    write(lineprotocol.parse(data, precision="s", now_ns=0).points)
    windows = window._windows  # type: ignore[attr-defined]
    for _ in range(2):  # at its next emission time: the first emits the point, the second purges
        for group, w in list(windows.items()):
            window.barrier(Barrier(group, w.tags, w.dims, w.next_emit, w.name))
    freed = _freed_when_forgotten(window)
    tracemalloc.stop()
    return freed / series


SERVE_TASK = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |mean('usage_user')
    |alert()
        .crit(lambda: "mean" > 1000.0)
"""


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _request(url: str, method: str = "GET", body: bytes | None = None) -> bytes:
    req = urllib.request.Request(url, data=body, method=method)
    if url.endswith("/tasks"):
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as resp:
        data: bytes = resp.read()
    return data


def serve_rss(series: int = 100_000, chunk: int = 5_000) -> dict[str, float]:
    """RSS (MB) of ``leyden serve`` (``[engine] workers = 1``: the tasks in its own process)
    before the task, with ``series`` series through it (two points each, so every window
    closed once and every node below it holds the group), and after ``DELETE`` of the task."""
    with tempfile.TemporaryDirectory() as tmp:
        extra = "\n[engine]\n  workers = 1\n  max-groups-per-task = 0\n"
        with procs.server(Path(tmp), "http://127.0.0.1:9", "1", extra_conf=extra) as (url, proc):
            api = f"{url}/kapacitor/v1"
            time.sleep(1.0)
            before = _rss_mb(proc.pid)
            task = {"id": "mem", "type": "stream", "script": SERVE_TASK, "status": "enabled"}
            _request(f"{api}/tasks", "POST", json.dumps(task).encode())
            for t in (30, 40):
                for start in range(0, series, chunk):
                    body = "".join(
                        f"cpu,host=h{i:06d} usage_user={i % 100}.5 {t}000000000\n"
                        for i in range(start, min(start + chunk, series))
                    )
                    _request(f"{url}/write?db=telegraf&rp=autogen", "POST", body.encode())
            stats = json.loads(_request(f"{api}/tasks/mem"))["stats"]["node-stats"]
            held = stats["alert4"]["working_cardinality"]
            loaded = _rss_mb(proc.pid)
            _request(f"{api}/tasks/mem", "DELETE")
            time.sleep(1.0)
            after = _rss_mb(proc.pid)
    return {
        "serve RSS MB before the task": before,
        f"serve RSS MB with {held:,} series": loaded,
        "serve RSS MB after DELETE of the task": after,
    }


def run() -> dict[str, float]:
    return {
        "window B/point, 10 fields, count(1 field)": bytes_per_point(COUNT_ONE_FIELD),
        "window B/point, 10 fields, httpOut (all)": bytes_per_point(FULL_BATCH),
        "window B per idle series (10k series)": bytes_per_idle_series(),
        **serve_rss(),
    }


def main() -> None:
    for key, value in run().items():
        print(f"{key:44s} {value:>10,.1f}")


if __name__ == "__main__":
    main()
