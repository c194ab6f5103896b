"""What the services of the configured integrations share: their sections by name, the default
one, ``global`` and ``state-changes-only``, and the define-time check of a named element.

Kapacitor's handler services (``services/slack``, ``services/mqtt``, ``services/kafka`` …) each
keep their configuration, pick the element a handler names (``.slack().workspace('x')``,
``.mqtt().brokerName('b')``, ``.kafka().cluster('c')``) or the default one, and answer whether
a global handler is on.  :class:`ConfiguredService` does that once: an integration subclasses
it with its section, what its elements are called, and its own sending; its registry entry
then takes ``build_service=XService.from_config``, ``global_handler=XService.global_enabled``
and ``global_state_changes_only=XService.state_changes_only`` as they are.  A name the
server does not have is refused when the task or handler is *defined*, naming what is
configured (Kapacitor accepts it and fails on every event).

A service test (``POST /kapacitor/v1/service-tests/<kind>``) reads its options the same way in
every integration: :class:`ServiceTestOptions` lays them over the service's
``default_test_options()`` (Kapacitor's TestOptions), refuses a key it does not have naming the
valid ones, and reads each value by type with an error naming the kind and the key;
:func:`service_test_answer` turns the one attempt's outcome into the test's ``(success, message)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from leyden.config import Config, ConfigError, Section, SectionSpec, quote
from leyden.go.types import Time
from leyden.model.alert import Level
from leyden.notify._http import DeliveryResult, HTTPClient
from leyden.notify._registry import Problem
from leyden.notify.base import IntegrationError

__all__ = [
    "NOT_ENABLED",
    "ConfiguredService",
    "HTTPService",
    "ServiceTestOptions",
    "check_workspaces",
    "format_names",
    "service_test_answer",
]

#: Kapacitor's words when a service's section has ``enabled = false`` (its service tests and
#: the reason of an event it refuses)
NOT_ENABLED = "service is not enabled"

C = TypeVar("C", bound=Section)


#: how messages name the unnamed (default) element of a ``[[list]]`` section
UNNAMED = "the unnamed default (used when the name is left empty)"


def format_names(names: Sequence[str]) -> str:
    """``"a", "b"`` for messages; ``none`` when there are none; the unnamed one last, in words
    (``""`` alone read as a typo)."""
    shown = [f'"{n}"' for n in names if n] + ([UNNAMED] if "" in names else [])
    return ", ".join(shown) or "none"


def check_workspaces(spec: SectionSpec, sections: Sequence[Any], *, where: str, title: str) -> None:
    """Kapacitor's rules across the workspaces of a ``[[list]]`` section (``[[slack]]``,
    ``[[discord]]``), checked when the configuration is loaded or updated: a single section is
    made the default; several need unique ``workspace`` names (only the default may be
    unnamed) and exactly one default; ``global`` only on the default, ``state-changes-only``
    only on a default global one.  ``title`` names the service in messages (``Slack``)."""
    label = spec.label
    if len(sections) == 1:
        sections[0].default = True
    if len(sections) > 1:
        unnamed = [i for i, config in enumerate(sections) if not config.workspace]
        for i in unnamed:
            if len(unnamed) > 1 or not sections[i].default:
                raise ConfigError(
                    f"{where}: {label(i, sections[i])}: workspace: must not be empty when "
                    f"several [[{spec.name}]] sections are configured (only the default section "
                    "may be unnamed)"
                )
        first_use: dict[str, int] = {}
        for i, config in enumerate(sections):
            if not config.workspace:
                continue
            if config.workspace in first_use:
                raise ConfigError(
                    f"{where}: [[{spec.name}]] #{first_use[config.workspace]} and #{i}: "
                    f"workspace {quote(config.workspace)} is used twice; each section needs a "
                    "unique workspace"
                )
            first_use[config.workspace] = i
        defaults = [i for i, config in enumerate(sections) if config.default]
        if not defaults:
            raise ConfigError(
                f"{where}: [[{spec.name}]]: default: at least one {title} config must be set "
                "as default"
            )
        if len(defaults) > 1:
            names = ", ".join(label(i, sections[i]) for i in defaults)
            raise ConfigError(
                f"{where}: {names}: default: only one {title} config may be the default, "
                f"found {len(defaults)}"
            )
    for i, config in enumerate(sections):
        if config.global_ and not config.default:
            raise ConfigError(
                f"{where}: {label(i, config)}: global: "
                "only the default config may be assigned as global"
            )
        if config.state_changes_only and not (config.default and config.global_):
            raise ConfigError(
                f"{where}: {label(i, config)}: state-changes-only: "
                "may only be set when the config is both default and global"
            )


class ConfiguredService(Generic[C]):
    """The running side of an integration whose section is ``[name]`` or ``[[name]]``.

    Subclasses set :attr:`kind` (the handler kind, for messages), :attr:`section` (its
    kapacitor.conf section, which :meth:`from_config` reads; :attr:`section_name` follows it)
    and, for list sections, :attr:`element` (what an element is called: ``workspace``,
    ``broker``, ``cluster``) with :attr:`element_key` (the attribute naming it).  A section
    class may have ``enabled``, ``default``, ``global_`` and ``state_changes_only``
    attributes; those it lacks read as Kapacitor's defaults.
    """

    kind: ClassVar[str] = ""
    #: the integration's section (``[[slack]]``); :meth:`from_config` builds the service from it
    section: ClassVar[SectionSpec]
    #: the section's name in messages; ``section.name`` unless a subclass says otherwise
    section_name: ClassVar[str] = ""
    #: what one element of a [[list]] section is called in messages; "" for a single section
    element: ClassVar[str] = ""
    element_key: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("section")
        if isinstance(spec, SectionSpec) and not cls.__dict__.get("section_name"):
            cls.section_name = spec.name

    def __init__(self, configs: Sequence[C]) -> None:
        self._configs: list[C] = []
        self.update(list(configs))

    @classmethod
    def from_config(cls, config: Config | None) -> Self:
        """The running service over ``config``'s :attr:`section` (its built-in default element
        when the file has none); without a configuration, over no section at all."""
        return cls(config.sections(cls.section) if config is not None else [])

    def update(self, sections: list[Any]) -> None:
        """Replace the configuration at once (config API); the loader already validated it."""
        self._configs = list(sections)

    @property
    def configs(self) -> list[C]:
        return list(self._configs)

    def _name(self, config: C) -> str:
        return str(getattr(config, self.element_key, "")) if self.element_key else ""

    def names(self) -> list[str]:
        """The configured elements' names, enabled or not, in configuration order."""
        return [self._name(c) for c in self._configs]

    def default(self) -> C | None:
        """The element used when a handler names none: the one marked ``default``, else the
        only one (Kapacitor's rule for workspaces), else the unnamed one."""
        if not self._configs:
            return None
        marked = [c for c in self._configs if getattr(c, "default", False)]
        if marked:
            return marked[0]
        if len(self._configs) == 1:
            return self._configs[0]
        unnamed = [c for c in self._configs if not self._name(c)]
        return unnamed[0] if unnamed else None

    def config(self) -> C:
        """The default element, else the section's own defaults (a service built without a
        configuration): what destinations and test options read before anything is sent."""
        config = self.default()
        return config if config is not None else cast(C, self.section.cls())

    def configured(self, name: str = "") -> C | None:
        """The element called ``name`` (``""``: the default), enabled or not."""
        if not name:
            return self.default()
        return next((c for c in self._configs if self._name(c) == name), None)

    def resolve(self, name: str = "") -> C:
        """The enabled element a handler sends through; raises :class:`IntegrationError`
        saying what is missing and what is configured."""
        config = self.configured(name)
        if config is None:
            raise IntegrationError(self.not_configured(name))
        if not getattr(config, "enabled", True):
            where = f' {self.element} "{name}"' if name and self.element else ""
            raise IntegrationError(
                f"{self.kind}{where} is not enabled: set enabled = true in its "
                f"{self.section_label()} section"
            )
        return config

    def section_label(self) -> str:
        return f"[[{self.section_name}]]" if self.element else f"[{self.section_name}]"

    def not_configured(self, name: str) -> str:
        if not self._configs:
            return f"{self.kind} is not configured: add a {self.section_label()} section"
        if not name:
            return (
                f"no default {self.kind} {self.element or 'configuration'}; configured "
                f"{self.element}s: {format_names(self.names())}"
            )
        return (
            f'{self.kind} {self.element} "{name}" is not configured; configured '
            f"{self.element}s: {format_names(self.names())}"
        )

    def check_name(self, settings: Mapping[str, Any], key: str) -> Problem | None:
        """At definition: the element ``settings[key]`` names must exist.  ``key`` is the
        TICKscript property (``brokerName``) or the handler-file option (``broker-name``), so a
        script's error points at it."""
        name = settings.get(key)
        if not isinstance(name, str) or not name or not self.element:
            return None
        if self.configured(name) is None:
            return Problem(self.not_configured(name), prop=key, value=name)
        return None

    def global_enabled(self) -> bool:
        """Whether every alert node without its own handler of this kind gets one."""
        config = self.default()
        return (
            config is not None
            and bool(getattr(config, "enabled", False))
            and bool(getattr(config, "global_", False))
        )

    def state_changes_only(self) -> bool:
        """Whether that global handler puts every alert node in stateChangesOnly."""
        config = self.default()
        return self.global_enabled() and bool(getattr(config, "state_changes_only", False))

    async def close(self) -> None:
        return None


