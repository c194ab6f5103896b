"""``leyden replay``: run a TICKscript over recorded data on a simulated clock.

This is the harness of Kapacitor's stream integration tests (semantics §8, conformance
README) and a user feature: try an alert rule against recorded data before enabling it.

A ``.srpl`` recording is a sequence of line triples (database, retention policy, one
line-protocol point with a timestamp in seconds).  Points are re-timed so the first point of
each file lands on 1971-01-01T00:00:00Z, delivered one at a time in file order, and the clock
moves to each point's time before it is delivered.  Points later than ``--until`` are not
delivered.  Handlers really send.

A batch task replays ``.brpl`` recordings instead (Kapacitor's ``replayBatchFromChan``), one
file per ``query()`` node in the order Kapacitor's replayer feeds them (its pipeline walk
order, ``Task.query_nodes``; not always script order: TestBatch_JoinOn's second query takes
the first file): a stream of JSON batches (usually one per
line), ``{"name", "tags", "tmax"?, "points": [{"fields", "tags"?, "time"}]}``.  Each file is re-timed on its own: the
first point of the file lands on 1971-01-01T00:00:00Z and every point moves by the same
offset; a batch's time is the later of its recorded ``tmax`` (kept as recorded) and its last
point's new time; an empty batch keeps its recorded ``tmax`` or, without one, the previous
batch's.  The clock moves to a batch's last point before the batch is delivered, so batches
of several files arrive in the order of those times (file order among equals); a batch later
than ``--until`` is not delivered, nor anything after it in its file.

The task runs as a server runs it: the runtime comes from :func:`leyden.runtime.build_runtime`
(an in-memory store, the simulated clock) and the task is built, checked and started by the
same :class:`~leyden.tasks.runner.TaskRunner` the task manager uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.config import Config, ConfigError, load_config
from leyden.delivery.metrics import DeliveryCounters
from leyden.engine.model import Batch, BatchPoint, Dimensions
from leyden.engine.node import TaskError
from leyden.engine.nodes.query import QueryNode
from leyden.engine.task import Task
from leyden.go.strconv import parse_go_duration
from leyden.go.types import Time, go_json
from leyden.log import setup_logging
from leyden.model.alert import Event
from leyden.model.alertdata import event_to_json
from leyden.notify import INTEGRATIONS
from leyden.notify.base import IntegrationError
from leyden.rehearsal import Mode, Rehearsal, Tally, config_is_local
from leyden.runtime import Runtime, build_runtime
from leyden.store import Store
from leyden.tasks.manager import check
from leyden.tasks.runner import build
from leyden.tick.errors import TickError
from leyden.tick.pipeline import Pipeline

log = logging.getLogger("leyden.replay")

NO_DIMS = Dimensions()

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


def read_lp(path: Path, dbrp: tuple[str, str] | None) -> Iterator[Recorded]:
    """The points of a plain line-protocol file (times in nanoseconds, as InfluxDB's
    ``/write`` takes them), all for the one ``--dbrp`` given; a bad line is named by number."""
    if dbrp is None:
        raise ReplayError(
            f"{path}: plain line protocol needs --dbrp DATABASE.RETENTION_POLICY "
            "(a .srpl recording names its own)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    parsed = lineprotocol.parse(text, precision="ns", now_ns=0)
    if parsed.errors:
        raise ReplayError(f"{path}: {parsed.errors[0].message}")
    for point in parsed.points:
        yield Recorded(dbrp[0], dbrp[1], point)


def rebased(records: Iterator[Recorded]) -> Iterator[Recorded]:
    offset: int | None = None
    for rec in records:
        if offset is None:
            offset = REPLAY_ZERO_NS - rec.point.time
        rec.point.time += offset
        yield rec


def read_brpl(path: Path) -> Iterator[Batch]:
    """The batches of one batch recording (a stream of JSON objects, as Go's ``json.Decoder``
    reads it), in file order, with their recorded times.

    Numbers are floats, as Go decodes them into ``interface{}``; a point without tags takes
    the batch's tags; a missing ``tmax`` is 0 ("not set").
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    decoder = json.JSONDecoder(parse_int=float)
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        where = f"{path}:{text.count(chr(10), 0, pos) + 1}"
        try:
            raw, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ReplayError(
                f"{path}:{exc.lineno}: not a JSON batch: {exc.msg} (column {exc.colno})"
            ) from None
        if not isinstance(raw, dict):
            raise ReplayError(f"{where}: a batch must be a JSON object")
        tags = _str_map(raw.get("tags"), f"{where}: tags")
        points: list[BatchPoint] = []
        for i, rp in enumerate(raw.get("points") or []):
            if not isinstance(rp, dict) or not isinstance(rp.get("fields") or {}, dict):
                raise ReplayError(f"{where}: points[{i}] must be an object with fields")
            ptags = _str_map(rp.get("tags"), f"{where}: points[{i}].tags") or tags
            points.append(
                BatchPoint(_time(rp.get("time"), where), dict(rp.get("fields") or {}), ptags)
            )
        tmax = _time(raw["tmax"], where) if raw.get("tmax") else 0
        yield Batch(str(raw.get("name") or ""), "", tags, NO_DIMS, tmax, points)


