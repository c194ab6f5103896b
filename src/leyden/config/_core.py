"""The core sections of kapacitor.conf, and :class:`Config`, which holds them all.

Core means "not an integration": the listener, logging, storage, alerting, auth, overrides and
``[[httppost]]`` (shared with the engine's ``httpPost`` node, see :mod:`leyden.config._httppost`).
Each integration's section lives beside its integration (``leyden.notify.discord.config``);
:class:`Config` holds those by name in ``integrations``.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config._httppost import HTTPPostConfig
from leyden.config._schema import Key, Section, SectionSpec, quote, suggest

__all__ = [
    "AUTH_PERMISSIONS",
    "EMBEDDED_SOURCE",
    "KAPACITOR_ONLY_SECTIONS",
    "AlertConfig",
    "AuthConfig",
    "AuthUser",
    "Config",
    "DeliveryConfig",
    "EngineConfig",
    "HTTPConfig",
    "LoggingConfig",
    "StorageConfig",
]

EMBEDDED_SOURCE = "<embedded defaults>"


@dataclass
class HTTPConfig(Section):
    """``[http]``: the API and write listener."""

    bind_address: str = "127.0.0.1:9092"
    auth_enabled: bool = False
    log_enabled: bool = True
    https_enabled: bool = False
    https_certificate: str = ""
    https_private_key: str = ""
    shared_secret: str = field(default="", repr=False)
    shutdown_timeout: int = 10_000_000_000  # nanoseconds, as Kapacitor's toml.Duration
    #: ours: web origins whose pages may change things (``"*"``: any, Kapacitor's behaviour)
    allowed_origins: list[str] = field(default_factory=list)
    #: how long defining a task or template may spend compiling its script (Leyden's own)
    compile_timeout: int = 10_000_000_000

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("bind-address", "bind_address", "str"),
        Key("auth-enabled", "auth_enabled", "bool"),
        Key("log-enabled", "log_enabled", "bool"),
        Key("https-enabled", "https_enabled", "bool"),
        Key("https-certificate", "https_certificate", "str"),
        Key("https-private-key", "https_private_key", "str"),
        Key("shared-secret", "shared_secret", "str"),
        Key("shutdown-timeout", "shutdown_timeout", "duration"),
        Key("allowed-origins", "allowed_origins", "str_list"),
        Key("compile-timeout", "compile_timeout", "duration"),
    )
    _KAPACITOR_ONLY: ClassVar[frozenset[str]] = frozenset({"write-tracing", "pprof-enabled"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        problem = _bind_address_problem(self.bind_address)
        if problem:
            problems.append(f"bind-address: {quote(self.bind_address)} {problem}")
        if self.https_enabled:
            if not self.https_certificate:
                problems.append("https-certificate: must be set when https-enabled = true")
            for key in ("https-certificate", "https-private-key"):
                path = getattr(self, key.replace("-", "_"))
                if path and not os.path.isfile(path):
                    problems.append(f"{key}: file {quote(path)} does not exist")
        if self.shutdown_timeout < 0:
            problems.append("shutdown-timeout: must not be negative")
        for origin in self.allowed_origins:
            if origin != "*" and not _is_origin(origin):
                problems.append(
                    f"allowed-origins: {quote(origin)} is not an origin; write scheme://host[:port], "
                    'e.g. "https://grafana.example.com", or "*" for any'
                )
        if self.compile_timeout <= 0:
            problems.append("compile-timeout: must be positive")
        return problems

    def host_port(self) -> tuple[str, int]:
        """The listener address; an empty host means all interfaces (Go's ":9092")."""
        host, _, port = self.bind_address.rpartition(":")
        return host.strip("[]"), int(port)


def _is_origin(origin: str) -> bool:
    parts = urllib.parse.urlsplit(origin)
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.netloc)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment)
    )


