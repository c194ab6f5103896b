"""kapacitor.conf for Leyden: TOML, ``KAPACITOR_*`` / ``LEYDEN_*`` environment overrides, validation.

A user should be able to point Leyden at the ``kapacitor.conf`` they already have. So every
section Kapacitor knows is accepted: the ones Leyden implements are checked strictly (an unknown
key is an error with a "did you mean" hint, because a silently ignored typo in ``[[discord]]``
means alerts that never arrive), the ones it does not implement are skipped with one note each.
A top-level name that neither Kapacitor nor Leyden knows is an error for the same reason.

Order of application, as in Kapacitor: built-in defaults, then the TOML file, then environment
variables, then validation. Environment variables follow Kapacitor's naming (``KAPACITOR_`` +
the key path upper-cased, ``-`` → ``_``, list sections indexed: ``KAPACITOR_DISCORD_0_URL``);
``LEYDEN_`` is accepted as the same prefix and wins when both are set. They can only override
list elements that exist (from the file, or the single built-in ``[[discord]]`` default).

Sections Leyden implements::

    hostname, data_dir, default-retention-policy, skip-config-overrides   (top level)
    [http]             bind-address, auth-enabled, log-enabled, https-enabled, https-certificate,
                       https-private-key, shared-secret, shutdown-timeout
    [auth]             enabled, plus [[auth.users]] (below)
    [storage]          sqlite (ours; default <data_dir>/leyden.db), boltdb (accepted, never used:
                       Leyden never writes to a Kapacitor BoltDB file)
    [logging]          file (STDERR, STDOUT or a path), level (DEBUG, INFO, WARN, ERROR)
    [alert]            persist-topics, topic-buffer-length
    [config-override]  enabled
    [[discord]]        see DiscordConfig; a single [discord] table is accepted as one section
    [[httppost]]       see HTTPPostConfig; Leyden has no built-in element (Kapacitor's built-in
                       one posts to http://example.com, which we do not want to do by surprise)

Basic-auth users (Leyden's own section; Kapacitor keeps users in its BoltDB or an InfluxDB
Enterprise meta service, neither of which Leyden has)::

    [http]
      auth-enabled = true          # ask for credentials on every request
    [auth]
      enabled = true               # check them against the users below
      [[auth.users]]
        username = "ops"           # required, unique, no ':'
        password = "s3cret"        # required; never shown in logs, errors or the API
        permissions = ["all"]      # any of none, api, config_api, write_points, all (default all)

As in Kapacitor, ``[http] auth-enabled = true`` with ``[auth] enabled = false`` accepts any
username and password; Leyden loads such a config but says so in a WARNING note. Environment
overrides work here too: ``KAPACITOR_AUTH_USERS_0_PASSWORD``; permissions as a comma-separated
list.

Secrets (Discord webhook URLs, whose path holds the webhook token; passwords; the JWT shared
secret) never appear in ConfigError messages, notes or reprs: messages name the key and at most
the URL's host. Values given through the environment are never echoed either.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from leyden.go.strconv import parse_go_bool, parse_go_duration, parse_go_int

__all__ = [
    "EMBEDDED_SOURCE",
    "AlertConfig",
    "AuthConfig",
    "AuthUser",
    "BasicAuth",
    "Config",
    "ConfigError",
    "DiscordConfig",
    "HTTPConfig",
    "HTTPPostConfig",
    "LoggingConfig",
    "StorageConfig",
    "load_config",
    "validate_discord_configs",
]

EMBEDDED_SOURCE = "<embedded defaults>"
_ENV_SOURCE = "environment"


class ConfigError(Exception):
    """A user mistake in the configuration; ``str(e)`` is one line naming where and what."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


# --------------------------------------------------------------------------------------------
# Schema: which keys each section has and what type they hold. One table drives TOML decoding,
# environment overrides and to_options, so the three can never disagree about a key's name.


@dataclass(frozen=True)
class _Key:
    name: str  # Kapacitor's key name
    attr: str  # Python attribute name
    kind: str  # bool | int | str | duration | str_list | str_map | struct | table_list
    cls: Any = None  # for struct / table_list: the dataclass of the nested table


_SCALAR_KINDS = frozenset({"bool", "int", "str", "duration", "str_list"})


def _toml_type(value: object) -> str:
    if value is None:
        return "null"  # from JSON, through from_options
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    return "date/time"


