"""Kapacitor's alert benchmark with ``.discord()`` attached, through to the Discord emulator.

The server's own objects on the wall clock and a running asyncio loop: ``build_runtime``
(SQLite store in memory) with its ``TaskManager`` running ``AlertTask`` × 10 over a 50,000-point write
(Kapacitor's ``T10_P50000`` shape, see ``bench_engine.py``), with every alert node's Discord
handler posting to an in-process :class:`~leyden.devtools.discord_emulator.DiscordEmulator` on
127.0.0.1.  The write is parsed and routed inside the loop, as ``POST /write`` does, so the
loop is blocked for the whole write and deliveries start after it.

Three runs, each with fresh services, emulator and tasks:

* **throughput** (emulator limit raised so 429s do not dominate): points/s and task-point
  evaluations/s through parse → route → nodes → alert → the turn's pending events; then the
  group commit that turns them into outbox rows (one per event and handler, nothing dropped:
  issue 10), timed on its own as the outbox's cost per event; then how many were delivered
  (as embeds, up to 10 per message) within a bounded wait and at what rate.
* **real limit** (Discord's 5 requests per 2 s per webhook): the same write, then
  ``RATE_LIMITED_SECONDS`` of deliveries: requests made, 429s seen, retries, delivered.
* **latency** (one task, raised limit, idle): ~50 alerts one at a time; wall time from just
  before ``write_points`` of the triggering point to the emulator storing the message.

Nothing here can hang: every wait has a deadline, and after a run whatever is still queued is
abandoned (the sender is closed, leftover tasks cancelled) before emulator and sessions close.
Logging goes through the server's logfmt formatter into a sink that only counts lines, so
the cost of logging (drops, retries, failures) is part of the figures.

Not covered: the topic store is SQLite in memory, as asked; on a file it costs more per
event (one committed INSERT per non-OK event on the point path).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import resource
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bench.bench_engine import ALERT, DB, RP, body
from leyden import lineprotocol
from leyden.clock import WallClock
from leyden.config import Config, DeliveryConfig
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.log import LogfmtFormatter
from leyden.notify.discord.config import DiscordConfig
from leyden.runtime import Runtime, build_runtime
from leyden.store import Store
from leyden.tasks.manager import TaskManager

SCRIPT = ALERT + "\t\t.discord()\n"
TASKS, POINTS = 10, 50_000
#: the emulator's limit for the throughput and latency runs ("no limit" in practice)
UNLIMITED = 1_000_000_000
#: Discord's documented webhook limit
REAL_LIMIT, REAL_WINDOW = 5, 2.0
DELIVERY_SECONDS = 12.0  # longest wait for the throughput run's queued deliveries
#: the real-limit run: a smaller write (its queues overflow all the same), then this long
RATE_LIMITED_POINTS = 1_000
RATE_LIMITED_SECONDS = 6.0
LATENCY_SAMPLES = 50
LATENCY_TIMEOUT = 2.0  # per sample
CLOSE_SECONDS = 5.0  # longest wait for any close


# --- logging: the server's formatter, into a counting sink ------------------------------------


class _CountingSink(logging.Handler):
    """Formats every record as the server would, keeps only counts per message."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(LogfmtFormatter())
        self.lines: Counter[str] = Counter()
        self.bytes = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.bytes += len(self.format(record)) + 1
        self.lines[record.getMessage()] += 1


@contextlib.contextmanager
def _captured_logs() -> Any:
    root = logging.getLogger("leyden")
    saved = (root.handlers[:], root.level, root.propagate)
    sink = _CountingSink()
    root.handlers[:] = [sink]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        yield sink
    finally:
        root.handlers[:], root.level, root.propagate = saved


# --- one stack: emulator + the server's services + tasks -------------------------------------


@dataclass
class _Stack:
    emulator: DiscordEmulator
    services: Runtime
    manager: TaskManager
    logs: _CountingSink
    figures: dict[str, Any] = field(default_factory=dict)

    def busy(self) -> bool:
        return self.services.alerts.dispatcher.busy()