def _bind_address_problem(address: str) -> str:
    host, sep, port = address.rpartition(":")
    if not sep:
        return 'must be host:port, e.g. ":9092" or "127.0.0.1:9092"'
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        return 'must be host:port; write an IPv6 host in brackets, e.g. "[::1]:9092"'
    if not port:
        return "has no port"
    if not port.isascii() or not port.isdigit():
        return "has a port that is not a number"
    if int(port) > 65535:
        return "has a port out of range (0-65535)"
    return ""


_LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


@dataclass
class LoggingConfig(Section):
    """``[logging]``."""

    file: str = "STDERR"
    level: str = "INFO"

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("file", "file", "str"),
        Key("level", "level", "str"),
    )

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not self.file:
            problems.append('file: must be "STDERR", "STDOUT" or a path')
        if self.level.upper() not in _LOG_LEVELS:
            hint = suggest(self.level.upper(), frozenset(_LOG_LEVELS))
            problems.append(
                f"level: must be one of {', '.join(_LOG_LEVELS)}, got {quote(self.level)}{hint}"
            )
        return problems


_POSTGRES_SCHEMES = ("postgresql", "postgres")


def redact_store_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced by
    ``***``: the only form of a ``[storage] url`` that logs, errors and reprs show."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}{':***' if colon else ''}@{hosts}"
        query = "&".join(
            f"{name}=***" if name.lower() == "password" else f"{name}={value}"
            for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        )
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unreadable URL>"


def _store_url_problem(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in _POSTGRES_SCHEMES:
        return f'must be a PostgreSQL URL, "postgresql://user@host:5432/database", got {quote(redact_store_url(url))}'
    if not parts.path.strip("/"):
        return f"names no database (add /<database>): {quote(redact_store_url(url))}"
    return ""


@dataclass
class StorageConfig(Section):
    """``[storage]``: Leyden keeps its state in SQLite, or in PostgreSQL when ``url`` is set; a
    Kapacitor ``boltdb`` path is only read past."""

    boltdb: str = ""
    sqlite: str = ""
    #: ``postgresql://user:password@host:port/database``; never shown with its password
    url: str = field(default="", repr=False)

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("boltdb", "boltdb", "str"),
        Key("sqlite", "sqlite", "str"),
        Key("url", "url", "str"),
    )

    def validate(self) -> list[str]:
        if not self.url:
            return []
        problem = _store_url_problem(self.url)
        problems = [f"url: {problem}"] if problem else []
        if self.sqlite:
            problems.append("sqlite: cannot be set together with url (one store at a time)")
        return problems

    def redacted_url(self) -> str:
        return redact_store_url(self.url) if self.url else ""


@dataclass
class AlertConfig(Section):
    """``[alert]``."""

    persist_topics: bool = True
    #: Kapacitor's per-handler queue bound; accepted and checked, but the outbox bounds nothing
    topic_buffer_length: int = 5000
    #: Leyden's opt-in fixes of Kapacitor behaviours that change alert output (off = Kapacitor's):
    #: each group gets its own state for count()/sigma()/spread() in alert level lambdas
    per_group_lambda_state: bool = False
    #: flapping weighs transitions in time order (fixes Kapacitor's wrap-around quirk)
    chronological_flapping: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("persist-topics", "persist_topics", "bool"),
        Key("topic-buffer-length", "topic_buffer_length", "int"),
        Key("per-group-lambda-state", "per_group_lambda_state", "bool"),
        Key("chronological-flapping", "chronological_flapping", "bool"),
    )

    def validate(self) -> list[str]:
        if self.topic_buffer_length < 0:
            return ["topic-buffer-length: must not be negative"]
        return []