def _suggest(name: str, candidates: list[str] | set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _short(name: str) -> str:
    """A user-written key name, shortened so a pasted value cannot fill the message."""
    return name if len(name) <= 60 else name[:57] + "..."


def _convert(key: _Key, value: object, where: str) -> Any:
    """Check a decoded TOML/JSON value against the key's kind; never echoes the value."""

    def mismatch(expected: str) -> ConfigError:
        return ConfigError(f"{where}: {key.name}: expected {expected}, got {_toml_type(value)}")

    kind = key.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise mismatch("a boolean (true or false)")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise mismatch("an integer")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise mismatch("a string")
        return value
    if kind == "duration":
        if not isinstance(value, str):
            raise mismatch('a duration string such as "10s"')
        try:
            return parse_go_duration(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key.name}: {exc}") from None
    if kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise mismatch("an array of strings")
        return list(value)
    if kind == "str_map":
        if not isinstance(value, Mapping):
            raise mismatch("a table of strings")
        for name, item in value.items():
            if not isinstance(item, str):
                raise ConfigError(
                    f"{where}: {key.name}.{_short(name)}: expected a string, got {_toml_type(item)}"
                )
        return dict(value)
    if kind == "struct":
        if not isinstance(value, Mapping):
            raise mismatch("a table")
        return _build(key.cls, value, f"{where}: {key.name}")
    raise AssertionError(f"unhandled kind {kind}")  # pragma: no cover


def _build(cls: Any, table: Mapping[str, Any], where: str, notes: list[str] | None = None) -> Any:
    """Make ``cls`` from one TOML table: unknown keys and wrong types are errors."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table, got {_toml_type(table)}")
    schema: dict[str, _Key] = {key.name: key for key in cls._SCHEMA}
    ignored: frozenset[str] = getattr(cls, "_KAPACITOR_ONLY", frozenset())
    kwargs: dict[str, Any] = {}
    skipped: list[str] = []
    for name, value in table.items():
        key = schema.get(name)
        if key is None:
            if name in ignored:
                skipped.append(name)
                continue
            hint = _suggest(name, set(schema) | ignored)
            raise ConfigError(f"{where}: {_short(name)}: unknown key{hint}")
        if key.kind == "table_list":
            # A nested list such as [[auth.users]] is named by its full dotted path.
            outer, _, parent = where.rpartition(": ")
            section = f"{parent.strip('[]')}.{key.name}"
            kwargs[key.attr] = [
                _build(key.cls, item, f"{outer}: {_element_label(section, i, item, key.cls)}")
                for i, item in enumerate(_as_table_list(value, f"{outer}: [[{section}]]"))
            ]
        else:
            kwargs[key.attr] = _convert(key, value, where)
    if skipped and notes is not None:
        label = where.rsplit(": ", 1)[-1]
        notes.append(f"ignoring {label} {', '.join(sorted(skipped))}: not supported by Leyden")
    return cls(**kwargs)


def _as_table_list(value: object, where: str) -> list[Mapping[str, Any]]:
    """Kapacitor's listmap: an array of tables, or one table meaning a one-element list."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        return value
    raise ConfigError(f"{where}: expected a table or an array of tables, got {_toml_type(value)}")


def _element_label(section: str, index: int, table: object, cls: Any) -> str:
    label = f"[[{section}]] #{index}"
    element_key = getattr(cls, "_ELEMENT_KEY", None)
    if element_key and isinstance(table, Mapping):
        name = table.get(element_key)
        if isinstance(name, str) and name:
            label += f" ({element_key} {_quote(name)})"
    return label


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _to_options(obj: Any, redact: frozenset[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key in obj._SCHEMA:
        value = getattr(obj, key.attr)
        if key.name in redact:
            options[key.name] = bool(value) if not hasattr(value, "_SCHEMA") else value.is_set()
        elif key.kind == "struct":
            options[key.name] = _to_options(value, frozenset())
        elif key.kind == "table_list":
            options[key.name] = [_to_options(item, redact) for item in value]
        elif isinstance(value, (list, dict)):
            options[key.name] = type(value)(value)
        else:
            options[key.name] = value
    return options


# --------------------------------------------------------------------------------------------
# Sections

_DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
)
_WEBHOOK_PATH = re.compile(r"/api(?:/v[0-9]+)?/webhooks/[0-9]+/[A-Za-z0-9_.-]+/?")
_FORBIDDEN_USERNAME_WORDS = ("discord", "clyde")
_FORBIDDEN_USERNAMES = ("here", "everyone")


def _classify_url(url: str) -> tuple[str, str]:
    """("discord" | "other" | "invalid", host) without ever returning the path or the token."""
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return "invalid", ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "invalid", ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "invalid", ""
    is_discord_host = parts.scheme.lower() == "https" and host in _DISCORD_HOSTS
    if is_discord_host and _WEBHOOK_PATH.fullmatch(parts.path):
        return "discord", host
    return "other", host if port is None else f"{host}:{port}"


@dataclass
class DiscordConfig:
    """One ``[[discord]]`` section (Kapacitor's services/discord Config)."""

    enabled: bool = False
    default: bool = False
    workspace: str = ""
    url: str = field(default="", repr=False)
    timestamp: bool = False
    username: str = ""
    avatar_url: str = ""
    embed_title: str = ""
    global_: bool = False
    state_changes_only: bool = False
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("enabled", "enabled", "bool"),
        _Key("default", "default", "bool"),
        _Key("workspace", "workspace", "str"),
        _Key("url", "url", "str"),
        _Key("timestamp", "timestamp", "bool"),
        _Key("username", "username", "str"),
        _Key("avatar-url", "avatar_url", "str"),
        _Key("embed-title", "embed_title", "str"),
        _Key("global", "global_", "bool"),
        _Key("state-changes-only", "state_changes_only", "bool"),
        _Key("ssl-ca", "ssl_ca", "str"),
        _Key("ssl-cert", "ssl_cert", "str"),
        _Key("ssl-key", "ssl_key", "str"),
        _Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
    )
    _ELEMENT_KEY: ClassVar[str] = "workspace"
    #: Keys whose values are secrets; to_options shows them as "is it set" booleans.
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"url"})

    def to_options(self, *, redact: bool = True) -> dict[str, Any]:
        """Kapacitor's option names and order; the webhook URL becomes a bool unless redact=False."""
        return _to_options(self, self.REDACTED_KEYS if redact else frozenset())

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, where: str) -> DiscordConfig:
        """Strict: an unknown key or a wrong type is a ConfigError naming it; missing keys default."""
        config: DiscordConfig = _build(cls, options, where)
        return config

    def validate(self) -> list[str]:
        """Rules for one section, each message starting with the key it is about."""
        problems: list[str] = []
        if self.enabled and not self.url:
            problems.append("url: must specify the Discord channel webhook URL when enabled")
        if self.url and _classify_url(self.url)[0] == "invalid":
            problems.append(
                "url: must be an http:// or https:// URL with a host "
                "(the value is not shown: it holds the webhook token)"
            )
        if self.avatar_url and _classify_url(self.avatar_url)[0] == "invalid":
            problems.append("avatar-url: must be an http:// or https:// URL with a host")
        problems.extend(_username_problems(self.username))
        if self.ssl_cert and not self.ssl_key:
            problems.append("ssl-key: must be set when ssl-cert is set")
        if self.ssl_key and not self.ssl_cert:
            problems.append("ssl-cert: must be set when ssl-key is set")
        if self.enabled:
            for key in ("ssl-ca", "ssl-cert", "ssl-key"):
                path = getattr(self, key.replace("-", "_"))
                if path and not os.path.isfile(path):
                    problems.append(f"{key}: file {_quote(path)} does not exist")
        return problems

    def warnings(self) -> list[str]:
        """Things that are allowed but probably not what the user meant."""
        if not (self.enabled and self.url):
            return []
        kind, host = _classify_url(self.url)
        if kind != "other":
            return []
        if host in _DISCORD_HOSTS:
            return [
                f"url: on {host} but not of the form https://{host}/api/webhooks/<numeric id>/"
                "<token>; posting to it anyway"
            ]
        return [
            f"url: host {host} is not a Discord webhook URL "
            "(https://discord.com/api/webhooks/<id>/<token>); posting to it anyway, "
            "as to a self-hosted relay"
        ]


