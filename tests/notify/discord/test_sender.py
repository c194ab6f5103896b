from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from leyden import __version__
from leyden.notify._http import DeliveryResult, TLSConfigError, backoff, build_ssl_context
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.sender import DiscordSender, explain_response
from leyden.notify.discord.webhook import (
    Kind,
    classify_url,
    normalize_webhook_url,
    parse_webhook_url,
    redact_url,
)

TOKEN = "SeCrEtToKeN-abc_123"  # the token in the conftest server's default webhook path
ServerFactory = Callable[..., Awaitable[Any]]
WebhookServer = Any  # conftest's scripted server
FakeTime = Any  # conftest's fake clock
PAYLOAD = {"embeds": [{"color": 1, "description": "cpu is CRITICAL"}]}

# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://discord.com/api/webhooks/123/tok-EN_1",
            "https://discord.com/api/v10/webhooks/123/tok-EN_1",
        ),
        (
            "https://discordapp.com/api/webhooks/123/tok",
            "https://discordapp.com/api/v10/webhooks/123/tok",
        ),
        (
            "https://ptb.discord.com/api/webhooks/123/tok",
            "https://ptb.discord.com/api/v10/webhooks/123/tok",
        ),
        (
            "https://canary.discordapp.com/api/webhooks/123/tok",
            "https://canary.discordapp.com/api/v10/webhooks/123/tok",
        ),
        (
            "https://discord.com/api/v6/webhooks/123/tok",
            "https://discord.com/api/v10/webhooks/123/tok",
        ),
        (
            "https://discord.com/api/v9/webhooks/123/tok",
            "https://discord.com/api/v10/webhooks/123/tok",
        ),
        (
            "https://discord.com/api/v10/webhooks/123/tok",
            "https://discord.com/api/v10/webhooks/123/tok",
        ),
        (
            "https://discord.com/api/webhooks/123/tok?thread_id=456",
            "https://discord.com/api/v10/webhooks/123/tok?thread_id=456",
        ),
        (
            "https://discord.com/api/webhooks/123/tok?thread_id=456&wait=true",
            "https://discord.com/api/v10/webhooks/123/tok?thread_id=456&wait=true",
        ),
        (
            "http://Discord.COM/api/webhooks/123/tok",
            "https://discord.com/api/v10/webhooks/123/tok",
        ),
        (
            "https://discord.com/api/webhooks/123/tok/slack",
            "https://discord.com/api/v10/webhooks/123/tok/slack",
        ),
        (
            "  https://discord.com/api/webhooks/123/tok\n",
            "https://discord.com/api/v10/webhooks/123/tok",
        ),
        # Not Discord execute-webhook URLs: posted to as written.
        (
            "http://127.0.0.1:8080/api/webhooks/123/tok",
            "http://127.0.0.1:8080/api/webhooks/123/tok",
        ),
        ("https://relay.example/discord/hook?key=k", "https://relay.example/discord/hook?key=k"),
        (
            "https://discord.com/api/channels/1/messages",
            "https://discord.com/api/channels/1/messages",
        ),
        ("https://discord.com:8443/api/webhooks/1/t", "https://discord.com:8443/api/webhooks/1/t"),
        ("https://evil-discord.com/api/webhooks/1/t", "https://evil-discord.com/api/webhooks/1/t"),
        ("not a url", "not a url"),
    ],
)
def test_normalize_webhook_url(url: str, expected: str) -> None:
    assert normalize_webhook_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://discordapp.com/api/webhooks/123/SeCrEt?thread_id=9",
            "https://discordapp.com/api/v10/webhooks/123/****",
        ),
        (
            "https://discord.com/api/v9/webhooks/123/SeCrEt/slack",
            "https://discord.com/api/v10/webhooks/123/****/slack",
        ),
        ("http://127.0.0.1:8080/api/webhooks/123/SeCrEt", "http://127.0.0.1:8080/…"),
        ("https://user:pw@relay.example/SeCrEt?token=x", "https://relay.example/…"),
        ("", "<invalid url>"),
        ("http://[::1", "<invalid url>"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


# Issue 9 item 8: the three URLs the config and the sender used to disagree about.  The sender
# treats each as Discord's (pinned to HTTPS and v10, token redacted), and so does the config:
# it accepts the first two (warning that http:// is upgraded) and refuses /slack, whose body
# Discord expects in Slack's format (tests/config/test_config.py).


@pytest.mark.parametrize(
    ("url", "normalized", "kind"),
    [
        (
            "https://ptb.discordapp.com/api/webhooks/1/abc",
            "https://ptb.discordapp.com/api/v10/webhooks/1/abc",
            Kind.EXECUTE,
        ),
        (
            "https://discord.com/api/webhooks/1/abc/slack",
            "https://discord.com/api/v10/webhooks/1/abc/slack",
            Kind.OTHER_ENDPOINT,
        ),
        (
            "http://discord.com/api/webhooks/1/abc",
            "https://discord.com/api/v10/webhooks/1/abc",
            Kind.EXECUTE,
        ),
    ],
)
def test_config_and_sender_agree(url: str, normalized: str, kind: Kind) -> None:
    assert parse_webhook_url(url) is not None
    assert normalize_webhook_url(url) == normalized
    assert "abc" not in redact_url(url)
    assert classify_url(url).kind is kind
    problems = DiscordConfig(enabled=True, url=url).validate()
    assert bool(problems) == (kind is Kind.OTHER_ENDPOINT)


# --- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, b'{"message": "Unknown Webhook", "code": 10015}', "Unknown Webhook (10015)"),
        (
            400,
            b'{"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0": '
            b'{"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", '
            b'"message": "Must be 4096 or fewer in length."}]}}}}}',
            "Invalid Form Body (50035): embeds.0.description: Must be 4096 or fewer in length.",
        ),
        (
            400,
            b'{"code": 50035, "message": "Invalid Form Body", "errors": {"_errors": '
            b'[{"code": "X", "message": "whole request"}], "username": {"_errors": '
            b'[{"code": "USERNAME_INVALID_CONTAINS", "message": "Username cannot contain \\"discord\\""}]}}}',
            'Invalid Form Body (50035): whole request; username: Username cannot contain "discord"',
        ),
        (400, b'{"embeds": ["0"]}', "embeds: 0"),
        (
            400,
            b'{"username": ["Must be between 1 and 80 in length.", "Username cannot be \\"\\""]}',
            'username: Must be between 1 and 80 in length., Username cannot be ""',
        ),
        (500, b'{"error": "relay is down"}', "relay is down"),
        (
            502,
            b"<html>\n<body>Bad   Gateway</body>\n</html>",
            "<html> <body>Bad Gateway</body> </html>",
        ),
        (503, b"", "no response body"),
    ],
)
def test_explain_response(status: int, body: bytes, reason: str) -> None:
    assert explain_response(status, body) == reason


