"""The engine's whole per-point path, in Kapacitor's own benchmark shapes.

``integrations/benchmark_test.go`` runs T tasks over a write of P points
(``m1 value=<i> <i>`` at second precision) for three TICKscripts: *simple* (``stream|from()``),
*count* (a 100s window and ``count``) and *alert* (info/warn/crit on ``value``, templated id).
Here one run is: parse the body, ``Router.write_points`` it, every task's nodes handle every
point.  The figure is task-point evaluations per second (T×P / elapsed).

Next to it runs the *floor*: the same parse, then a hand-written loop per task doing the same
work with none of the engine's generality (same window boundaries and counts; the same alert
levels, per-level statistics and level kept per alert ID).  ``ratio`` = engine time / floor
time.  The alert tasks have no handler, topic or listener, so no event is read: the engine
builds none and neither does the floor.  *AlertTaskRead* adds a listener that reads every
event's message and details, against the floor that builds ids, messages and JSON details per
event.  *QuietAlert* is the alert task with thresholds no point reaches: µs per task-point,
parse excluded, against the hand-fused loop (name test, field, level test, state check).

Also reported: parse + route lines/s (one subscribed receiver that does nothing), and bytes per
point held by a window (tracemalloc over a window holding N points, the points' own dicts
included, since the window is what keeps them alive).

Best of ``repeat`` runs. To keep ``make bench`` short on a 2-core machine the point counts are
those of Kapacitor's shapes but each shape runs ``repeat`` (default 2) times only.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.config import Config
from leyden.engine.router import Router
from leyden.engine.task import Task
from leyden.runtime import Runtime, build_runtime
from leyden.store import Store
from leyden.tick.builder import build_pipeline

DB, RP = "dbname", "rpname"
S = 1_000_000_000

SIMPLE = """stream
	|from()
		.measurement('m1')
"""
COUNT = """stream
	|from()
		.measurement('m1')
	|window()
		.period(100s)
		.every(100s)
	|count('value')
"""
ALERT = """stream
	|from()
		.measurement('m1')
	|alert()
		.id('{{ .Name }}_{{ .TaskName }}')
		.info(lambda: "value" > 10)
		.warn(lambda: "value" > 20)
		.crit(lambda: "value" > 30)
"""
SCRIPTS = {"SimpleTask": SIMPLE, "CountTask": COUNT, "AlertTask": ALERT}
#: the alert task of ALERT with thresholds no point of :func:`body` reaches: it never fires
NEVER_FIRING_ALERT = """stream
	|from()
		.measurement('m1')
	|alert()
		.id('{{ .Name }}_{{ .TaskName }}')
		.info(lambda: "value" > 1000000)
		.warn(lambda: "value" > 2000000)
		.crit(lambda: "value" > 3000000)
"""
SHAPES = ((10, 50_000), (100, 5_000), (1000, 500))


def body(points: int, measurement: str = "m1") -> bytes:
    """Kapacitor's ``createWriteRequest`` body."""
    return "".join(f"{measurement} value={i} {i:010d}\n" for i in range(points)).encode()


# --- the engine ---------------------------------------------------------------------------


def _runtime() -> Runtime:
    """The runtime on a simulated clock; alert state is not persisted (the engine is measured,
    not SQLite)."""
    config = Config()
    config.alert.persist_topics = False
    return build_runtime(config, store=Store(":memory:"), clock=SimulatedClock(0))


def _tasks(script: str, count: int, runtime: Runtime) -> list[Task]:
    pipeline = build_pipeline(script)
    return [runtime.runner.start(f"task_{i}", pipeline, [(DB, RP)]) for i in range(count)]


def engine_run(script: str, tasks: int, data: bytes, points: int) -> float:
    """Seconds for one write through T fresh tasks (setup not timed, as in Kapacitor)."""
    runtime = _runtime()
    running = _tasks(script, tasks, runtime)
    gc.collect()
    start = time.perf_counter()
    parsed = lineprotocol.parse(data, precision="s", now_ns=0)
    runtime.router.write_points(DB, RP, parsed.points)
    elapsed = time.perf_counter() - start
    for t in running:  # validateTasks: every task's stream saw every point
        got = t.nodes["stream0"].stats.collected
        assert got == points, f"{t.name} processed {got} points, want {points}"
        t.stop(runtime.router)
    runtime.store.close()
    return elapsed