def _username_problems(username: str) -> list[str]:
    if not username:
        return []  # empty means "the name set on the webhook"
    name = username.strip()
    if not 1 <= len(name) <= 80:
        return [f"username: must be 1 to 80 characters after trimming spaces, got {len(name)}"]
    lowered = name.lower()
    problems = [
        f'username: must not contain "{word}" (Discord rejects it)'
        for word in _FORBIDDEN_USERNAME_WORDS
        if word in lowered
    ]
    if lowered in _FORBIDDEN_USERNAMES:
        problems.append(f'username: must not be "{lowered}" (Discord rejects it)')
    return problems


def _discord_label(index: int, config: DiscordConfig) -> str:
    label = f"[[discord]] #{index}"
    if config.workspace:
        label += f" (workspace {_quote(config.workspace)})"
    return label


def validate_discord_configs(configs: list[DiscordConfig], *, where: str) -> None:
    """Kapacitor's cross-section rules for ``[[discord]]`` (checked at startup)."""
    count = len(configs)
    if count == 0:
        return
    if count > 1:
        unnamed = [i for i, config in enumerate(configs) if not config.workspace]
        for i in unnamed:
            if len(unnamed) > 1 or not configs[i].default:
                raise ConfigError(
                    f"{where}: {_discord_label(i, configs[i])}: workspace: must not be empty when "
                    "several [[discord]] sections are configured (only the default section may be "
                    "unnamed)"
                )
        first_use: dict[str, int] = {}
        for i, config in enumerate(configs):
            if not config.workspace:
                continue
            if config.workspace in first_use:
                raise ConfigError(
                    f"{where}: [[discord]] #{first_use[config.workspace]} and #{i}: workspace "
                    f"{_quote(config.workspace)} is used twice; each section needs a unique workspace"
                )
            first_use[config.workspace] = i
        defaults = [i for i, config in enumerate(configs) if config.default]
        if not defaults:
            raise ConfigError(
                f"{where}: [[discord]]: default: at least one Discord config must be set as default"
            )
        if len(defaults) > 1:
            names = ", ".join(_discord_label(i, configs[i]) for i in defaults)
            raise ConfigError(
                f"{where}: {names}: default: only one Discord config may be the default, "
                f"found {len(defaults)}"
            )
    for i, config in enumerate(configs):
        is_default = config.default or count == 1
        if config.global_ and not is_default:
            raise ConfigError(
                f"{where}: {_discord_label(i, config)}: global: "
                "only the default config may be assigned as global"
            )
        if config.state_changes_only and not (is_default and config.global_):
            raise ConfigError(
                f"{where}: {_discord_label(i, config)}: state-changes-only: "
                "may only be set when the config is both default and global"
            )