def test_explain_response_limits_long_error_trees() -> None:
    errors = {str(i): {"_errors": [{"code": "X", "message": f"bad {i}"}]} for i in range(8)}
    import json

    body = json.dumps({"code": 50035, "message": "Invalid Form Body", "errors": errors}).encode()
    reason = explain_response(400, body)
    assert reason.endswith("0: bad 0; 1: bad 1; 2: bad 2; 3: bad 3; 4: bad 4; and 3 more")


async def test_delivered_on_204_with_headers_and_body(
    sender: DiscordSender, server: WebhookServer
) -> None:
    result = await sender.post_once(server.url(), PAYLOAD)
    assert result == DeliveryResult("delivered", 204)
    [seen] = server.seen
    assert seen.path == server.path
    assert seen.body == PAYLOAD
    assert seen.headers["User-Agent"] == f"DiscordBot (leyden, {__version__})"
    assert seen.headers["Content-Type"] == "application/json"


async def test_any_2xx_is_delivered_and_query_is_kept(
    sender: DiscordSender, server: WebhookServer
) -> None:
    server.script((200, {"id": "1", "channel_id": "2"}))
    result = await sender.post_once(server.url(server.path + "?wait=true&thread_id=77"), PAYLOAD)
    assert result.delivered and result.status == 200
    assert server.seen[0].query == {"wait": "true", "thread_id": "77"}


