"""The write feed: a body goes to the router in slices, the event loop turning between them.

A fake clock decides when a slice is over budget, so these tests count loop turns and
points, never time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from leyden import lineprotocol
from leyden.engine.router import Router
from leyden.lineprotocol import WirePoint
from leyden.server.write import FIRST_SLICE, PATIENCE, WriteFeed


class Receiver:
    """A stream task's stand-in: every point it was routed, in order."""

    def __init__(self) -> None:
        self.points: list[WirePoint] = []

    def receive(self, db: str, rp: str, point: WirePoint) -> None:
        self.points.append(point)


def ticking_clock(step: float) -> Iterator[float]:
    now = 0.0
    while True:
        yield now
        now += step


def make_feed(step: float = 1.0, budget: float = 0.5) -> WriteFeed:
    ticks = ticking_clock(step)
    # a fake clock: no real pause either, so a yield is exactly one turn of the loop
    return WriteFeed(budget=budget, clock=lambda: next(ticks), pause=0.0)


def body(n: int, name: str = "cpu") -> bytes:
    return "\n".join(f"{name},host=h{i} value={i} {i}" for i in range(n)).encode()


def routed(feed: WriteFeed, *bodies: bytes) -> tuple[Router, Receiver, list[int]]:
    router = Router()
    receiver = Receiver()
    router.subscribe(receiver, [("db", "rp")], [None])
    turns: list[int] = []

    async def run() -> None:
        done = False

        async def ticker() -> None:
            while not done:
                turns.append(len(receiver.points))
                await asyncio.sleep(0)

        tick = asyncio.ensure_future(ticker())
        results = await asyncio.gather(
            *(feed.write(router, "db", "rp", b, precision="ns", now_ns=0) for b in bodies)
        )
        done = True
        await tick
        for b, (accepted, errors) in zip(bodies, results, strict=True):
            assert errors == []
            assert accepted == len(lineprotocol.parse(b).points)

    asyncio.run(run())
    return router, receiver, turns


def test_a_big_body_lets_the_loop_turn_between_slices() -> None:
    feed = make_feed()
    router, receiver, turns = routed(feed, body(2000))
    assert [p.tags["host"] for p in receiver.points] == [f"h{i}" for i in range(2000)]
    assert router.stats.points_received == 2000
    # the ticker ran while the body was half routed, many times over
    partial = [n for n in turns if 0 < n < 2000]
    assert len(partial) >= 10
    assert feed.yields >= len(partial)
    assert feed.active == 0


def test_a_cheap_body_goes_in_one_turn() -> None:
    feed = make_feed(step=0.0)  # nothing takes any time: never over budget
    _, receiver, turns = routed(feed, body(3000))
    assert len(receiver.points) == 3000
    assert feed.yields == 0
    assert all(n in (0, 3000) for n in turns)


def test_concurrent_bodies_go_one_at_a_time_each_in_order() -> None:
    feed = make_feed()
    _, receiver, turns = routed(feed, body(500, "a"), body(500, "b"))
    # the loop turned in between, yet the bodies were not interleaved: the first came first
    assert [p.name for p in receiver.points] == ["a"] * 500 + ["b"] * 500
    assert [p.time for p in receiver.points] == list(range(500)) * 2
    assert len({n for n in turns if 0 < n < 1000}) >= 10
    assert feed.active == 0


def test_a_short_write_passes_a_long_one_at_its_next_slice() -> None:
    feed = make_feed()
    _, receiver, _ = routed(feed, body(2000, "long"), body(1, "short"))
    names = [p.name for p in receiver.points]
    assert names.count("long") == 2000
    # the long body had its first slice, then gave the loop back, and the short write went
    assert 0 < names.index("short") <= FIRST_SLICE


def test_a_long_write_is_not_starved_by_a_stream_of_shorter_ones() -> None:
    feed = make_feed(step=1.0, budget=1.0)  # slices keep their size and each is a turn
    router = Router()
    receiver = Receiver()
    router.subscribe(receiver, [("db", "rp")], [None])
    medium = 3 * FIRST_SLICE

    async def run() -> list[str]:
        finished: list[str] = []

        async def write(name: str, n: int) -> None:
            await feed.write(router, "db", "rp", body(n, name), precision="ns", now_ns=0)
            finished.append(name)

        async def medium_writer(chain: str) -> None:
            for k in range(PATIENCE // 2):
                await write(f"{chain}{k}", medium)

        # two chains of medium bodies: one is always in progress, so shortest-first alone
        # would leave the long body waiting until both stop
        await asyncio.gather(
            write("long", 20 * FIRST_SLICE), medium_writer("a"), medium_writer("b")
        )
        return finished

    finished = asyncio.run(run())
    assert len(receiver.points) == 20 * FIRST_SLICE + PATIENCE * medium
    assert feed.active == 0
    # the long body finished while medium bodies were still coming
    assert finished.index("long") < len(finished) // 2


def test_bad_lines_are_numbered_as_in_the_whole_body() -> None:
    lines = body(300).decode().split("\n")
    lines[250] = "cpu,host=x value=12x 1"
    text = "\n".join(lines).encode()
    whole = lineprotocol.parse(text, now_ns=0)
    router = Router()

    async def run() -> tuple[int, list[lineprotocol.LineError]]:
        return await make_feed().write(router, "db", "rp", text, precision="ns", now_ns=0)

    accepted, errors = asyncio.run(run())
    assert accepted == len(whole.points) == 299
    assert errors == whole.errors
    assert errors[0].message.startswith("line 251: ")


def test_a_string_may_span_lines_so_a_quoted_body_is_parsed_whole() -> None:
    text = b'log,host=a msg="one\ntwo" 1\n' + body(400)
    feed = make_feed()
    _, receiver, _ = routed(feed, text)
    assert receiver.points[0].fields == {"msg": "one\ntwo"}
    assert len(receiver.points) == 401
    assert feed.yields > 0  # still routed in slices


class SlowReceiver(Receiver):
    """A task that costs real CPU per point, holding the GIL as routing does."""

    def receive(self, db: str, rp: str, point: WirePoint) -> None:
        end = time.perf_counter() + 0.00002
        while time.perf_counter() < end:
            pass
        super().receive(db, rp, point)


def test_a_worker_thread_gets_the_gil_while_a_body_is_routed() -> None:
    # aiohttp resolves host names in the loop's executor: a hop there must not wait for the
    # body to be through (with sleep(0) between slices it did: the GIL never came free)
    n = 40_000
    router = Router()
    receiver = SlowReceiver()
    router.subscribe(receiver, [("db", "rp")], [None])
    feed = WriteFeed()
    seen: list[int] = []

    async def run() -> None:
        write = asyncio.ensure_future(
            feed.write(router, "db", "rp", body(n), precision="ns", now_ns=0)
        )
        while not receiver.points:
            await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.to_thread(lambda: None)
            seen.append(len(receiver.points))
        await write

    asyncio.run(run())
    assert len(receiver.points) == n
    assert seen[-1] < n // 2  # three hops while under half the body was routed
