"""What every HTTP integration shares: redaction, TLS sessions, outcome classification, backoff.

Alertmanager keeps these in ``notify/util.go`` so each integration stays a small file; the same
split here means a second webhook integration (Slack, Teams …) reuses the rules Discord was
hardened with instead of copying them:

* **Redaction.**  Webhook URLs and relay URLs carry their secret in the path or the query, so
  nothing is logged, raised or returned with a URL in clear: :func:`redact_url` keeps scheme
  and host, :func:`scrub` removes every recognisable form of a URL from a text (an exception
  message, a response body).
* **TLS.**  Kapacitor's ``ssl-ca``/``ssl-cert``/``ssl-key``/``insecure-skip-verify`` keys become
  one client context (:func:`build_ssl_context`); :class:`SessionPool` keeps one aiohttp session
  per such setting so connections are reused across posts.
* **Proxies** come from the environment (``HTTPS_PROXY``, ``NO_PROXY`` …, as Go's
  ``http.ProxyFromEnvironment`` in Kapacitor), read once per session, never per post: aiohttp's
  own ``trust_env`` looks them (and ``.netrc``) up in a worker thread on every request, and while
  a write keeps the event loop busy that thread waits for the GIL, so an alert's post stalled
  until the write was done (issue 11).
* **Outcomes.**  :class:`DeliveryResult` says delivered / retry / permanent, so the durable
  outbox's dispatcher owns the retry schedule for every kind; :func:`classify` maps an HTTP
  status to an outcome and :func:`backoff` gives the dispatcher's jittered exponential wait
  between attempts.
* **One request, one outcome.**  :class:`HTTPClient` is what the webhook and REST
  integrations (Slack, PagerDuty, OpsGenie …) share: it sends one request, turns the answer
  into a :class:`DeliveryResult` (with ``Retry-After`` read as seconds or an HTTP date, and the
  service's error text cut short and scrubbed of the request's secrets), so each integration
  module is only its payload and its URL.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import math
import random as _random
import re
import ssl as _ssl
import time as _time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple
from urllib.parse import urlsplit
from urllib.request import proxy_bypass

import aiohttp
from aiohttp.helpers import ProxyInfo, proxies_from_env
from yarl import URL

from leyden.tls import TLSConfigError, build_ssl_context

__all__ = [
    "DeliveryResult",
    "EnvProxies",
    "HTTPClient",
    "Outcome",
    "Refusal",
    "SSLSetting",
    "SessionPool",
    "TLSConfigError",
    "backoff",
    "basic_auth",
    "build_ssl_context",
    "classify",
    "http_url_problem",
    "is_http_url",
    "redact_url",
    "retry_after_seconds",
    "scrub",
    "secret_digest",
    "url_destination",
    "url_fingerprint",
    "url_secrets",
]

Outcome = Literal["delivered", "retry", "permanent"]
#: What aiohttp takes as ``ssl=``: a context, ``False`` (no checks) or ``None`` (system defaults).
SSLSetting = _ssl.SSLContext | bool | None


# --- redaction -------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """A form of ``url`` safe for logs: scheme, host and port, never the path or the query."""
    try:
        split = urlsplit(url.strip())
        host = split.hostname or ""
        port = split.port
    except ValueError:
        return "<invalid url>"
    if not split.scheme or not host:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return f"{split.scheme}://{netloc}/…"


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an http:// or https:// URL with a host (what a webhook needs)."""
    try:
        split = urlsplit(url.strip())
        return split.scheme in ("http", "https") and bool(split.hostname)
    except ValueError:
        return False


def http_url_problem(key: str, url: str, *, hidden: str = "") -> str | None:
    """A section's check of a URL it sends to: when set, an http:// or https:// URL with a host.
    ``hidden`` says why the value is not shown (``it holds the webhook's secret``)."""
    if not url or is_http_url(url):
        return None
    why = f" (the value is not shown: {hidden})" if hidden else ""
    return f"{key}: must be an http:// or https:// URL with a host{why}"


def secret_digest(*secrets: str, length: int = 8) -> str:
    """A short digest that tells secrets apart and says nothing of them: the first ``length``
    hex digits of the SHA-256 of ``secrets`` joined by NUL (a bot's URL and token).

    What names a token, a routing key or a user key in a destination, a rate-limit key or an
    incident scope; 32 bits (the default) cannot be turned back into a key.
    """
    text = "\x00".join(secrets).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:length]