async def test_non_ascii_body_is_utf8_json(sender: DiscordSender, server: WebhookServer) -> None:
    payload = {"embeds": [{"description": "𝄞 é"}]}
    assert (await sender.post_once(server.url(), payload)).delivered
    assert server.seen[0].body == payload


@pytest.mark.parametrize(
    "reply",
    [
        (429, {"message": "You are being rate limited.", "retry_after": 0.376, "global": False}),
        (429, "slow down", {"Retry-After": "0.376"}),
        (429, None, {"X-RateLimit-Reset-After": "0.376"}),
    ],
    ids=["json-retry_after", "retry-after-header", "reset-after-header"],
)
async def test_429_hands_back_its_hint_and_closes_the_gate(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime, reply: tuple[Any, ...]
) -> None:
    server.script(reply)
    result = await sender.post_once(server.url(), PAYLOAD)
    assert (result.outcome, result.status, result.retry_after) == ("retry", 429, 0.376)
    assert fake_time.waits == []
    assert (await sender.post_once(server.url(), PAYLOAD)).delivered
    assert fake_time.waits == [pytest.approx(0.376)]  # the next request waited the hint out
    assert len(server.seen) == 2


async def test_429_json_hint_wins_over_headers(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime
) -> None:
    server.script((429, {"message": "m", "retry_after": 2.5}, {"Retry-After": "9"}))
    assert (await sender.post_once(server.url(), PAYLOAD)).retry_after == 2.5


async def test_429_too_long_is_handed_back_not_waited(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime
) -> None:
    server.script((429, {"message": "You are being rate limited.", "retry_after": 64.57}))
    result = await sender.post_once(server.url(), PAYLOAD)
    assert result.outcome == "retry"
    assert result.status == 429
    assert result.retry_after == 64.57
    assert result.reason == "You are being rate limited."
    assert fake_time.waits == []
    assert len(server.seen) == 1


async def test_5xx_is_one_attempt_handed_back_for_a_retry(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime
) -> None:
    server.script(
        (500, {"message": "Internal Server Error", "code": 0}),
        (502, "<html>bad gateway</html>"),
        (503),
    )
    replies = [await sender.post_once(server.url(), PAYLOAD) for _ in range(3)]
    assert [(r.outcome, r.status, r.retry_after) for r in replies] == [
        ("retry", 500, None),
        ("retry", 502, None),
        ("retry", 503, None),
    ]
    assert replies[0].reason == "Internal Server Error"
    assert fake_time.waits == []  # the dispatcher owns the backoff
    assert len(server.seen) == 3


@pytest.mark.parametrize(("jitter", "waits"), [(0.0, [0.25, 0.5, 1.0]), (1.0, [0.75, 1.5, 3.0])])
def test_backoff_doubles_and_its_jitter_is_injectable(jitter: float, waits: list[float]) -> None:
    assert [backoff(n, random=lambda: jitter) for n in (1, 2, 3)] == waits
    assert backoff(20, base=0.5, cap=30.0, random=lambda: 0.5) == 30.0


