"""``leyden replay``: run a TICKscript over recorded data on a simulated clock.

This is the harness of Kapacitor's stream integration tests (semantics §8, conformance
README) and a user feature: try an alert rule against recorded data before enabling it.

A ``.srpl`` recording is a sequence of line triples (database, retention policy, one
line-protocol point with a timestamp in seconds).  Points are re-timed so the first point of
each file lands on 1971-01-01T00:00:00Z, delivered one at a time in file order, and the clock
moves to each point's time before it is delivered.  Points later than ``--until`` are not
delivered.  Handlers really send.

The task runs as a server runs it: the runtime comes from :func:`leyden.runtime.build_runtime`
(an in-memory store, the simulated clock) and the task is built, checked and started by the
same :class:`~leyden.tasks.runner.TaskRunner` the task manager uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.config import Config, ConfigError, load_config
from leyden.engine.node import TaskError
from leyden.engine.task import Task
from leyden.go.strconv import parse_go_duration
from leyden.go.types import go_json
from leyden.log import setup_logging
from leyden.model.alert import Event
from leyden.model.alertdata import event_to_json
from leyden.notify import INTEGRATIONS
from leyden.notify.base import IntegrationError
from leyden.runtime import Runtime, build_runtime
from leyden.store import Store
from leyden.tasks.manager import check
from leyden.tasks.runner import build
from leyden.tick.errors import TickError
from leyden.tick.pipeline import Pipeline

log = logging.getLogger("leyden.replay")

#: the harness clock's zero, "to avoid epoch-0 collisions"
REPLAY_ZERO_NS = 31_536_000 * 1_000_000_000  # 1971-01-01T00:00:00Z


class ReplayError(Exception):
    pass


@dataclass(slots=True)
class Recorded:
    db: str
    rp: str
    point: lineprotocol.WirePoint


def read_srpl(path: Path) -> Iterator[Recorded]:
    """The points of one recording, in file order, with their original times."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    lines = text.splitlines()
    if lines and not lines[-1].strip():
        lines.pop()
    for i in range(0, len(lines) - len(lines) % 3, 3):
        db, rp, line = lines[i], lines[i + 1], lines[i + 2]
        parsed = lineprotocol.parse(line, precision="s", now_ns=0)
        if parsed.errors:
            err = parsed.errors[0]
            raise ReplayError(f"{path}:{i + 3}: {err.message}")
        if parsed.points:
            yield Recorded(db, rp, parsed.points[0])
    if len(lines) % 3:
        raise ReplayError(
            f"{path}: {len(lines)} lines is not a whole number of "
            "(database, retention policy, point) triples"
        )


def rebased(records: Iterator[Recorded]) -> Iterator[Recorded]:
    offset: int | None = None
    for rec in records:
        if offset is None:
            offset = REPLAY_ZERO_NS - rec.point.time
        rec.point.time += offset
        yield rec


def parse_dbrp(text: str) -> tuple[str, str]:
    db, dot, rp = text.partition(".")
    db, rp = db.strip('"'), rp.strip('"')
    if not dot or not db or not rp:
        raise ReplayError(f'invalid --dbrp "{text}": want DATABASE.RETENTION_POLICY')
    return db, rp


async def replay(
    script: Path,
    data: Sequence[Path],
    *,
    config: Config,
    name: str,
    dbrps: list[tuple[str, str]],
    until: int | None,
    events: Path | None = None,
) -> Task:
    try:
        text = script.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{script}: cannot read: {exc.strerror}") from None
    pipeline = build(text, filename=str(script))
    check(pipeline, str(script))
    # Nothing outlives a replay: the store (and its outbox) is in memory.  Handlers really
    # send.  "simulated": points arrive back to back, so clock jumps are not idleness
    # (barrier.py).
    store = Store(":memory:")
    try:
        runtime = build_runtime(
            config,
            store=store,
            clock=SimulatedClock(REPLAY_ZERO_NS),
            simulated=True,
        )
    except BaseException:
        store.close()
        raise
    try:
        with _events_file(events) as write_event:
            runtime.alerts.add_listener(write_event)
            task = await _run(runtime, name, pipeline, dbrps or pipeline.dbrps, data, until)
            await runtime.alerts.drain()
    finally:
        left = await runtime.close()
    if left:  # waiting for a retry when the recording ended: the in-memory outbox goes
        log.warning(
            "replay: alert deliveries not sent by the end of the recording; they are dropped",
            extra={"fields": {"undelivered": left}},
        )
    return task


async def _run(
    runtime: Runtime,
    name: str,
    pipeline: Pipeline,
    dbrps: Sequence[tuple[str, str]],
    data: Sequence[Path],
    until: int | None,
) -> Task:
    """Deliver the recordings point by point, the clock moved to each point first."""
    task = runtime.runner.start(name, pipeline, dbrps)  # no dbrps at all: every dbrp
    clock = runtime.clock
    assert isinstance(clock, SimulatedClock)
    limit = None if until is None else REPLAY_ZERO_NS + until
    for path in data:
        for rec in rebased(read_srpl(path)):
            if limit is not None and rec.point.time > limit:
                break
            clock.advance_to(rec.point.time)
            runtime.router.write_points(rec.db, rec.rp, [rec.point])
            runtime.loopback.flush()  # what the point looped back, before the next point
    if limit is not None:
        clock.advance_to(limit)
    await runtime.runner.stop(task)  # httpPost requests still queued, then what stop() flushed
    return task


@contextlib.contextmanager
def _events_file(path: Path | None) -> Iterator[Callable[[Event], None]]:
    """``--events``: one alert-data JSON line per published event."""
    if path is None:
        yield lambda event: None
        return
    try:
        handle = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot write: {exc.strerror}") from None
    with handle:

        def write(event: Event) -> None:
            handle.write(event_to_json(event))

        yield write


def _until(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return parse_go_duration(text)
    except ValueError as exc:
        raise ReplayError(f'--until "{text}": {exc} (use a duration such as 13s, 2h)') from None


def main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    p = argparse.ArgumentParser(prog="leyden replay", description=__doc__.split("\n")[0])
    p.add_argument("script", type=Path)
    p.add_argument("--data", "-data", action="append", type=Path, required=True)
    p.add_argument("--config", "-config")
    p.add_argument("--name", "-name")
    p.add_argument("--dbrp", "-dbrp", action="append", default=[])
    p.add_argument("--until", "-until")
    p.add_argument("--http-out", "-http-out", type=Path)
    p.add_argument("--events", "-events", type=Path)
    args = p.parse_args(list(argv))
    try:
        config = load_config(args.config, os.environ, integrations=INTEGRATIONS.sections())
        # Replay talks to the terminal: node logs and handler failures go to stderr.
        setup_logging("STDERR", config.logging.level)
        until = _until(args.until)
        dbrps = [parse_dbrp(d) for d in args.dbrp]
        name = args.name or args.script.stem
        task = asyncio.run(
            replay(
                args.script,
                args.data,
                config=config,
                name=name,
                dbrps=dbrps,
                until=until,
                events=args.events,
            )
        )
    except (ConfigError, IntegrationError, ReplayError, TaskError, TickError, ValueError) as exc:
        print(f"Error: {exc}", file=err)
        return 1
    if args.http_out:
        results = task.http_out()
        body = ",\n".join(f"{json.dumps(k)}: {go_json(v)}" for k, v in sorted(results.items()))
        args.http_out.write_text("{\n" + body + "\n}\n", encoding="utf-8")
    return 0
