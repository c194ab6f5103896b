"""Start-up failures of ``serve`` are one clear error, never a traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from leyden.alerting.topics import HandlerLabel
from leyden.config import load_config
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify._http import DeliveryResult
from leyden.runtime import Runtime
from leyden.server.app import _close_runtime
from leyden.server.serve import ServeError, serve, split_bind_address


def test_split_bind_address() -> None:
    assert split_bind_address(":9092") == (None, 9092)
    assert split_bind_address("127.0.0.1:9092") == ("127.0.0.1", 9092)
    assert split_bind_address("[::1]:9092") == ("::1", 9092)


async def test_unusable_tls_file_is_a_serve_error(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    conf = tmp_path / "k.conf"
    conf.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[[discord]]\nenabled = true\nurl = "https://discord.com/api/webhooks/1/secret-token"\n'
        f'ssl-ca = "{ca}"\n'
    )
    with pytest.raises(ServeError) as info:
        await serve(load_config(str(conf), {}, integrations=INTEGRATIONS.sections()))
    assert "ssl-ca" in str(info.value)
    assert "secret-token" not in str(info.value)


async def test_port_in_use_is_a_serve_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = load_config(
            None,
            {
                "KAPACITOR_HTTP_BIND_ADDRESS": f"127.0.0.1:{port}",
                "KAPACITOR_DATA_DIR": str(tmp_path),
            },
            integrations=INTEGRATIONS.sections(),
        )
        with pytest.raises(ServeError) as info:
            await serve(config)
    assert f"cannot listen on 127.0.0.1:{port}" in str(info.value)


async def test_serve_stops_when_asked(tmp_path: Path) -> None:
    config = load_config(
        None,
        {"KAPACITOR_HTTP_BIND_ADDRESS": "127.0.0.1:0", "KAPACITOR_DATA_DIR": str(tmp_path)},
        integrations=INTEGRATIONS.sections(),
    )
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(config, ready=ready, stop=stop))
    await asyncio.wait_for(ready.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_shutdown_gives_up_on_queued_deliveries_after_the_timeout(
    make_runtime: Callable[..., Runtime],
) -> None:
    class Stuck:
        """A handler whose one request never finishes (Discord answers 429 for hours)."""

        kind = "post"
        destination = "post:http://stuck/…"

        async def send(self, events: Sequence[Event]) -> DeliveryResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def handle(self, event: Event) -> None:
            raise AssertionError("unreachable")

        async def close(self) -> None:
            return None

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("leyden.http")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        runtime = make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()))
        topics = runtime.alerts.topics
        topics.register_handler("t", Stuck(), HandlerLabel("post", topic="t", id="h"))
        for alert in "abcd":
            topics.collect(_event(alert))
        await asyncio.wait_for(_close_runtime(runtime, 0.01), 5)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [record] = records
    assert record.getMessage() == (
        "shutdown: alert deliveries left in the outbox; the next start sends them"
    )
    # one cut off in flight, three never tried: all four stay in the outbox
    assert record.fields["undelivered"] == 4  # type: ignore[attr-defined]


def _event(alert: str) -> Event:
    state = EventState(alert, "m", "", Time(0), Duration(0), Level.CRITICAL)
    return Event("t", state, EventData(name="cpu"))
