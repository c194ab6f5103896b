"""Each handler against a real loopback peer: HTTP server, TCP listener, file, program, Discord.

The alert-data JSON comes from a stub serializer so these tests do not depend on the
encoder's details (tested on its own); handlers must send it as Go's encoder would write it.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from leyden.alerting import handlers
from leyden.config import BasicAuth, Config, HTTPPostConfig
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS, post, tcp
from leyden.notify.base import HandlerConfigError, HandlerContext, HandlerError
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordService
from leyden.notify.log import LogHandler


def make_event(level: Level = Level.CRITICAL, id: str = "cpu/serverA") -> Event:
    return Event(
        topic="main:task:alert2",
        state=EventState(
            id=id,
            message=f"{id} is {level}",
            details="d",
            time=Time(31_536_010_000_000_000),
            duration=Duration(0),
            level=level,
        ),
        data=EventData(name="cpu", task_name="task", tags={"host": "serverA"}),
        previous_level=Level.OK,
    )


def stub_json(event: Event) -> str:
    return json.dumps({"id": event.state.id, "level": str(event.state.level)})


def context(config: Config | None = None, discord: DiscordService | None = None) -> HandlerContext:
    services = {"discord": discord} if discord is not None else {}
    return HandlerContext(config=config, services=services, serializer=stub_json)


# --- HTTP capture server -----------------------------------------------------------------


class Capture:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply = ""
        self.hang: asyncio.Event | None = None
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": await request.text(),
            }
        )
        if self.hang is not None:
            await self.hang.wait()
        return web.Response(status=self.status, text=self.reply)


@pytest.fixture
async def http_server() -> AsyncIterator[Callable[..., Awaitable[Capture]]]:
    runners: list[web.AppRunner] = []
    captures: list[Capture] = []

    async def start(ssl_context: ssl.SSLContext | None = None) -> Capture:
        capture = Capture()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", capture.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        host, port = runner.addresses[0][:2]
        capture.base = f"{'https' if ssl_context else 'http'}://{host}:{port}"
        runners.append(runner)
        captures.append(capture)
        return capture

    yield start
    for capture in captures:
        if capture.hang is not None:
            capture.hang.set()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def server(http_server: Callable[..., Awaitable[Capture]]) -> Capture:
    return await http_server()


async def run(handler: Any, *events: Event) -> None:
    try:
        for ev in events:
            await handler.handle(ev)
    finally:
        await handler.close()


# --- post ----------------------------------------------------------------------------------


async def test_post_sends_alert_json(server: Capture) -> None:
    handler = post.from_tick({"url": server.base + "/alerts?x=1"}, context())
    await run(handler, make_event())
    [request] = server.requests
    assert request["path"] == "/alerts?x=1"
    assert request["headers"]["Content-Type"] == "application/json"
    # Go's json.Encoder ends the document with a newline.
    assert request["body"] == stub_json(make_event()) + "\n"


async def test_post_url_is_a_template_over_alert_data(server: Capture) -> None:
    url = server.base + "/{{ .Level }}/{{ .PreviousLevel }}/{{ .ID }}"
    await run(post.from_tick({"url": url}, context()), make_event(Level.WARNING, id="x"))
    assert server.requests[0]["path"] == "/WARNING/OK/x"


async def test_post_headers_and_options(server: Capture) -> None:
    handler = post.from_tick(
        {
            "url": server.base,
            "headers": {"X-Team": "ops"},
            "captureResponse": True,
            "timeout": Duration(5_000_000_000),
        },
        context(),
    )
    await run(handler, make_event())
    assert server.requests[0]["headers"]["X-Team"] == "ops"


async def test_post_endpoint_from_httppost_config(server: Capture) -> None:
    config = Config(
        httppost=[
            HTTPPostConfig(
                endpoint="test",
                url=server.base + "/ep/{{ .ID }}",
                headers={"Authorization": "works", "X-Both": "endpoint"},
                basic_auth=BasicAuth("user", "pw"),
            )
        ]
    )
    handler = post.from_tick(
        {"url": "http://127.0.0.1:9/ignored", "endpoint": "test", "headers": {"X-Both": "h"}},
        context(config),
    )
    await run(handler, make_event(id="a"))
    [request] = server.requests
    assert request["path"] == "/ep/a"
    # Basic auth replaces the endpoint's Authorization header, as Go's SetBasicAuth does last.
    assert request["headers"]["Authorization"].startswith("Basic ")
    assert request["headers"]["X-Both"] == "h"  # handler headers win


async def test_post_endpoint_alert_template(server: Capture) -> None:
    config = Config(
        httppost=[
            HTTPPostConfig(
                endpoint="tmpl",
                url=server.base,
                alert_template="{{ .Message }}|{{ jsonCompact .Level }}|{{ json . }}",
            )
        ]
    )
    await run(post.from_tick({"endpoint": "tmpl"}, context(config)), make_event())
    [request] = server.requests
    assert "application/json" not in request["headers"].get("Content-Type", "")
    message, level, whole = request["body"].split("|")
    assert message == "cpu/serverA is CRITICAL"
    assert level == '"CRITICAL"'
    assert json.loads(whole) == json.loads(stub_json(make_event()))


async def test_post_unknown_endpoint_without_url_is_a_clear_error() -> None:
    with pytest.raises(HandlerConfigError, match=r"url must be specified.*'nope'"):
        post.from_tick({"endpoint": "nope"}, context(Config()))


async def test_post_unknown_endpoint_with_url_uses_the_url(server: Capture) -> None:
    await run(post.from_tick({"endpoint": "nope", "url": server.base}, context()), make_event())
    assert len(server.requests) == 1


async def test_post_bad_url_template_is_a_config_error() -> None:
    with pytest.raises(HandlerConfigError, match="invalid url template"):
        post.from_tick({"url": "http://x/{{ .ID "}, context())


@pytest.mark.parametrize(
    ("capture", "reason"),
    [(True, "the server says no"), (False, "use .captureResponse()")],
)
async def test_post_non_2xx_is_an_error_without_the_url(
    server: Capture, capture: bool, reason: str
) -> None:
    server.status, server.reply = 500, "the server says no"
    url = server.base + "/hooks/SeCrEt-ToKeN-1234"
    handler = post.from_tick({"url": url, "captureResponse": capture}, context())
    with pytest.raises(HandlerError) as info:
        await run(handler, make_event())
    text = str(info.value)
    assert "500" in text and reason in text
    assert "SeCrEt" not in text


async def test_post_any_2xx_is_success(server: Capture) -> None:
    server.status = 204
    await run(post.from_tick({"url": server.base}, context()), make_event())


async def test_post_connection_failure_is_redacted() -> None:
    handler = post.from_tick({"url": "http://127.0.0.1:1/hooks/SeCrEt-ToKeN-1234"}, context())
    with pytest.raises(HandlerError, match="failed to POST") as info:
        await run(handler, make_event())
    assert "SeCrEt" not in str(info.value)


async def test_post_timeout(server: Capture) -> None:
    server.hang = asyncio.Event()
    handler = post.from_tick({"url": server.base, "timeout": Duration(20_000_000)}, context())
    with pytest.raises(HandlerError, match="timed out"):
        await run(handler, make_event())


async def test_post_skip_ssl_verification(
    http_server: Callable[..., Awaitable[Capture]], tmp_path: Path
) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    server = await http_server(server_ctx)
    with pytest.raises(HandlerError):
        await run(post.from_tick({"url": server.base}, context()), make_event())
    handler = post.from_tick({"url": server.base, "skipSSLVerification": True}, context())
    await run(handler, make_event())
    assert len(server.requests) == 1


def test_post_handler_file_options_are_strict() -> None:
    with pytest.raises(HandlerConfigError, match=r"invalid post handler option.*captureResponse"):
        post.from_options({"url": "http://x", "captureResponse": True}, context())
    with pytest.raises(HandlerConfigError, match="'timeout' must be"):
        post.from_options({"url": "http://x", "timeout": "10s"}, context())
    handler = post.from_options(
        {"url": "http://x", "capture-response": True, "timeout": 1e9}, context()
    )
    assert isinstance(handler, post.PostHandler)


# --- tcp -----------------------------------------------------------------------------------


async def test_tcp_writes_json_and_an_extra_newline() -> None:
    received: list[bytes] = []
    done = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())
        writer.close()
        if len(received) == 2:
            done.set()

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        handler = tcp.from_tick({"address": f"127.0.0.1:{port}"}, context())
        await run(handler, make_event(), make_event(Level.OK))
        await done.wait()
    finally:
        listener.close()
        await listener.wait_closed()
    assert received[0] == (stub_json(make_event()) + "\n\n").encode()
    assert json.loads(received[1])["level"] == "OK"


async def test_tcp_connection_refused_is_an_error() -> None:
    handler = tcp.from_tick({"address": "127.0.0.1:1"}, context())
    with pytest.raises(HandlerError, match=r"failed to connect to 127.0.0.1:1"):
        await run(handler, make_event())


@pytest.mark.parametrize("address", ["", "localhost", "host:port", "h:0", "h:70000"])
def test_tcp_bad_address(address: str) -> None:
    with pytest.raises(HandlerConfigError, match="must be host:port"):
        tcp.from_tick({"address": address}, context())


def test_tcp_ipv6_address() -> None:
    assert tcp.split_address("[::1]:9000") == ("::1", 9000)


# --- log -----------------------------------------------------------------------------------


async def test_log_appends_json_lines_with_the_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        default = handlers.from_tick("log", {"path": str(tmp_path / "a.log")}, context())
        mode = handlers.from_tick(
            "log", {"path": str(tmp_path / "b.log"), "mode": 0o644}, context()
        )
        await run(default, make_event(), make_event(Level.OK))
        await run(mode, make_event())
    finally:
        os.umask(old)
    lines = (tmp_path / "a.log").read_text().splitlines()
    assert [json.loads(x)["level"] for x in lines] == ["CRITICAL", "OK"]
    assert stat.S_IMODE((tmp_path / "a.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "b.log").stat().st_mode) == 0o644


def test_log_path_must_be_absolute_and_mode_writable(tmp_path: Path) -> None:
    with pytest.raises(HandlerConfigError, match=r"log path must be absolute: x.log is not"):
        LogHandler(context(), "x.log")
    with pytest.raises(HandlerConfigError, match="must be user writable"):
        LogHandler(context(), str(tmp_path / "x.log"), 0o444)


async def test_log_unwritable_directory_is_an_error(tmp_path: Path) -> None:
    handler = LogHandler(context(), str(tmp_path / "missing" / "x.log"))
    with pytest.raises(HandlerError, match="failed to write alert log"):
        await run(handler, make_event())


# --- exec ----------------------------------------------------------------------------------


async def test_exec_pipes_json_to_the_program(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    script = "import sys; open(sys.argv[1], 'w').write(sys.stdin.read())"
    handler = handlers.from_tick(
        "exec", {"command": [sys.executable, "-c", script, str(out)]}, context()
    )
    await run(handler, make_event())
    assert out.read_text() == stub_json(make_event()) + "\n"


async def test_exec_failure_reports_status_and_output() -> None:
    script = "import sys; print('bad input'); sys.exit(3)"
    handler = handlers.from_tick("exec", {"command": [sys.executable, "-c", script]}, context())
    with pytest.raises(HandlerError, match="exit status 3; output: bad input"):
        await run(handler, make_event())


async def test_exec_missing_program() -> None:
    handler = handlers.from_tick("exec", {"command": ["/nonexistent/prog"]}, context())
    with pytest.raises(HandlerError, match="failed to start"):
        await run(handler, make_event())


def test_exec_handler_file_options() -> None:
    with pytest.raises(HandlerConfigError, match="list of strings"):
        handlers.from_options("exec", {"prog": "/bin/true", "args": [1]}, context())
    with pytest.raises(HandlerConfigError, match="needs a program"):
        handlers.from_options("exec", {"args": []}, context())


# --- discord -------------------------------------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator(rate_limit=50)
    await emu.start()
    yield emu
    await emu.stop()


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def discord(emulator: DiscordEmulator) -> AsyncIterator[DiscordService]:
    service = DiscordService(
        [
            DiscordConfig(enabled=True, default=True, url=emulator.webhook_url("1", "tok-one")),
            DiscordConfig(
                enabled=True,
                workspace="private",
                username="comp testy",
                timestamp=False,
                url=emulator.webhook_url("2", "tok-two"),
            ),
        ],
        sender=DiscordSender(sleep=no_sleep, trust_env=False),
    )
    yield service
    await service.close()


async def test_discord_options_reach_the_payload(
    discord: DiscordService, emulator: DiscordEmulator
) -> None:
    props = {
        "username": "testy",
        "avatarUrl": "http://127.0.0.1/avatar.png",
        "embedTitle": '{{ .Level }} on {{ index .Tags "host" }}',
        "timestamp": True,
    }
    await run(handlers.from_tick("discord", props, context(discord=discord)), make_event())
    await run(
        handlers.from_tick("discord", {"workspace": "private"}, context(discord=discord)),
        make_event(),
    )
    by_hook = {m.webhook_id: m.payload for m in emulator.messages}
    assert by_hook["1"]["username"] == "testy"
    assert by_hook["1"]["avatar_url"] == "http://127.0.0.1/avatar.png"
    assert by_hook["1"]["embeds"][0]["title"] == "CRITICAL on serverA"
    assert by_hook["1"]["embeds"][0]["timestamp"] == "1971-01-01T00:00:10Z"
    assert by_hook["2"]["username"] == "comp testy"  # the workspace's fallback
    assert "timestamp" not in by_hook["2"]["embeds"][0]


async def test_discord_handler_file_options(
    discord: DiscordService, emulator: DiscordEmulator
) -> None:
    handler = handlers.from_options(
        "discord",
        {"workspace": "private", "avatar-url": "http://127.0.0.1/a.png"},
        context(discord=discord),
    )
    await run(handler, make_event())
    assert emulator.messages[0].payload["avatar_url"] == "http://127.0.0.1/a.png"
    with pytest.raises(HandlerConfigError, match="embedTitle"):
        handlers.from_options("discord", {"embedTitle": "x"}, context(discord=discord))


async def test_discord_failure_is_a_handler_error(discord: DiscordService) -> None:
    handler = handlers.from_tick("discord", {"workspace": "nope"}, context(discord=discord))
    with pytest.raises(HandlerError, match='workspace "nope"'):
        await run(handler, make_event())


def test_discord_needs_a_service() -> None:
    with pytest.raises(HandlerConfigError, match="no Discord service"):
        handlers.from_tick("discord", {}, context())


# --- registry ------------------------------------------------------------------------------


def test_registry_kinds() -> None:
    assert INTEGRATIONS.tick_kinds()[:5] == ["post", "tcp", "log", "exec", "discord"]
    with pytest.raises(HandlerConfigError, match=r"\.nosuch\(\) is not supported"):
        handlers.from_tick("nosuch", {}, context())
    with pytest.raises(HandlerConfigError, match='unsupported action kind "x"'):
        handlers.from_options("x", {}, context())