def basic_auth(username: str, password: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """``Authorization: Basic <user:password in base64>`` when both are set (Go's
    ``SetBasicAuth``, as ServiceNow and Zenoss send it; no header otherwise), and the secrets
    it puts in the request, which no reason may show: the password and the encoded pair."""
    if not (username and password):
        return {}, (password,)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": "Basic " + token}, (password, token)


def url_destination(url: str) -> str:
    """A stable, secret-free name for where ``url`` sends: the outbox's destination.

    The dispatcher keeps order, one request in flight, pacing and the metrics' labels per
    destination, so two endpoints on one host must not share a name; but the path and query may
    hold a token.  :func:`redact_url` plus a short digest of the whole URL gives both: distinct
    per URL, and 32 bits of a hash say nothing of the token.
    """
    return f"{redact_url(url)} #{secret_digest(url.strip())}"


def url_fingerprint(url: str) -> str:
    """A digest of the whole of ``url``, token included, that reveals nothing of it.

    The delivery breaker (:mod:`leyden.delivery.breaker`) stores it to notice that a
    destination's URL changed (a rotated token, another webhook) without storing the URL.
    128 bits of SHA-256 over a 68-character random token cannot be turned back into it.
    """
    return "sha256:" + secret_digest(url.strip(), length=32)


def url_secrets(url: str) -> set[str]:
    """The parts of a URL that may be a secret: its path, query, password and token-like pieces."""
    secrets: set[str] = {url, url.strip()}
    try:
        split = urlsplit(url.strip())
    except ValueError:
        return secrets
    if split.path not in ("", "/"):
        secrets.add(split.path)
    if split.query:
        secrets.add(split.query)
    if split.password:
        secrets.add(split.password)
    # A relay's token may be any path segment or query value: hide the token-like ones
    # (plain words such as "webhooks" or "api" stay readable).
    pieces = split.path.split("/") + re.split(r"[&=]", split.query)
    secrets.update(p for p in pieces if len(p) >= 8 and not p.isalpha())
    return secrets


def scrub(
    text: str,
    url: str,
    *,
    secrets: Iterable[str] | None = None,
    redact: Callable[[str], str] = redact_url,
) -> str:
    """Remove every recognisable form of ``url`` (and its secret parts) from ``text``.

    ``secrets`` defaults to :func:`url_secrets`; an integration that knows its URL's shape (a
    webhook token) passes its own.  Secrets that are URLs become ``redact(url)``, others ``****``.
    """
    if not url:
        return text
    found = url_secrets(url) if secrets is None else set(secrets)
    for secret in sorted(found, key=len, reverse=True):
        if secret:
            text = text.replace(secret, redact(url) if secret.startswith("http") else "****")
    return text


# --- outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What became of one notification.

    ``retry_after`` (seconds) is the service's own hint when it gave one (a 429's, or the wait
    until a closed rate-limit bucket resets); ``None`` otherwise, and the dispatcher backs off.
    ``headers`` are the answer's, so the dispatcher's pacer learns the rate-limit buckets from
    them.  ``code`` is the service's own error code when its body carried one (Discord's
    ``10015`` Unknown Webhook; a 404 naming a deleted thread or message does not break
    the webhook, :func:`leyden.delivery.breaker.breaks`).  ``reason`` is the service's
    explanation (or the transport error), never containing a secret URL.
    """

    outcome: Outcome
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None
    #: the service's own error code (Discord's JSON ``code``), when the answer had one
    code: int | None = None
    #: the answer's headers (``X-RateLimit-*``), for the dispatcher's pacer; None without one
    headers: Mapping[str, str] | None = field(default=None, compare=False, repr=False)

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    def describe(self) -> str:
        """One line for logs and API answers: status and reason."""
        if self.outcome == "delivered":
            return f"delivered (HTTP {self.status})"
        if self.status is None:
            return self.reason
        return f"HTTP {self.status}: {self.reason}" if self.reason else f"HTTP {self.status}"


def classify(status: int) -> Outcome:
    """2xx delivered; 408, 429 and 5xx worth another try; any other 4xx or 3xx never will work."""
    if 200 <= status < 300:
        return "delivered"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "permanent"


def backoff(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    random: Callable[[], float] = _random.random,
) -> float:
    """Wait after failed attempt ``attempt`` (1-based): exponential, jittered ±50 %."""
    return min(cap, base * 2 ** (attempt - 1)) * (0.5 + random())


class EnvProxies:
    """The proxies the environment names (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``, with
    credentials from the URL or ``.netrc``), read on first use and kept: a post asks
    :meth:`for_url` on the event loop, no worker thread (see the module's docstring)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._proxies: dict[str, ProxyInfo] | None = None

    def for_url(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The proxy and its credentials for ``url``; ``(None, None)`` to connect directly."""
        if not self.enabled:
            return None, None
        if self._proxies is None:
            self._proxies = proxies_from_env()
        target = URL(url)
        info = self._proxies.get(target.scheme)
        if info is None or (target.host is not None and proxy_bypass(target.host)):
            return None, None
        return info.proxy, info.proxy_auth


class SessionPool:
    """One ``aiohttp.ClientSession`` per TLS setting, so connections stay alive across posts."""

    def __init__(
        self,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        trust_env: bool = True,
        name: str = "SessionPool",
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = dict(headers or {})
        self._trust_env = trust_env
        self._name = name
        self._sessions: dict[_ssl.SSLContext | bool, aiohttp.ClientSession] = {}
        self._proxies = EnvProxies(enabled=trust_env)
        self._closed = False

    def proxy(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The proxy (and its credentials) the environment names for ``url``, if any."""
        return self._proxies.for_url(url)

    def get(self, setting: SSLSetting) -> aiohttp.ClientSession:
        """The session for ``setting``; raises ``RuntimeError`` once the pool is closed."""
        if self._closed:
            raise RuntimeError(f"{self._name} is closed")
        key: _ssl.SSLContext | bool = True if setting is None else setting
        session = self._sessions.get(key)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(ssl=key, limit=100, keepalive_timeout=60)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers=self._headers,
                trust_env=False,  # proxies: see proxy()
            )
            self._sessions[key] = session
        return session

    async def close(self) -> None:
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


# --- one request -----------------------------------------------------------------------------


class Refusal(NamedTuple):
    """A failure a service reports in a success answer's body (see :meth:`HTTPClient.request`)."""

    outcome: Outcome
    reason: str
    retry_after: float | None = None


#: how much of an error answer's body a reason quotes (after the secrets are removed)
REASON_BODY_CHARS = 512
#: the longest ``Retry-After`` believed: a service asking for more holds its alerts an hour,
#: then is asked again (a stray ``1e12`` must not hold a destination until the restart)
RETRY_AFTER_MAX = 3600.0


def retry_after_seconds(
    value: str | None, *, now: Callable[[], float] = _time.time
) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX)