@dataclass
class DeliveryConfig(Section):
    """``[delivery]`` (Leyden's own, issue 10): how the outbox's rows are retried and paced.

    Durations in nanoseconds, as Kapacitor's ``toml.Duration`` keys (``"24h"`` in the file).
    """

    #: a row not delivered within this long is dead-lettered with the reason
    max_age: int = 24 * 3600 * 1_000_000_000
    #: the first wait after a failed attempt; it doubles per attempt, jittered ±50 %
    retry_backoff: int = 1_000_000_000
    #: the longest wait between attempts
    retry_max_backoff: int = 60 * 1_000_000_000
    #: messages per minute per Discord webhook (Discord's unannounced per-channel limit: 30)
    discord_channel_limit: int = 30
    #: rows waiting longer may carry their alert's later states along (Discord: a digest line)
    digest_after: int = 120 * 1_000_000_000
    #: 401/403/404 from a webhook hold its deliveries until its URL changes or a retry
    webhook_breaker: bool = True
    #: invalid answers (401, 403, 404, 429) allowed per 10 minutes, host-wide, before requests
    #: to Discord pause (Cloudflare bans an address at 10,000)
    invalid_request_limit: int = 1000

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("max-age", "max_age", "duration"),
        Key("retry-backoff", "retry_backoff", "duration"),
        Key("retry-max-backoff", "retry_max_backoff", "duration"),
        Key("discord-channel-limit", "discord_channel_limit", "int"),
        Key("digest-after", "digest_after", "duration"),
        Key("webhook-breaker", "webhook_breaker", "bool"),
        Key("invalid-request-limit", "invalid_request_limit", "int"),
    )

    def validate(self) -> list[str]:
        problems = [
            f"{key}: must be more than 0"
            for key, value in (
                ("max-age", self.max_age),
                ("retry-backoff", self.retry_backoff),
                ("retry-max-backoff", self.retry_max_backoff),
                ("discord-channel-limit", self.discord_channel_limit),
                ("digest-after", self.digest_after),
                ("invalid-request-limit", self.invalid_request_limit),
            )
            if value <= 0
        ]
        if self.invalid_request_limit >= 10_000:
            problems.append(
                "invalid-request-limit: must be below 10000, the invalid requests per 10 minutes "
                "at which Cloudflare bans the host from Discord's API"
            )
        return problems


@dataclass
class EngineConfig(Section):
    """``[engine]`` (Leyden's own, issue 11): how many processes run the tasks.

    ``workers = 1`` runs every task in the server's process (no inter-process traffic); ``N``
    shards stream tasks over ``N`` engine worker processes (:mod:`leyden.workers`); ``0``, the
    default, means one per core (``os.cpu_count()``: on one core, the server's own process).
    """

    workers: int = 0

    _SCHEMA: ClassVar[tuple[Key, ...]] = (Key("workers", "workers", "int"),)

    def validate(self) -> list[str]:
        return ["workers: must be 0 (one per core) or more"] if self.workers < 0 else []

    def worker_count(self) -> int:
        """The engine processes to run: ``workers``, or the number of cores for 0."""
        return self.workers or os.cpu_count() or 1


AUTH_PERMISSIONS = ("none", "api", "config_api", "write_points", "all")


@dataclass
class AuthUser(Section):
    """One ``[[auth.users]]`` entry (Leyden's own section, see :mod:`leyden.config.load`)."""

    username: str = ""
    password: str = field(default="", repr=False)
    permissions: list[str] = field(default_factory=lambda: ["all"])

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("username", "username", "str"),
        Key("password", "password", "str"),
        Key("permissions", "permissions", "str_list"),
    )
    _ELEMENT_KEY: ClassVar[str] = "username"

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not self.username:
            problems.append("username: must not be empty")
        elif ":" in self.username:
            problems.append('username: must not contain ":" (HTTP basic auth splits on it)')
        if not self.password:
            problems.append("password: must not be empty")
        for permission in self.permissions:
            if permission not in AUTH_PERMISSIONS:
                hint = suggest(permission, frozenset(AUTH_PERMISSIONS))
                problems.append(
                    f"permissions: unknown permission {quote(permission)}, expected any of "
                    f"{', '.join(AUTH_PERMISSIONS)}{hint}"
                )
        return problems