async def test_404_is_permanent_and_not_retried(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime
) -> None:
    server.script((404, {"message": "Unknown Webhook", "code": 10015}))
    result = await sender.post_once(server.url(), PAYLOAD)
    assert result == DeliveryResult("permanent", 404, "Unknown Webhook (10015)", code=10015)
    assert result.describe() == "HTTP 404: Unknown Webhook (10015)"
    assert len(server.seen) == 1
    assert fake_time.waits == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"message": "Invalid Webhook Token", "code": 50027}, 50027),
        ({"message": "no code"}, None),
        ({"message": "a string code", "code": "10015"}, None),
        ({"message": "a bool", "code": True}, None),
        ("plain text", None),
    ],
)
async def test_a_failure_reports_discords_error_code_when_it_has_one(
    sender: DiscordSender, server: WebhookServer, body: Any, code: int | None
) -> None:
    """The sender reports Discord's own code beside the status (the breaker tells it)."""
    server.script((401, body))
    result = await sender.post_once(server.url(), PAYLOAD)
    assert (result.status, result.code) == (401, code)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            (
                400,
                {
                    "code": 50035,
                    "message": "Invalid Form Body",
                    "errors": {
                        "embeds": {
                            "0": {
                                "description": {
                                    "_errors": [
                                        {
                                            "code": "BASE_TYPE_MAX_LENGTH",
                                            "message": "Must be 4096 or fewer in length.",
                                        }
                                    ]
                                }
                            }
                        }
                    },
                },
            ),
            "Invalid Form Body (50035): embeds.0.description: Must be 4096 or fewer in length.",
        ),
        ((400, {"embeds": ["0"]}), "embeds: 0"),
        (
            (400, {"username": ["Must be between 1 and 80 in length."]}),
            "username: Must be between 1 and 80 in length.",
        ),
        (
            (401, {"message": "Invalid Webhook Token", "code": 50027}),
            "Invalid Webhook Token (50027)",
        ),
        (
            (403, {"message": "Missing Permissions", "code": 50013}),
            "Missing Permissions (50013)",
        ),
        ((413, "too big"), "too big"),
        ((302, None, {"Location": "/elsewhere"}), "unexpected redirect: no response body"),
    ],
)
async def test_4xx_are_permanent_with_discords_reason(
    sender: DiscordSender, server: WebhookServer, reply: tuple[Any, ...], reason: str
) -> None:
    server.script(reply)
    result = await sender.post_once(server.url(), PAYLOAD)
    assert (result.outcome, result.status, result.reason) == ("permanent", reply[0], reason)
    assert len(server.seen) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connection_refused_is_retried(sender: DiscordSender, fake_time: FakeTime) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/webhooks/1/{TOKEN}"
    result = await sender.post_once(url, PAYLOAD)
    assert result.outcome == "retry"
    assert result.status is None
    assert result.reason.startswith("connection error: ")
    assert fake_time.waits == []
    assert TOKEN not in result.reason


async def test_timeout_is_retried(server_factory: ServerFactory, fake_time: FakeTime) -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", stall)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    sender = DiscordSender(
        timeout=0.05, sleep=fake_time.sleep, clock=fake_time.clock, trust_env=False
    )
    try:
        result = await sender.post_once(f"http://{host}:{port}/hook", PAYLOAD)
    finally:
        release.set()
        await sender.close()
        await runner.cleanup()
    assert result == DeliveryResult("retry", None, "timed out after 0.05s")


async def test_connections_are_reused(sender: DiscordSender, server: WebhookServer) -> None:
    for _ in range(4):
        assert (await sender.post_once(server.url(), PAYLOAD)).delivered
    assert len(server.seen) == 4
    assert len(server.peers) == 1


