"""Posting webhook bodies to Discord, telling apart what to retry from what never will work.

The sender's whole interface is "take a notification, report delivered / retry at / permanent
failure" (``DeliveryResult``): :meth:`DiscordSender.post_once` is one attempt, and the durable
outbox's dispatcher (:mod:`leyden.delivery.dispatcher`) owns the retry schedule, as for every
kind.  ``edit-in-place`` (issue 12) adds :meth:`DiscordSender.execute` (``?wait=true``: Discord
answers with the message, whose id is kept) and :meth:`DiscordSender.edit` (``PATCH
.../messages/{id}``), classified the same way, with ``?thread_id=`` for messages in threads.
A failure reports its status and Discord's own error code (``10015`` Unknown Webhook);
whether that breaks the webhook is the delivery layer's call (:mod:`leyden.delivery.breaker`).

Webhook URLs carry their secret token in the path.  Nothing here logs, raises or returns a URL
in clear: logs and reasons use ``redact_url`` and every reason built from an exception or a
response body is scrubbed of the URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from leyden import __version__
from leyden.notify._http import (
    DeliveryResult,
    SessionPool,
    SSLSetting,
    classify,
    scrub,
)
from leyden.notify.discord.webhook import (
    normalize_webhook_url,
    parse_webhook_url,
    redact_url,
    with_query,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "DiscordSender",
    "SentMessage",
    "error_code",
    "explain_response",
]

log = logging.getLogger("leyden.discord")

USER_AGENT = f"DiscordBot (leyden, {__version__})"
DEFAULT_TIMEOUT = 30.0


def _scrub(text: str, url: str) -> str:
    """Remove every recognisable form of ``url`` (and its token) from ``text``."""
    parts = parse_webhook_url(url)
    if parts is None:
        return scrub(text, url)
    secrets = {url, url.strip(), normalize_webhook_url(url), parts.token}
    return scrub(text, url, secrets=secrets, redact=redact_url)


# --- results ---------------------------------------------------------------------------------


def _flatten_errors(tree: Any, path: str, out: list[str]) -> None:
    """Discord v8+ nested ``errors``: leaves are ``{"_errors": [{"code", "message"}]}``."""
    if not isinstance(tree, dict):
        return
    for item in tree.get("_errors") or ():
        if isinstance(item, dict):
            message = item.get("message") or item.get("code") or "invalid"
            out.append(f"{path}: {message}" if path else str(message))
    for key, sub in tree.items():
        if key != "_errors":
            _flatten_errors(sub, f"{path}.{key}" if path else str(key), out)


_MAX_DETAILS = 5


def _summarise(details: list[str]) -> str:
    shown = "; ".join(details[:_MAX_DETAILS])
    if len(details) > _MAX_DETAILS:
        shown += f"; and {len(details) - _MAX_DETAILS} more"
    return shown


def explain_response(status: int, body: bytes) -> str:
    """Discord's reason for a non-success answer, short enough for one log line.

    Understands v8+ ``{"message", "code", "errors"}`` bodies, the flat v6 form
    (``{"embeds": ["0"]}``), Kapacitor-style ``{"error": "..."}`` and plain text.
    """
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("error"), str) and data["error"]:
            return data["error"]
        if isinstance(data.get("message"), str):
            reason = data["message"]
            if data.get("code") not in (None, 0, ""):
                reason += f" ({data['code']})"
            details: list[str] = []
            _flatten_errors(data.get("errors"), "", details)
            return f"{reason}: {_summarise(details)}" if details else reason
        flat = [
            f"{key}: {', '.join(str(v) for v in value)}"
            for key, value in data.items()
            if isinstance(value, list)
        ]
        if flat:
            return _summarise(flat)
    if text:
        squashed = " ".join(text.split())
        return squashed if len(squashed) <= 200 else squashed[:200] + "…"
    return "no response body"


def error_code(body: bytes) -> int | None:
    """Discord's own error code in a v8+ error body (``10015`` Unknown Webhook, ``50027`` …),
    reported beside the status so the delivery layer can tell it (it decides on the status)."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) and code > 0 else None


def _float_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 and number == number else None