# --- the floor: the same work, hand-written ------------------------------------------------


def _floor_simple(names: list[str], points: list[Any]) -> None:
    for _ in names:
        n = 0
        for p in points:
            if p.name == "m1":
                n += 1


def _floor_count(names: list[str], points: list[Any]) -> None:
    every = 100 * S
    for _ in names:
        out: list[tuple[int, int]] = []
        buf: list[tuple[int, dict[str, Any]]] = []
        next_emit: int | None = None
        for p in points:
            if p.name != "m1":
                continue
            t = p.time
            if next_emit is None:
                next_emit = t + every
            elif t >= next_emit:
                oldest = next_emit - every
                buf = [b for b in buf if b[0] >= oldest]
                out.append((next_emit, sum(1 for b in buf if "value" in b[1])))
                buf = []
                next_emit = t + every
            buf.append((t, p.fields))


_LEVEL_NAMES = ("OK", "INFO", "WARNING", "CRITICAL")


def _floor_alert(names: list[str], points: list[Any]) -> None:
    """What an alert task without handlers, topic or listener does that anyone can observe:
    every point's level, the alert's level kept per ID (the previous level a listener added
    later sees) and the statistics per level.  The engine builds no event that nothing would
    read (issue 11), so neither does this floor; :func:`_floor_alert_events` builds them, and
    is measured against an engine whose events a listener reads (:func:`alert_read_run`)."""
    for task in names:
        prev = 0
        id_ = f"m1_{task}"
        levels: dict[str, int] = {}
        counts = [0, 0, 0, 0]
        for p in points:
            if p.name != "m1":
                continue
            v = p.fields.get("value")
            level = 3 if v > 30 else 2 if v > 20 else 1 if v > 10 else 0
            if level == 0 and prev == 0:
                continue
            levels[id_] = level
            counts[level] += 1
            prev = level


def _floor_alert_events(names: list[str], points: list[Any]) -> None:
    """The alert floor with every event built: ids, messages and JSON details."""
    for task in names:
        prev = 0
        events: list[tuple[Any, ...]] = []
        for p in points:
            if p.name != "m1":
                continue
            v = p.fields.get("value")
            level = 3 if v > 30 else 2 if v > 20 else 1 if v > 10 else 0
            if level == 0 and prev == 0:
                continue
            id_ = f"{p.name}_{task}"
            name = _LEVEL_NAMES[level]
            message = f"{id_} is {name}"
            details = json.dumps(
                {
                    "Name": p.name,
                    "TaskName": task,
                    "Group": "nil",
                    "Tags": p.tags,
                    "ID": id_,
                    "Fields": p.fields,
                    "Level": name,
                    "Time": p.time,
                    "Message": message,
                }
            )
            events.append((id_, message, details, p.time, level, prev, dict(p.fields)))
            prev = level


FLOORS: dict[str, Callable[[list[str], list[Any]], None]] = {
    "SimpleTask": _floor_simple,
    "CountTask": _floor_count,
    "AlertTask": _floor_alert,
}


def floor_run(shape: str, tasks: int, data: bytes) -> float:
    names = [f"task_{i}" for i in range(tasks)]
    gc.collect()
    start = time.perf_counter()
    parsed = lineprotocol.parse(data, precision="s", now_ns=0)
    FLOORS[shape](names, parsed.points)
    return time.perf_counter() - start


# --- an alert task whose events are read -------------------------------------------------


def alert_read_run(tasks: int, data: bytes, points: int) -> float:
    """Seconds for one write through T alert tasks (ALERT) while a listener reads every
    event's message and details: the events are built and rendered, as the floor's are."""
    runtime = _runtime()
    running = _tasks(ALERT, tasks, runtime)
    read: list[int] = []

    def listener(event: Any) -> None:
        read.append(len(event.state.message) + len(event.state.details))

    runtime.alerts.add_listener(listener)
    gc.collect()
    start = time.perf_counter()
    parsed = lineprotocol.parse(data, precision="s", now_ns=0)
    runtime.router.write_points(DB, RP, parsed.points)
    elapsed = time.perf_counter() - start
    assert len(read) == sum(t.nodes["alert2"].alert_stats["alerts_triggered"] for t in running)
    for t in running:
        t.stop(runtime.router)
    runtime.store.close()
    return elapsed