class HTTPClient:
    """One request per call, its answer as a :class:`DeliveryResult`; see the module docstring.

    Connections are pooled per TLS setting (:class:`SessionPool`) and kept alive between
    alerts.  ``secrets`` are the request's secret values beyond its URL (a token in a header or
    the body, a routing key): none of them, nor the URL's path or query, ever appears in a
    reason.
    """

    def __init__(self, name: str, *, timeout: float = 30.0) -> None:
        self.name = name
        self._pool = SessionPool(timeout=timeout, name=f"{name} HTTP client")

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ssl: SSLSetting = None,
        secrets: Iterable[str] = (),
        timeout: float | None = None,
        retry_after_in_body: Callable[[bytes], float | None] | None = None,
        refused_in_body: Callable[[bytes], Refusal | None] | None = None,
    ) -> DeliveryResult:
        """``retry_after_in_body`` reads a wait from an error answer's body when the service
        puts one there (Telegram's ``parameters.retry_after``); ``Retry-After`` wins.
        ``refused_in_body`` reads a 2xx answer's body for a failure the service reports with a
        success status (Slack's ``{"ok": false}``, Teams' "Webhook message delivery failed"):
        a :class:`Refusal` makes the result that failure instead of *delivered*."""
        hidden = url_secrets(url) | {s for s in secrets if s}

        def clean(text: str) -> str:
            return scrub(text, url, secrets=hidden)

        what = f"{method} {redact_url(url)}"
        try:
            session = self._pool.get(ssl)
            proxy, proxy_auth = self._pool.proxy(url)
            kwargs: dict[str, object] = {}
            if timeout is not None:
                kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
            async with session.request(
                method,
                url,
                data=body,
                headers=dict(headers or {}),
                proxy=proxy,
                proxy_auth=proxy_auth,
                **kwargs,  # type: ignore[arg-type]
            ) as response:
                status = response.status
                if 200 <= status < 300:
                    if refused_in_body is None:
                        return DeliveryResult("delivered", status, headers=response.headers)
                    refusal = refused_in_body(await response.content.read(REASON_BODY_CHARS * 4))
                    if refusal is None:
                        return DeliveryResult("delivered", status, headers=response.headers)
                    return DeliveryResult(
                        refusal.outcome,
                        status,
                        f"{what} returned {status} but {clean(refusal.reason)[:REASON_BODY_CHARS]}",
                        retry_after=refusal.retry_after,
                        headers=response.headers,
                    )
                raw = await response.content.read(REASON_BODY_CHARS * 4)
        except aiohttp.InvalidURL:
            return DeliveryResult("permanent", None, f"{what}: invalid URL")
        except (aiohttp.ClientError, OSError) as exc:
            return DeliveryResult("retry", None, f"{what}: {type(exc).__name__}")
        except ValueError as exc:  # aiohttp refused to build it (a line break in a header)
            return DeliveryResult(
                "permanent", None, f"{what}: invalid request ({type(exc).__name__})"
            )
        except TimeoutError:
            return DeliveryResult("retry", None, f"{what}: timed out")
        except RuntimeError as exc:  # the pool is closed: the server is stopping
            return DeliveryResult("retry", None, f"{what}: {exc}")
        text = clean(raw.decode("utf-8", "replace").strip())[:REASON_BODY_CHARS]
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if retry_after is None and retry_after_in_body is not None:
            retry_after = retry_after_in_body(raw)
        return DeliveryResult(
            classify(status),
            status,
            f"{what} returned {status}" + (f": {text}" if text else ""),
            retry_after=retry_after,
            headers=response.headers,
        )

    async def close(self) -> None:
        await self._pool.close()
