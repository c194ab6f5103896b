"""Issue 11 item 4: ``[engine] workers = 2`` runs the same tasks to the same results.

One scenario (alerts with a Discord handler, with a named topic, without any reader, a
windowed mean) runs on a server with the engine in its own process and on one with two engine
workers; the Discord messages, every node's statistics, the topic's events and the write
statistics must be the same.  Then a worker is killed: it is started again, its tasks placed
again, and alerts keep coming.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import CONF, Emulator, Stack, clean_env, http_json, wait_until
from prometheus_client.parser import text_string_to_metric_families

SCRIPTS = {
    "cpu_discord": """stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .warn(lambda: "usage_idle" < 20)
    .crit(lambda: "usage_idle" < 10)
    .message('{{ .Level }} {{ index .Tags "host" }} {{ index .Fields "usage_idle" }}')
    .discord()
""",
    "cpu_quiet": """stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .crit(lambda: "usage_idle" < 50)
""",
    "cpu_topic": """stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .warn(lambda: "usage_idle" < 30)
    .topic('ops')
""",
    "cpu_mean": """stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |window()
    .period(10s)
    .every(10s)
  |mean('usage_idle')
  |alert()
    .crit(lambda: "mean" < 40)
    .message('mean {{ index .Tags "host" }} {{ index .Fields "mean" }}')
    .discord()
