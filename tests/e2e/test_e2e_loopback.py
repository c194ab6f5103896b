"""``kapacitorLoopback`` through a real ``leyden serve`` with two engine workers: the loopback task
runs in the server's process, and the points it writes back reach a task placed in a worker,
as a write to ``/write`` would (Kapacitor's TestStream_KapacitorLoopback, over HTTP)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

from e2e_stack import CONF, Stack, http_json, wait_until

LOOP = """stream
  |from()
    .measurement('cpu')
  |kapacitorLoopback()
    .database('loop')
    .retentionPolicy('autogen')
    .measurement('cpu_loop')
    .tag('via', 'loopback')
"""
# a plain stream task: the pool places it in a worker
READ = """stream
  |from()
    .measurement('cpu_loop')
    .where(lambda: "via" == 'loopback')
  |window()
    .period(10s)
    .every(10s)
  |count('v')
"""


def test_looped_back_points_reach_a_task_in_an_engine_worker(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(conf_head=CONF + "\n[engine]\n  workers = 2\n")
    for task_id, script, db in (("loop", LOOP, "telegraf"), ("read", READ, "loop")):
        http_json(
            "POST",
            f"{stack.url}/kapacitor/v1/tasks",
            {
                "id": task_id,
                "dbrps": [{"db": db, "rp": "autogen"}],
                "script": script,
                "status": "enabled",
            },
        )
    body = "\n".join(f"cpu,host=h{i % 3} v={i} {i}" for i in range(12)).encode()
    req = urllib.request.Request(
        f"{stack.url}/write?db=telegraf&rp=autogen&precision=s", data=body, method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 204

    def read_stats() -> dict[str, Any] | None:
        task = http_json("GET", f"{stack.url}/kapacitor/v1/tasks/read")
        nodes: dict[str, Any] = task["stats"].get("node-stats", {})
        return nodes if nodes.get("from1", {}).get("emitted") == 12 else None

    nodes = wait_until(read_stats, "the looped-back points in the worker's task", 30)
    assert nodes["count3"]["emitted"] == 1  # the window [0 s, 10 s) closed at the point at 10 s
    loop = http_json("GET", f"{stack.url}/kapacitor/v1/tasks/loop")
    assert loop["error"] == ""
    assert loop["stats"]["node-stats"]["kapacitor_loopback2"]["points_written"] == 12
    write = http_json("GET", f"{stack.url}/kapacitor/v1/debug/vars")["write"]
    assert write["per_dbrp"]["loop.autogen"] == 12