def _retry_after(headers: Mapping[str, str], body: bytes) -> float | None:
    """Seconds to wait from a 429: JSON ``retry_after``, else ``Retry-After``, else reset-after."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        hint = _float_or_none(data.get("retry_after"))
        if hint is not None:
            return hint
    for header in ("Retry-After", "X-RateLimit-Reset-After"):
        hint = _float_or_none(headers.get(header))
        if hint is not None:
            return hint
    return None


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What ``?wait=true`` answered: the message's id, its channel (for a message in a thread
    or a new forum post: the thread's id) and its server when Discord said (often not)."""

    id: str
    channel_id: str
    guild_id: str = ""

    @classmethod
    def of(cls, data: Any) -> SentMessage | None:
        """From Discord's message object; None when it has no id."""
        if not isinstance(data, dict):
            return None
        ids = [data.get(k) for k in ("id", "channel_id", "guild_id")]
        message, channel, guild = (v if isinstance(v, str) and v.isdigit() else "" for v in ids)
        return cls(message, channel, guild) if message else None


# --- the sender ------------------------------------------------------------------------------


class DiscordSender:
    """Posts JSON bodies to webhooks, one attempt each, with connection reuse and classification.

    One ``aiohttp.ClientSession`` per TLS setting keeps connections alive across posts.  A
    simple per-webhook gate honours ``X-RateLimit-Remaining: 0`` / ``X-RateLimit-Reset-After``
    and 429 answers: the next request to that webhook waits until the bucket resets (or, beyond
    ``max_gate_wait``, is handed back as a retry without a try).  Requests to one webhook go one
    at a time, so the gate is seen by all of them: several senders to the same webhook (service
    tests beside the dispatcher) would otherwise all pass an open gate together, and at
    Discord's 5 per 2 s most of them come back 429 (which count toward Cloudflare's ban of
    clients sending too many invalid requests).  Global (per-host) and per-channel budgets are
    not modelled here; they belong to the pacing layer.

    ``sleep`` and ``clock`` are injectable so tests never really wait.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        trust_env: bool = True,
        max_gate_wait: float = 10.0,
    ) -> None:
        self._timeout_seconds = timeout
        self._sleep = sleep
        self._clock = clock
        self._max_gate_wait = max_gate_wait
        self._sessions = SessionPool(
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            trust_env=trust_env,
            name="DiscordSender",
        )
        #: per normalised URL: clock time before which no request may be sent
        self._not_before: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _gate_wait(self, url: str) -> float:
        not_before = self._not_before.get(url)
        if not_before is None:
            return 0.0
        wait = not_before - self._clock()
        if wait <= 0:
            del self._not_before[url]
            return 0.0
        return wait

    def _close_gate(self, url: str, seconds: float) -> None:
        until = self._clock() + seconds
        self._not_before[url] = max(until, self._not_before.get(url, until))

    async def post_once(
        self, url: str, payload: Mapping[str, Any], *, ssl: SSLSetting = None
    ) -> DeliveryResult:
        """One attempt.  2xx delivered; 429, 5xx and transport errors retry; other 4xx permanent."""
        result, _ = await self.request("POST", url, payload, ssl=ssl)
        return result

    async def execute(
        self,
        url: str,
        payload: Mapping[str, Any],
        *,
        ssl: SSLSetting = None,
        thread_id: str | None = "",
    ) -> tuple[DeliveryResult, SentMessage | None]:
        """One ``?wait=true`` post: Discord answers 200 with the message it created, whose id
        (and channel, a forum post's new thread) ``edit-in-place`` keeps.  The message is None
        when the post failed, or succeeded without a readable message object.  ``thread_id``
        None drops one the URL names (a new forum post)."""
        result, data = await self.request(
            "POST", url, payload, ssl=ssl, query={"wait": "true", "thread_id": thread_id}
        )
        if not result.delivered:
            return result, None
        return result, SentMessage.of(data)

    async def edit(
        self,
        url: str,
        message_id: str,
        payload: Mapping[str, Any],
        *,
        ssl: SSLSetting = None,
        thread_id: str = "",
    ) -> DeliveryResult:
        """One ``PATCH .../messages/{message_id}`` (``?thread_id=`` for a message in a
        thread); outcomes as for posts, with Discord's error code when it gave one (``10008``:
        the message was deleted), so the caller can fall back to a new message."""
        result, _ = await self.request(
            "PATCH",
            url,
            payload,
            ssl=ssl,
            path=f"/messages/{message_id}",
            query={"thread_id": thread_id},
        )
        return result

    async def webhook_guild(self, url: str, *, ssl: SSLSetting = None) -> str:
        """The server (guild) id the webhook belongs to, from ``GET`` on the webhook URL
        (Discord's "get webhook with token"); ``""`` when it cannot be read.  A message link
        needs it and the ``?wait=true`` answer usually leaves it out."""
        result, data = await self.request("GET", url, None, ssl=ssl)
        if not result.delivered or not isinstance(data, dict):
            return ""
        guild = data.get("guild_id")
        return guild if isinstance(guild, str) and guild.isdigit() else ""

    async def request(
        self,
        method: str,
        url: str,
        payload: Mapping[str, Any] | None,
        *,
        ssl: SSLSetting = None,
        path: str = "",
        query: Mapping[str, str | None] | None = None,
    ) -> tuple[DeliveryResult, Any]:
        """One request to the webhook ``url`` (``path`` appended, non-empty ``query`` values
        set): its outcome, classified as for posts, and the answer's JSON (None without)."""
        target = normalize_webhook_url(url)
        lock = self._locks.get(target)
        if lock is None:
            lock = self._locks[target] = asyncio.Lock()
        async with lock:
            return await self._request(method, url, target, payload, ssl, path, query or {})

    async def _request(
        self,
        method: str,
        url: str,
        target: str,
        payload: Mapping[str, Any] | None,
        ssl: SSLSetting,
        path: str,
        query: Mapping[str, str | None],
    ) -> tuple[DeliveryResult, Any]:
        shown = redact_url(url)
        wait = self._gate_wait(target)
        if wait > self._max_gate_wait:
            return (
                DeliveryResult(
                    "retry", None, "rate limit bucket exhausted; not sent", retry_after=wait
                ),
                None,
            )
        if wait > 0:
            log.debug(
                "waiting for the Discord rate limit",
                extra={"fields": {"url": shown, "wait": f"{wait:.3f}s"}},
            )
            await self._sleep(wait)
        body = (
            None
            if payload is None
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            session = self._sessions.get(ssl)
            proxy, proxy_auth = self._sessions.proxy(target)
            async with session.request(
                method,
                with_query(target, query, path),
                data=body,
                headers=headers,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                status = response.status
                answer_headers = response.headers
                content = await response.read()
        except TimeoutError:
            return (
                DeliveryResult("retry", None, f"timed out after {self._timeout_seconds:g}s"),
                None,
            )
        except aiohttp.ClientConnectorCertificateError as exc:
            reason = _scrub(f"TLS certificate verification failed: {exc.certificate_error}", url)
            return DeliveryResult("permanent", None, reason), None
        except aiohttp.ClientSSLError as exc:
            return DeliveryResult("retry", None, _scrub(f"TLS error: {exc}", url)), None
        except aiohttp.InvalidURL:
            return DeliveryResult("permanent", None, f"invalid webhook URL {shown}"), None
        except (aiohttp.ClientError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            return DeliveryResult("retry", None, _scrub(f"connection error: {detail}", url)), None
        return self._classify(url, target, status, answer_headers, content), _json_or_none(content)

    def _classify(
        self, url: str, target: str, status: int, headers: Mapping[str, str], content: bytes
    ) -> DeliveryResult:
        if headers.get("X-RateLimit-Remaining") == "0":
            reset_after = _float_or_none(headers.get("X-RateLimit-Reset-After"))
            if reset_after:
                self._close_gate(target, reset_after)
        outcome = classify(status)
        if outcome == "delivered":
            return DeliveryResult(outcome, status, headers=headers)
        reason = _scrub(explain_response(status, content), url)
        if status == 429:
            hint = _retry_after(headers, content)
            if hint is not None:
                self._close_gate(target, hint)
            return DeliveryResult(
                outcome,
                status,
                reason,
                retry_after=hint,
                code=error_code(content),
                headers=headers,
            )
        if 300 <= status < 400:
            reason = f"unexpected redirect: {reason}"
        return DeliveryResult(outcome, status, reason, code=error_code(content), headers=headers)

    async def close(self) -> None:
        await self._sessions.close()
