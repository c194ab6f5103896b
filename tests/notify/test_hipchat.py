"""HipChat is gone: ``[hipchat]``, ``.hipChat()`` and ``kind: hipchat`` are accepted, events are
dead-lettered with the reason (logged once), the other handlers of a script still run."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from leyden.clock import SimulatedClock
from leyden.config import ConfigError, load_config
from leyden.delivery.outbox import DeliveryState
from leyden.lineprotocol import parse
from leyden.model.records import HandlerRecord
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.hipchat import GONE, HipChatConfig, HipChatService, from_options
from leyden.runtime import Runtime, build_runtime
from leyden.server.app import create_app
from leyden.store import Store
from leyden.tasks.manager import check
from leyden.tasks.runner import build
from webhook_capture import webhook_capture

TOKEN = "hIpChAtToKeN0123456789"

SCRIPT = """
stream
    |from()
        .measurement('alert')
    |alert()
        .id('{{ .Name }}/{{ index .Tags "host" }}')
        .crit(lambda: "value" > 0)
        .hipChat()
            .room('ops')
            .token('%s')
        .post('%s/hook')
"""


def _conf(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text)
    return path


async def test_a_script_with_hipchat_runs_its_other_handlers_and_dead_letters_hipchat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = _conf(
        tmp_path,
        f'[hipchat]\nenabled = true\nurl = "https://x.hipchat.com/v2/room"\ntoken = "{TOKEN}"\n',
    )
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    assert any("HipChat no longer exists" in note for note in config.notes)
    async with webhook_capture() as server:
        runtime = build_runtime(
            config, store=Store(":memory:"), clock=SimulatedClock(0), simulated=True
        )
        try:
            await runtime.start()
            runtime.topic_handlers.register(
                HandlerRecord("main:gone:alert2", "h", "hipchat", {"room": "r", "token": TOKEN})
            )
            pipeline = build(SCRIPT % (TOKEN, server.url), filename="gone")
            check(pipeline, "gone")
            task = runtime.runner.start("gone", pipeline, [("mydb", "myrp")])
            lines = b"alert,host=a value=1 1\nalert,host=b value=1 2\n"
            parsed = parse(lines, precision="s")
            runtime.router.write_points("mydb", "myrp", parsed.points)
            await runtime.runner.stop(task)
            await runtime.alerts.drain()
            rows = runtime.alerts.dispatcher.outbox.find()
        finally:
            await runtime.close()
    assert len(server.requests) == 2  # .post() ran for both alerts
    dead = [r for r in rows if r.state == DeliveryState.DEAD]
    # the script's .hipChat() and the topic's kind: hipchat, for both alerts
    assert len(dead) == 4 and all(r.last_error == GONE for r in dead)
    said = [r for r in caplog.records if r.getMessage() == "hipchat alert not sent"]
    assert len(said) == 1  # once, not per event
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for record in caplog.records:
        assert TOKEN not in record.getMessage() + repr(getattr(record, "fields", ""))


async def test_the_service_test_fails_with_the_reason() -> None:
    svc = HipChatService([HipChatConfig(enabled=True, url="https://x", room="r")])
    assert svc.default_test_options() == {
        "room": "r",
        "message": "test hipchat message",
        "level": "CRITICAL",
    }
    assert await svc.test({}) == (False, GONE)


def test_handler_files_keep_kapacitors_options() -> None:
    ctx = HandlerContext(services={"hipchat": HipChatService([])})
    handler = from_options({"room": "1234567", "token": TOKEN}, ctx)
    assert TOKEN not in handler.destination
    with pytest.raises(HandlerConfigError, match="invalid hipchat handler option"):
        from_options({"channel": "x"}, ctx)
    integration = INTEGRATIONS.get("hipchat")
    assert integration is not None and integration.tick == "hipChat"
    assert integration.global_handler is None  # a global HipChat handler could only fail


def test_section_keeps_kapacitors_rule(tmp_path: Path) -> None:
    path = _conf(tmp_path, "[hipchat]\nenabled = true\n")
    with pytest.raises(ConfigError, match=r"\[hipchat\]: url: must specify url"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())


ClientFactory = Callable[..., Awaitable[TestClient]]


async def test_config_api_as_kapacitor(
    aiohttp_client: ClientFactory, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    path = _conf(tmp_path, '[hipchat]\nurl = "http://hipchat.example.com"\n')
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config)))
    options = {
        "enabled": False,
        "global": False,
        "room": "",
        "state-changes-only": False,
        "token": False,
        "url": "http://hipchat.example.com",
    }
    got = await (await client.get("/kapacitor/v1/config/hipchat/")).json()
    assert got["options"] == options and got["redacted"] == ["token"]
    update = {"set": {"token": TOKEN, "room": "kapacitor"}}
    assert (await client.post("/kapacitor/v1/config/hipchat/", json=update)).status == 204
    answer = await client.get("/kapacitor/v1/config/hipchat")
    assert TOKEN not in await answer.text()
    [element] = (await answer.json())["elements"]
    assert element["options"] == {**options, "room": "kapacitor", "token": True}
    answer = await client.post("/kapacitor/v1/service-tests/hipchat", json={})
    assert await answer.json() == {"success": False, "message": GONE}