""",
}

S = 1_000_000_000


def body(step: int) -> bytes:
    """Five hosts, ten points each, idle values that cross every threshold."""
    lines = []
    for k in range(10):
        t = (step * 10 + k) * 2 * S
        for h in range(5):
            idle = (step * 37 + k * 13 + h * 29) % 100
            lines.append(f"cpu,host=h{h},cpu=cpu-total usage_idle={idle}.5,usage_user=1.5 {t}")
    return "\n".join(lines).encode()


def write(stack: Stack, data: bytes) -> None:
    req = urllib.request.Request(
        f"{stack.url}/write?db=telegraf&rp=autogen", data=data, method="POST"
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 204


def start(tmp: Path, emulator: str, workers: int) -> Stack:
    tmp.mkdir()
    head = (
        CONF + f"\n[engine]\n  workers = {workers}\n\n[delivery]\n  discord-channel-limit = 1000\n"
    )
    stack = Stack(tmp=tmp, emulator=emulator, env=clean_env(), conf_head=head)
    stack.start_server()
    return stack


def run_scenario(stack: Stack, expect: int = 0) -> dict[str, Any]:
    dbrps = [{"db": "telegraf", "rp": "autogen"}]
    for task_id, script in SCRIPTS.items():
        http_json(
            "POST",
            f"{stack.url}/kapacitor/v1/tasks",
            {"id": task_id, "dbrps": dbrps, "script": script, "status": "enabled"},
        )
    for step in range(6):
        write(stack, body(step))
    if expect:
        wait_until(lambda: len(_embeds(stack.messages())) >= expect, "the alerts", 60)
    messages = wait_until(lambda: _settled(stack), "the messages to settle", 60)
    stats = {}
    for task_id in SCRIPTS:
        task = http_json("GET", f"{stack.url}/kapacitor/v1/tasks/{task_id}")
        assert task["executing"] is True
        nodes = task["stats"]["node-stats"]
        for node in nodes.values():
            node.pop("avg_exec_time_ns")
        stats[task_id] = nodes
        assert "digraph" in task["dot"] and "processed=" in task["dot"]
    events = http_json("GET", f"{stack.url}/kapacitor/v1/alerts/topics/ops/events")
    write_stats = http_json("GET", f"{stack.url}/kapacitor/v1/debug/vars")["write"]
    with urllib.request.urlopen(f"{stack.url}/metrics", timeout=30) as resp:
        scrape = resp.read().decode()
    metrics = sorted(
        (s.name, sorted(s.labels.items()), s.value)
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
        if s.name in _COMPARED_METRICS
    )
    return {
        "metrics": metrics,
        # (how many alerts share one message depends on timing: compare the alerts)
        "messages": _embeds(messages),
        "stats": stats,
        "events": sorted(json.dumps(e, sort_keys=True) for e in events["events"]),
        "write": write_stats,
    }


#: what /metrics must show alike whether tasks run in workers or in the server's process
_COMPARED_METRICS = frozenset(
    {
        "leyden_node_collected_total",
        "leyden_node_emitted_total",
        "leyden_alerts_triggered_total",
        "leyden_topic_events_collected_total",
        "leyden_points_received_total",
    }
)


def _embeds(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(
        json.dumps(embed, sort_keys=True) for m in messages for embed in m["payload"]["embeds"]
    )


def _settled(stack: Stack, seen: list[int] = []) -> list[dict[str, Any]] | None:  # noqa: B006
    """The messages once 2 s of polls found the same alerts."""
    got = stack.messages()
    seen.append(len(_embeds(got)))
    if len(seen) >= 100 and len(set(seen[-100:])) == 1 and got:
        seen.clear()
        return got
    return None


def worker_pids(server_pid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == server_pid and b"leyden.workers.worker" in cmdline:
            pids.append(int(entry))
    return sorted(pids)


@pytest.fixture
def stacks(tmp_path: Path) -> Any:
    """Servers on an emulator of their own without Discord's rate limits: alerts arrive as
    fast as they are raised, so what arrived is all there is once nothing more comes."""
    emulator = Emulator(
        tmp_path, args=("--rate-limit", "100000", "--channel-limit", "0", "--global-limit", "0")
    )
    emulator.start()
    started: list[Stack] = []

    def make(name: str, workers: int) -> Stack:
        http_json("POST", f"{emulator.base}/_emulator/reset")
        stack = start(tmp_path / name, emulator.base, workers)
        started.append(stack)
        return stack

    yield make
    for stack in started:
        if stack.server is not None:
            stack.stop_server()  # SIGTERM: exits 0 after draining the workers
    emulator.stop()


def test_two_workers_give_the_results_of_one_process(stacks: Any) -> None:
    one = stacks("one", 1)
    alone = run_scenario(one)
    assert worker_pids(one.server.popen.pid) == []
    one.stop_server()

    two = stacks("two", 2)
    pooled = run_scenario(two, expect=len(alone["messages"]))
    assert len(worker_pids(two.server.popen.pid)) == 2
    assert pooled["messages"] == alone["messages"]
    assert pooled["stats"] == alone["stats"]
    assert pooled["events"] == alone["events"]
    assert pooled["write"] == alone["write"]
    # /metrics reads the workers' tasks as it reads the server's own
    assert pooled["metrics"] == alone["metrics"]
    assert any(name == "leyden_alerts_triggered_total" and v for name, _, v in alone["metrics"])
    assert len(alone["messages"]) >= 5 and alone["events"]
    shown = two.ok("show", "cpu_mean").stdout
    assert "Executing: true" in shown and "mean" in shown
    # tasks come and go on the workers
    http_json("PATCH", f"{two.url}/kapacitor/v1/tasks/cpu_quiet", {"status": "disabled"})
    assert http_json("GET", f"{two.url}/kapacitor/v1/tasks/cpu_quiet")["executing"] is False
    http_json("PATCH", f"{two.url}/kapacitor/v1/tasks/cpu_quiet", {"status": "enabled"})
    quiet = http_json("GET", f"{two.url}/kapacitor/v1/tasks/cpu_quiet")
    assert quiet["executing"] is True
    assert quiet["stats"]["node-stats"]["alert2"]["alerts_triggered"] == 0  # state starts anew
    req = urllib.request.Request(f"{two.url}/kapacitor/v1/tasks/cpu_topic", method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204
    write(two, body(7))
    log = two.stop_server()
    assert "Traceback" not in log


def test_a_dead_worker_is_started_again_with_its_tasks(stacks: Any) -> None:
    stack = stacks("kill", 2)
    dbrps = [{"db": "telegraf", "rp": "autogen"}]
    for task_id in ("cpu_discord", "cpu_quiet"):
        http_json(
            "POST",
            f"{stack.url}/kapacitor/v1/tasks",
            {"id": task_id, "dbrps": dbrps, "script": SCRIPTS[task_id], "status": "enabled"},
        )
    write(stack, body(0))
    first = len(stack.wait_messages(1))
    before = worker_pids(stack.server.popen.pid)
    assert len(before) == 2
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    write(stack, body(1))  # finds the workers gone: they are started again

    def replaced() -> bool:
        now = worker_pids(stack.server.popen.pid)
        return len(now) == 2 and not set(now) & set(before)

    wait_until(replaced, "the workers to be started again", 30)
    for step in range(2, 5):
        write(stack, body(step))
    stack.wait_messages(first + 1, timeout=30)
    task = http_json("GET", f"{stack.url}/kapacitor/v1/tasks/cpu_discord")
    assert task["executing"] is True
    assert task["stats"]["node-stats"]["alert2"]["alerts_triggered"] > 0
    log = stack.stop_server()
    assert "engine worker died" in log