async def test_exhausted_bucket_delays_next_request_to_same_webhook(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime
) -> None:
    server.script((204, None, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.5"}))
    assert (await sender.post_once(server.url(), PAYLOAD)).delivered
    assert fake_time.waits == []
    other = server.url("/api/webhooks/999/other")
    assert (await sender.post_once(other, PAYLOAD)).delivered
    assert fake_time.waits == []  # another webhook has its own bucket
    assert (await sender.post_once(server.url(), PAYLOAD)).delivered
    assert fake_time.waits == [1.5]
    assert (await sender.post_once(server.url(), PAYLOAD)).delivered
    assert fake_time.waits == [1.5]  # the bucket has reset


async def test_long_exhausted_bucket_is_handed_back_without_sending(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime
) -> None:
    server.script((204, None, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "40"}))
    assert (await sender.post_once(server.url(), PAYLOAD)).delivered
    result = await sender.post_once(server.url(), PAYLOAD)
    assert result.outcome == "retry"
    assert result.retry_after == 40
    assert len(server.seen) == 1


async def test_closed_sender_refuses(server: WebhookServer) -> None:
    sender = DiscordSender(trust_env=False)
    await sender.close()
    with pytest.raises(RuntimeError, match="closed"):
        await sender.post_once(server.url(), PAYLOAD)


async def test_url_never_in_reasons_or_logs(
    sender: DiscordSender,
    server: WebhookServer,
    fake_time: FakeTime,
    leyden_logs: Any,
) -> None:
    url = server.url()
    server.script(
        (500, f"upstream failed for {url} and {TOKEN}"),
        (429, {"message": "You are being rate limited.", "retry_after": 0.1}),
        (404, {"message": f"Unknown Webhook {TOKEN}", "code": 10015}),
    )
    results = [await sender.post_once(url, PAYLOAD) for _ in range(3)]
    refused = f"http://127.0.0.1:{_closed_port()}/api/webhooks/1/{TOKEN}"
    results.append(await sender.post_once(refused, PAYLOAD))
    assert [r.outcome for r in results] == ["retry", "retry", "permanent", "retry"]
    assert leyden_logs.records, "expected the wait for the 429's bucket to be logged"
    texts = [r.reason for r in results] + [r.describe() for r in results]
    texts += leyden_logs.texts()
    for text in texts:
        assert TOKEN not in text
        assert url not in text


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(cert: trustme.LeafCert, client_ca: trustme.CA | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(context)
    return context


def _write_ca(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def test_tls_with_ssl_ca(
    sender: DiscordSender, server_factory: ServerFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    server = await server_factory(_server_context(ca.issue_cert("127.0.0.1")))
    context = build_ssl_context(ssl_ca=_write_ca(ca, tmp_path))
    assert (await sender.post_once(server.url(), PAYLOAD, ssl=context)).delivered
    assert (await sender.post_once(server.url(), PAYLOAD, ssl=context)).delivered
    assert len(server.peers) == 1


async def test_tls_untrusted_server_is_refused_clearly(
    sender: DiscordSender,
    server_factory: ServerFactory,
    ca: trustme.CA,
    tmp_path: Path,
    fake_time: FakeTime,
) -> None:
    stranger = trustme.CA()
    server = await server_factory(_server_context(stranger.issue_cert("127.0.0.1")))
    context = build_ssl_context(ssl_ca=_write_ca(ca, tmp_path))
    result = await sender.post_once(server.url(), PAYLOAD, ssl=context)
    assert result.outcome == "permanent"
    assert result.reason.startswith("TLS certificate verification failed: ")
    assert "certificate verify failed" in result.reason
    assert TOKEN not in result.reason
    assert server.seen == []
    assert fake_time.waits == []


async def test_tls_default_trust_refuses_private_ca(
    sender: DiscordSender, server_factory: ServerFactory, ca: trustme.CA
) -> None:
    server = await server_factory(_server_context(ca.issue_cert("127.0.0.1")))
    result = await sender.post_once(server.url(), PAYLOAD, ssl=None)
    assert result.outcome == "permanent"
    assert "certificate verify failed" in result.reason


async def test_tls_insecure_skip_verify(
    sender: DiscordSender, server_factory: ServerFactory
) -> None:
    server = await server_factory(_server_context(trustme.CA().issue_cert("localhost")))
    context = build_ssl_context(insecure_skip_verify=True)
    assert context is not None and context.verify_mode == ssl.CERT_NONE
    assert (await sender.post_once(server.url(), PAYLOAD, ssl=context)).delivered


async def test_tls_client_certificate(
    sender: DiscordSender, server_factory: ServerFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    client_ca = trustme.CA()
    server = await server_factory(_server_context(ca.issue_cert("127.0.0.1"), client_ca=client_ca))
    client = client_ca.issue_cert("leyden-client.example")
    cert_path, key_path = tmp_path / "client.crt", tmp_path / "client.key"
    for i, pem in enumerate(client.cert_chain_pems):
        pem.write_to_path(str(cert_path), append=i > 0)
    client.private_key_pem.write_to_path(str(key_path))
    ca_path = _write_ca(ca, tmp_path)

    without = build_ssl_context(ssl_ca=ca_path)
    refused = await sender.post_once(server.url(), PAYLOAD, ssl=without)
    assert not refused.delivered

    with_cert = build_ssl_context(ssl_ca=ca_path, ssl_cert=str(cert_path), ssl_key=str(key_path))
    assert (await sender.post_once(server.url(), PAYLOAD, ssl=with_cert)).delivered
    subject = dict(x[0] for x in server.seen[-1].peercert["subject"])
    assert subject["organizationalUnitName"] or subject  # a verified client certificate


def test_build_ssl_context_nothing_set_means_system_defaults() -> None:
    assert build_ssl_context("", "", "", False) is None


def test_build_ssl_context_errors_name_key_and_file(tmp_path: Path, ca: trustme.CA) -> None:
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(TLSConfigError, match=rf'^ssl-ca: cannot read "{missing}": No such file'):
        build_ssl_context(ssl_ca=missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TLSConfigError, match=rf'^ssl-ca: "{garbage}" holds no usable CA'):
        build_ssl_context(ssl_ca=str(garbage))
    with pytest.raises(TLSConfigError, match=rf'^ssl-cert: cannot read "{missing}"'):
        build_ssl_context(ssl_cert=missing)
    cert = ca.issue_cert("x.example")
    cert_path = tmp_path / "c.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    with pytest.raises(TLSConfigError, match=rf'^ssl-key: cannot read "{missing}"'):
        build_ssl_context(ssl_cert=str(cert_path), ssl_key=missing)
    with pytest.raises(
        TLSConfigError, match=rf'^ssl-cert "{cert_path}" / ssl-key "{garbage}": not a usable'
    ):
        build_ssl_context(ssl_cert=str(cert_path), ssl_key=str(garbage))
    with pytest.raises(TLSConfigError, match=r"^ssl-key is set but ssl-cert is not"):
        build_ssl_context(ssl_key=str(cert_path))


async def test_concurrent_requests_to_one_webhook_respect_the_gate(
    sender: DiscordSender, server: WebhookServer, fake_time: FakeTime
) -> None:
    """Several queues posting to one webhook at once: each sees the bucket the previous
    answer emptied, instead of all passing the open gate together and getting 429s."""
    exhausted = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.5"}
    server.script((204, None, exhausted), (204, None, exhausted))
    results = await asyncio.gather(*(sender.post_once(server.url(), PAYLOAD) for _ in range(3)))
    assert all(r.delivered for r in results)
    assert fake_time.waits == [1.5, 1.5]
    assert len(server.seen) == 3


async def test_the_environments_proxy_carries_the_post(
    server: WebhookServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the webhook server stands in for the proxy: a post to a host that does not exist
    # reaches it only through HTTP_PROXY (read on the loop, not in aiohttp's worker thread)
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HTTP_PROXY", server.base)
    sender = DiscordSender()
    try:
        result = await sender.post_once("http://discord.invalid" + server.path, PAYLOAD)
    finally:
        await sender.close()
    assert result.delivered
    assert [s.path for s in server.seen] == [server.path]
    assert server.seen[0].headers["Host"] == "discord.invalid"
