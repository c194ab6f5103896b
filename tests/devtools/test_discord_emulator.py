"""The Discord emulator answers like Discord: shapes, limits, rate limits, faults, inspection."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from leyden.devtools.discord_emulator import DiscordEmulator, build_parser, main

WEBHOOK = "123456789012345678"
OTHER = "876543210987654321"
TOKEN = "s3cr3t-T0KEN-do-not-print"
WALL0 = 1_750_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    emulator: DiscordEmulator
    clock: FakeClock
    echo: io.StringIO
    session: aiohttp.ClientSession
    base: str

    def url(self, webhook_id: str = WEBHOOK, *, version: int | None = None) -> str:
        prefix = "/api" if version is None else f"/api/v{version}"
        return f"{self.base}{prefix}/webhooks/{webhook_id}/{TOKEN}"

    async def post(
        self,
        payload: Any,
        *,
        webhook_id: str = WEBHOOK,
        version: int | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        async with self.session.post(
            self.url(webhook_id, version=version), json=payload, params=params
        ) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else None), resp.headers


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    clock = FakeClock()
    echo = io.StringIO()
    emulator = DiscordEmulator(clock=clock, wall_clock=lambda: WALL0 + clock.now, echo=echo)
    base = await emulator.start()
    async with aiohttp.ClientSession() as session:
        yield Harness(emulator, clock, echo, session, base)
    await emulator.stop()


KAPACITOR_ALERT = {
    "username": "Kapacitor",
    "embeds": [
        {
            "color": 0xF48D38,
            "title": "Uh Oh!",
            "description": "Hey, check your CPU",
            "timestamp": "2026-01-02T03:04:05Z",
        }
    ],
}


# --------------------------------------------------------------------------- success shapes


async def test_default_answer_is_204_without_body_and_message_is_recorded(h: Harness) -> None:
    status, body, _ = await h.post(KAPACITOR_ALERT)
    assert (status, body) == (204, None)
    [message] = h.emulator.messages
    assert message.webhook_id == WEBHOOK
    assert message.token == TOKEN
    assert message.thread_id is None
    assert message.payload == KAPACITOR_ALERT
    assert message.status == 204
    assert message.received_at == WALL0 + 100.0


async def test_wait_true_answers_200_with_a_message_object(h: Harness) -> None:
    status, body, _ = await h.post(
        {"content": "  hello  ", **KAPACITOR_ALERT}, version=10, params={"wait": "true"}
    )
    assert status == 200
    assert body["id"].isdigit()
    assert body["type"] == 0
    assert body["content"] == "hello"
    assert body["webhook_id"] == WEBHOOK
    assert body["channel_id"].isdigit()
    assert body["author"] == {
        "id": WEBHOOK,
        "username": "Kapacitor",
        "avatar": None,
        "discriminator": "0000",
        "bot": True,
    }
    assert body["embeds"] == [{"type": "rich", **KAPACITOR_ALERT["embeds"][0]}]
    assert datetime.fromisoformat(body["timestamp"]).timestamp() == WALL0 + 100.0
    assert h.emulator.messages[0].status == 200
    assert h.emulator.messages[0].message_id == body["id"]


@pytest.mark.parametrize("wait", ["true", "True", "1"])
async def test_wait_accepts_discords_spellings_of_true(h: Harness, wait: str) -> None:
    status, body, _ = await h.post({"content": "x"}, params={"wait": wait})
    assert status == 200
    assert body["author"]["username"] == "Captain Hook"


async def test_wait_false_and_nonsense(h: Harness) -> None:
    assert (await h.post({"content": "x"}, params={"wait": "false"}))[0] == 204
    status, body, _ = await h.post({"content": "x"}, version=10, params={"wait": "maybe"})
    assert status == 400
    assert body["errors"]["wait"]["_errors"][0]["code"] == "BOOLEAN_TYPE_COERCE"


async def test_message_ids_increase_even_within_one_millisecond(h: Harness) -> None:
    ids = [
        int((await h.post({"content": str(i)}, params={"wait": "true"}))[1]["id"]) for i in range(3)
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_thread_id_is_recorded_and_becomes_the_channel(h: Harness) -> None:
    status, body, _ = await h.post(
        {"content": "x"}, params={"thread_id": "555666777888999000", "wait": "1"}
    )
    assert status == 200
    assert body["channel_id"] == "555666777888999000"
    assert h.emulator.messages[0].thread_id == "555666777888999000"


async def test_thread_id_must_be_a_snowflake(h: Harness) -> None:
    status, body, _ = await h.post({"content": "x"}, version=10, params={"thread_id": "general"})
    assert status == 400
    assert body["errors"]["thread_id"]["_errors"][0]["message"] == (
        'Value "general" is not snowflake.'
    )


async def test_api_versions(h: Harness) -> None:
    for version in (6, 7, 8, 9, 10):
        assert (await h.post({"content": "x"}, version=version))[0] == 204
    status, body, _ = await h.post({"content": "x"}, version=5)
    assert status == 400
    assert body["code"] == 50041
    assert (await h.post({"content": "x"}, version=11))[0] == 404
    assert len(h.emulator.messages) == 5


# --------------------------------------------------------------------------- validation


def leaf(errors: dict[str, Any], path: tuple[str, ...]) -> list[dict[str, str]]:
    node = errors
    for key in path:
        node = node[key]
    return node["_errors"]


LONG = "x"
CASES: list[tuple[str, dict[str, Any], tuple[str, ...], str, str, dict[str, list[str]]]] = [
    (
        "content",
        {"content": LONG * 2001},
        ("content",),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 2000 or fewer in length.",
        {"content": ["Must be 2000 or fewer in length."]},
    ),
    (
        "embed count",
        {"embeds": [{"description": "x"}] * 11},
        ("embeds",),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 10 or fewer in length.",
        {"embeds": ["Must be 10 or fewer in length."]},
    ),
    (
        "title",
        {"embeds": [{"title": LONG * 257}]},
        ("embeds", "0", "title"),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 256 or fewer in length.",
        {"embeds": ["0"]},
    ),
    (
        "description",
        {"embeds": [{"description": "ok"}, {"description": LONG * 4097}]},
        ("embeds", "1", "description"),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 4096 or fewer in length.",
        {"embeds": ["1"]},
    ),
    (
        "field count",
        {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
        ("embeds", "0", "fields"),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 25 or fewer in length.",
        {"embeds": ["0"]},
    ),
    (
        "field name",
        {"embeds": [{"fields": [{"name": LONG * 257, "value": "v"}]}]},
        ("embeds", "0", "fields", "0", "name"),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 256 or fewer in length.",
        {"embeds": ["0"]},
    ),
    (
        "field value",
        {
            "embeds": [
                {"fields": [{"name": "n", "value": "v"}, {"name": "n", "value": LONG * 1025}]}
            ]
        },
        ("embeds", "0", "fields", "1", "value"),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 1024 or fewer in length.",
        {"embeds": ["0"]},
    ),
    (
        "field value missing",
        {"embeds": [{"fields": [{"name": "n"}]}]},
        ("embeds", "0", "fields", "0", "value"),
        "BASE_TYPE_REQUIRED",
        "This field is required",
        {"embeds": ["0"]},
    ),
    (
        "footer",
        {"embeds": [{"footer": {"text": LONG * 2049}}]},
        ("embeds", "0", "footer", "text"),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 2048 or fewer in length.",
        {"embeds": ["0"]},
    ),
    (
        "author",
        {"embeds": [{"author": {"name": LONG * 257}}]},
        ("embeds", "0", "author", "name"),
        "BASE_TYPE_MAX_LENGTH",
        "Must be 256 or fewer in length.",
        {"embeds": ["0"]},
    ),
    (
        "total over all embeds",
        {"embeds": [{"description": LONG * 3000}, {"title": "t", "description": LONG * 3000}]},
        ("embeds",),
        "MAX_EMBED_SIZE_EXCEEDED",
        "Embed size exceeds maximum size of 6000",
        {"embeds": ["Embed size exceeds maximum size of 6000"]},
    ),
    (
        "username too long",
        {"content": "x", "username": "u" * 81},
        ("username",),
        "BASE_TYPE_BAD_LENGTH",
        "Must be between 1 and 80 in length.",
        {"username": ["Must be between 1 and 80 in length."]},
    ),
    (
        "username contains discord",
        {"content": "x", "username": "alertmanager-Discord"},
        ("username",),
        "USERNAME_INVALID_CONTAINS",
        'Username cannot contain "discord"',
        {"username": ['Username cannot contain "discord"']},
    ),
    (
        "username contains clyde",
        {"content": "x", "username": "Clyde"},
        ("username",),
        "USERNAME_INVALID_CONTAINS",
        'Username cannot contain "clyde"',
        {"username": ['Username cannot contain "clyde"']},
    ),
    (
        "username here",
        {"content": "x", "username": "here"},
        ("username",),
        "USERNAME_INVALID",
        'Username cannot be "here"',
        {"username": ['Username cannot be "here"']},
    ),
    (
        "username everyone",
        {"content": "x", "username": "Everyone"},
        ("username",),
        "USERNAME_INVALID",
        'Username cannot be "everyone"',
        {"username": ['Username cannot be "everyone"']},
    ),
    (
        "avatar empty",
        {"content": "x", "avatar_url": ""},
        ("avatar_url",),
        "URL_TYPE_INVALID_URL",
        "Not a well formed URL.",
        {"avatar_url": ["Not a well formed URL."]},
    ),
    (
        "avatar not a URL",
        {"content": "x", "avatar_url": "kapacitor.png"},
        ("avatar_url",),
        "URL_TYPE_INVALID_URL",
        "Not a well formed URL.",
        {"avatar_url": ["Not a well formed URL."]},
    ),
    (
        "colour as a string",
        {"embeds": [{"description": "d", "color": "#9c27b0"}]},
        ("embeds", "0", "color"),
        "NUMBER_TYPE_COERCE",
        'Value "#9c27b0" is not int.',
        {"embeds": ["0"]},
    ),
    (
        "colour too big",
        {"embeds": [{"description": "d", "color": 16777216}]},
        ("embeds", "0", "color"),
        "NUMBER_TYPE_MAX",
        "int value should be less than or equal to 16777215.",
        {"embeds": ["0"]},
    ),
    (
        "colour negative",
        {"embeds": [{"description": "d", "color": -1}]},
        ("embeds", "0", "color"),
        "NUMBER_TYPE_MIN",
        "int value should be greater than or equal to 0.",
        {"embeds": ["0"]},
    ),
    (
        "timestamp empty",
        {"embeds": [{"description": "d", "timestamp": ""}]},
        ("embeds", "0", "timestamp"),
        "DATE_TYPE_PARSE",
        'Could not parse "". Should be ISO8601.',
        {"embeds": ["0"]},
    ),
    (
        "timestamp as epoch",
        {"embeds": [{"description": "d", "timestamp": 1500218461229}]},
        ("embeds", "0", "timestamp"),
        "DATE_TYPE_PARSE",
        "Could not parse 1500218461229. Should be ISO8601.",
        {"embeds": ["0"]},
    ),
    (
        "embed URL scheme",
        {"embeds": [{"description": "d", "url": "ftp://example.invalid/x"}]},
        ("embeds", "0", "url"),
        "URL_TYPE_INVALID_SCHEME",
        "Scheme \"ftp\" is not supported. Scheme must be one of ('http', 'https').",
        {"embeds": ["0"]},
    ),
]


@pytest.mark.parametrize(
    ("payload", "path", "code", "message", "flat"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_each_limit_in_v10_tree_and_v6_flat_form(
    h: Harness,
    payload: dict[str, Any],
    path: tuple[str, ...],
    code: str,
    message: str,
    flat: dict[str, list[str]],
) -> None:
    status, body, _ = await h.post(payload, version=10)
    assert status == 400
    assert body["code"] == 50035
    assert body["message"] == "Invalid Form Body"
    assert leaf(body["errors"], path) == [{"code": code, "message": message}]

    status, body, _ = await h.post(payload)  # the unversioned URL Discord hands out
    assert status == 400
    assert body == flat
    assert h.emulator.messages == []


async def test_description_error_tree_is_exactly_discords(h: Harness) -> None:
    status, body, _ = await h.post({"embeds": [{"description": "d" * 4097}]}, version=10)
    assert status == 400
    assert body == {
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
    }


async def test_empty_username_gives_both_errors(h: Harness) -> None:
    payload = {"username": "", "content": "x"}
    status, body, _ = await h.post(payload, version=9)
    assert status == 400
    assert body["errors"] == {
        "username": {
            "_errors": [
                {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 80 in length."},
                {"code": "USERNAME_INVALID", "message": 'Username cannot be ""'},
            ]
        }
    }
    status, body, _ = await h.post(payload)
    assert body == {"username": ["Must be between 1 and 80 in length.", 'Username cannot be ""']}


async def test_kapacitor_wire_format_with_empty_strings_is_rejected_everywhere(h: Harness) -> None:
    """Kapacitor sends every key, empty ones as "": Discord refuses username, avatar, timestamp."""
    payload = {
        "username": "",
        "avatar_url": "",
        "embeds": [{"color": 0x7A65F2, "title": "", "description": "CPU ok", "timestamp": ""}],
    }
    status, body, _ = await h.post(payload)
    assert status == 400
    assert body == {
        "username": ["Must be between 1 and 80 in length.", 'Username cannot be ""'],
        "avatar_url": ["Not a well formed URL."],
        "embeds": ["0"],
    }


async def test_v6_lists_each_bad_embed_index_once(h: Harness) -> None:
    bad = {"title": "t" * 300, "color": "red"}
    status, body, _ = await h.post({"embeds": [bad, {"description": "fine"}, bad]})
    assert (status, body) == (400, {"embeds": ["0", "2"]})


async def test_lengths_are_code_points_after_trimming(h: Harness) -> None:
    astral = "\U0001f600" * 4096  # 4096 code points, 8192 UTF-16 units
    assert (await h.post({"embeds": [{"description": astral}]}))[0] == 204
    assert (await h.post({"embeds": [{"description": astral + "\U0010ffff"}]}))[0] == 400
    padded = "  \n" + "c" * 2000 + " \t\n"
    assert (await h.post({"content": padded}))[0] == 204
    assert (await h.post({"content": "\uffff" * 2000}))[0] == 204


async def test_limits_are_inclusive(h: Harness) -> None:
    embed = {
        "title": "t" * 256,
        "description": "d" * 1000,
        "fields": [{"name": "n" * 256, "value": "v" * 1024}] * 2,
        "footer": {"text": "f" * 1000},
        "author": {"name": "a" * 256},
        "color": 0xFFFFFF,
        "timestamp": "2017-07-11T17:27:07.299000+00:00",
    }
    # 256 + 1000 + 2*(256+1024) + 1000 + 256 = 5072 <= 6000
    status, _, _ = await h.post({"content": "c" * 2000, "username": "u" * 80, "embeds": [embed]})
    assert status == 204


async def test_content_type_must_be_json(h: Harness) -> None:
    async with h.session.post(h.url(version=10), data=b'{"content": "x"}') as resp:
        body = await resp.json()
        assert resp.status == 400
        assert body["code"] == 50035
        assert body["errors"]["_errors"][0]["code"] == "CONTENT_TYPE_INVALID"
    async with h.session.post(
        h.url(), data="content=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as resp:
        assert resp.status == 400
        assert list(await resp.json()) == ["_misc"]


async def test_invalid_json_and_non_object(h: Harness) -> None:
    headers = {"Content-Type": "application/json"}
    async with h.session.post(h.url(version=10), data=b"{nope", headers=headers) as resp:
        assert resp.status == 400
        assert await resp.json() == {
            "message": "The request body contains invalid JSON.",
            "code": 50109,
        }
    async with h.session.post(h.url(), data=b"[" * 100_000, headers=headers) as resp:
        assert (resp.status, (await resp.json())["code"]) == (400, 50109)
    status, body, _ = await h.post(["content"], version=10)
    assert status == 400
    assert body["errors"]["_errors"][0]["code"] == "DICT_TYPE_CONVERT"


@pytest.mark.parametrize(
    "payload",
    [{}, {"content": "   "}, {"embeds": []}, {"content": None, "username": "Kapacitor"}],
)
async def test_empty_message(h: Harness, payload: dict[str, Any]) -> None:
    status, body, _ = await h.post(payload, version=10)
    assert (status, body) == (400, {"message": "Cannot send an empty message", "code": 50006})


# --------------------------------------------------------------------------- rate limits


async def test_sixth_request_in_window_is_rate_limited_until_the_window_ends(h: Harness) -> None:
    for i in range(5):
        status, _, headers = await h.post({"content": str(i)}, version=10)
        assert status == 204
        assert headers["X-RateLimit-Limit"] == "5"
        assert headers["X-RateLimit-Remaining"] == str(4 - i)
        assert headers["X-RateLimit-Bucket"]
        assert "X-RateLimit-Scope" not in headers
    assert headers["X-RateLimit-Reset-After"] == "2.000"
    assert float(headers["X-RateLimit-Reset"]) == pytest.approx(WALL0 + 102.0)

    h.clock.advance(0.5)
    status, body, headers = await h.post({"content": "6th"}, version=10)
    assert status == 429
    assert body == {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}
    assert headers["Retry-After"] == "2"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset-After"] == "1.500"
    assert headers["X-RateLimit-Scope"] == "user"

    h.clock.advance(1.4)
    assert (await h.post({"content": "still"}))[1]["retry_after"] == pytest.approx(0.1)

    h.clock.advance(0.1)
    status, _, headers = await h.post({"content": "again"})
    assert status == 204
    assert headers["X-RateLimit-Remaining"] == "4"
    assert [m.payload["content"] for m in h.emulator.messages] == ["0", "1", "2", "3", "4", "again"]
    assert [r.status for r in h.emulator.requests][-3:] == [429, 429, 204]


async def test_rate_limits_are_per_webhook_and_failures_count(h: Harness) -> None:
    for _ in range(5):
        assert (await h.post({"content": ""}))[0] == 400  # failures spend the budget too
    assert (await h.post({"content": "x"}))[0] == 429
    assert (await h.post({"content": "x"}, webhook_id=OTHER))[0] == 204


async def test_custom_rate_limit() -> None:
    clock = FakeClock()
    emulator = DiscordEmulator(rate_limit=1, rate_window=10.0, clock=clock)
    await emulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            url = emulator.webhook_url(token=TOKEN)
            async with session.post(url, json={"content": "a"}) as resp:
                assert resp.status == 204
            async with session.post(url, json={"content": "b"}) as resp:
                assert resp.status == 429
                assert (await resp.json())["retry_after"] == 10.0
    finally:
        await emulator.stop()


# --------------------------------------------------------------------------- faults


async def test_fault_answers_next_count_requests(h: Harness) -> None:
    h.emulator.inject_fault(status=500, count=2)
    for _ in range(2):
        status, body, headers = await h.post({"content": "x"})
        assert status == 500
        assert body == {"message": "500: Internal Server Error", "code": 0}
        assert "X-RateLimit-Remaining" in headers
    assert (await h.post({"content": "x"}))[0] == 204
    assert len(h.emulator.messages) == 1
    assert [r.reason for r in h.emulator.requests] == [
        "injected fault 500",
        "injected fault 500",
        "",
    ]


async def test_fault_429_with_retry_after(h: Harness) -> None:
    h.emulator.inject_fault(status=429, retry_after=1.5)
    status, body, headers = await h.post({"content": "x"})
    assert status == 429
    assert body == {"message": "You are being rate limited.", "global": False, "retry_after": 1.5}
    assert headers["Retry-After"] == "2"
    assert headers["X-RateLimit-Scope"] == "user"


async def test_fault_scoped_to_one_webhook_and_custom_body(h: Harness) -> None:
    h.emulator.inject_fault(status=503, webhook_id=OTHER, body={"message": "busy", "code": 1})
    assert (await h.post({"content": "x"}))[0] == 204
    status, body, _ = await h.post({"content": "x"}, webhook_id=OTHER)
    assert (status, body) == (503, {"message": "busy", "code": 1})
    assert (await h.post({"content": "x"}, webhook_id=OTHER))[0] == 204


async def test_success_fault_only_delays(h: Harness) -> None:
    h.emulator.inject_fault(status=204, delay=0.001)
    status, body, _ = await h.post({"content": "slow"}, params={"wait": "true"})
    assert status == 200
    assert body["content"] == "slow"


async def test_stop_does_not_wait_for_an_injected_delay(h: Harness) -> None:
    h.emulator.inject_fault(status=500, delay=3600)
    pending = asyncio.ensure_future(h.post({"content": "x"}))
    while h.emulator._faults:  # the fault is taken when the request arrives
        await asyncio.sleep(0.001)
    await h.emulator.stop()  # would hang for an hour if the delay were a plain sleep
    status, _, _ = await pending
    assert status == 500


async def test_faults_over_http(h: Harness) -> None:
    spec = {"status": 429, "count": 2, "webhook_id": WEBHOOK, "retry_after": 0.25}
    async with h.session.post(f"{h.base}/_emulator/faults", json=spec) as resp:
        assert resp.status == 201
    async with h.session.get(f"{h.base}/_emulator/faults") as resp:
        assert [f["count"] for f in await resp.json()] == [2]
    status, body, _ = await h.post({"content": "x"})
    assert (status, body["retry_after"]) == (429, 0.25)
    async with h.session.delete(f"{h.base}/_emulator/faults") as resp:
        assert resp.status == 204
    assert (await h.post({"content": "x"}))[0] == 204


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"count": 2}, '"status"'),
        ({"status": "500"}, "status"),
        ({"status": 500, "count": 0}, "count"),
        ({"status": 500, "retry_after": -1}, "retry_after"),
        ({"status": 500, "colour": 1}, "colour"),
        ([500], "JSON object"),
    ],
)
async def test_bad_fault_spec_is_a_clear_400(h: Harness, spec: Any, needle: str) -> None:
    async with h.session.post(f"{h.base}/_emulator/faults", json=spec) as resp:
        assert resp.status == 400
        assert needle in (await resp.json())["error"]


def test_inject_fault_rejects_nonsense() -> None:
    emulator = DiscordEmulator()
    with pytest.raises(ValueError, match="status"):
        emulator.inject_fault(status=99)
    with pytest.raises(ValueError, match="delay"):
        emulator.inject_fault(status=500, delay=-1)
    with pytest.raises(ValueError, match="rate_limit"):
        DiscordEmulator(rate_limit=0)


async def test_deleted_webhook_answers_unknown_webhook(h: Harness) -> None:
    h.emulator.delete_webhook(WEBHOOK)
    status, body, _ = await h.post({"content": "x"}, version=10)
    assert (status, body) == (404, {"message": "Unknown Webhook", "code": 10015})
    async with h.session.post(f"{h.base}/_emulator/webhooks/{OTHER}/delete") as resp:
        assert resp.status == 204
    assert (await h.post({"content": "x"}, webhook_id=OTHER))[0] == 404
    assert (await h.post({"content": "x"}, webhook_id="111111111111111111"))[0] == 204


# --------------------------------------------------------------------------- edit in place


async def test_edit_fetch_and_delete_a_sent_message(h: Harness) -> None:
    _, sent, _ = await h.post(KAPACITOR_ALERT, version=10, params={"wait": "true"})
    message_url = f"{h.url(version=10)}/messages/{sent['id']}"
    recovered = {"embeds": [{"color": 0x7A65F2, "title": "OK", "description": "CPU fine"}]}
    h.clock.advance(60)
    async with h.session.patch(message_url, json=recovered) as resp:
        assert resp.status == 200
        edited = await resp.json()
        assert "X-RateLimit-Remaining" in resp.headers
    assert edited["id"] == sent["id"]
    assert edited["author"]["username"] == "Kapacitor"  # identity is fixed at send time
    assert edited["embeds"][0]["description"] == "CPU fine"
    assert datetime.fromisoformat(edited["edited_timestamp"]).timestamp() == WALL0 + 160.0
    assert h.emulator.messages[0].payload["embeds"] == recovered["embeds"]
    assert "edited" in h.echo.getvalue()

    async with h.session.get(message_url) as resp:
        assert (await resp.json())["embeds"][0]["title"] == "OK"
    async with h.session.delete(message_url) as resp:
        assert resp.status == 204
    async with h.session.get(message_url) as resp:
        assert (resp.status, await resp.json()) == (
            404,
            {"message": "Unknown Message", "code": 10008},
        )


async def test_edit_is_validated_and_needs_the_thread_and_token(h: Harness) -> None:
    _, sent, _ = await h.post({"content": "x"}, params={"wait": "true", "thread_id": "42"})
    message_url = f"{h.url(version=10)}/messages/{sent['id']}"
    async with h.session.patch(message_url, json={"content": "y"}) as resp:
        assert resp.status == 404  # not without ?thread_id=
    async with h.session.patch(
        message_url, params={"thread_id": "42"}, json={"content": "y" * 2001}
    ) as resp:
        assert resp.status == 400
        assert "content" in (await resp.json())["errors"]
    async with h.session.patch(
        message_url, params={"thread_id": "42"}, json={"content": None}
    ) as resp:
        assert (await resp.json())["code"] == 50006
    wrong_token = message_url.replace(TOKEN, "another-token")
    async with h.session.patch(wrong_token, params={"thread_id": "42"}, json={}) as resp:
        assert (resp.status, (await resp.json())["code"]) == (401, 50027)
    assert h.emulator.messages[0].payload == {"content": "x"}
    assert "another-token" not in h.echo.getvalue()


# --------------------------------------------------------------------------- inspection


async def test_messages_endpoint_lists_filters_and_clears_without_tokens(h: Harness) -> None:
    await h.post(KAPACITOR_ALERT)
    await h.post({"content": "other"}, webhook_id=OTHER, params={"thread_id": "42"})
    async with h.session.get(f"{h.base}/messages") as resp:
        text = await resp.text()
    assert TOKEN not in text
    listed = json.loads(text)
    assert [m["webhook_id"] for m in listed] == [WEBHOOK, OTHER]
    assert listed[0]["payload"] == KAPACITOR_ALERT
    assert listed[0]["status"] == 204
    assert listed[1]["thread_id"] == "42"
    assert set(listed[0]) == {
        "id",
        "webhook_id",
        "thread_id",
        "received_at",
        "status",
        "payload",
        "edited_at",
        "thread_name",
        "flags",
        "silent",
        "pings",
        "mentions",
        "edits",
        "original_payload",
    }

    async with h.session.get(f"{h.base}/messages", params={"webhook_id": OTHER}) as resp:
        assert [m["payload"]["content"] for m in await resp.json()] == ["other"]
    async with h.session.delete(f"{h.base}/messages") as resp:
        assert resp.status == 204
    async with h.session.get(f"{h.base}/messages") as resp:
        assert await resp.json() == []


async def test_requests_log_keeps_rejections_with_redacted_paths(h: Harness) -> None:
    await h.post({"content": "x" * 2001}, version=10)
    async with h.session.get(f"{h.base}/_emulator/requests") as resp:
        text = await resp.text()
    assert TOKEN not in text
    [record] = json.loads(text)
    assert record["status"] == 400
    assert record["path"] == f"/api/v10/webhooks/{WEBHOOK}/***"
    assert "content: Must be 2000 or fewer in length." in record["reason"]


async def test_reset_forgets_everything(h: Harness) -> None:
    for _ in range(5):
        await h.post({"content": "x"})
    h.emulator.inject_fault(status=500)
    h.emulator.delete_webhook(OTHER)
    async with h.session.post(f"{h.base}/_emulator/reset") as resp:
        assert resp.status == 204
    assert (h.emulator.messages, h.emulator.requests) == ([], [])
    assert (await h.post({"content": "x"}))[0] == 204  # no fault, fresh window
    assert (await h.post({"content": "x"}, webhook_id=OTHER))[0] == 204


async def test_index_page_is_for_people(h: Harness) -> None:
    await h.post({"content": "<b>bold?</b>", **KAPACITOR_ALERT})
    async with h.session.get(f"{h.base}/") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page
    assert "Hey, check your CPU" in page
    assert TOKEN not in page


async def test_unknown_routes_answer_like_discord(h: Harness) -> None:
    async with h.session.get(f"{h.base}/api/v10/nothing") as resp:
        assert (resp.status, await resp.json()) == (404, {"message": "404: Not Found", "code": 0})
    async with h.session.put(h.url()) as resp:
        assert resp.status == 405
        assert (await resp.json())["code"] == 0


async def test_get_webhook_object(h: Harness) -> None:
    async with h.session.get(h.url(version=10)) as resp:
        body = await resp.json()
    assert body["id"] == WEBHOOK
    assert TOKEN not in json.dumps(body)


async def test_console_lines_are_readable_and_never_show_the_token(h: Harness) -> None:
    await h.post(KAPACITOR_ALERT, params={"thread_id": "42"})
    await h.post({"embeds": [{"description": "d" * 4097}]}, version=10)
    lines = h.echo.getvalue().splitlines()
    assert (
        lines[0]
        == "[webhook 1234…5678 thread 42] <Kapacitor> WARNING  Uh Oh! — Hey, check your CPU"
    )
    assert lines[1].startswith("[webhook 1234…5678] rejected 400: invalid form body:")
    assert "embeds.0.description: Must be 4096 or fewer in length." in lines[1]
    assert TOKEN not in h.echo.getvalue()


# --------------------------------------------------------------------------- command line


def test_parser_defaults_and_options() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.rate_limit, args.rate_window, args.quiet) == (
        "127.0.0.1",
        9093,
        5,
        2.0,
        False,
    )
    args = build_parser().parse_args(
        ["--host", "::1", "--port", "0", "--rate-limit", "3", "--rate-window", "1.5", "--quiet"]
    )
    assert (args.host, args.port, args.rate_limit, args.rate_window, args.quiet) == (
        "::1",
        0,
        3,
        1.5,
        True,
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--port", "http"], "port must be a number"),
        (["--port", "70000"], "between 0 and 65535"),
        (["--rate-limit", "0"], "at least 1"),
        (["--rate-window", "-2"], "more than 0 seconds"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


async def test_command_serves_until_sigterm_and_exits_0() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leyden.devtools.discord_emulator",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert banner.startswith("Discord emulator listening on http://127.0.0.1:")
        url = banner.split("webhook URL: ")[1].strip()
        assert url.endswith(f"/api/webhooks/{WEBHOOK}/emulator-token")
        secret_url = url.replace("emulator-token", TOKEN)
        async with (
            aiohttp.ClientSession() as session,
            session.post(secret_url, json=KAPACITOR_ALERT) as resp,
        ):
            assert resp.status == 204
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "WARNING  Uh Oh! — Hey, check your CPU" in out.decode()
    assert TOKEN not in out.decode() + err.decode()


# --------------------------------------------------------------------------- Discord's other limits


@pytest.fixture
async def limits() -> AsyncIterator[Harness]:
    """An emulator with small per-channel and host limits, so they are quick to reach."""
    clock = FakeClock()
    echo = io.StringIO()
    emulator = DiscordEmulator(
        rate_limit=100,
        channel_limit=3,
        channel_window=60.0,
        global_limit=10,
        global_window=1.0,
        clock=clock,
        wall_clock=lambda: WALL0 + clock.now,
        echo=echo,
    )
    base = await emulator.start()
    async with aiohttp.ClientSession() as session:
        yield Harness(emulator, clock, echo, session, base)
    await emulator.stop()


async def test_defaults_are_discords_limits() -> None:
    emulator = DiscordEmulator()
    assert (emulator.rate_limit, emulator.rate_window) == (5, 2.0)
    assert (emulator.channel_limit, emulator.channel_window) == (30, 60.0)
    assert (emulator.global_limit, emulator.global_window) == (50, 1.0)
    assert emulator.rate_limited == {"user": 0, "shared": 0, "global": 0}


async def test_channel_limit_answers_a_shared_429_while_the_bucket_has_room(
    limits: Harness,
) -> None:
    for i in range(3):
        assert (await limits.post({"content": str(i)}))[0] == 204
    limits.clock.advance(15)
    status, body, headers = await limits.post({"content": "4th"}, version=10)
    assert status == 429
    assert body == {
        "message": "The write action you are performing on the channel has hit the write "
        "rate limit.",
        "retry_after": 45.0,
        "global": False,
        "code": 20028,
    }
    assert headers["Retry-After"] == "45"
    assert headers["X-RateLimit-Scope"] == "shared"
    assert "X-RateLimit-Global" not in headers
    # the headers speak of the webhook's bucket, which still has room (discord-api-docs #1454)
    assert int(headers["X-RateLimit-Remaining"]) > 0
    assert headers["X-RateLimit-Limit"] == "100"
    assert limits.emulator.rate_limited == {"user": 0, "shared": 1, "global": 0}
    assert (await limits.post({"content": "x"}, webhook_id=OTHER))[0] == 204  # its own channel
    limits.clock.advance(45)
    assert (await limits.post({"content": "next minute"}))[0] == 204
    assert [m.payload["content"] for m in limits.emulator.messages] == [
        "0",
        "1",
        "2",
        "x",
        "next minute",
    ]


async def test_rejected_messages_give_their_channel_slot_back(limits: Harness) -> None:
    for _ in range(5):
        assert (await limits.post({"content": ""}))[0] == 400  # nothing written
    limits.emulator.delete_webhook(OTHER)
    assert (await limits.post({"content": "x"}, webhook_id=OTHER))[0] == 404
    for i in range(3):
        assert (await limits.post({"content": str(i)}))[0] == 204
    assert (await limits.post({"content": "over"}))[0] == 429


async def test_webhooks_can_share_a_channel(limits: Harness) -> None:
    limits.emulator.set_channel(WEBHOOK, "ops")
    limits.emulator.set_channel(OTHER, "ops")
    assert limits.emulator.channel_of(WEBHOOK) == limits.emulator.channel_of(OTHER) == "ops"
    assert (await limits.post({"content": "a"}))[0] == 204
    assert (await limits.post({"content": "b"}, webhook_id=OTHER))[0] == 204
    status, body, _ = await limits.post({"content": "c"}, params={"wait": "true"})
    assert status == 200
    first = limits.emulator.messages[0]
    assert body["channel_id"] == limits.emulator._message_object(first)["channel_id"]
    status, body, headers = await limits.post({"content": "d"}, webhook_id=OTHER)
    assert (status, body["code"], headers["X-RateLimit-Scope"]) == (429, 20028, "shared")


async def test_channels_from_the_constructor() -> None:
    clock = FakeClock()
    emulator = DiscordEmulator(channel_limit=1, channels={WEBHOOK: "c", OTHER: "c"}, clock=clock)
    await emulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(emulator.webhook_url(WEBHOOK), json={"content": "a"}) as resp:
                assert resp.status == 204
            async with session.post(emulator.webhook_url(OTHER), json={"content": "b"}) as resp:
                assert resp.status == 429
                assert resp.headers["X-RateLimit-Scope"] == "shared"
    finally:
        await emulator.stop()


async def test_host_limit_answers_a_global_429_across_webhooks(limits: Harness) -> None:
    for i in range(10):  # ten webhooks, ten channels: only the host limit is shared
        webhook = f"1000000000000000{i:02d}"
        assert (await limits.post({"content": str(i)}, webhook_id=webhook))[0] == 204
    limits.clock.advance(0.25)
    status, body, headers = await limits.post({"content": "11th"}, version=10)
    assert status == 429
    assert body == {"message": "You are being rate limited.", "retry_after": 0.75, "global": True}
    assert headers["X-RateLimit-Global"] == "true"
    assert headers["X-RateLimit-Scope"] == "global"
    assert headers["Retry-After"] == "1"
    assert headers["X-RateLimit-Remaining"] == "100"  # the webhook's bucket kept its slot
    assert limits.emulator.rate_limited == {"user": 0, "shared": 0, "global": 1}
    limits.clock.advance(0.75)
    status, _, headers = await limits.post({"content": "next second"})
    assert status == 204
    assert headers["X-RateLimit-Remaining"] == "99"


async def test_every_answer_carries_the_bucket_headers(limits: Harness) -> None:
    for payload in ({"content": "ok"}, {"content": ""}, [1]):
        _, _, headers = await limits.post(payload)
        for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
            assert f"X-RateLimit-{name}" in headers


async def test_user_429s_and_injected_429s_are_counted(h: Harness) -> None:
    for _ in range(5):
        await h.post({"content": "x"})
    assert (await h.post({"content": "x"}))[0] == 429
    h.clock.advance(2)
    h.emulator.inject_fault(status=429, retry_after=1)
    assert (await h.post({"content": "x"}))[0] == 429
    assert h.emulator.rate_limited == {"user": 2, "shared": 0, "global": 0}
    async with h.session.get(f"{h.base}/_emulator/stats") as resp:
        stats = await resp.json()
    assert stats["rate_limited"] == {"user": 2, "shared": 0, "global": 0}
    assert stats["messages"] == 5
    assert stats["limits"]["channel"] == {"limit": 30, "window": 60.0}
    h.emulator.reset()
    assert h.emulator.rate_limited == {"user": 0, "shared": 0, "global": 0}


async def test_limits_can_be_turned_off() -> None:
    clock = FakeClock()
    emulator = DiscordEmulator(rate_limit=1000, channel_limit=None, global_limit=None, clock=clock)
    await emulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(80):
                async with session.post(emulator.webhook_url(), json={"content": str(i)}) as resp:
                    assert resp.status == 204
    finally:
        await emulator.stop()
    assert emulator.rate_limited == {"user": 0, "shared": 0, "global": 0}


def test_constructor_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="channel_limit"):
        DiscordEmulator(channel_limit=0)
    with pytest.raises(ValueError, match="global_window"):
        DiscordEmulator(global_window=0)


def test_parser_limit_options() -> None:
    args = build_parser().parse_args([])
    assert (args.channel_limit, args.channel_window, args.global_limit, args.channel) == (
        30,
        60.0,
        50,
        [],
    )
    args = build_parser().parse_args(
        [
            "--channel-limit",
            "0",
            "--channel-window",
            "30",
            "--global-limit",
            "0",
            "--channel",
            f"ops={WEBHOOK},{OTHER}",
            "--channel",
            "dev=42",
        ]
    )
    assert (args.channel_limit, args.channel_window, args.global_limit) == (None, 30.0, None)
    assert args.channel == [("ops", [WEBHOOK, OTHER]), ("dev", ["42"])]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--channel-limit", "-1"], "0 (no limit) or more"),
        (["--global-limit", "x"], "whole number"),
        (["--channel", "ops"], "NAME=WEBHOOK_ID"),
        (["--channel", "=1"], "NAME=WEBHOOK_ID"),
        (["--channel-window", "0"], "more than 0 seconds"),
    ],
)
def test_bad_limit_arguments_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


async def test_command_line_channel_limit_is_in_force() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leyden.devtools.discord_emulator",
        "--port",
        "0",
        "--quiet",
        "--channel-limit",
        "2",
        "--channel",
        f"ops={WEBHOOK},{OTHER}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        base = banner.split("listening on ")[1].split(" ")[0]
        statuses = []
        async with aiohttp.ClientSession() as session:
            for webhook in (WEBHOOK, OTHER, OTHER):
                url = f"{base}/api/webhooks/{webhook}/{TOKEN}"
                async with session.post(url, json={"content": "x"}) as resp:
                    statuses.append(resp.status)
            async with session.get(f"{base}/_emulator/stats") as resp:
                stats = await resp.json()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert statuses == [204, 204, 429]
    assert stats["rate_limited"]["shared"] == 1
    assert stats["channels"] == {WEBHOOK: "ops", OTHER: "ops"}


# --------------------------------------------------------------------------- issue 12: wait, edits, threads


async def _patch(
    h: Harness, message_id: str, body: Any, *, thread_id: str | None = None, token: str = TOKEN
) -> tuple[int, Any]:
    url = f"{h.url(version=10)}/messages/{message_id}".replace(TOKEN, token)
    params = {"thread_id": thread_id} if thread_id else None
    async with h.session.patch(url, json=body, params=params) as resp:
        return resp.status, await resp.json()


async def test_wait_true_message_object_has_discords_fields(h: Harness) -> None:
    status, body, _ = await h.post(
        {"content": "hi", "flags": 4096}, version=10, params={"wait": "true"}
    )
    assert status == 200
    assert body["edited_timestamp"] is None
    assert body["flags"] == 4096
    assert body["embeds"] == []
    assert "position" not in body  # only messages in threads have one
    for key in ("id", "channel_id", "webhook_id"):
        assert body[key].isdigit()


async def test_edit_keeps_a_history_and_ignores_identity(h: Harness) -> None:
    _, sent, _ = await h.post(KAPACITOR_ALERT, version=10, params={"wait": "true"})
    h.clock.advance(5)
    status, edited = await _patch(
        h,
        sent["id"],
        {"username": "Someone else", "avatar_url": "https://x/a.png", "content": "resolved"},
    )
    assert status == 200
    assert edited["author"]["username"] == "Kapacitor"
    assert edited["content"] == "resolved"
    assert edited["edited_timestamp"] is not None
    h.clock.advance(5)
    assert (await _patch(h, sent["id"], {"embeds": []}))[0] == 200
    [message] = h.emulator.messages
    assert [e.ignored for e in message.edits] == [["avatar_url", "username"], []]
    assert message.edits[0].changes == {"content": "resolved"}
    assert message.original_payload == KAPACITOR_ALERT
    assert message.payload == {"username": "Kapacitor", "content": "resolved", "embeds": []}
    async with h.session.get(f"{h.base}/messages") as resp:
        [listed] = await resp.json()
    assert [e["edited_at"] for e in listed["edits"]] == [WALL0 + 105.0, WALL0 + 110.0]
    assert listed["original_payload"] == KAPACITOR_ALERT
    assert "ignored: avatar_url, username" in h.echo.getvalue()


async def test_edit_of_an_unknown_message_is_10008_and_edits_are_rate_limited(h: Harness) -> None:
    assert await _patch(h, "1234", {"content": "x"}) == (
        404,
        {"message": "Unknown Message", "code": 10008},
    )
    _, sent, _ = await h.post({"content": "x"}, params={"wait": "true"})
    statuses = [(await _patch(h, sent["id"], {"content": str(i)}))[0] for i in range(5)]
    assert statuses == [200] * 4 + [429]  # the unknown message spent one of the 5


async def test_edit_is_validated_like_a_new_message(h: Harness) -> None:
    _, sent, _ = await h.post({"content": "x"}, params={"wait": "true"})
    status, body = await _patch(h, sent["id"], {"embeds": [{"title": "t" * 257}]})
    assert status == 400
    assert "title" in body["errors"]["embeds"]["0"]
    status, body = await _patch(h, sent["id"], {"allowed_mentions": {"parse": ["nobody"]}})
    assert status == 400
    assert "allowed_mentions" in body["errors"]


async def test_thread_id_of_a_known_thread_and_positions(h: Harness) -> None:
    thread = h.emulator.add_thread(WEBHOOK, "incidents")
    first = (await h.post({"content": "a"}, params={"wait": "1", "thread_id": thread}))[1]
    second = (await h.post({"content": "b"}, params={"wait": "1", "thread_id": thread}))[1]
    assert first["channel_id"] == second["channel_id"] == thread
    assert (first["position"], second["position"]) == (0, 1)
    assert h.emulator.messages[0].thread_name == "incidents"
    assert "'incidents'" in h.echo.getvalue()


async def test_strict_threads_refuse_an_unknown_thread() -> None:
    emulator = DiscordEmulator(strict_threads=True)
    base = await emulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{base}/api/v10/webhooks/{WEBHOOK}/{TOKEN}"
            params = {"thread_id": "42", "wait": "true"}
            async with session.post(url, json={"content": "x"}, params=params) as resp:
                assert (resp.status, await resp.json()) == (
                    404,
                    {"message": "Unknown Channel", "code": 10003},
                )
            thread = emulator.add_thread(WEBHOOK, "known", thread_id="42")
            async with session.post(url, json={"content": "x"}, params=params) as resp:
                assert resp.status == 200
            # a thread of another channel is unknown to this webhook
            async with session.post(
                f"{base}/api/v10/webhooks/{OTHER}/{TOKEN}", json={"content": "x"}, params=params
            ) as resp:
                assert (resp.status, (await resp.json())["code"]) == (404, 10003)
            assert thread == "42"
    finally:
        await emulator.stop()


async def test_forum_post_opens_a_thread_whose_id_is_the_message_id(h: Harness) -> None:
    h.emulator.set_forum(WEBHOOK)
    status, body, _ = await h.post(
        {"content": "CPU high", "thread_name": "  cpu on web-1  "},
        version=10,
        params={"wait": "true"},
    )
    assert status == 200
    thread_id = body["channel_id"]
    assert body["id"] == thread_id
    assert body["position"] == 0
    assert thread_id in h.emulator.threads
    assert h.emulator.threads[thread_id].name == "cpu on web-1"
    status, reply, _ = await h.post(
        {"content": "recovered"}, version=10, params={"wait": "true", "thread_id": thread_id}
    )
    assert (status, reply["channel_id"], reply["position"]) == (200, thread_id, 1)
    # editing the post needs its thread, like any message in a thread
    assert (await _patch(h, body["id"], {"content": "x"}))[0] == 404
    assert (await _patch(h, body["id"], {"content": "x"}, thread_id=thread_id))[0] == 200
    async with h.session.get(f"{h.base}/_emulator/threads") as resp:
        [listed] = await resp.json()
    assert listed["name"] == "cpu on web-1"
    assert listed["forum_post"] is True
    assert listed["messages"] == [body["id"], reply["id"]]


async def test_forum_rules(h: Harness) -> None:
    async with h.session.post(f"{h.base}/_emulator/webhooks/{WEBHOOK}/forum") as resp:
        assert resp.status == 204
    assert (await h.post({"content": "x"}))[1] == {
        "message": "Webhooks posted to forum channels must have a thread_name or thread_id",
        "code": 220001,
    }
    status, body, _ = await h.post({"content": "x", "thread_name": "a"}, params={"thread_id": "42"})
    assert (status, body["code"]) == (400, 220002)
    # a forum's threads are always strict
    status, body, _ = await h.post({"content": "x"}, params={"thread_id": "42"})
    assert (status, body["code"]) == (404, 10003)
    status, body, _ = await h.post({"content": "x", "thread_name": "a" * 101}, version=10)
    assert status == 400
    assert body["errors"]["thread_name"]["_errors"][0]["code"] == "BASE_TYPE_BAD_LENGTH"
    status, body, _ = await h.post({"content": "x", "thread_name": "a"}, webhook_id=OTHER)
    assert (status, body["code"]) == (400, 220003)  # OTHER is no forum
    assert h.emulator.messages == []


async def test_thread_control_endpoint(h: Harness) -> None:
    url = f"{h.base}/_emulator/webhooks/{WEBHOOK}/threads"
    async with h.session.post(url, json={"name": "ops", "id": "777"}) as resp:
        assert resp.status == 201
        assert (await resp.json())["id"] == "777"
    async with h.session.post(url, json={"name": ""}) as resp:
        assert resp.status == 400
        assert "thread name" in (await resp.json())["error"]
    status, body, _ = await h.post({"content": "x"}, params={"wait": "1", "thread_id": "777"})
    assert (status, body["channel_id"]) == (200, "777")


# --------------------------------------------------------------------------- issue 12: mentions, flags


ROLE = "111122223333444455"
USER = "222233334444555566"


async def test_explicit_allowed_mentions_ping_only_the_named_ids(h: Harness) -> None:
    await h.post(
        {
            "content": f"<@&{ROLE}> <@&999> <@{USER}> @everyone",
            "allowed_mentions": {"parse": [], "roles": [ROLE]},
            "embeds": [{"description": f"<@&{ROLE}> in an embed never pings <@{USER}>"}],
        }
    )
    [message] = h.emulator.messages
    assert (message.pings.roles, message.pings.users, message.pings.everyone) == (
        (ROLE,),
        (),
        False,
    )
    assert "(pings role 111122223333444455)" in h.echo.getvalue()


async def test_parse_empty_pings_nobody_and_absent_parses_everything(h: Harness) -> None:
    await h.post({"content": f"<@&{ROLE}> @here", "allowed_mentions": {"parse": []}})
    await h.post({"content": f"<@&{ROLE}> <@!{USER}> @here"})
    await h.post({"embeds": [{"description": f"<@&{ROLE}>"}]})
    silenced, default, embed_only = h.emulator.messages
    assert silenced.pings.nobody
    assert default.pings.to_json() == {"users": [USER], "roles": [ROLE], "everyone": True}
    assert embed_only.pings.nobody
    async with h.session.get(f"{h.base}/messages") as resp:
        listed = await resp.json()
    assert listed[1]["pings"] == {"users": [USER], "roles": [ROLE], "everyone": True}
    assert listed[0]["pings"] == {"users": [], "roles": [], "everyone": False}


async def test_wait_answer_lists_the_mentions(h: Harness) -> None:
    _, body, _ = await h.post(
        {"content": f"<@&{ROLE}> <@{USER}>", "allowed_mentions": {"users": [USER, "5"]}},
        params={"wait": "true"},
    )
    assert body["mention_roles"] == []
    assert [u["id"] for u in body["mentions"]] == [USER]
    assert body["mention_everyone"] is False


@pytest.mark.parametrize(
    ("allowed", "path", "code"),
    [
        ({"parse": ["channels"]}, ("parse", "0"), "BASE_TYPE_CHOICES"),
        ({"parse": "users"}, ("parse",), "LIST_TYPE_CONVERT"),
        ({"roles": ["x1"]}, ("roles", "0"), "NUMBER_TYPE_COERCE"),
        ({"users": [str(i) for i in range(101)]}, ("users",), "BASE_TYPE_MAX_LENGTH"),
        ({"parse": ["users"], "users": [USER]}, (), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"),
        ({"parse": ["roles"], "roles": [ROLE]}, (), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"),
        ({"replied_user": "yes"}, ("replied_user",), "BASE_TYPE_BOOLEAN"),
        ("all", (), "DICT_TYPE_CONVERT"),
    ],
)
async def test_allowed_mentions_are_validated(
    h: Harness, allowed: Any, path: tuple[str, ...], code: str
) -> None:
    status, body, _ = await h.post({"content": "x", "allowed_mentions": allowed}, version=10)
    assert status == 400
    node = body["errors"]["allowed_mentions"]
    for key in path:
        node = node[key]
    assert node["_errors"][0]["code"] == code
    assert h.emulator.messages == []


async def test_allowed_mentions_that_discord_accepts(h: Harness) -> None:
    for allowed in (
        {"parse": ["users", "roles", "everyone"]},
        {"parse": ["users"], "users": []},  # a falsy list is no error (Discord's docs)
        {"users": None, "roles": [int(ROLE)], "replied_user": False},
        {"users": [str(i) for i in range(100)]},
    ):
        status, body, _ = await h.post({"content": "x", "allowed_mentions": allowed}, version=10)
        assert status == 204, (allowed, body)


@pytest.mark.parametrize("flags", [4, 4096, 4100, 0])
async def test_flags_a_webhook_may_set(h: Harness, flags: int) -> None:
    status, body, _ = await h.post({"content": "x", "flags": flags}, params={"wait": "1"})
    assert (status, body["flags"]) == (200, flags)
    assert h.emulator.messages[0].silent is bool(flags & 4096)


@pytest.mark.parametrize("flags", [1, 1 << 6, 64 | 4, -1, "4", True])
async def test_other_flags_are_refused(h: Harness, flags: Any) -> None:
    status, body, _ = await h.post({"content": "x", "flags": flags}, version=10)
    assert status == 400
    assert "flags" in body["errors"]


async def test_components_v2_flag_excludes_content(h: Harness) -> None:
    status, body, _ = await h.post({"content": "x", "flags": 1 << 15}, version=10)
    assert status == 400
    assert body["errors"]["content"]["_errors"][0]["code"] == (
        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"
    )


async def test_silent_message_still_records_its_pings(h: Harness) -> None:
    await h.post({"content": f"<@&{ROLE}>", "allowed_mentions": {"roles": [ROLE]}, "flags": 4096})
    [message] = h.emulator.messages
    assert message.silent
    assert message.pings.roles == (ROLE,)
    assert "silently" in h.echo.getvalue()


async def test_edit_flags_and_mentions(h: Harness) -> None:
    _, sent, _ = await h.post(
        {
            "content": f"<@&{ROLE}>",
            "allowed_mentions": {"parse": [], "roles": [ROLE]},
            "flags": 4096,
        },
        params={"wait": "true"},
    )
    # SUPPRESS_NOTIFICATIONS cannot be changed, but sending the message's own flags back is fine
    status, edited = await _patch(h, sent["id"], {"flags": 4096 | 4})
    assert (status, edited["flags"]) == (200, 4096 | 4)
    status, edited = await _patch(h, sent["id"], {"flags": 0})
    assert (status, edited["flags"]) == (200, 4096)
    _, plain, _ = await h.post({"content": "x"}, params={"wait": "true"})
    status, body = await _patch(h, plain["id"], {"flags": 4096})
    assert status == 400
    assert "flags" in body["errors"]
    # an edit rebuilds the mentions from its own allowed_mentions (default: parse all) ...
    status, edited = await _patch(h, sent["id"], {"content": f"resolved <@&{ROLE}> <@{USER}>"})
    assert edited["mention_roles"] == [ROLE]
    assert [u["id"] for u in edited["mentions"]] == [USER]
    status, edited = await _patch(
        h, sent["id"], {"content": f"<@&{ROLE}>", "allowed_mentions": {"parse": []}}
    )
    assert edited["mention_roles"] == []
    # ... but notifies nobody: pings stay those of the post
    message = h.emulator.messages[0]
    assert message.pings.roles == (ROLE,)
    assert message.pings.users == ()


# --------------------------------------------------------------------------- issue 12: 401/404


async def test_reset_token_answers_401_until_the_right_token(h: Harness) -> None:
    async with h.session.post(
        f"{h.base}/_emulator/webhooks/{WEBHOOK}/token", json={"token": "fresh"}
    ) as resp:
        assert resp.status == 204
    status, body, _ = await h.post({"content": "x"}, version=10)
    assert (status, body) == (401, {"message": "Invalid Webhook Token", "code": 50027})
    async with h.session.post(
        f"{h.base}/api/v10/webhooks/{WEBHOOK}/fresh", json={"content": "x"}
    ) as resp:
        assert resp.status == 204
    assert (await h.post({"content": "x"}, webhook_id=OTHER))[0] == 204  # others unaffected
    async with h.session.get(f"{h.base}/_emulator/requests") as resp:
        text = await resp.text()
    assert TOKEN not in text and "fresh" not in text
    h.emulator.set_token(WEBHOOK, None)
    assert (await h.post({"content": "x"}))[0] == 204


async def test_deleted_webhook_is_404_10015_on_every_route_until_restored(h: Harness) -> None:
    _, sent, _ = await h.post({"content": "x"}, params={"wait": "true"})
    async with h.session.post(f"{h.base}/_emulator/webhooks/{WEBHOOK}/delete") as resp:
        assert resp.status == 204
    assert (await h.post({"content": "x"}, version=10))[:2] == (
        404,
        {"message": "Unknown Webhook", "code": 10015},
    )
    assert await _patch(h, sent["id"], {"content": "y"}) == (
        404,
        {"message": "Unknown Webhook", "code": 10015},
    )
    async with h.session.post(f"{h.base}/_emulator/webhooks/{WEBHOOK}/restore") as resp:
        assert resp.status == 204
    assert (await _patch(h, sent["id"], {"content": "y"}))[0] == 200


async def test_faults_for_401_and_403_carry_discords_bodies(h: Harness) -> None:
    h.emulator.inject_fault(status=401, webhook_id=WEBHOOK)
    h.emulator.inject_fault(status=403, webhook_id=WEBHOOK)
    assert (await h.post({"content": "x"}))[:2] == (
        401,
        {"code": 50027, "message": "Invalid Webhook Token"},
    )
    assert (await h.post({"content": "x"}))[1]["code"] == 50013


# --------------------------------------------------------------------------- issue 12: the page


async def test_page_shows_edits_pings_and_threads(h: Harness) -> None:
    h.emulator.set_forum(WEBHOOK)
    _, post, _ = await h.post(
        {
            "content": f"<@&{ROLE}> CPU high",
            "allowed_mentions": {"parse": [], "roles": [ROLE]},
            "thread_name": "cpu <web-1>",
        },
        params={"wait": "true"},
    )
    await _patch(h, post["id"], {"content": "CPU fine again"}, thread_id=post["channel_id"])
    await _patch(h, post["id"], {"content": "CPU fine, 5 min"}, thread_id=post["channel_id"])
    async with h.session.get(f"{h.base}/") as resp:
        page = await resp.text()
    assert "cpu &lt;web-1&gt;" in page  # the thread, by name
    assert "forum post" in page
    assert "CPU fine, 5 min" in page  # the latest version ...
    assert "edited 2×" in page  # ... marked, with its history
    assert "CPU high" in page
    assert f"pings role {ROLE}" in page
    assert TOKEN not in page


def test_parser_knows_forums_and_strict_threads() -> None:
    args = build_parser().parse_args(["--forum", WEBHOOK, "--forum", OTHER, "--strict-threads"])
    assert (args.forum, args.strict_threads) == ([WEBHOOK, OTHER], True)
    args = build_parser().parse_args([])
    assert (args.forum, args.strict_threads) == ([], False)
