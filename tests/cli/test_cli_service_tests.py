"""``leyden service-tests`` against a real server whose Discord workspaces point at a real
emulator (one) and at a closed port (the other): the table always, exit 3 when a test
failed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from leyden.config import load_config
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.notify import INTEGRATIONS
from leyden.notify.discord.config import DiscordConfig
from threaded_server import LiveServer


@pytest.fixture
def emulator() -> Iterator[DiscordEmulator]:
    """A Discord emulator on its own thread's loop (the server has its own)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emu = DiscordEmulator(rate_limit=50)
    asyncio.run_coroutine_threadsafe(emu.start(), loop).result(10)
    try:
        yield emu
    finally:
        asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def server(live_server: Callable[..., LiveServer], emulator: DiscordEmulator) -> LiveServer:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    config.integrations["discord"] = [
        DiscordConfig(
            enabled=True, default=True, workspace="good", url=emulator.webhook_url("1", "t1")
        ),
        DiscordConfig(enabled=True, workspace="bad", url="http://127.0.0.1:9/api/webhooks/2/t2"),
    ]
    return live_server(config)


def test_a_passing_test_exits_0(server: LiveServer, emulator: DiscordEmulator) -> None:
    code, out, err = server.cli("service-tests", "-workspace", "good", "discord")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Service             Success   Message",
        "discord[good]       true      ",
    ]


def test_a_failing_test_exits_3_with_its_message(server: LiveServer) -> None:
    code, out, err = server.cli(
        "service-tests", "-workspace", "good", "-workspace", "bad", "discord"
    )
    assert code == 3
    lines = out.splitlines()
    assert lines[1] == "discord[good]       true      "
    assert lines[2].startswith("discord[bad]        false     ") and len(lines[2]) > 30
    assert err == "Error: service test failed: discord[bad]\n"


def test_a_disabled_service_fails(server: LiveServer) -> None:
    code, out, err = server.cli("service-tests", "talk")
    assert code == 3
    assert out.splitlines()[1].startswith("talk                false     talk is not enabled")
    assert err == "Error: service test failed: talk\n"
