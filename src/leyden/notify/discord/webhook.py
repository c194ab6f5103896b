"""Discord's webhook URL and username rules, in one place.

Config validation (:mod:`leyden.notify.discord.config`), the sender and the payload checker all
ask this module, so they can no longer disagree about what a Discord webhook URL is (issue 9
item 8: the config called ``https://ptb.discordapp.com/...`` a relay while the sender pinned it
to API v10).  The Discord emulator keeps its own, independent copy on purpose: it is the oracle
these rules are tested against.

What a URL is (``reference/discord-and-peers.md`` §1.1):

* **An execute-webhook URL** (:attr:`Kind.EXECUTE`): ``discord.com`` or ``discordapp.com``, with or
  without ``ptb.``/``canary.``, path ``/api[/vN]/webhooks/<numeric id>/<token>[/]``, no port
  other than 443, no user info.  The sender posts Leyden's embed body to it, pinned to HTTPS and
  API v10.  Written with ``http://`` it is still Discord's URL, but Discord serves webhooks only
  over HTTPS and the token must not travel in clear: the sender upgrades it and the config says so.
* **Another endpoint of a Discord webhook** (:attr:`Kind.OTHER_ENDPOINT`): the same, followed
  by a suffix.  ``/slack`` and ``/github`` make Discord expect Slack's or GitHub's body, not
  Leyden's embeds, so every alert would be refused or lost: the config refuses such a URL.
  The sender still treats it as a Discord URL (token redacted, HTTPS).
* **Anything else** (:attr:`Kind.OTHER`): a relay, an emulator, a test server; posted to as written.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from leyden.notify._http import redact_url as redact_other_url
from leyden.notify._http import url_destination

__all__ = [
    "API_VERSION",
    "FORBIDDEN_USERNAMES",
    "FORBIDDEN_USERNAME_PARTS",
    "HOSTS",
    "USERNAME_MAX",
    "USERNAME_MIN",
    "Kind",
    "URLClass",
    "WebhookURL",
    "classify_url",
    "destination",
    "forbidden_username",
    "normalize_webhook_url",
    "parse_webhook_url",
    "redact_url",
    "with_query",
]

API_VERSION = 10
HOSTS = frozenset(
    f"{prefix}{domain}"
    for prefix in ("", "ptb.", "canary.")
    for domain in ("discord.com", "discordapp.com")
)
_WEBHOOK_PATH = re.compile(r"/api(?:/v[0-9]+)?/webhooks/([0-9]+)/([A-Za-z0-9._-]+)(/.*)?")
#: Suffixes naming Discord's compatibility endpoints, and the body each expects instead.
FOREIGN_FORMATS = {"/slack": "Slack's", "/github": "GitHub's"}

USERNAME_MIN = 1
USERNAME_MAX = 80
#: Usernames Discord refuses for webhooks (observed on execute as well as on create).
FORBIDDEN_USERNAME_PARTS = ("discord", "clyde")
FORBIDDEN_USERNAMES = ("everyone", "here")


class Kind(enum.Enum):
    INVALID = "invalid"
    EXECUTE = "execute"
    OTHER_ENDPOINT = "other-endpoint"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class WebhookURL:
    """The parts of a Discord webhook URL; ``suffix`` is what follows the token (``/slack``)."""

    scheme: str
    host: str
    webhook_id: str
    token: str
    suffix: str
    query: str

    @property
    def is_execute(self) -> bool:
        return self.suffix in ("", "/")


@dataclass(frozen=True, slots=True)
class URLClass:
    """What a configured URL is; ``host`` (with the port when given) is safe to show."""

    kind: Kind
    host: str = ""
    webhook: WebhookURL | None = None


def parse_webhook_url(url: str) -> WebhookURL | None:
    """The parts of ``url`` if it is a Discord webhook URL (any endpoint), else ``None``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in HOSTS:
        return None
    if port not in (None, 443) or parts.username or parts.password:
        return None
    match = _WEBHOOK_PATH.fullmatch(parts.path)
    if match is None:
        return None
    webhook_id, token, suffix = match.groups()
    return WebhookURL(parts.scheme, host, webhook_id, token, suffix or "", parts.query)


def classify_url(url: str) -> URLClass:
    """What ``url`` is, for config validation; never returns the path or the token."""
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return URLClass(Kind.INVALID)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return URLClass(Kind.INVALID)
    if parts.scheme.lower() not in ("http", "https") or not host:
        return URLClass(Kind.INVALID)
    webhook = parse_webhook_url(url)
    if webhook is not None:
        kind = Kind.EXECUTE if webhook.is_execute else Kind.OTHER_ENDPOINT
        return URLClass(kind, webhook.host, webhook)
    return URLClass(Kind.OTHER, host if port is None else f"{host}:{port}")


def normalize_webhook_url(url: str) -> str:
    """Pin a Discord webhook URL to HTTPS and API v10; leave any other URL as written.

    The URL Discord's UI hands out has no API version and so runs on the deprecated v6, whose
    rate-limit units and error bodies differ.  The host (discord.com, discordapp.com, ptb.,
    canary.), query parameters such as ``thread_id`` and any path suffix after the token are
    kept.  Relays, emulators and test servers are not touched.
    """
    parts = parse_webhook_url(url)
    if parts is None:
        return url
    path = f"/api/v{API_VERSION}/webhooks/{parts.webhook_id}/{parts.token}{parts.suffix}"
    return urlunsplit(("https", parts.host, path, parts.query, ""))


def with_query(url: str, query: Mapping[str, str | None], path: str = "") -> str:
    """``url`` with ``path`` appended and the non-empty ``query`` values set, replacing the
    URL's own (a ``thread_id`` given here wins over one written in the webhook URL); a
    ``None`` value removes the URL's own (a new forum post may not name a thread).  ``url``
    unchanged when there is nothing to do."""
    given = {k: v for k, v in query.items() if v}
    dropped = {k for k, v in query.items() if v is None}
    if not path and not given and not dropped:
        return url
    parts = urlsplit(url)
    pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in given and k not in dropped
    ]
    pairs.extend(given.items())
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path.rstrip("/") + path, urlencode(pairs), "")
    )


def redact_url(url: str) -> str:
    """A form of ``url`` safe for logs: Discord URLs keep the webhook id, never the token."""
    parts = parse_webhook_url(url)
    if parts is not None:
        return (
            f"https://{parts.host}/api/v{API_VERSION}/webhooks/{parts.webhook_id}/****"
            f"{parts.suffix}"
        )
    return redact_other_url(url)


def destination(url: str) -> str:
    """The outbox destination of a webhook: Discord's own keep the webhook id (one destination
    per webhook, as Discord's buckets are); a relay or an emulator gets a digest of its URL,
    since its host alone would merge every webhook behind it into one queue."""
    if parse_webhook_url(url) is not None:
        return "discord " + redact_url(url)
    return "discord " + url_destination(url)


def forbidden_username(name: str) -> tuple[list[str], str]:
    """(forbidden words ``name`` contains, the whole forbidden name it is or ``""``)."""
    lowered = name.strip().lower()
    words = [word for word in FORBIDDEN_USERNAME_PARTS if word in lowered]
    return words, lowered if lowered in FORBIDDEN_USERNAMES else ""