def alert_read_floor_run(tasks: int, data: bytes) -> float:
    names = [f"task_{i}" for i in range(tasks)]
    gc.collect()
    start = time.perf_counter()
    parsed = lineprotocol.parse(data, precision="s", now_ns=0)
    _floor_alert_events(names, parsed.points)
    return time.perf_counter() - start


# --- an alert task that never fires ------------------------------------------------------


def _fused_quiet(names: list[str], points: list[Any]) -> None:
    """The hand-fused loop of NEVER_FIRING_ALERT: the name test, the field, the level, the state."""
    for _ in names:
        prev = 0
        for p in points:
            if p.name == "m1":
                v = p.fields.get("value")
                level = 3 if v > 3000000 else 2 if v > 2000000 else 1 if v > 1000000 else 0
                if level == 0 and prev == 0:
                    continue
                prev = level  # (never reached: the task never fires)


def quiet_alert_cost(tasks: int = 10, points: int = 50_000, repeat: int = 2) -> dict[str, float]:
    """µs per task-point of a never-firing alert task, engine vs the hand-fused loop.

    Parsing is excluded from both: each gets the same parsed points, and only
    ``Router.write_points`` (stream, from, alert) or the fused loop is timed."""
    parsed = lineprotocol.parse(body(points), precision="s", now_ns=0).points
    names = [f"task_{i}" for i in range(tasks)]
    eng = fused = float("inf")
    for _ in range(repeat):
        runtime = _runtime()
        running = _tasks(NEVER_FIRING_ALERT, tasks, runtime)
        gc.collect()
        start = time.perf_counter()
        runtime.router.write_points(DB, RP, parsed)
        eng = min(eng, time.perf_counter() - start)
        for t in running:
            assert t.nodes["alert2"].stats.collected == points
            t.stop(runtime.router)
        runtime.store.close()
        gc.collect()
        start = time.perf_counter()
        _fused_quiet(names, parsed)
        fused = min(fused, time.perf_counter() - start)
    n = tasks * points
    return {"engine": eng / n * 1e6, "fused": fused / n * 1e6, "ratio": eng / fused}


# --- parse + route, memory -------------------------------------------------------------------


class _Discard:
    def receive(self, db: str, rp: str, point: Any) -> None:
        pass


def parse_route_lines_per_s(data: bytes, lines: int, repeat: int) -> float:
    router = Router()
    router.subscribe(_Discard(), [(DB, RP)], ["m1"])
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        router.write_points(DB, RP, lineprotocol.parse(data, precision="s", now_ns=0).points)
        best = min(best, time.perf_counter() - start)
    return lines / best


def window_bytes_per_point(n: int = 50_000) -> float:
    """Memory a write leaves held per point buffered in a window: whatever the window keeps
    alive (its columns since issue 11; before, each point's fields dict and tags)."""
    script = "stream|from().measurement('m1')|window().period(1000000s).every(1000000s)"
    runtime = _runtime()
    (task,) = _tasks(script, 1, runtime)
    data = body(n)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    runtime.router.write_points(DB, RP, lineprotocol.parse(data, precision="s", now_ns=0).points)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    task.stop(runtime.router)
    runtime.store.close()
    return held / n


# --- fan-out: cost per task-point as tasks multiply ------------------------------------------

#: a one-level alert task whose level never fires (``value`` is never negative)
FANOUT_ALERT = """stream
	|from()
		.measurement('m1')
	|alert()
		.crit(lambda: "value" < 0)
"""
#: (tasks, points): the same 500,000 task-points spread over few or many tasks
QUIET_SHAPES = ((10, 50_000), (1000, 500))


