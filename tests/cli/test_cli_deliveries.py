"""The delivery verbs of the CLI against a real server: ``list deliveries``, ``show-delivery``,
``retry-delivery`` and ``delete deliveries``, with their errors and exit codes.

Rows are put in the server's outbox on its own thread, dead or due in an hour, so the
dispatcher leaves them alone while the CLI looks, unless a verb makes them due."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from leyden.config import load_config
from leyden.delivery.outbox import NewDelivery, topic_handler_key
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify._http import DeliveryResult
from threaded_server import LiveServer

HOOK = "https://discord.com/api/webhooks/123/…"


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(load_config(None, {}, integrations=INTEGRATIONS.sections()))


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """show-delivery prints dates in local time: make local time UTC for the test."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def add(server: LiveServer, alert_id: str, *, dead: str = "", handler: str = "h1") -> int:
    """One row for topic ``cpu``'s handler ``handler``: dead with ``dead`` as its reason, or
    waiting an hour after a 503."""
    state = EventState(
        id=alert_id,
        message=f"{alert_id} is high",
        details="",
        time=Time(1_700_000_000 * 1_000_000_000),
        duration=Duration(0),
        level=Level.CRITICAL,
    )
    event = Event("cpu", state, EventData(name="cpu", task_name="cpu_alert"), Level.OK)

    async def work() -> int:
        outbox = server.services.outbox
        (row_id,) = outbox.add(
            [
                NewDelivery.of(
                    event,
                    handler=topic_handler_key("cpu", handler),
                    kind="discord",
                    destination=HOOK,
                )
            ]
        )
        outbox.claim(1, destination=HOOK)
        if dead:
            outbox.mark_dead(row_id, dead)
        else:
            outbox.retry_at(row_id, time.time() + 3600, "HTTP 503 Service Unavailable")
        return row_id

    return server.call(work)


def test_list_deliveries(server: LiveServer) -> None:
    a = add(server, "cpu:host=a")
    b = add(server, "cpu:host=b", dead="HTTP 400 Bad Request", handler="ops")
    code, out, err = server.cli("list", "deliveries")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID", "State", "Attempts", "Level", "Handler", "Alert", "ID", "Destination", "Last", "Error",
    ]  # fmt: skip
    assert lines[1].split()[:7] == [
        str(a), "queued", "1", "CRITICAL", "topic:cpu:h1", "cpu:host=a", HOOK,
    ]  # fmt: skip
    assert lines[1].endswith("HTTP 503 Service Unavailable")
    assert lines[2].split()[:2] == [str(b), "dead"]
    assert lines[2].endswith("HTTP 400 Bad Request")
    # columns line up: every cell of a column starts where its title does
    start = lines[0].index("Handler")
    assert lines[1][start:].startswith("topic:cpu:h1")
    assert lines[2][start:].startswith("topic:cpu:ops")


def test_list_deliveries_patterns(server: LiveServer) -> None:
    a = add(server, "cpu:host=a", handler="ops")
    b = add(server, "mem:host=b", handler="dev")
    add(server, "disk:host=c", handler="dev")
    code, out, _ = server.cli("list", "deliveries", "topic:cpu:ops", "mem:*", "*:ops")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == [str(a), str(b)]
    code, out, _ = server.cli("list", "deliveries", "nothing*")
    assert (code, out.splitlines()[1:]) == (0, [])


def test_show_delivery(server: LiveServer, utc: None) -> None:
    row = add(server, "cpu:host=a", dead="HTTP 400 Bad Request")
    code, out, err = server.cli("show-delivery", str(row))
    assert (code, err) == (0, "")
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["ID"] == str(row)
    assert lines["State"] == "dead"
    assert lines["Kind"] == "discord"
    assert lines["Handler"] == "topic:cpu:h1"
    assert lines["Destination"] == HOOK
    assert lines["Alert ID"] == "cpu:host=a"
    assert lines["Level"] == "CRITICAL (previous: OK)"
    assert lines["Message"] == "cpu:host=a is high"
    assert lines["Attempts"] == "1"
    assert lines["Created"].endswith(" UTC")
    assert lines["Last error"] == "HTTP 400 Bad Request"
    assert '"id": "cpu:host=a"' in lines["Event"]


