"""The write path bounds the bodies it holds (issue 16): past ``WriteFeed.max_held`` bytes of
writes in progress, a write is answered InfluxDB's ``503 request throttled, queue full``,
before its body is read when ``Content-Length`` is known, else once read; one write alone
always goes through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp.test_utils import TestClient

from leyden.server.write import MAX_HELD_WRITE_BYTES, MAX_WRITE_BODY, WRITE_FEED_KEY

#: 200 bytes of line protocol
LINES = b"cpu value=1 1\n" * 14 + b"cpu value=12 1\n"
OpenClient = Callable[[str], Awaitable[TestClient]]


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def test_a_write_past_the_bound_is_throttled(open_client: OpenClient) -> None:
    client = await open_client("")
    feed = client.app[WRITE_FEED_KEY]
    assert feed.max_held == MAX_HELD_WRITE_BYTES == 8 * MAX_WRITE_BODY
    feed.max_held = 1000
    assert feed.hold(900)  # another write in progress holds 900 bytes

    resp = await client.post("/write?db=db", data=LINES)  # Content-Length: refused unread
    assert (resp.status, await resp.text()) == (503, "request throttled, queue full\n")
    resp = await client.post("/write?db=db", data=_chunks(LINES))  # chunked: refused once read
    assert (resp.status, await resp.text()) == (503, "request throttled, queue full\n")
    assert (feed.throttled, feed.held) == (2, 900)

    feed.release(900)
    resp = await client.post("/write?db=db", data=LINES)
    assert resp.status == 204
    # one write alone goes through whatever its size, chunked or not
    resp = await client.post("/write?db=db", data=LINES * 20)
    assert resp.status == 204
    resp = await client.post("/write?db=db", data=_chunks(LINES * 20))
    assert resp.status == 204
    assert feed.held == 0


async def test_a_refused_or_bad_write_holds_nothing_afterwards(open_client: OpenClient) -> None:
    client = await open_client("")
    feed = client.app[WRITE_FEED_KEY]
    resp = await client.post("/write?db=db", data=b"cpu value=\n")
    assert resp.status == 400
    resp = await client.post("/write", data=LINES)  # no db
    assert resp.status == 400
    assert feed.held == 0
