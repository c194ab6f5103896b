"""``leyden watch``, ``level``, ``stats ingress`` and ``backup`` against a real ``leyden serve``
whose tasks run in two engine workers (the default runs one per core): the lines of a task in
a worker reach the server's log streams, and the level follows ``leyden level``."""

from __future__ import annotations

import queue
import signal
import sqlite3
import subprocess
import threading
import urllib.request
from collections.abc import Callable
from contextlib import closing

from e2e_stack import CONF, LEYDEN, Stack, http_json

LOG_TASK = """stream
  |from()
    .measurement('cpu')
  |log()
    .level('DEBUG')
"""


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _write(stack: Stack, body: str) -> None:
    req = urllib.request.Request(
        f"{stack.url}/write?db=telegraf&rp=autogen", data=body.encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 204


def test_watch_sees_a_task_in_an_engine_worker(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(conf_head=CONF + "\n[engine]\n  workers = 2\n")
    http_json(
        "POST",
        f"{stack.url}/kapacitor/v1/tasks",
        {
            "id": "cpu",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": LOG_TASK,
            "status": "enabled",
        },
    )
    watch = subprocess.Popen(
        [*LEYDEN, "-url", stack.url, "watch", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=stack.env,
    )
    try:
        lines = _lines(watch)
        # the watch session is open once a write's debug line comes back: write until it does
        seen = ""
        for i in range(200):
            _write(stack, f"cpu,host=h{i} usage_idle=5 {1_000_000_000 * (i + 1)}")
            try:
                seen = lines.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        assert " lvl=debug msg=point service=task task=cpu node=log2 " in seen, seen
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=30)
        assert (watch.returncode, err) == (0, "")
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate(timeout=30)
    # the server's own log (level info) did not get the debug lines the stream asked for
    log = stack.stop_server()
    assert "msg=point" not in log


def test_level_and_backup_on_a_real_server(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(conf_head=CONF + "\n[engine]\n  workers = 2\n")
    http_json(
        "POST",
        f"{stack.url}/kapacitor/v1/tasks",
        {
            "id": "cpu",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": LOG_TASK,
            "status": "enabled",
        },
    )
    stack.ok("level", "debug")
    _write(stack, "cpu,host=a usage_idle=5 1000000000")
    # the body went to the workers only; they counted its points per measurement
    assert stack.ok("stats", "ingress").stdout.splitlines()[1].split() == [
        "telegraf",
        "autogen",
        "cpu",
        "1",
    ]
    stack.ok("backup", "backup.db")
    with closing(sqlite3.connect(stack.tmp / "backup.db")) as conn:
        assert conn.execute("SELECT id FROM tasks").fetchall() == [("cpu",)]
    log = stack.stop_server()
    # the worker that ran the task followed `leyden level debug`
    assert "lvl=debug msg=point service=task task=cpu node=log2" in log
    assert "action=set-log-level" in log