@dataclass
class BasicAuth:
    """``basic-auth = { username = "…", password = "…" }`` of an ``[[httppost]]``."""

    username: str = ""
    password: str = field(default="", repr=False)

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("username", "username", "str"),
        _Key("password", "password", "str"),
    )

    def is_set(self) -> bool:
        return bool(self.username or self.password)


@dataclass
class HTTPPostConfig:
    """One ``[[httppost]]`` endpoint (Kapacitor's services/httppost Config)."""

    endpoint: str = ""
    url: str = field(default="", repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    basic_auth: BasicAuth = field(default_factory=BasicAuth)
    alert_template: str = ""
    alert_template_file: str = ""
    row_template: str = ""
    row_template_file: str = ""

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("endpoint", "endpoint", "str"),
        _Key("url", "url", "str"),
        _Key("headers", "headers", "str_map"),
        _Key("basic-auth", "basic_auth", "struct", BasicAuth),
        _Key("alert-template", "alert_template", "str"),
        _Key("alert-template-file", "alert_template_file", "str"),
        _Key("row-template", "row_template", "str"),
        _Key("row-template-file", "row_template_file", "str"),
    )
    _ELEMENT_KEY: ClassVar[str] = "endpoint"
    #: basic-auth as in Kapacitor; headers too, since they usually carry an Authorization value.
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"basic-auth", "headers"})

    def to_options(self, *, redact: bool = True) -> dict[str, Any]:
        return _to_options(self, self.REDACTED_KEYS if redact else frozenset())

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, where: str) -> HTTPPostConfig:
        config: HTTPPostConfig = _build(cls, options, where)
        return config

    def validate(self) -> list[str]:
        """Kapacitor's rules; the URL may be a Go template, so only its presence is checked."""
        problems: list[str] = []
        if not self.endpoint:
            problems.append("endpoint: must specify endpoint name")
        if not self.url:
            problems.append("url: must specify url")
        for kind in ("alert", "row"):
            inline = getattr(self, f"{kind}_template")
            path = getattr(self, f"{kind}_template_file")
            if inline and path:
                problems.append(
                    f"{kind}-template-file: must specify only one of {kind}-template and "
                    f"{kind}-template-file"
                )
            if path and not os.path.isabs(path):
                problems.append(f"{kind}-template-file: must use an absolute path")
        return problems


