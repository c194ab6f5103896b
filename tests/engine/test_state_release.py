"""A deleted or disabled task lets go of every group it held (issue 16, bounded memory).

100,000 distinct series through one windowed task (``stream|from|groupBy|window|mean|alert``)
grow the traced memory; deleting the task and collecting garbage brings ``tracemalloc``'s
current figure back close to where it was.  As in Kapacitor, a named topic outlives the task:
its events stay (the task's node state does not).  RSS of a real ``leyden serve`` is measured
by ``bench/bench_memory.py`` (the allocator may keep freed pages, so RSS is a bench figure,
not an assertion).
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
import weakref

from leyden.clock import SimulatedClock
from leyden.config import load_config
from leyden.lineprotocol import WirePoint
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime, build_runtime
from leyden.store import Store
from leyden.tasks.release import release_memory

S = 1_000_000_000
SCRIPT = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |mean('v')
    |alert()
        .crit(lambda: "mean" > 50.0)
        .topic('mem')
"""
CHUNK = 2_000


def _runtime() -> Runtime:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    return build_runtime(config, store=Store(":memory:"), clock=SimulatedClock(0))


def _write(runtime: Runtime, series: int, t: int) -> None:
    """One point per series at ``t``; 1 series in 100 alerts (its mean is over 50)."""
    for start in range(0, series, CHUNK):
        points = [
            WirePoint("cpu", {"host": f"h{i}"}, {"v": 99.0 if i % 100 == 0 else 1.0}, t)
            for i in range(start, min(start + CHUNK, series))
        ]
        runtime.router.write_points("db", "rp", points)


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def _create(runtime: Runtime) -> None:
    await runtime.tasks.create(
        {
            "id": "mem",
            "type": "stream",
            "dbrps": [{"db": "db", "rp": "rp"}],
            "script": SCRIPT,
            "status": "enabled",
        }
    )


def _grow_then_release(series: int, release: str) -> tuple[int, int, int]:
    """(baseline, with the series, after ``release``) traced bytes, and checks on the way."""

    async def main() -> tuple[int, int, int]:
        runtime = _runtime()
        await _create(runtime)
        task = runtime.tasks.running("mem")
        assert task is not None
        # a first series through every node, so lazily built things are not counted as held
        _write(runtime, 1, 0)
        _write(runtime, 1, 20 * S)
        del task
        tracemalloc.start()
        try:
            base = _traced()
            _write(runtime, series, 30 * S)
            _write(runtime, series, 40 * S)  # closes every series' first window
            task = runtime.tasks.running("mem")
            assert task is not None
            for node in ("window2", "mean3", "alert4"):
                assert task.nodes[node].cardinality() == series
            del task
            grown = _traced()
            if release == "delete":
                await runtime.tasks.delete("mem")
            else:
                await runtime.tasks.disable("mem")
            after = _traced()
        finally:
            tracemalloc.stop()
        # the named topic outlives the task, as in Kapacitor, with the events it holds
        topic = runtime.alerts.topics.get("mem")
        assert topic is not None and len(topic.event_states()) == series // 100
        await runtime.tasks.close()
        return base, grown, after

    return asyncio.run(main())


def test_deleting_a_task_releases_its_groups() -> None:
    base, grown, after = _grow_then_release(100_000, "delete")
    growth = grown - base
    assert growth > 20_000_000, growth  # 100,000 windows, buckets and alert states
    # what remains: the topic's 1,000 events, caches, the store's pages
    assert after - base < 0.2 * growth, (base, grown, after)


def test_disabling_a_task_releases_its_groups() -> None:
    base, grown, after = _grow_then_release(20_000, "disable")
    growth = grown - base
    assert growth > 4_000_000, growth
    assert after - base < 0.2 * growth, (base, grown, after)


def test_release_memory_collects_what_a_stopped_task_left_in_cycles() -> None:
    class Node:
        other: Node | None = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    gc.disable()
    try:
        del a, b
        assert ref() is not None  # a cycle waits for the collector …
        release_memory()
        assert ref() is None  # … which the release runs
    finally:
        gc.enable()