@contextlib.asynccontextmanager
async def _stack(tasks: int, rate_limit: int, rate_window: float) -> AsyncIterator[_Stack]:
    # received_at on the same clock as the bench's timestamps
    unlimited = rate_limit >= UNLIMITED  # then no per-channel or host limit either
    emulator = DiscordEmulator(
        rate_limit=rate_limit,
        rate_window=rate_window,
        channel_limit=None if unlimited else 30,
        global_limit=None if unlimited else 50,
        wall_clock=time.perf_counter,
    )
    services: Runtime | None = None
    manager: TaskManager | None = None
    with _captured_logs() as logs:
        await emulator.start("127.0.0.1", 0)
        try:
            discord = [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url())]
            # the unlimited runs lift the dispatcher's per-channel budget too (the host-wide
            # 50 requests/s stays: 500 alerts/s at 10 embeds a message)
            delivery = DeliveryConfig(discord_channel_limit=UNLIMITED if unlimited else 30)
            config = Config(integrations={"discord": discord}, delivery=delivery)
            services = build_runtime(config, store=Store(":memory:"), clock=WallClock())
            manager = services.tasks
            for i in range(tasks):
                await manager.create(
                    {
                        "id": f"task_{i}",
                        "script": SCRIPT,
                        "dbrps": [{"db": DB, "rp": RP}],
                        "status": "enabled",
                    }
                )
            services.alerts.start()
            stack = _Stack(emulator, services, manager, logs)
            yield stack
        finally:
            try:
                if services is not None:
                    await _shutdown(services, manager)
            finally:
                await emulator.stop()


async def _shutdown(services: Runtime, manager: TaskManager | None) -> None:
    """The server's shutdown order; what is still queued stays in the (in-memory) outbox.
    Every step is bounded by ``CLOSE_SECONDS``."""
    alerts = services.alerts
    try:
        if manager is not None:
            await asyncio.wait_for(manager.close(), CLOSE_SECONDS)
        await asyncio.wait_for(alerts.close(0.0), CLOSE_SECONDS)
    finally:
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=CLOSE_SECONDS)
        for integration in services.integrations.values():
            await asyncio.wait_for(integration.close(), CLOSE_SECONDS)
        services.store.close()


def _write(stack: _Stack, data: bytes) -> float:
    """``POST /write``'s work, inside the loop: parse and route; seconds taken."""
    gc.collect()
    start = time.perf_counter()
    parsed = lineprotocol.parse(data, precision="s", now_ns=time.time_ns())
    stack.services.router.write_points(DB, RP, parsed.points)
    return time.perf_counter() - start


async def _wait_idle(stack: _Stack, seconds: float) -> float:
    """Wait until no handler queue has work, or ``seconds``; the time waited."""
    start = time.perf_counter()
    deadline = start + seconds
    while stack.busy() and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    return time.perf_counter() - start


def _commit(stack: _Stack) -> tuple[int, float]:
    """The turn's group commit, timed: outbox rows written, seconds."""
    start = time.perf_counter()
    rows = stack.services.alerts.topics.flush()
    return rows, time.perf_counter() - start


def _delivery_counts(stack: _Stack) -> tuple[int, int]:
    counters = stack.services.alerts.dispatcher.counters
    return sum(counters.sent.values()), sum(counters.failed.values())


# --- the runs ----------------------------------------------------------------------------------