def quiet_us_per_task_point(repeat: int) -> dict[str, float]:
    """µs per task-point of T quiet alert tasks for each ``QUIET_SHAPES``, and their ratio.

    A task added must cost what the tasks before it cost: the per-task-point figure at 1,000
    tasks over the figure at 10 is the fan-out's overhead (cache misses, per-task calls).
    """
    out: dict[str, float] = {}
    costs = []
    for tasks, points in QUIET_SHAPES:
        data = body(points)
        best = min(engine_run(FANOUT_ALERT, tasks, data, points) for _ in range(repeat))
        cost = best / (tasks * points) * 1e6
        costs.append(cost)
        out[f"quiet alert µs/task-point T{tasks}_P{points}"] = cost
    out[f"quiet alert T{QUIET_SHAPES[-1][0]}/T{QUIET_SHAPES[0][0]} cost ratio"] = (
        costs[-1] / costs[0]
    )
    return out


NEW_GROUPS = """stream
	|from()
		.measurement('m1')
		.groupBy('host')
	|window()
		.period(100s)
		.every(100s)
	|mean('value')
	|alert()
		.crit(lambda: "mean" > 1000000)
"""


def new_groups_us_per_point(points: int = 50_000, repeat: int = 3) -> float:
    """µs of thread CPU per point when every point is a new series (a new window, and later
    bucket and alert state): the path where ``[engine] max-groups-per-task`` is checked.
    Parse excluded; ``time.thread_time`` so other processes on a loaded machine count less."""
    data = "".join(f"m1,host=h{i} value={i} {i:010d}\n" for i in range(points)).encode()
    best = float("inf")
    for _ in range(repeat):
        runtime = _runtime()
        running = _tasks(NEW_GROUPS, 1, runtime)
        parsed = lineprotocol.parse(data, precision="s", now_ns=0)
        gc.collect()
        start = time.thread_time()
        runtime.router.write_points(DB, RP, parsed.points)
        best = min(best, time.thread_time() - start)
        assert running[0].nodes["window2"].cardinality() == points
        running[0].stop(runtime.router)
        runtime.store.close()
    return best / points * 1e6


def run(repeat: int = 2) -> dict[str, object]:
    out: dict[str, object] = {}
    seconds: dict[str, float] = {}
    for shape, script in SCRIPTS.items():
        for tasks, points in SHAPES:
            data = body(points)
            eng = min(engine_run(script, tasks, data, points) for _ in range(repeat))
            flo = min(floor_run(shape, tasks, data) for _ in range(repeat))
            key = f"{shape}_T{tasks}_P{points}"
            seconds[f"{shape}_T{tasks}"] = eng
            out[f"{key} evals/s"] = round(tasks * points / eng)
            out[f"{key} floor evals/s"] = round(tasks * points / flo)
            out[f"{key} ratio"] = eng / flo
    data = body(50_000)
    eng = min(alert_read_run(10, data, 50_000) for _ in range(repeat))
    flo = min(alert_read_floor_run(10, data) for _ in range(repeat))
    out["AlertTaskRead_T10_P50000 evals/s"] = round(10 * 50_000 / eng)
    out["AlertTaskRead_T10_P50000 floor evals/s"] = round(10 * 50_000 / flo)
    out["AlertTaskRead_T10_P50000 ratio"] = eng / flo
    # Kapacitor's AlertTask (no reader) against the floor that builds every event, as the
    # figure was before events became lazy: the two rows above are the honest pair.
    out["AlertTask_T10_P50000 ratio vs event-building floor"] = seconds["AlertTask_T10"] / flo
    quiet = quiet_alert_cost(repeat=repeat)
    out["QuietAlert_T10_P50000 µs/task-point"] = quiet["engine"]
    out["QuietAlert_T10_P50000 fused µs/task-point"] = quiet["fused"]
    out["QuietAlert_T10_P50000 ratio"] = quiet["ratio"]
    out["parse+route lines/s (50k body)"] = round(
        parse_route_lines_per_s(body(50_000), 50_000, repeat + 1)
    )
    out["window bytes/point (50k held)"] = window_bytes_per_point()
    out.update(quiet_us_per_task_point(repeat + 1))
    out["new series µs/point (groupBy|window|mean|alert)"] = new_groups_us_per_point()
    return out


def main() -> None:
    for key, value in run().items():
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        print(f"{key:44s} {shown:>14}")


if __name__ == "__main__":
    main()
