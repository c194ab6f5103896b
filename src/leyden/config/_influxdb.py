"""``[[influxdb]]``: the InfluxDB 1.x clusters Leyden subscribes to, queries and writes to.

Kapacitor's ``services/influxdb`` Config, key for key, with its defaults (``startup-timeout``
5m, ``subscriptions-sync-interval`` 1m, ``subscription-protocol`` http, ``subscription-mode``
cluster, ``excluded-subscriptions`` ``_kapacitor = ["autogen"]``) and its rules (a name of
letters, digits, ``.``, ``-`` and ``_``; at least one URL; one default among several enabled
clusters; unique names).

One difference, on purpose: Kapacitor's built-in element is *enabled* at
``http://localhost:8086``, so a Kapacitor without InfluxDB waits ``startup-timeout`` and then
fails to start.  Leyden's built-in element (used when the file has no ``[[influxdb]]``) is
disabled, so the embedded defaults need no InfluxDB; it exists so that
``KAPACITOR_INFLUXDB_0_ENABLED=true`` and ``KAPACITOR_INFLUXDB_0_URLS=…`` can turn it on, as
in Kapacitor.  An element written in the file is enabled unless it says otherwise, as in the
shipped ``kapacitor.conf``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

from leyden.config._schema import ConfigError, Key, Section, SectionSpec, quote
from leyden.tls import TLSConfigError, build_ssl_context

__all__ = ["INFLUXDB_SECTION", "InfluxDBConfig"]

_NAME = re.compile(r"[-._\w]+")
_PROTOCOLS = ("http", "https", "udp")
_MODES = ("cluster", "server")
_MINUTE = 60_000_000_000


@dataclass
class InfluxDBConfig(Section):
    """One ``[[influxdb]]`` cluster."""

    enabled: bool = True
    name: str = "default"
    default: bool = False
    urls: list[str] = field(default_factory=lambda: ["http://localhost:8086"])
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False
    timeout: int = 0  # nanoseconds; 0: no limit but the request's own (Kapacitor's default)
    disable_subscriptions: bool = False
    subscription_protocol: str = "http"
    subscription_mode: str = "cluster"
    subscription_path: str = ""
    subscriptions: dict[str, list[str]] = field(default_factory=dict)
    excluded_subscriptions: dict[str, list[str]] = field(
        default_factory=lambda: {"_kapacitor": ["autogen"]}
    )
    kapacitor_hostname: str = ""
    http_port: int = 0
    udp_bind: str = ""
    udp_buffer: int = 1000
    udp_read_buffer: int = 0
    startup_timeout: int = 5 * _MINUTE
    subscriptions_sync_interval: int = _MINUTE
    compression: str = "gzip"

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("name", "name", "str"),
        Key("default", "default", "bool"),
        Key("urls", "urls", "str_list"),
        Key("username", "username", "str"),
        Key("password", "password", "str"),
        Key("token", "token", "str"),
        Key("ssl-ca", "ssl_ca", "str"),
        Key("ssl-cert", "ssl_cert", "str"),
        Key("ssl-key", "ssl_key", "str"),
        Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
        Key("timeout", "timeout", "duration"),
        Key("disable-subscriptions", "disable_subscriptions", "bool"),
        Key("subscription-protocol", "subscription_protocol", "str"),
        Key("subscription-mode", "subscription_mode", "str"),
        Key("subscription-path", "subscription_path", "str"),
        Key("subscriptions", "subscriptions", "str_list_map"),
        Key("excluded-subscriptions", "excluded_subscriptions", "str_list_map"),
        Key("kapacitor-hostname", "kapacitor_hostname", "str"),
        Key("http-port", "http_port", "int"),
        Key("udp-bind", "udp_bind", "str"),
        Key("udp-buffer", "udp_buffer", "int"),
        Key("udp-read-buffer", "udp_read_buffer", "int"),
        Key("startup-timeout", "startup_timeout", "duration"),
        Key("subscriptions-sync-interval", "subscriptions_sync_interval", "duration"),
        Key("compression", "compression", "str"),
    )
    _ELEMENT_KEY: ClassVar[str] = "name"
    _KAPACITOR_ONLY: ClassVar[frozenset[str]] = frozenset({"http-shared-secret"})
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"password", "token"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not self.name:
            problems.append("name: influxdb cluster must be given a name")
        elif not _NAME.fullmatch(self.name):
            problems.append(
                "name: influxdb cluster name must contain only numbers, letters or '.', '-', "
                "and '_' characters"
            )
        if not self.urls:
            problems.append("urls: must specify at least one InfluxDB URL")
        for url in self.urls:
            problem = _url_problem(url)
            if problem:
                # the URL may carry credentials: name it by its position only
                problems.append(f"urls: URL #{self.urls.index(url)} {problem}")
        if self.subscription_protocol not in _PROTOCOLS:
            problems.append(
                "subscription-protocol: invalid subscription protocol, must be one of 'udp', "
                f"'http' or 'https', got {quote(self.subscription_protocol)}"
            )
        if self.subscription_mode not in _MODES:
            problems.append(
                f"subscription-mode: unknown subscription mode {quote(self.subscription_mode)} "
                '(expected "cluster" or "server")'
            )
        if self.compression not in ("gzip", "none"):
            problems.append(
                "compression: must be one of 'gzip' or 'none', got " + quote(self.compression)
            )
        if self.enabled:
            try:
                build_ssl_context(
                    self.ssl_ca, self.ssl_cert, self.ssl_key, self.insecure_skip_verify
                )
            except TLSConfigError as exc:
                problems.append(str(exc))
        if not 0 <= self.http_port <= 65535:
            problems.append("http-port: must be between 0 and 65535")
        for key, value in (
            ("timeout", self.timeout),
            ("startup-timeout", self.startup_timeout),
            ("subscriptions-sync-interval", self.subscriptions_sync_interval),
        ):
            if value < 0:
                problems.append(f"{key}: must not be negative")
        return problems

    def warnings(self) -> list[str]:
        if self.enabled and not self.disable_subscriptions and self.subscription_protocol == "udp":
            return [
                'subscription-protocol "udp" is not supported by Leyden: no subscriptions are '
                'made for this cluster; use "http" or "https"'
            ]
        return []

    def sync_interval_ns(self) -> int:
        """Kapacitor's conditional default: 0 means the 1m default."""
        return self.subscriptions_sync_interval or _MINUTE

    def startup_timeout_ns(self) -> int:
        return self.startup_timeout or 5 * _MINUTE

    @classmethod
    def check_all(cls, sections: Sequence[InfluxDBConfig], *, where: str) -> None:
        """Kapacitor's rules across clusters: unique names, one default among the enabled."""
        seen: set[str] = set()
        default = ""
        enabled = 0
        for section in sections:
            if section.name in seen:
                raise ConfigError(
                    f"{where}: [[influxdb]]: duplicate name {quote(section.name)} for influxdb "
                    "configs"
                )
            seen.add(section.name)
            if section.enabled and section.default:
                if default:
                    raise ConfigError(
                        f"{where}: [[influxdb]]: more than one InfluxDB default was specified: "
                        f"{quote(section.name)} and {quote(default)}"
                    )
                default = section.name
            enabled += section.enabled
        if enabled > 1 and not default:
            raise ConfigError(
                f"{where}: [[influxdb]]: at least one of the enabled InfluxDB clusters must be "
                "marked as default (default = true)"
            )


def _url_problem(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return 'must start with "http://" or "https://"'
    if not parts.hostname:
        return "has no host"
    return ""


#: ``[[influxdb]]`` for the loader; its built-in element is disabled (module docstring)
INFLUXDB_SECTION = SectionSpec("influxdb", InfluxDBConfig, defaults=({"enabled": False},))