def test_unknown_and_bad_ids(server: LiveServer) -> None:
    for argv in (
        ("show-delivery", "4242"),
        ("retry-delivery", "4242"),
        ("delete", "deliveries", "4242"),
    ):
        code, out, err = server.cli(*argv)
        assert (code, out, err) == (3, "", "Error: no delivery with ID 4242\n"), argv
    for argv in (
        ("show-delivery", "abc"),
        ("retry-delivery", "abc"),
        ("delete", "deliveries", "abc"),
    ):
        code, _, err = server.cli(*argv)
        assert code == 2, argv
        assert 'Error: "abc" is not a delivery ID' in err
    for argv, usage in (
        (("show-delivery",), "Must specify one delivery ID"),
        (("retry-delivery",), "Must pass at least one delivery ID, or -all"),
        (("retry-delivery", "-all", "3"), "-all retries every dead delivery"),
        (("delete", "deliveries"), "Must pass at least one ID"),
    ):
        code, _, err = server.cli(*argv)
        assert code == 2, argv
        assert usage in err


def test_retry_delivery(server: LiveServer) -> None:
    waiting = add(server, "cpu:host=a")
    code, out, err = server.cli("retry-delivery", str(waiting))
    assert (code, out, err) == (0, "", "")

    async def due() -> float | None:
        row = server.services.outbox.get(waiting)
        return None if row is None else row.next_attempt

    when = server.call(due)
    assert when is None or when <= time.time()


def test_retry_all_dead(server: LiveServer) -> None:
    add(server, "cpu:host=a", dead="HTTP 400")
    add(server, "cpu:host=b", dead="HTTP 400")
    code, out, err = server.cli("retry-delivery", "-all")
    assert (code, out, err) == (0, "2 dead deliveries queued again\n", "")
    # (their handler does not exist, so the dispatcher dead-letters them again, saying so)


def test_held_deliveries_and_retry_all_of_a_broken_webhook(server: LiveServer) -> None:
    """A row behind an open breaker (its webhook answered 404) lists as held, and -all says
    that the broken webhook is tried again."""
    add(server, "cpu:host=a")
    add(server, "cpu:host=b", dead="HTTP 400")

    async def trip() -> None:
        server.services.alerts.dispatcher.breakers.open(
            HOOK,
            kind="discord",
            fingerprint="sha256:0",
            result=DeliveryResult("permanent", 404, "Unknown Webhook (10015)", code=10015),
            now=time.time(),
        )

    server.call(trip)
    code, out, _ = server.cli("list", "deliveries")
    rows = [line.split(maxsplit=2)[1] for line in out.splitlines()[1:]]
    assert rows == ["held", "dead"]
    assert "held: webhook broken (HTTP 404: Unknown Webhook (10015))" in out.splitlines()[1]
    code, out, err = server.cli("retry-delivery", "-all")
    assert (code, err) == (0, "")
    assert out == (
        "1 dead delivery queued again\n1 broken webhook tried again (their held deliveries too)\n"
    )


def test_delete_deliveries(server: LiveServer) -> None:
    a = add(server, "cpu:host=a", dead="HTTP 400")
    b = add(server, "cpu:host=b", dead="HTTP 400")
    c = add(server, "cpu:host=c", dead="HTTP 400")
    code, out, err = server.cli("delete", "deliveries", str(a), str(c))
    assert (code, out, err) == (0, "", "")
    code, out, _ = server.cli("list", "deliveries")
    assert [line.split()[0] for line in out.splitlines()[1:]] == [str(b)]