def _str_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ReplayError(f"{where} must be an object of strings")
    return dict(value)


def _time(value: object, where: str) -> int:
    try:
        return int(Time.parse_rfc3339(str(value)))
    except ValueError as exc:
        raise ReplayError(f"{where}: {exc}") from None


def rebased_batches(batches: Iterator[Batch]) -> Iterator[tuple[int, Batch]]:
    """(time the clock must reach first, the batch re-timed), as Kapacitor's replayer does."""
    offset: int | None = None
    tmax = 0
    wait = REPLAY_ZERO_NS
    for b in batches:
        if not b.points:
            tmax = b.tmax or tmax
            yield wait, b.copy(tmax=tmax)
            continue
        if offset is None:
            offset = REPLAY_ZERO_NS - b.points[0].time
        points = [BatchPoint(p.time + offset, p.fields, p.tags) for p in b.points]
        wait = points[-1].time
        tmax = max(b.tmax, wait)
        yield wait, b.copy(tmax=tmax, points=points)


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
    mode: Mode = "send",
    sent: TextIO | None = None,
    tally: Tally | None = None,
    config_local: bool = True,
) -> Task:
    """Run ``script`` over ``data``; ``mode`` says which deliveries are sent and which are
    written to ``sent`` instead (:mod:`leyden.rehearsal`); ``tally`` counts for the summary."""
    tally = tally or Tally()
    try:
        text = script.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{script}: cannot read: {exc.strerror}") from None
    pipeline = build(text, filename=str(script))
    check(pipeline, str(script))
    check_data(pipeline.task_type, data)
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
    dispatcher = runtime.alerts.dispatcher
    dispatcher.attempt = Rehearsal(mode, sent or sys.stdout, tally, config_local).attempt
    try:
        with _events_file(events) as write_event:
            runtime.alerts.add_listener(write_event)
            runtime.alerts.add_listener(tally.event)
            task = await _run(runtime, name, pipeline, dbrps or pipeline.dbrps, data, until, tally)
            await runtime.alerts.drain()
            for st in runtime.outbox.stats():  # waiting for a retry: they will not be sent
                tally.count(st.kind, "failed", st.queued + st.in_flight)
    finally:
        left = await runtime.close()
    _count_deliveries(tally, dispatcher.counters)
    if left:  # waiting for a retry when the recording ended: the in-memory outbox goes
        log.warning(
            "replay: alert deliveries not sent by the end of the recording; they are dropped",
            extra={"fields": {"undelivered": left}},
        )
    return task


def _count_deliveries(tally: Tally, counters: DeliveryCounters) -> None:
    """Sent: what the dispatcher saw delivered less what the rehearsal only wrote down."""
    sent: Counter[str] = Counter()
    for (kind, _), n in counters.sent.items():
        sent[kind] += n
    for kind, n in sent.items():
        tally.count(kind, "sent", n - tally.deliveries.get(kind, Counter())["not sent"])
    for (kind, _), n in counters.dead.items():
        tally.count(kind, "failed", n)


