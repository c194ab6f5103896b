"""InfluxDB 1.x's ``/write`` (and Kapacitor's ``/kapacitor/v1/write``); the router counts
what they bring, shown by :mod:`leyden.server.metrics`.

Kapacitor accepts points on both paths (``services/httpd/handler.go``, ``serveWrite``), with
InfluxDB's query parameters (``db``, ``rp``, ``precision``).  Its write errors are plain text
although the header says JSON; we answer ``text/plain``.  Good lines of a body with bad lines
are still accepted, and the 400 names the bad ones (Kapacitor drops the whole body).

**The engine shares the event loop with deliveries** (issue 11).  The engine runs on the loop
that also sends alerts to Discord, and a Telegraf body (5,000 lines of 10 fields) is hundreds of
milliseconds of parsing and routing: handed over in one piece it held every delivery for the
whole body (an alert waited 18 s behind four busy writers).  :class:`WriteFeed` parses and
routes a body in slices of lines and gives the loop back whenever the write has had
:data:`TURN_BUDGET` of it, so a delivery waits a few milliseconds per turn it needs, not a
body; one write runs at a time, the one with the fewest lines left first.  A worker thread would share the GIL with the loop (the loop then runs in
switch-interval slices, and events would cross threads); measured, the budgeted yield kept
the throughput and cut the alert latency under load from seconds to milliseconds.

**Threads still need the GIL between turns.**  A turn that ends with ``sleep(0)`` releases the
GIL only for a zero-timeout ``select``, and retakes it at once: a thread waiting for it (the
executor behind ``asyncio.to_thread`` and aiohttp's ``getaddrinfo``) loses that race, and since
the GIL changed hands its forced switch after ``sys.getswitchinterval()`` (5 ms) never comes.
Measured in the write-delivery end-to-end test, such a hop waited out the rest of a 60,000-line
body (about 370 ms) and the alert's post with it; a turn ending in a :data:`YIELD_PAUSE` sleep
(the loop blocked in its selector, the GIL free) brings the hop to 3 to 5 ms, for about 3% more
turns per body.

What a write promises is unchanged: the 204 (or 400) comes after every point of the body was
routed, and a body's points reach each task in the body's order.  Concurrent bodies are not
interleaved at all (a shorter one may pass a longer one between two of its slices): concurrent
writers are unordered in Kapacitor too, and each body stays in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from leyden import API_BASE, lineprotocol
from leyden.engine.router import Router
from leyden.lineprotocol import LineError
from leyden.server._http import SERVICES_KEY
from leyden.workers.pool import EnginePool, shifted

__all__ = [
    "MAX_WRITE_BODY",
    "TURN_BUDGET",
    "WRITE_FEED_KEY",
    "YIELD_PAUSE",
    "WriteFeed",
    "install",
    "write",
]

#: largest write body accepted after decompression (InfluxDB's default is 25 MB)
MAX_WRITE_BODY = 32 * 1024 * 1024
#: seconds of one turn of the event loop a write may take
TURN_BUDGET = 0.002
#: seconds a write's turn ends with the loop blocked in its selector: the GIL is free that long,
#: so a worker thread waiting for it (aiohttp's DNS lookup, ``asyncio.to_thread``) gets it
YIELD_PAUSE = 0.0001
#: lines in a write's first slice; later slices are sized from what the previous one took
FIRST_SLICE = 64
#: the most lines one slice takes (a cheap body still goes by in a few turns)
MAX_SLICE = 5000
#: how many bad lines a write error names before "and N more"
MAX_REPORTED_LINE_ERRORS = 10


#: slices other writes may run while a write waits before it goes first whatever its size
#: (about half a second of routing at the turn budget): shortest-first never starves a body
PATIENCE = 250


class _Write:
    """One write in progress: how much of it is left, when it came, how many slices of other
    writes ran while it waited, and its wake-up call."""

    __slots__ = ("passed", "remaining", "seq", "wake")

    def __init__(self, remaining: int, seq: int) -> None:
        self.remaining = remaining
        self.seq = seq
        self.passed = 0
        self.wake = asyncio.Event()


class WriteFeed:
    """Hands write bodies to the router slice by slice, one write at a time, giving the
    event loop back every :data:`TURN_BUDGET` (see the module's docstring).

    The write with the fewest lines left goes first (the earliest of equals), unless a write
    has waited :data:`PATIENCE` slices (then the earliest goes first, so a big body is not
    starved by a stream of smaller ones): a one-line
    write that raises an alert passes the big bodies at their next slice, and of several big
    bodies the one nearest its end finishes first, so its client sends the next body while
    the others are routed (sharing turns equally finished them all together, and the server
    then idled while every client uploaded).  ``clock`` (seconds, monotonic) is injectable so a
    test can decide when a slice is over budget without timing anything; ``pause`` is
    :data:`YIELD_PAUSE` (0: one loop turn per yield, for tests on a fake clock).
    """

    def __init__(
        self,
        *,
        budget: float = TURN_BUDGET,
        clock: Callable[[], float] = time.perf_counter,
        pause: float = YIELD_PAUSE,
    ) -> None:
        self.budget = budget
        self.clock = clock
        self.pause = pause
        self._writes: list[_Write] = []
        self._seq = 0
        #: times a write gave the loop back before its body was done (for tests and metrics)
        self.yields = 0

    @property
    def active(self) -> int:
        """Writes between their first slice and their last."""
        return len(self._writes)

    def _next(self) -> _Write:
        """The write whose slice runs next: a tiny one (an alert's point) first; else, once
        any write was passed over :data:`PATIENCE` times, the earliest (first come, first
        served until the backlog clears); else the one with least left."""
        writes = self._writes  # in arrival order
        for w in writes:
            if w.remaining <= FIRST_SLICE:
                return w
        if any(w.passed >= PATIENCE for w in writes):
            return writes[0]
        return min(writes, key=lambda w: (w.remaining, w.seq))

    async def write(
        self, router: Router, db: str, rp: str, body: bytes, *, precision: str, now_ns: int
    ) -> tuple[int, list[LineError]]:
        """Parse ``body`` and route its points; the points accepted and the bad lines.

        A body is cut between lines.  A string value may continue over a newline: a slice
        whose parse leaves a string open at its end (:attr:`LineError.open_string`) is cut
        before that line, and a slice starting with such a line is given enough lines to
        decide it as a whole body would (:func:`_slice_end`).  So a body with quotes is
        parsed in slices too (it was parsed whole, on the loop: a 6 MB body of log lines
        held every other request for 1.4 s).
        """
        clock = self.clock
        lines = body.split(b"\n")
        total = len(lines)
        errors: list[LineError] = []
        self._seq += 1
        me = _Write(total, self._seq)
        self._writes.append(me)
        try:
            accepted = 0
            done = 0
            size = FIRST_SLICE
            started = clock()
            while done < total:
                first = self._next()
                if first is not me:
                    me.wake.clear()
                    first.wake.set()  # it may be waiting (passed over too often): its turn
                    await me.wake.wait()
                    started = clock()
                    continue
                begun = clock()
                part, size = _parse_slice(lines, done, size, precision, now_ns)
                points = part.points
                errors.extend(shifted(e, done) for e in part.errors)
                router.write_points(db, rp, points)
                for other in self._writes:
                    if other is not me:
                        other.passed += 1
                accepted += len(points)
                done += size
                me.remaining = max(total - done, 0)
                now = clock()
                per_line = (now - begun) / size
                size = (
                    max(1, min(MAX_SLICE, int(self.budget / per_line)))
                    if per_line > 0
                    else MAX_SLICE
                )
                if done < total and now - started >= self.budget:
                    self.yields += 1
                    await asyncio.sleep(self.pause)  # deliveries, requests and threads run now
                    started = clock()
            return accepted, errors
        finally:
            self._writes.remove(me)
            if self._writes:
                self._next().wake.set()


def _parse_slice(
    lines: list[bytes], done: int, size: int, precision: str, now_ns: int
) -> tuple[lineprotocol.ParseResult, int]:
    """Lines ``done`` to ``done + size`` parsed, as they parse within the whole body; and how
    many lines that took (fewer when a string value was open at the slice's end, more when
    the slice's first line needs them to close its string)."""
    total = len(lines)
    end = min(done + size, total)
    while True:
        part = lineprotocol.parse(b"\n".join(lines[done:end]), precision=precision, now_ns=now_ns)
        if end >= total:
            return part, end - done
        open_at = next((e.line for e in part.errors if e.open_string), 0)
        if not open_at:
            return part, end - done
        if open_at > 1:
            # The lines before it ended their points inside the slice: parsed again without
            # it they give the same points and errors (a string that a later line broke
            # may read as open now, but its error is the same text), so that is final.
            end = done + open_at - 1
            part = lineprotocol.parse(
                b"\n".join(lines[done:end]), precision=precision, now_ns=now_ns
            )
            return part, end - done
        # the slice's first line: room for its string to close or reach the limit
        end = _slice_end(lines, done, end)


def _slice_end(lines: list[bytes], first: int, end: int) -> int:
    """After ``end``, the line where the text joined from line ``first`` on exceeds
    :data:`lineprotocol.MAX_JOINED_LINE` characters, where the parser stops looking for the
    end of a string (or the body's end)."""
    length = len(lines[first].decode("utf-8", "surrogateescape"))
    j = first + 1
    while j < len(lines) and length <= lineprotocol.MAX_JOINED_LINE:
        length += 1 + len(lines[j].decode("utf-8", "surrogateescape"))
        j += 1
    return max(j + 1, end + 1) if j < len(lines) else len(lines)


#: the application's :class:`WriteFeed`
WRITE_FEED_KEY: web.AppKey[WriteFeed] = web.AppKey("write_feed", WriteFeed)


def _plain_error(message: str, status: int) -> web.Response:
    # Kapacitor's write errors are plain text although the header says JSON; we say text.
    return web.Response(text=message + "\n", status=status, content_type="text/plain")


async def _read_body(request: web.Request) -> bytes:
    """The request body; aiohttp already undoes ``Content-Encoding: gzip`` while reading."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ValueError(f"body exceeds {MAX_WRITE_BODY} bytes") from None
    except RequestPayloadError:
        encoding = request.headers.get("Content-Encoding", "")
        raise ValueError(f"invalid {encoding or 'request'} body: cannot decode it") from None


async def write(request: web.Request) -> web.Response:
    """InfluxDB 1.x ``/write``: parse line protocol and hand the points to the router.

    Good lines of a body with bad lines are still accepted; the 400 names the bad ones.  The
    router counts the request, and whether it was refused in whole or part.
    """
    router = request.app[SERVICES_KEY].router
    response = await _write(request, router)
    router.count_write(request.query.get("db", ""), failed=response.status >= 400)
    return response


async def _write(request: web.Request, router: Router) -> web.Response:
    db = request.query.get("db", "")
    if not db:
        return _plain_error("database is required", 400)
    rp = request.query.get("rp", "")
    precision = request.query.get("precision", "ns") or "ns"
    if precision not in lineprotocol.PRECISIONS:
        return _plain_error(
            f'invalid precision "{precision}": use one of n, ns, u, ms, s, m, h', 400
        )
    try:
        body = await _read_body(request)
    except ValueError as exc:
        return _plain_error(str(exc), 400)
    if not body.strip():
        return web.Response(status=200)
    feed = request.app[WRITE_FEED_KEY]
    now_ns = time.time_ns()
    pool = request.app[SERVICES_KEY].pool
    if pool is None:
        accepted, errors = await feed.write(
            router, db, rp, body, precision=precision, now_ns=now_ns
        )
    else:
        accepted, errors = await _pooled(feed, pool, router, db, rp, body, precision, now_ns)
    if not errors:
        return web.Response(status=204)
    lines = [e.message for e in errors[:MAX_REPORTED_LINE_ERRORS]]
    if len(errors) > MAX_REPORTED_LINE_ERRORS:
        lines.append(f"… and {len(errors) - MAX_REPORTED_LINE_ERRORS} more bad lines")
    summary = (
        f"partial write: {accepted} points accepted, {len(errors)} lines rejected:\n"
        + "\n".join(lines)
    )
    return _plain_error(summary, 400)


async def _pooled(
    feed: WriteFeed,
    pool: EnginePool,
    router: Router,
    db: str,
    rp: str,
    body: bytes,
    precision: str,
    now_ns: int,
) -> tuple[int, list[LineError]]:
    """The body to the engine workers that read it and, if tasks of this process read it
    (or no worker does: the body is still parsed, counted and its bad lines named), through
    this process's router; acknowledged when all are through."""
    local = pool.reads_in_process(db, rp)
    forwarded = pool.write(db, rp, body, precision=precision, now_ns=now_ns)
    if local:
        remote, (accepted, errors) = await asyncio.gather(
            forwarded, feed.write(router, db, rp, body, precision=precision, now_ns=now_ns)
        )
        return accepted, errors
    remote = await forwarded
    if remote is None:
        return await feed.write(router, db, rp, body, precision=precision, now_ns=now_ns)
    accepted, errors, names = remote
    router.stats.received_names(db, rp or router.default_retention_policy, names)
    return accepted, errors


def install(app: web.Application) -> None:
    """Add the write routes to ``app``."""
    r = app.router
    r.add_post("/write", write)
    r.add_post(f"{API_BASE}/write", write)
    app[WRITE_FEED_KEY] = WriteFeed()