class HTTPService(ConfiguredService[C]):
    """A configured service that sends over HTTP: one :class:`HTTPClient` named after its kind
    (connections kept alive between alerts), closed with the service.  Tests hand in their
    own ``client``."""

    def __init__(self, configs: Sequence[C], client: HTTPClient | None = None) -> None:
        self._client = client if client is not None else HTTPClient(self.kind)
        super().__init__(configs)

    async def close(self) -> None:
        await self._client.close()


class ServiceTestOptions:
    """A service test's options over the service's ``default_test_options()``.

    A key the defaults lack is refused, naming the valid ones (Kapacitor's strict decoding of
    its TestOptions); each reader checks one value's type.  Every error is an
    :class:`IntegrationError` that names the kind and the key and that ``test()`` answers as
    ``(False, message)``.  An absent or ``null`` value reads as the type's empty value.
    """

    def __init__(self, kind: str, defaults: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        unknown = sorted(str(k) for k in options if k not in defaults)
        if unknown:
            raise IntegrationError(
                f"unknown {kind} test option(s): {', '.join(unknown)}; "
                f"valid options: {', '.join(defaults)}"
            )
        self.kind = kind
        self.values: dict[str, Any] = {**defaults, **options}

    def _wrong(self, key: str, what: str) -> IntegrationError:
        return IntegrationError(f"{self.kind} test option {key!r} must be {what}")

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def texts(self, key: str) -> list[str]:
        value = self.values.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, "a list of strings")
        return list(value)

    def obj(self, key: str) -> dict[str, Any]:
        value = self.values.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object")
        return dict(value)

    def flag(self, key: str) -> bool:
        value = self.values.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def integer(self, key: str) -> int:
        """An integer; a JSON number with no fraction (``7.0``) is one."""
        value = self.values.get(key)
        if value is None:
            return 0
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer")
        return value

    def level(self, key: str = "level", *, any_case: bool = False) -> Level:
        """A level name as Kapacitor decodes ``alert.Level`` (upper case); ``any_case`` for the
        services that also take ``critical``."""
        text = self.text(key)
        try:
            return Level.parse(text.upper() if any_case else text)
        except ValueError:
            raise IntegrationError(
                f"{self.kind} test option {key!r}: unknown level {text!r}; must be one of "
                + ", ".join(level.name for level in Level)
            ) from None

    def time_ns(self, key: str) -> int:
        """An RFC 3339 time as nanoseconds since the epoch."""
        try:
            return int(Time.parse_rfc3339(self.text(key)))
        except ValueError as exc:
            raise IntegrationError(f"{self.kind} test option {key!r}: {exc}") from None


def service_test_answer(result: DeliveryResult) -> tuple[bool, str]:
    """A service test's answer from its one attempt: ``(True, "")`` or ``(False, reason)``."""
    return (True, "") if result.delivered else (False, result.describe())