@dataclass
class AuthConfig(Section):
    """``[auth]``: whether credentials are checked, and the users they are checked against."""

    enabled: bool = False
    users: list[AuthUser] = field(default_factory=list)
    #: Leyden: say that ``[http] auth-enabled`` with ``[auth] enabled = false`` (Kapacitor's
    #: "noauth": any username and password) is meant; without it such a config is refused
    accept_any_password: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("users", "users", "table_list", AuthUser),
        Key("accept-any-password", "accept_any_password", "bool"),
    )
    _KAPACITOR_ONLY: ClassVar[frozenset[str]] = frozenset(
        {
            "cache-expiration",
            "bcrypt-cost",
            "meta-addr",
            "meta-username",
            "meta-password",
            "meta-internal-shared-secret",
            "meta-use-tls",
            "meta-ca",
            "meta-cert",
            "meta-key",
            "meta-insecure-skip-verify",
        }
    )


@dataclass
class _ConfigOverrideSection(Section):
    enabled: bool = True

    _SCHEMA: ClassVar[tuple[Key, ...]] = (Key("enabled", "enabled", "bool"),)


@dataclass
class Config(Section):
    """The whole configuration, after the file, the environment and validation."""

    hostname: str = "localhost"
    data_dir: str = "./leyden-data"
    default_retention_policy: str = ""
    skip_config_overrides: bool = False
    http: HTTPConfig = field(default_factory=HTTPConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    alert: AlertConfig = field(default_factory=AlertConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    config_override_enabled: bool = True
    httppost: list[HTTPPostConfig] = field(default_factory=list)
    #: Each integration's section by its Kapacitor name (``discord`` → its ``[[discord]]``
    #: elements); which names exist is up to the integrations the loader was given.
    integrations: dict[str, list[Any]] = field(default_factory=dict)
    #: Where the configuration came from: a file path or EMBEDDED_SOURCE.
    source: str = EMBEDDED_SOURCE
    #: Lines to log at start: ignored sections and keys, warnings, applied environment overrides.
    notes: list[str] = field(default_factory=list)

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("hostname", "hostname", "str"),
        Key("data_dir", "data_dir", "str"),
        Key("default-retention-policy", "default_retention_policy", "str"),
        Key("skip-config-overrides", "skip_config_overrides", "bool"),
        Key("http", "http", "struct", HTTPConfig),
        Key("logging", "logging", "struct", LoggingConfig),
        Key("storage", "storage", "struct", StorageConfig),
        Key("alert", "alert", "struct", AlertConfig),
        Key("delivery", "delivery", "struct", DeliveryConfig),
        Key("engine", "engine", "struct", EngineConfig),
        Key("auth", "auth", "struct", AuthConfig),
        Key("config-override", "config_override_enabled", "struct", _ConfigOverrideSection),
        Key("httppost", "httppost", "table_list", HTTPPostConfig),
    )

    def sqlite_path(self) -> str:
        """Leyden's database file: ``[storage] sqlite``, else ``<data_dir>/leyden.db``."""
        return self.storage.sqlite or os.path.join(self.data_dir, "leyden.db")

    def sections(self, spec: SectionSpec) -> list[Any]:
        """An integration's elements; its built-in defaults when it was never configured."""
        found = self.integrations.get(spec.name)
        return list(found) if found is not None else spec.default_sections()


#: Every top-level section of Kapacitor 1.7's server config (server/config.go) that Leyden does
#: not implement (every alert handler's is an integration's: leyden.notify.INTEGRATIONS), plus ``static``: the shipped kapacitor.conf writes ``[static.labels]`` under
#: ``[[static-discovery]]``, which TOML reads as a top-level table of that name.
KAPACITOR_ONLY_SECTIONS = frozenset(
    {
        "replay", "task", "fluxtask", "load", "tls", "graphite", "collectd", "opentsdb", "udp",
        "scraper", "azure", "consul", "dns", "ec2", "file-discovery", "gce", "marathon", "nerve",
        "serverset", "static-discovery", "triton", "kubernetes", "swarm", "reporting", "stats",
        "udf", "deadman", "static",
    }
)  # fmt: skip
