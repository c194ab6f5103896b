"""``[[mqtt]]``: MQTT brokers in kapacitor.conf (Kapacitor's services/mqtt Config).

One section per broker, named by ``name`` (Kapacitor's default element is ``name =
"default"``, disabled, so ``KAPACITOR_MQTT_0_URL`` can configure a broker from the environment
alone).  Kapacitor's rules: a name is required, an enabled broker needs a ``url``, at most one
broker is the ``default`` and, with several, one must be.  Leyden also refuses two brokers of
one name (Kapacitor silently keeps the last) and a URL scheme no MQTT client dials.  The
``password`` is redacted in the config API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self
from urllib.parse import urlsplit

from leyden.config import ConfigError, Key, Section, SectionSpec, quote

__all__ = ["SCHEMES", "SECTION", "MQTTConfig", "broker_address"]

#: URL schemes Kapacitor's client (paho) dials → (transport, TLS, default port)
SCHEMES: dict[str, tuple[str, bool, int]] = {
    "tcp": ("tcp", False, 1883),
    "mqtt": ("tcp", False, 1883),
    "ssl": ("tcp", True, 8883),
    "tls": ("tcp", True, 8883),
    "mqtts": ("tcp", True, 8883),
    "ws": ("websockets", False, 80),
    "wss": ("websockets", True, 443),
}


def broker_address(url: str) -> tuple[str, str, int, bool, str]:
    """``(transport, host, port, tls, websocket path)`` of a broker URL; ValueError if unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(
            "url: not a valid URL (tcp://host:port, ssl://host:port, ws://…)"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(
            f"url: scheme {quote(scheme)} is not one of {', '.join(SCHEMES)} "
            "(tcp://host:port, ssl://host:port, ws://host:port/path)"
        )
    if not parts.hostname:
        raise ValueError("url: must name the broker's host (tcp://host:port)")
    transport, tls, default_port = SCHEMES[scheme]
    path = (parts.path or "/") if transport == "websockets" else ""  # the URL's, as paho-go
    return transport, parts.hostname, port or default_port, tls, path


@dataclass
class MQTTConfig(Section):
    """One ``[[mqtt]]`` broker (Kapacitor's services/mqtt Config, NewConfig's defaults)."""

    enabled: bool = False
    name: str = "default"
    default: bool = False
    url: str = ""
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False
    client_id: str = ""
    username: str = ""
    password: str = field(default="", repr=False)

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("name", "name", "str"),
        Key("default", "default", "bool"),
        Key("url", "url", "str"),
        Key("ssl-ca", "ssl_ca", "str"),
        Key("ssl-cert", "ssl_cert", "str"),
        Key("ssl-key", "ssl_key", "str"),
        Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
        Key("client-id", "client_id", "str"),
        Key("username", "username", "str"),
        Key("password", "password", "str"),
    )
    _ELEMENT_KEY: ClassVar[str] = "name"
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"password"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not self.name:
            problems.append("name: must specify a name for the mqtt broker")
        if self.enabled and not self.url:
            problems.append("url: must specify a url for mqtt service")
        if self.url:
            try:
                broker_address(self.url)
            except ValueError as exc:
                problems.append(str(exc))
        if self.ssl_key and not self.ssl_cert:
            problems.append("ssl-cert: must be set when ssl-key is set")
        return problems

    def identifier(self) -> str:
        """The MQTT client ID: ``client-id``, else the broker's name (as Kapacitor)."""
        return self.client_id or self.name

    @classmethod
    def check_all(cls, sections: Sequence[Self], *, where: str) -> None:
        """Kapacitor's Configs.Validate: one default at most, and one among several."""
        defaults = [s for s in sections if s.default]
        if len(defaults) > 1:
            raise ConfigError(
                f"{where}: [[mqtt]]: default: more than one configuration is marked as the "
                f"default ({', '.join(quote(s.name) for s in defaults)})"
            )
        if not defaults and len(sections) > 1:
            raise ConfigError(
                f"{where}: [[mqtt]]: default: no configuration is marked as the default; "
                f"set default = true on one of {', '.join(quote(s.name) for s in sections)}"
            )
        seen: set[str] = set()
        for section in sections:
            if section.name in seen:
                raise ConfigError(
                    f"{where}: [[mqtt]]: name: {quote(section.name)} is used twice; each broker "
                    "needs a unique name"
                )
            seen.add(section.name)


#: ``[[mqtt]]`` for the loader; without one in the file, Kapacitor's disabled "default" broker.
SECTION = SectionSpec("mqtt", MQTTConfig, multiple=True, defaults=({"name": "default"},))