async def throughput_run() -> dict[str, object]:
    data = body(POINTS)
    async with _stack(TASKS, UNLIMITED, 1.0) as stack:
        await asyncio.sleep(0)
        elapsed = _write(stack, data)
        events = sum(t.collected for t in _topics(stack))
        rows, commit = _commit(stack)
        waited = await _wait_idle(stack, DELIVERY_SECONDS)
        delivered, failed = _delivery_counts(stack)
        requests = len(stack.emulator.requests)
        out: dict[str, object] = {
            "points/s (write)": round(POINTS / elapsed),
            "task-point evals/s": round(TASKS * POINTS / elapsed),
            "write s": elapsed,
            "events published": events,
            "outbox rows committed": rows,
            "commit s (group commit)": commit,
            "commit µs per row": commit / rows * 1e6 if rows else 0.0,
            "log lines": sum(stack.logs.lines.values()),
            "requests made": requests,
            "messages delivered": len(stack.emulator.messages),
            "alerts delivered (embeds)": delivered,
            "failed attempts": failed,
            "delivery s": waited,
            "alerts delivered/s": delivered / waited if waited else 0.0,
            # Linux reports KiB; the whole process so far, 50,000 queued events included
            "max RSS MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
    return out


def _topics(stack: _Stack) -> list[Any]:
    assert stack.services.alerts is not None
    topics = stack.services.alerts.topics
    return [t for t in (topics.get(i) for i in topics.ids()) if t is not None]


async def rate_limited_run() -> dict[str, object]:
    data = body(RATE_LIMITED_POINTS)
    async with _stack(TASKS, REAL_LIMIT, REAL_WINDOW) as stack:
        await asyncio.sleep(0)
        _write(stack, data)
        _commit(stack)
        start = time.perf_counter()
        await _wait_idle(stack, RATE_LIMITED_SECONDS)
        seconds = time.perf_counter() - start
        statuses = Counter(r.status for r in stack.emulator.requests)
        lines = stack.logs.lines
        out: dict[str, object] = {
            "observed s": seconds,
            "requests made": len(stack.emulator.requests),
            "messages delivered": len(stack.emulator.messages),
            "alerts delivered (embeds)": _delivery_counts(stack)[0],
            "429s seen": statuses.get(429, 0),
            "dispatcher retries": lines["alert delivery failed; will retry"],
            "dead-lettered": lines["alert handler failed"],
            "statuses": " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
        }
    return out


async def latency_run() -> dict[str, object]:
    samples: list[float] = []
    lost = 0
    async with _stack(1, UNLIMITED, 1.0) as stack:
        router = stack.services.router
        messages = stack.emulator.messages
        for i in range(LATENCY_SAMPLES):
            # alternate CRITICAL and OK: each point is one event, so one message
            value = 50 if i % 2 == 0 else 0
            line = f"m1 value={value} {time.time_ns()}".encode()
            await asyncio.sleep(0.005)  # idle between alerts
            seen = len(messages)
            start = time.perf_counter()
            router.write_points(DB, RP, lineprotocol.parse(line, precision="ns").points)
            deadline = start + LATENCY_TIMEOUT
            while len(messages) == seen and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            if len(messages) == seen:
                lost += 1
                continue
            samples.append(messages[seen].received_at - start)
    samples.sort()
    ms = [s * 1000 for s in samples]
    return {
        "samples": len(samples),
        "lost": lost,
        "p50 ms": statistics.median(ms) if ms else float("nan"),
        "p95 ms": ms[min(len(ms) - 1, int(len(ms) * 0.95))] if ms else float("nan"),
        "max ms": ms[-1] if ms else float("nan"),
    }


async def _all() -> dict[str, object]:
    out: dict[str, object] = {}
    for prefix, run_one in (
        ("T10_P50000 ", throughput_run),
        (f"5/2s T10_P{RATE_LIMITED_POINTS} ", rate_limited_run),
        ("idle alert→emulator ", latency_run),
    ):
        for key, value in (await run_one()).items():
            out[prefix + key] = value
    return out


def run() -> dict[str, object]:
    return asyncio.run(_all())


def main() -> None:
    for key, value in run().items():
        shown = (
            f"{value:,.3f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value)
        )
        print(f"{key:50s} {shown:>16}")


if __name__ == "__main__":
    main()
