"""What every integration shares: the outbox destination named from a URL, the environment's
proxies."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from yarl import URL

from leyden.notify._http import (
    EnvProxies,
    HTTPClient,
    http_url_problem,
    retry_after_seconds,
    secret_digest,
    url_destination,
)


def test_url_destination_tells_endpoints_of_one_host_apart_without_their_secrets() -> None:
    one = url_destination("https://hooks.example.com/services/T000/B000/secretONE")
    two = url_destination("https://hooks.example.com/services/T000/B000/secretTWO")
    assert one != two
    assert one == url_destination(" https://hooks.example.com/services/T000/B000/secretONE ")
    for name in (one, two):
        assert name.startswith("https://hooks.example.com/… #")
        assert "secret" not in name and "T000" not in name


def test_secret_digest_tells_secrets_apart_and_shows_none_of_them() -> None:
    """The one digest behind the names of Slack's token, PagerDuty's routing key, Telegram's
    bot, Pushover's user key and BigPanda's token: SHA-256 of the parts joined by NUL, so the
    destinations and rate-limit keys stay what they were."""
    one, two = secret_digest("tokenONE"), secret_digest("tokenTWO")
    assert one != two and one == secret_digest("tokenONE") and "token" not in one
    assert one == hashlib.sha256(b"tokenONE").hexdigest()[:8]
    bot = secret_digest("https://api.telegram.org/bot", "t0ken", length=12)
    assert bot == hashlib.sha256(b"https://api.telegram.org/bot\x00t0ken").hexdigest()[:12]
    assert secret_digest("ab", "c") != secret_digest("a", "bc")


def test_http_url_problem_is_every_sections_url_check() -> None:
    assert http_url_problem("url", "") is None
    assert http_url_problem("url", "https://hooks.example.com/T/B/x") is None
    assert http_url_problem("url", "ftp://example.com/x") == (
        "url: must be an http:// or https:// URL with a host"
    )
    assert http_url_problem("channel-url", "hooks/secret", hidden="it is a secret") == (
        "channel-url: must be an http:// or https:// URL with a host "
        "(the value is not shown: it is a secret)"
    )


def _proxy_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_env_proxies_follow_the_environment_and_its_exceptions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _proxy_env(
        monkeypatch,
        tmp_path,
        HTTPS_PROXY="http://user:secret@proxy.example:3128",
        NO_PROXY="internal.example",
    )
    proxies = EnvProxies()
    proxy, auth = proxies.for_url("https://discord.com/api/webhooks/1/token")
    assert proxy == URL("http://proxy.example:3128")
    assert auth is not None
    assert (auth.login, auth.password) == ("user", "secret")
    assert proxies.for_url("https://internal.example/hook") == (None, None)  # NO_PROXY
    assert proxies.for_url("http://discord.com/api/webhooks/1/token") == (None, None)  # scheme
    assert EnvProxies(enabled=False).for_url("https://discord.com/x") == (None, None)


def test_env_proxies_none_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _proxy_env(monkeypatch, tmp_path)
    assert EnvProxies().for_url("https://discord.com/api/webhooks/1/token") == (None, None)


# --- HTTPClient: one request, its outcome ------------------------------------------------------


@pytest.fixture
async def answering() -> AsyncIterator[tuple[str, list[web.Response]]]:
    """A loopback server answering the queued responses in turn (then 200)."""
    queue: list[web.Response] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return queue.pop(0) if queue else web.Response(status=200, text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", queue
    await runner.cleanup()


async def test_http_client_outcomes_and_retry_after(
    answering: tuple[str, list[web.Response]],
) -> None:
    url, queue = answering
    client = HTTPClient("test")
    try:
        ok = await client.request("POST", f"{url}/hook/SECRETPATH123", body=b"{}")
        assert ok.delivered and ok.status == 200
        queue.append(web.Response(status=429, headers={"Retry-After": "7"}, text="slow down"))
        limited = await client.request("POST", f"{url}/hook/SECRETPATH123", body=b"{}")
        assert (limited.outcome, limited.retry_after) == ("retry", 7.0)
        queue.append(web.Response(status=503, text="busy"))
        assert (await client.request("POST", url + "/x", body=b"")).outcome == "retry"
        queue.append(
            web.Response(status=400, text="bad token tok-0123456789 for /hook/SECRETPATH123")
        )
        bad = await client.request(
            "POST", f"{url}/hook/SECRETPATH123", body=b"{}", secrets=["tok-0123456789"]
        )
        assert bad.outcome == "permanent" and bad.status == 400
        assert "SECRETPATH123" not in bad.reason and "tok-0123456789" not in bad.reason
        assert bad.reason.startswith("POST http://127.0.0.1:")
    finally:
        await client.close()
    closed = await client.request("POST", url, body=b"")
    assert closed.outcome == "retry"  # a closed client never raises


async def test_http_client_transport_errors_are_retried_without_the_url() -> None:
    client = HTTPClient("test", timeout=2.0)
    try:
        result = await client.request("POST", "http://127.0.0.1:9/hook/SECRETPATH123", body=b"")
        assert result.outcome == "retry" and result.status is None
        assert "SECRETPATH123" not in result.reason
        invalid = await client.request("POST", "not a url", body=b"")
        assert invalid.outcome in ("permanent", "retry") and invalid.status is None
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("soon", None),
        (None, None),
        ("inf", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    value: str | None, expected: float | None
) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds(value, now=lambda: now) == expected