async def _run(
    runtime: Runtime,
    name: str,
    pipeline: Pipeline,
    dbrps: Sequence[tuple[str, str]],
    data: Sequence[Path],
    until: int | None,
    tally: Tally,
) -> Task:
    """Deliver the recordings point by point, the clock moved to each point first."""
    task = runtime.runner.start(name, pipeline, dbrps)  # no dbrps at all: every dbrp
    clock = runtime.clock
    assert isinstance(clock, SimulatedClock)
    limit = None if until is None else REPLAY_ZERO_NS + until
    if pipeline.task_type == "batch":
        tally.points += _run_batches(task, clock, data, limit)
        if limit is not None:
            clock.advance_to(limit)
        await runtime.runner.stop(task)
        return task
    default = dbrps[0] if dbrps else None
    for path in data:
        for rec in rebased(read_srpl(path) if path.suffix == ".srpl" else read_lp(path, default)):
            if limit is not None and rec.point.time > limit:
                break
            tally.points += 1
            clock.advance_to(rec.point.time)
            runtime.router.write_points(rec.db, rec.rp, [rec.point])
            runtime.loopback.flush()  # what the point looped back, before the next point
    if limit is not None:
        clock.advance_to(limit)
    await runtime.runner.stop(task)  # httpPost requests still queued, then what stop() flushed
    return task


def check_data(task_type: str | None, data: Sequence[Path]) -> None:
    """A batch task replays ``.brpl`` files only; a stream task ``.srpl`` files or plain line
    protocol (any other name), never ``.brpl``."""
    for path in data:
        if task_type == "batch" and path.suffix != ".brpl":
            what = "a stream recording" if path.suffix == ".srpl" else "stream data"
            raise ReplayError(
                f"{path}: a batch task replays .brpl recordings, not {path.suffix or 'plain'} "
                f"files ({what})"
            )
        if task_type != "batch" and path.suffix == ".brpl":
            raise ReplayError(
                f"{path}: a {task_type} task replays .srpl recordings or line protocol, "
                "not .brpl (a batch recording)"
            )


def _run_batches(task: Task, clock: SimulatedClock, data: Sequence[Path], limit: int | None) -> int:
    """Deliver each file's batches to its query node (``Task.query_nodes``), clock first;
    how many points they held."""
    queries = [n for n in task.query_nodes if isinstance(n, QueryNode)]
    if len(data) != len(queries):
        raise ReplayError(
            f"the task has {len(queries)} query node(s) and {len(data)} --data recording(s) "
            "were given: give one .brpl file per query()"
        )

    def stream(i: int) -> Iterator[tuple[int, int, Batch]]:
        for wait, b in rebased_batches(read_brpl(data[i])):
            if limit is not None and wait > limit:
                return
            yield wait, i, b

    merged = heapq.merge(*(stream(i) for i in range(len(data))), key=lambda t: (t[0], t[1]))
    points = 0
    for wait, i, b in merged:
        points += len(b.points)
        if wait > clock.now():
            clock.advance_to(wait)
        queries[i].emit_batches([b], clock.now())
    return points


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


EPILOG = """\
What is sent: deliveries to loopback addresses (127.0.0.1, ::1, localhost: a capture server,
the Discord emulator) and local handlers (log, exec) are sent; a delivery to any other host
(discord.com, hooks.slack.com, ...) is NOT sent but written as one JSON line (kind,
destination without secrets, id, level, message, alert data) to --sent or stdout.
--send sends everything, --no-send nothing.

At the end one summary line goes to stderr: points read, events by level, deliveries by
handler kind (sent, failed, not sent).  Exit status: 0; 1 for an error in the script, data or
configuration; 3 when a delivery failed (dead-lettered, or still waiting for a retry when the
recording ended).
"""
# (its examples are the verb table's: leyden.cli._help, printed after this by ``--help``)

