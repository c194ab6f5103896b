"""The integration table: one :class:`Integration` per handler kind, looked up by every layer.

Alertmanager's receivers are one file each plus a line in ``notify``'s list; here the same
holds.  An integration says, in one object, everything the generic layers used to ask Discord
by name: its kapacitor.conf section, how its running service is built from the configuration,
how a handler is built from a TICKscript (``.discord().workspace('x')``) or a topic-handler
file (``kind: discord``), what it refuses when a task or handler is *defined* (a workspace the
server lacks), its service test, and an optional global handler that every alert node gets.
The alert service, the task manager, the config API and the service-test routes read this
table, so a new kind touches none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from leyden.config import Config, SectionSpec
from leyden.notify.base import AlertHandler, HandlerContext, IntegrationError

__all__ = [
    "Factory",
    "Integration",
    "IntegrationService",
    "Problem",
    "Registry",
]

#: Builds a handler from TICKscript properties or handler-file options and the context.
Factory = Callable[[Mapping[str, Any], HandlerContext], AlertHandler]


class IntegrationService(Protocol):
    """The running side of an integration with a configuration section (Discord's workspaces)."""

    def update(self, sections: list[Any]) -> None:
        """Replace the configuration at once (config API); on error the old one stays."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a handler is refused at definition; ``prop``/``value`` locate it in a TICKscript
    (``.workspace('x')``: the error points at ``'x'``)."""

    message: str
    prop: str = ""
    value: str = ""


#: (handler settings, the integration's running service, from a TICKscript?) → a problem or None
Check = Callable[[Mapping[str, Any], Any, bool], Problem | None]


@dataclass(frozen=True, slots=True)
class Integration:
    """Everything the generic layers need to know about one handler kind.

    ``from_tick`` is ``None`` for kinds that exist only as topic handlers.  ``section`` and
    ``build_service`` go together: an integration with a section has a running service, built
    once by the composition root (``Runtime.integrations``, by kind) and handed to handler
    factories in :attr:`HandlerContext.services`.  The service
    test calls the service's ``default_test_options()`` and ``test(options)``.
    """

    #: the topic-handler kind, Kapacitor's lower-case name (``pagerduty2``)
    kind: str
    from_options: Factory
    from_tick: Factory | None = None
    section: SectionSpec | None = None
    build_service: Callable[[Config | None], IntegrationService] | None = None
    #: refuse a handler at definition (TICKscript ``define``, ``define-topic-handler``)
    check: Check | None = None
    #: the service can be tried from ``/kapacitor/v1/service-tests/<kind>``
    service_test: bool = False
    #: whether every alert node without its own handler of this kind gets one (its props: {})
    global_handler: Callable[[Any], bool] | None = None
    #: whether that global handler forces every alert node into stateChangesOnly
    global_state_changes_only: Callable[[Any], bool] | None = None
    #: logs what the service runs with when the server starts (service, the server's logger)
    log_start: Callable[[Any, logging.Logger], None] | None = None
    #: hands the service the server's store for what it keeps durably (service, store):
    #: Discord's incident messages (issue 12)
    use_store: Callable[[Any, Any], None] | None = None
    #: the TICKscript method when it is not ``kind`` (``.pagerDuty2()`` for ``pagerduty2``)
    tick_name: str = ""
    #: handler-file options that are credentials (PagerDuty's ``service-key``): the topics
    #: API shows them redacted
    secret_options: tuple[str, ...] = ()

    @property
    def tick(self) -> str:
        """The TICKscript method's name (``pagerDuty2``)."""
        return self.tick_name or self.kind


class Registry:
    """The integrations by kind, in registration order."""

    def __init__(self, integrations: Iterable[Integration] = ()) -> None:
        self._by_kind: dict[str, Integration] = {}
        for integration in integrations:
            self.register(integration)

    def register(self, integration: Integration) -> None:
        if integration.kind in self._by_kind:
            raise ValueError(f"integration {integration.kind!r} is registered twice")
        if (integration.section is None) != (integration.build_service is None):
            raise ValueError(f"integration {integration.kind!r}: a section needs a service")
        self._by_kind[integration.kind] = integration

    def unregister(self, kind: str) -> None:
        del self._by_kind[kind]

    def __iter__(self) -> Iterator[Integration]:
        return iter(list(self._by_kind.values()))

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def get(self, kind: str) -> Integration | None:
        return self._by_kind.get(kind)

    def for_tick(self, name: str) -> Integration | None:
        """The integration behind TICKscript method ``name`` (``pagerDuty2``)."""
        return next((i for i in self if i.from_tick is not None and i.tick == name), None)

    def tick_kinds(self) -> list[str]:
        """Methods a TICKscript may use (``post``, ``pagerDuty2`` …), in registration order."""
        return [i.tick for i in self if i.from_tick is not None]

    def sections(self) -> list[SectionSpec]:
        """The configuration sections the integrations own, for ``load_config``."""
        return [i.section for i in self if i.section is not None]

    def with_service(self) -> list[Integration]:
        return [i for i in self if i.build_service is not None]

    def log_start(self, services: Mapping[str, Any], log: logging.Logger) -> None:
        """Let each integration say at start what it runs with (Discord: its workspaces)."""
        for integration in self:
            service = services.get(integration.kind)
            if integration.log_start is not None and service is not None:
                integration.log_start(service, log)

    def use_store(self, services: Mapping[str, Any], store: Any) -> None:
        """Give each service that keeps state (Discord's incident messages) the store."""
        for integration in self:
            service = services.get(integration.kind)
            if integration.use_store is not None and service is not None:
                integration.use_store(service, store)

    def build_services(self, config: Config | None) -> dict[str, IntegrationService]:
        """Every integration's running service from ``config``, by kind.

        Raises what a service refuses: an :class:`~leyden.notify.base.IntegrationError` whose
        ``section`` names the section (``[[discord]]``).  Services own no connection until they
        send, so those already built need no closing.
        """
        services: dict[str, IntegrationService] = {}
        for integration in self.with_service():
            assert integration.build_service is not None  # with_service checked it
            try:
                services[integration.kind] = integration.build_service(config)
            except IntegrationError as exc:
                section = integration.section
                if section is not None and not exc.section:
                    exc.section = f"[[{section.name}]]" if section.multiple else f"[{section.name}]"
                raise
        return services