@dataclass
class HTTPConfig:
    """``[http]``: the API and write listener."""

    bind_address: str = "127.0.0.1:9092"
    auth_enabled: bool = False
    log_enabled: bool = True
    https_enabled: bool = False
    https_certificate: str = ""
    https_private_key: str = ""
    shared_secret: str = field(default="", repr=False)
    shutdown_timeout: int = 10_000_000_000  # nanoseconds, as Kapacitor's toml.Duration

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("bind-address", "bind_address", "str"),
        _Key("auth-enabled", "auth_enabled", "bool"),
        _Key("log-enabled", "log_enabled", "bool"),
        _Key("https-enabled", "https_enabled", "bool"),
        _Key("https-certificate", "https_certificate", "str"),
        _Key("https-private-key", "https_private_key", "str"),
        _Key("shared-secret", "shared_secret", "str"),
        _Key("shutdown-timeout", "shutdown_timeout", "duration"),
    )
    _KAPACITOR_ONLY: ClassVar[frozenset[str]] = frozenset({"write-tracing", "pprof-enabled"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        problem = _bind_address_problem(self.bind_address)
        if problem:
            problems.append(f"bind-address: {_quote(self.bind_address)} {problem}")
        if self.https_enabled:
            if not self.https_certificate:
                problems.append("https-certificate: must be set when https-enabled = true")
            for key in ("https-certificate", "https-private-key"):
                path = getattr(self, key.replace("-", "_"))
                if path and not os.path.isfile(path):
                    problems.append(f"{key}: file {_quote(path)} does not exist")
        if self.shutdown_timeout < 0:
            problems.append("shutdown-timeout: must not be negative")
        return problems

    def host_port(self) -> tuple[str, int]:
        """The listener address; an empty host means all interfaces (Go's ":9092")."""
        host, _, port = self.bind_address.rpartition(":")
        return host.strip("[]"), int(port)


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
class LoggingConfig:
    """``[logging]``."""

    file: str = "STDERR"
    level: str = "INFO"

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("file", "file", "str"),
        _Key("level", "level", "str"),
    )

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not self.file:
            problems.append('file: must be "STDERR", "STDOUT" or a path')
        if self.level.upper() not in _LOG_LEVELS:
            hint = _suggest(self.level.upper(), frozenset(_LOG_LEVELS))
            problems.append(
                f"level: must be one of {', '.join(_LOG_LEVELS)}, got {_quote(self.level)}{hint}"
            )
        return problems


@dataclass
class StorageConfig:
    """``[storage]``: Leyden keeps its state in SQLite; a Kapacitor ``boltdb`` path is only read past."""

    boltdb: str = ""
    sqlite: str = ""

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("boltdb", "boltdb", "str"),
        _Key("sqlite", "sqlite", "str"),
    )


@dataclass
class AlertConfig:
    """``[alert]``."""

    persist_topics: bool = True
    topic_buffer_length: int = 5000
    #: Leyden's opt-in fixes of Kapacitor behaviours that change alert output (off = Kapacitor's):
    #: each group gets its own state for count()/sigma()/spread() in alert level lambdas
    per_group_lambda_state: bool = False
    #: flapping weighs transitions in time order (fixes Kapacitor's wrap-around quirk)
    chronological_flapping: bool = False

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("persist-topics", "persist_topics", "bool"),
        _Key("topic-buffer-length", "topic_buffer_length", "int"),
        _Key("per-group-lambda-state", "per_group_lambda_state", "bool"),
        _Key("chronological-flapping", "chronological_flapping", "bool"),
    )

    def validate(self) -> list[str]:
        if self.topic_buffer_length < 0:
            return ["topic-buffer-length: must not be negative"]
        return []


AUTH_PERMISSIONS = ("none", "api", "config_api", "write_points", "all")


@dataclass
class AuthUser:
    """One ``[[auth.users]]`` entry (Leyden's own section, see the module docstring)."""

    username: str = ""
    password: str = field(default="", repr=False)
    permissions: list[str] = field(default_factory=lambda: ["all"])

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("username", "username", "str"),
        _Key("password", "password", "str"),
        _Key("permissions", "permissions", "str_list"),
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
                hint = _suggest(permission, frozenset(AUTH_PERMISSIONS))
                problems.append(
                    f"permissions: unknown permission {_quote(permission)}, expected any of "
                    f"{', '.join(AUTH_PERMISSIONS)}{hint}"
                )
        return problems