#: a delivery failed (Kapacitor's CLI exit code for a command that failed)
EXIT_DELIVERY_FAILED = 3


def main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    p = argparse.ArgumentParser(
        prog="leyden replay",
        description=__doc__.split("\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("script", type=Path, help="the TICKscript to run (stream or batch)")
    p.add_argument(
        "--data",
        "-data",
        action="append",
        type=Path,
        required=True,
        metavar="FILE",
        help="recorded data, repeatable: .srpl (stream: database, retention policy, point "
        "lines), .brpl (batch: JSON batches, one file per query()), or plain line protocol "
        "(nanosecond times; needs --dbrp). Times are moved so the first point is at "
        "1971-01-01T00:00:00Z",
    )
    p.add_argument(
        "--config", "-config", metavar="FILE", help="kapacitor.conf for the handlers' services"
    )
    p.add_argument("--name", "-name", help="the task's ID (default: the script's file name)")
    p.add_argument(
        "--dbrp",
        "-dbrp",
        action="append",
        default=[],
        metavar="DB.RP",
        help="the task's database and retention policy, repeatable (default: the script's "
        "dbrp statements); the first is where plain line protocol is written",
    )
    p.add_argument(
        "--until",
        "-until",
        metavar="DURATION",
        help="stop at this time after the first point (13s, 2h); later points are not read",
    )
    p.add_argument(
        "--http-out",
        "-http-out",
        type=Path,
        metavar="FILE",
        help="write the httpOut() nodes' results to FILE (JSON, by node name)",
    )
    p.add_argument(
        "--events",
        "-events",
        type=Path,
        metavar="FILE",
        help="write every published alert event to FILE (one alert-data JSON per line)",
    )
    sending = p.add_mutually_exclusive_group()
    sending.add_argument(
        "--send",
        "-send",
        dest="mode",
        action="store_const",
        const="send",
        help="send every delivery, to real services too",
    )
    sending.add_argument(
        "--no-send",
        "-no-send",
        dest="mode",
        action="store_const",
        const="no-send",
        help="send no delivery, not even to loopback addresses: write each instead",
    )
    p.add_argument(
        "--sent",
        "-sent",
        type=Path,
        metavar="FILE",
        help="write the deliveries not sent to FILE instead of stdout",
    )
    args = p.parse_args(list(argv))
    tally = Tally()
    try:
        config = load_config(args.config, os.environ, integrations=INTEGRATIONS.sections())
        # Replay talks to the terminal: node logs and handler failures go to stderr.
        setup_logging("STDERR", config.logging.level)
        until = _until(args.until)
        dbrps = [parse_dbrp(d) for d in args.dbrp]
        name = args.name or args.script.stem
        with _sent_file(args.sent, out) as sent:
            task = asyncio.run(
                replay(
                    args.script,
                    args.data,
                    config=config,
                    name=name,
                    dbrps=dbrps,
                    until=until,
                    events=args.events,
                    mode=args.mode or "auto",
                    sent=sent,
                    tally=tally,
                    config_local=_config_is_local(args.config),
                )
            )
    except (ConfigError, IntegrationError, ReplayError, TaskError, TickError, ValueError) as exc:
        print(f"Error: {exc}", file=err)
        return 1
    if args.http_out:
        results = task.http_out()
        body = ",\n".join(f"{json.dumps(k)}: {go_json(v)}" for k, v in sorted(results.items()))
        args.http_out.write_text("{\n" + body + "\n}\n", encoding="utf-8")
    print(tally.summary(), file=err)
    return EXIT_DELIVERY_FAILED if tally.failed else 0


def _config_is_local(path: str | None) -> bool:
    texts = [v for k, v in os.environ.items() if k.startswith("KAPACITOR_")]
    if path:
        with contextlib.suppress(OSError):  # load_config already read it
            texts.append(Path(path).read_text(encoding="utf-8"))
    return config_is_local(texts)


@contextlib.contextmanager
def _sent_file(path: Path | None, out: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield out
        return
    try:
        handle = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot write: {exc.strerror}") from None
    with handle:
        yield handle
