"""``.telegram()`` / ``kind: telegram``: Kapacitor's request, config, service test, limits, secrets."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from leyden.config import Config, ConfigError, load_config
from leyden.go.strconv import parse_go_duration
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.telegram import (
    DEFAULT_URL,
    TEXT_LIMIT,
    TelegramConfig,
    TelegramHandler,
    TelegramOptions,
    TelegramService,
    fit_text,
    from_options,
    from_tick,
)
from leyden.replay import parse_dbrp, replay
from leyden.runtime import Runtime
from leyden.server.app import create_app
from webhook_capture import Answer, webhook_capture

TOKEN = "123456:SeCrEtBoTtOkEn_abcdefghijkl"


def event(message: str = "cpu/serverA is CRITICAL") -> Event:
    return Event(
        topic="t",
        state=EventState("cpu/serverA", message, "", Time(0), Duration(0), Level.CRITICAL),
        data=EventData(name="cpu"),
    )


def service(url: str, **keys: Any) -> TelegramService:
    config = TelegramConfig(enabled=True, url=url + "/bot", token=TOKEN, **keys)
    return TelegramService([config])


def ctx(svc: TelegramService) -> HandlerContext:
    return HandlerContext(services={"telegram": svc})


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text)
    return load_config(str(path), env or {}, integrations=INTEGRATIONS.sections())


async def test_a_handler_posts_kapacitors_send_message_request() -> None:
    async with webhook_capture() as server:
        svc = service(server.url, chat_id="111", disable_web_page_preview=True)
        handler = from_tick(
            {"chatId": "-100200", "parseMode": "Markdown", "disableNotification": True}, ctx(svc)
        )
        result = await handler.send([event()])
        plain = from_options({}, ctx(svc))
        assert (await plain.send([event("second")])).delivered
        await svc.close()
    assert result.delivered
    first, second = server.requests
    assert first["path"] == f"/bot{TOKEN}/sendMessage"
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["json"] == {
        "chat_id": "-100200",
        "text": "cpu/serverA is CRITICAL",
        "parse_mode": "Markdown",
        "disable_web_page_preview": True,
        "disable_notification": True,
    }
    # the section's chat; switches only when true, no parse_mode when none is set
    assert second["json"] == {"chat_id": "111", "text": "second", "disable_web_page_preview": True}


async def test_429_waits_what_telegram_says_in_the_body_or_the_header() -> None:
    body = '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35",'
    body += '"parameters":{"retry_after":35}}'
    async with webhook_capture() as server:
        server.responses = [
            Answer(429, body),
            Answer(429, body, {"Retry-After": "7"}),
            Answer(400, "{}"),
        ]
        svc = service(server.url, chat_id="1")
        handler = from_options({}, ctx(svc))
        in_body = await handler.send([event()])
        in_header = await handler.send([event()])
        bad = await handler.send([event()])
        await svc.close()
    assert (in_body.outcome, in_body.retry_after) == ("retry", 35.0)
    assert (in_header.outcome, in_header.retry_after) == ("retry", 7.0)
    assert bad.outcome == "permanent"


async def test_the_token_is_in_no_reason_destination_or_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f'{{"ok":false,"description":"Unauthorized /bot{TOKEN}/sendMessage {TOKEN}"}}'
    async with webhook_capture() as server:
        server.responses = [Answer(401, echo)]
        svc = service(server.url, chat_id="1")
        handler = from_options({}, ctx(svc))
        result = await handler.send([event()])
        ok, message = await svc.test({})
        await svc.close()
    assert result.outcome == "permanent" and result.status == 401
    assert not ok
    secret_part = TOKEN.split(":")[1]
    for text in (result.reason, result.describe(), message, handler.destination, repr(svc)):
        assert secret_part not in text
    assert all(secret_part not in key.key for key in handler.rate_limits)
    assert all(secret_part not in r.getMessage() for r in caplog.records)
    assert secret_part not in repr(svc.configs[0])


def test_rate_limits_per_chat_per_group_and_per_bot() -> None:
    svc = TelegramService([TelegramConfig(enabled=True, token=TOKEN, chat_id="42")])
    private = TelegramHandler(svc, from_options({}, ctx(svc)).options)
    assert sorted((r.limit, r.window) for r in private.rate_limits) == [(1, 1.0), (30, 1.0)]
    group = from_options({"chat-id": "-1001234"}, ctx(svc))
    assert sorted((r.limit, r.window) for r in group.rate_limits) == [
        (1, 1.0),
        (20, 60.0),
        (30, 1.0),
    ]
    # one bot: the 30/s limit is shared; the chats are not
    bot = {r.key for r in private.rate_limits} & {r.key for r in group.rate_limits}
    assert len(bot) == 1
    assert private.destination != group.destination


def test_handler_options_are_checked() -> None:
    svc = TelegramService([TelegramConfig(enabled=True, token=TOKEN, chat_id="1")])
    with pytest.raises(HandlerConfigError, match=r"invalid telegram handler option.*chatid"):
        from_options({"chatid": "1"}, ctx(svc))
    with pytest.raises(HandlerConfigError, match="'disable-notification' must be bool"):
        from_options({"disable-notification": "yes"}, ctx(svc))
    integration = INTEGRATIONS.get("telegram")
    check = integration.check if integration is not None else None
    assert check is not None
    problem = check({"parseMode": "Markdown2"}, svc, True)
    assert problem is not None and problem.prop == "parseMode" and problem.value == "Markdown2"
    assert "please use 'Markdown' or 'HTML'" in problem.message
    assert check({"parse-mode": "html"}, svc, False) is None
    nochat = TelegramService([TelegramConfig(enabled=True, token=TOKEN)])
    problem = check({}, nochat, False)
    assert problem is not None and "chat-id" in problem.message
    assert check({}, nochat, True) is None  # a script may come before the configuration


async def test_a_disabled_or_chatless_service_fails_permanently_with_a_reason() -> None:
    svc = TelegramService([TelegramConfig(token=TOKEN, chat_id="1")])
    result = await from_options({}, ctx(svc)).send([event()])
    assert result.outcome == "permanent"
    assert "telegram is not enabled" in result.reason
    svc = TelegramService([TelegramConfig(enabled=True, token=TOKEN)])
    result = await from_options({}, ctx(svc)).send([event()])
    assert result.outcome == "permanent" and "no chat-id" in result.reason


def test_section_defaults_validation_and_environment(tmp_path: Path) -> None:
    [default] = load_config(None, {}, integrations=INTEGRATIONS.sections()).integrations["telegram"]
    assert default == TelegramConfig()
    assert default.url == DEFAULT_URL == "https://api.telegram.org/bot"
    env = {"KAPACITOR_TELEGRAM_ENABLED": "true", "KAPACITOR_TELEGRAM_TOKEN": TOKEN}
    env["KAPACITOR_TELEGRAM_CHAT_ID"] = "77"
    [from_env] = load_config(None, env, integrations=INTEGRATIONS.sections()).integrations[
        "telegram"
    ]
    assert (from_env.enabled, from_env.token, from_env.chat_id) == (True, TOKEN, "77")
    with pytest.raises(ConfigError, match=r"\[telegram\]: token: must specify token"):
        load(tmp_path, "[telegram]\nenabled = true\n")
    with pytest.raises(ConfigError, match="parse-mode: parseMode nope is not valid"):
        load(tmp_path, '[telegram]\nparse-mode = "nope"\n')
    with pytest.raises(ConfigError, match="url: must be an http"):
        load(tmp_path, '[telegram]\nurl = "api.telegram.org"\n')
    with pytest.raises(ConfigError, match="chat-idd: unknown key"):
        load(tmp_path, '[telegram]\nchat-idd = "1"\n')


ClientFactory = Callable[..., Awaitable[TestClient]]


async def test_config_api_and_service_test_listing_as_kapacitor(
    aiohttp_client: ClientFactory, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    config = load(tmp_path, '[telegram]\nchat-id = "kapacitor"\n')
    client = await aiohttp_client(create_app(make_runtime(config)))
    options = {
        "chat-id": "kapacitor",
        "disable-notification": False,
        "disable-web-page-preview": False,
        "enabled": False,
        "global": False,
        "parse-mode": "",
        "state-changes-only": False,
        "token": False,
        "url": DEFAULT_URL,
    }
    element = {
        "link": {"rel": "self", "href": "/kapacitor/v1/config/telegram/"},
        "options": options,
        "redacted": ["token"],
    }
    section = await (await client.get("/kapacitor/v1/config/telegram")).json()
    assert section == {
        "link": {"rel": "self", "href": "/kapacitor/v1/config/telegram"},
        "elements": [element],
    }
    assert await (await client.get("/kapacitor/v1/config/telegram/")).json() == element
    update = {"set": {"enabled": True, "token": TOKEN}}
    answer = await client.post("/kapacitor/v1/config/telegram/", json=update)
    assert answer.status == 204, await answer.text()
    text = await (await client.get("/kapacitor/v1/config/telegram/")).text()
    assert TOKEN not in text
    assert (await client.get("/kapacitor/v1/config/telegram/")).status == 200
    got = await (await client.get("/kapacitor/v1/config/telegram/")).json()
    assert got["options"] == {**options, "enabled": True, "token": True}
    listed = await (await client.get("/kapacitor/v1/service-tests/telegram")).json()
    assert listed["options"] == {
        "chat-id": "kapacitor",
        "parse-mode": "",
        "message": "test telegram message",
        "disable-web-page-preview": False,
        "disable-notification": False,
    }


async def test_service_test_sends_the_test_message() -> None:
    async with webhook_capture() as server:
        svc = service(server.url, chat_id="9")
        assert await svc.test({"parse-mode": "HTML"}) == (True, "")
        ok, message = await svc.test({"nope": 1})
        await svc.close()
    assert not ok and "nope" in message
    [request] = server.requests
    assert request["json"] == {
        "chat_id": "9",
        "text": "test telegram message",
        "parse_mode": "HTML",
    }


def test_global_and_state_changes_only() -> None:
    integration = INTEGRATIONS.get("telegram")
    assert integration is not None and integration.global_handler is not None
    assert integration.global_state_changes_only is not None
    on = TelegramService([TelegramConfig(enabled=True, token=TOKEN, global_=True)])
    assert integration.global_handler(on) and not integration.global_state_changes_only(on)
    both = TelegramConfig(enabled=True, token=TOKEN, global_=True, state_changes_only=True)
    assert integration.global_state_changes_only(TelegramService([both]))
    assert not integration.global_handler(TelegramService([TelegramConfig(global_=True)]))


async def test_a_global_telegram_gets_every_alert_of_a_script_without_it(tmp_path: Path) -> None:
    data = Path(__file__).resolve().parents[1] / "kapacitor_handlers" / "data"
    script = tmp_path / "task.tick"
    script.write_text(
        "stream|from().measurement('cpu').where(lambda: \"host\" == 'serverA')"
        "|window().period(10s).every(10s)|count('value')"
        "|alert().id('{{ .Name }}').crit(lambda: \"count\" > 8.0)\n"
    )
    async with webhook_capture() as server:
        text = f'[telegram]\nenabled = true\nglobal = true\nchat-id = "5"\ntoken = "{TOKEN}"\n'
        config = load(tmp_path, text + f'url = "{server.url}/bot"\n')
        await replay(
            script,
            [data / "TestStream_Alert.srpl"],
            config=config,
            name="g",
            dbrps=[parse_dbrp("dbname.rpname")],
            until=parse_go_duration("13s"),
        )
    [request] = server.requests
    assert request["json"] == {"chat_id": "5", "text": "cpu is CRITICAL"}


def test_a_429_for_one_chat_does_not_hold_the_bots_other_chats() -> None:
    """The per-bot limit is left out of a 429's hold (leyden.delivery.pacing.Throttle)."""
    service = TelegramService([TelegramConfig(enabled=True, token="123:abc", chat_id="-100")])
    handler = TelegramHandler(service, TelegramOptions())
    limits = handler.rate_limits
    [bot] = [limit for limit in limits if limit.limit == 30]
    assert not bot.held and all(limit.held for limit in limits if limit != bot)


@given(st.text(max_size=5000) | st.text(alphabet="😀a", min_size=4000, max_size=4200))
def test_text_always_fits_telegrams_limit_and_short_text_is_kept(text: str) -> None:
    fitted = fit_text(text)
    assert 0 < len(fitted.encode("utf-16-le", "surrogatepass")) // 2 <= TEXT_LIMIT
    if text and len(text.encode("utf-16-le", "surrogatepass")) // 2 <= TEXT_LIMIT:
        assert fitted == text
    elif text:
        assert fitted.endswith("…") and text.startswith(fitted[:-1])