@dataclass
class AuthConfig:
    """``[auth]``: whether credentials are checked, and the users they are checked against."""

    enabled: bool = False
    users: list[AuthUser] = field(default_factory=list)

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("enabled", "enabled", "bool"),
        _Key("users", "users", "table_list", AuthUser),
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
class _ConfigOverrideSection:
    enabled: bool = True

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (_Key("enabled", "enabled", "bool"),)


def _default_discord() -> list[DiscordConfig]:
    return [DiscordConfig(default=True, enabled=False)]


@dataclass
class Config:
    """The whole configuration, after the file, the environment and validation."""

    hostname: str = "localhost"
    data_dir: str = "./leyden-data"
    default_retention_policy: str = ""
    skip_config_overrides: bool = False
    http: HTTPConfig = field(default_factory=HTTPConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    alert: AlertConfig = field(default_factory=AlertConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    config_override_enabled: bool = True
    discord: list[DiscordConfig] = field(default_factory=_default_discord)
    httppost: list[HTTPPostConfig] = field(default_factory=list)
    #: Where the configuration came from: a file path or EMBEDDED_SOURCE.
    source: str = EMBEDDED_SOURCE
    #: Lines to log at start: ignored sections and keys, warnings, applied environment overrides.
    notes: list[str] = field(default_factory=list)

    _SCHEMA: ClassVar[tuple[_Key, ...]] = (
        _Key("hostname", "hostname", "str"),
        _Key("data_dir", "data_dir", "str"),
        _Key("default-retention-policy", "default_retention_policy", "str"),
        _Key("skip-config-overrides", "skip_config_overrides", "bool"),
        _Key("http", "http", "struct", HTTPConfig),
        _Key("logging", "logging", "struct", LoggingConfig),
        _Key("storage", "storage", "struct", StorageConfig),
        _Key("alert", "alert", "struct", AlertConfig),
        _Key("auth", "auth", "struct", AuthConfig),
        _Key("config-override", "config_override_enabled", "struct", _ConfigOverrideSection),
        _Key("discord", "discord", "table_list", DiscordConfig),
        _Key("httppost", "httppost", "table_list", HTTPPostConfig),
    )

    def sqlite_path(self) -> str:
        """Leyden's database file: ``[storage] sqlite``, else ``<data_dir>/leyden.db``."""
        return self.storage.sqlite or os.path.join(self.data_dir, "leyden.db")

    def discord_by_workspace(self, workspace: str) -> DiscordConfig | None:
        """Kapacitor's lookup: ``""`` is the default section, otherwise the named one."""
        for config in self.discord:
            if config.workspace == workspace or (
                not workspace and (config.default or len(self.discord) == 1)
            ):
                return config
        return None


#: Every top-level section of Kapacitor 1.7's server config (server/config.go) that Leyden does
#: not implement, plus ``static``: the shipped kapacitor.conf writes ``[static.labels]`` under
#: ``[[static-discovery]]``, which TOML reads as a top-level table of that name.
KAPACITOR_ONLY_SECTIONS = frozenset(
    {
        "replay", "task", "fluxtask", "load", "influxdb", "tls", "graphite", "collectd",
        "opentsdb", "udp", "alerta", "bigpanda", "hipchat", "kafka", "mqtt", "opsgenie",
        "opsgenie2", "pagerduty", "pagerduty2", "pushover", "smtp", "snmptrap", "sensu",
        "servicenow", "slack", "talk", "teams", "telegram", "victorops", "zenoss", "scraper",
        "azure", "consul", "dns", "ec2", "file-discovery", "gce", "marathon", "nerve",
        "serverset", "static-discovery", "triton", "kubernetes", "swarm", "reporting", "stats",
        "udf", "deadman", "static",
    }
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Environment overrides


def _env_part(name: str) -> str:
    return name.replace("-", "_").upper()


_INDEX = re.compile(r"(0|[1-9][0-9]*)_(.+)")


def _env_target(cls: Any, rest: str) -> tuple[list[str | int], _Key] | None:
    """Resolve ``HTTP_BIND_ADDRESS`` / ``DISCORD_0_URL`` against the schema; None if unknown."""
    for key in cls._SCHEMA:
        part = _env_part(key.name)
        if key.kind in _SCALAR_KINDS:
            if rest == part:
                return [key.name], key
            continue
        if not rest.startswith(part + "_"):
            continue
        tail = rest[len(part) + 1 :]
        if key.kind == "str_map":
            return [key.name, tail], _Key(tail, tail, "str")
        if key.kind == "struct":
            found = _env_target(key.cls, tail)
            if found:
                return [key.name, *found[0]], found[1]
        elif key.kind == "table_list":
            indexed = _INDEX.fullmatch(tail)
            if indexed:
                found = _env_target(key.cls, indexed.group(2))
                if found:
                    return [key.name, int(indexed.group(1)), *found[0]], found[1]
    return None


def _env_value(key: _Key, text: str) -> Any:
    if key.kind == "bool":
        return parse_go_bool(text)
    if key.kind == "int":
        return parse_go_int(text)
    if key.kind == "duration":
        parse_go_duration(text)
        return text  # decoded again, like a TOML string, when the section is built
    if key.kind == "str_list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _collect_env(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """suffix → (variable name, value); LEYDEN_ beats KAPACITOR_, empty values do not count."""
    chosen: dict[str, tuple[str, str]] = {}
    for prefix in ("KAPACITOR_", "LEYDEN_"):  # later prefixes win
        for name, value in env.items():
            if name.startswith(prefix) and value != "":
                chosen[name[len(prefix) :]] = (name, value)
    return chosen


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> list[str]:
    """Write environment values into the decoded TOML, so one path validates both."""
    applied: list[str] = []
    for suffix, (variable, text) in sorted(_collect_env(env).items()):
        target = _env_target(Config, suffix)
        if target is None:
            continue  # Kapacitor-only or unknown key: ignored, like its section
        path, key = target
        try:
            value = _env_value(key, text)
        except ValueError as exc:
            raise ConfigError(f"{_ENV_SOURCE}: {variable}: {exc}") from None
        container = _descend(raw, path, variable)
        if container is not None:  # None: the file has a wrong type there; decoding says so
            container[path[-1]] = value
            applied.append(variable)
    return applied


def _descend(raw: dict[str, Any], path: list[str | int], variable: str) -> dict[str, Any] | None:
    """The table that holds ``path[-1]``, creating plain tables but never list elements."""
    container: Any = raw
    i = 0
    while i < len(path) - 1:
        step = path[i]
        if not isinstance(container, dict):
            return None
        index = path[i + 1]
        if isinstance(index, int):
            items = container.get(step)
            if isinstance(items, Mapping):
                items = container[step] = [items]
            if items is not None and not isinstance(items, list):
                return None
            count = len(items) if items else 0
            if index >= count:
                raise ConfigError(
                    f"{_ENV_SOURCE}: {variable}: there is no [[{step}]] #{index} to override "
                    f"(the configuration has {count}); environment variables can only override "
                    "sections that exist"
                )
            container = items[index]
            i += 2
        else:
            container = container.setdefault(step, {})
            i += 1
    return container if isinstance(container, dict) else None


# --------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | None, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (None → built-in defaults), apply the environment, validate.

    ``env`` defaults to the process environment.
    """
    source = EMBEDDED_SOURCE if path is None else path
    raw: dict[str, Any] = {} if path is None else _read_toml(path)
    if "discord" not in raw:
        raw["discord"] = [{"default": True, "enabled": False}]
    elif isinstance(raw["discord"], Mapping):
        raw["discord"] = [raw["discord"]]
    applied = _apply_env(raw, os.environ if env is None else env)
    config = _decode(raw, source)
    if applied:
        config.notes.append("environment overrides applied: " + ", ".join(applied))
    _validate(config, source, env_used=bool(applied))
    return config


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if where:
            line, column = where.groups()
            message = message[: where.start()]
            raise ConfigError(f"{path}:{line}:{column}: invalid TOML: {message}") from None
        raise ConfigError(f"{path}: invalid TOML: {message}") from None


def _decode(raw: Mapping[str, Any], source: str) -> Config:
    config = Config(source=source)
    notes = config.notes
    schema = {key.name: key for key in Config._SCHEMA}
    for name, value in raw.items():
        key = schema.get(name)
        if key is None:
            is_table = isinstance(value, Mapping) or (
                isinstance(value, list) and all(isinstance(item, Mapping) for item in value)
            )
            label = f"[[{name}]]" if isinstance(value, list) else f"[{name}]"
            if name in KAPACITOR_ONLY_SECTIONS:
                if not is_table:
                    raise ConfigError(
                        f"{source}: {name}: expected a table, got {_toml_type(value)}"
                    )
                notes.append(f"ignoring section {label}: not supported by Leyden")
                continue
            hint = _suggest(name, set(schema) | KAPACITOR_ONLY_SECTIONS)
            what = (
                f"unknown section {_short(label)}" if is_table else f"{_short(name)}: unknown key"
            )
            raise ConfigError(f"{source}: {what}{hint}")
        if key.kind == "table_list":
            setattr(
                config,
                key.attr,
                [
                    _build(
                        key.cls, item, f"{source}: {_element_label(name, i, item, key.cls)}", notes
                    )
                    for i, item in enumerate(_as_table_list(value, f"{source}: [[{name}]]"))
                ],
            )
        elif key.kind == "struct":
            section = _build(key.cls, value, f"{source}: [{name}]", notes)
            if name == "config-override":
                section = section.enabled
            setattr(config, key.attr, section)
        else:
            setattr(config, key.attr, _convert(key, value, source))
    return config


def _raise_problems(where: str, problems: list[str], env_used: bool) -> None:
    if problems:
        suffix = " (after environment overrides)" if env_used else ""
        raise ConfigError(f"{where}: {'; '.join(problems)}{suffix}")


def _validate(config: Config, source: str, *, env_used: bool) -> None:
    top: list[str] = []
    if not config.hostname:
        top.append("hostname: must not be empty")
    if not config.data_dir:
        top.append("data_dir: must not be empty")
    _raise_problems(source, top, env_used)

    _raise_problems(f"{source}: [http]", config.http.validate(), env_used)
    _raise_problems(f"{source}: [logging]", config.logging.validate(), env_used)
    config.logging.level = config.logging.level.upper()
    _raise_problems(f"{source}: [alert]", config.alert.validate(), env_used)
    _validate_auth(config, source, env_used)
    _validate_storage(config, source)

    for i, discord in enumerate(config.discord):
        _raise_problems(f"{source}: {_discord_label(i, discord)}", discord.validate(), env_used)
    if len(config.discord) == 1:
        config.discord[0].default = True  # Kapacitor: a single section is the default
    validate_discord_configs(config.discord, where=source)
    for i, discord in enumerate(config.discord):
        config.notes.extend(
            f"WARNING: {_discord_label(i, discord)}: {text}" for text in discord.warnings()
        )

    endpoints: dict[str, int] = {}
    for i, post in enumerate(config.httppost):
        label = f"[[httppost]] #{i}" + (
            f" (endpoint {_quote(post.endpoint)})" if post.endpoint else ""
        )
        _raise_problems(f"{source}: {label}", post.validate(), env_used)
        if post.endpoint in endpoints:
            raise ConfigError(
                f"{source}: [[httppost]] #{endpoints[post.endpoint]} and #{i}: endpoint "
                f"{_quote(post.endpoint)} is used twice; each endpoint needs a unique name"
            )
        endpoints[post.endpoint] = i


def _validate_auth(config: Config, source: str, env_used: bool) -> None:
    seen: dict[str, int] = {}
    for i, user in enumerate(config.auth.users):
        label = f"[[auth.users]] #{i}" + (
            f" (username {_quote(user.username)})" if user.username else ""
        )
        _raise_problems(f"{source}: {label}", user.validate(), env_used)
        if user.username in seen:
            raise ConfigError(
                f"{source}: [[auth.users]] #{seen[user.username]} and #{i}: username "
                f"{_quote(user.username)} is used twice"
            )
        seen[user.username] = i
    if config.http.auth_enabled and not config.auth.enabled:
        config.notes.append(
            "WARNING: [http] auth-enabled = true but [auth] enabled = false: any username and "
            "password is accepted, as in Kapacitor; set [auth] enabled = true to check "
            "[[auth.users]]"
        )
    elif config.http.auth_enabled and not config.auth.users:
        config.notes.append(
            "WARNING: authentication is on but no [[auth.users]] are configured: "
            "every request will be refused"
        )
    elif config.auth.enabled and not config.http.auth_enabled:
        config.notes.append("[auth] enabled has no effect while [http] auth-enabled = false")


def _validate_storage(config: Config, source: str) -> None:
    if not config.storage.boltdb:
        return
    same = os.path.abspath(config.storage.boltdb) == os.path.abspath(config.sqlite_path())
    if same:
        raise ConfigError(
            f"{source}: [storage]: sqlite: must not be the Kapacitor BoltDB file "
            f"{_quote(config.storage.boltdb)}; Leyden never writes to it"
        )
    config.notes.append(
        f"[storage] boltdb is not used by Leyden; its state lives in SQLite at "
        f"{_quote(config.sqlite_path())}"
    )
