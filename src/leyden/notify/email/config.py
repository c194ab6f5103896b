"""``[smtp]``: the mail server the ``email`` handler sends through (Kapacitor's services/smtp).

Keys, defaults (``host = "localhost"``, ``port = 25``, ``idle-timeout = "30s"``) and rules are
Kapacitor's: ``from`` is required when enabled and, like every ``to`` address, must be one
address (``Name <local@domain>`` or ``local@domain``).  ``toTemplates`` is Kapacitor's TOML
name (``to-templates`` in the config API); Kapacitor's service never reads it, and neither does
Leyden: templates of recipients are the handler's ``.toTemplates()``.  ``password`` is a
secret: the config API shows whether it is set, and no message or repr holds it.  Without an
``[smtp]`` table Leyden has Kapacitor's built-in (disabled) one, so ``KAPACITOR_SMTP_*``
environment variables alone configure mail, as in Kapacitor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from leyden.config import Key, Section, SectionSpec
from leyden.go.strconv import parse_go_duration
from leyden.notify.email.message import parse_address

__all__ = ["DEFAULT_IDLE_TIMEOUT", "SECTION", "SMTPConfig"]

DEFAULT_IDLE_TIMEOUT = parse_go_duration("30s")

#: the config API's names where they differ from the TOML ones (Kapacitor's override tags)
_API_NAMES = {"toTemplates": "to-templates"}
_LIST_KEYS = ("to", "toTemplates")


@dataclass
class SMTPConfig(Section):
    """The ``[smtp]`` section."""

    enabled: bool = False
    host: str = "localhost"
    port: int = 25
    username: str = ""
    password: str = field(default="", repr=False)
    no_verify: bool = False
    global_: bool = False
    state_changes_only: bool = False
    from_: str = ""
    to: list[str] = field(default_factory=list)
    to_templates: list[str] = field(default_factory=list)
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT  # nanoseconds

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("host", "host", "str"),
        Key("port", "port", "int"),
        Key("username", "username", "str"),
        Key("password", "password", "str"),
        Key("no-verify", "no_verify", "bool"),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
        Key("from", "from_", "str"),
        Key("to", "to", "str_list"),
        Key("toTemplates", "to_templates", "str_list"),
        Key("idle-timeout", "idle_timeout", "duration"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"password"})

    def to_options(self, *, redact: bool = True) -> dict[str, Any]:
        """Kapacitor's API names; an empty address list is ``null`` as Go shows a nil slice."""
        options = super().to_options(redact=redact)
        for key in _LIST_KEYS:
            if not options[key]:
                options[key] = None
        return {_API_NAMES.get(k, k): v for k, v in options.items()}

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, where: str) -> Self:
        api = {v: k for k, v in _API_NAMES.items()}
        renamed = {api.get(k, k): v for k, v in options.items()}
        for key in _LIST_KEYS:
            if key in renamed and renamed[key] is None:
                del renamed[key]  # null: no addresses, as the API shows them
        return super().from_options(renamed, where=where)

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not self.host:
            problems.append("host: cannot be empty")
        if not 0 < self.port < 65536:
            problems.append(f"port: invalid port {self.port} (must be 1 to 65535)")
        if self.idle_timeout < 0:
            problems.append("idle-timeout: idle timeout must be positive")
        if self.enabled and not self.from_:
            problems.append("from: must provide a 'from' address")
        if self.from_ and parse_address(self.from_) is None:
            problems.append(f'from: invalid from email address: "{self.from_}"')
        for i, address in enumerate(self.to):
            if parse_address(address) is None:
                problems.append(f'to: element {i}: invalid to email address: "{address}"')
        return problems


#: ``[smtp]`` for the loader; without one in the file, Kapacitor's disabled built-in one.
SECTION = SectionSpec("smtp", SMTPConfig, multiple=False, defaults=({"enabled": False},))
