"""The alert service: what alert nodes publish into, and what turns events into deliveries.

An alert node registers itself once (:meth:`AlertService.register_alert_node`) and gets an
:class:`AlertPublisher`.  Its ``publish`` is called on the per-point path, so it only records
the event in its topics (:mod:`leyden.alerting.topics`); the turn's events become outbox rows
in one commit, and the dispatcher (:mod:`leyden.delivery.dispatcher`) sends them, retrying
until delivered or too old.  :meth:`AlertService.drain` sends what is ready now.  Deliveries a
node's handlers lose (dead-lettered) count as that node's errors, so ``leyden show TASK`` does
not say ``errors="0"`` after a loss.

Handlers declared in the TICKscript (``.post()``, ``.discord()`` …) live on the node's
anonymous topic ``main:<task>:<node>`` (Kapacitor's naming), which exists only when the node
has handlers; ``.topic('x')`` also collects into the named topic.  An integration may have a
global handler (Discord's ``global`` default workspace): it is added to every node without a
handler of its kind, and :meth:`AlertService.global_state_changes_only` tells the node whether
the integration forces ``state-changes-only`` on it (documented semantics, see
``compatibility.md``).  Both questions go to the integration table
(:data:`leyden.notify.INTEGRATIONS`); this service knows no integration by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from leyden.alerting import handlers as handler_registry
from leyden.alerting.topics import (
    HandlerLabel,
    InhibitorLike,
    InhibitorLookup,
    Topics,
    TopicStore,
)
from leyden.config import Config
from leyden.delivery.dispatcher import Dispatcher
from leyden.model.alert import Event, EventState, Inhibitor, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import AlertHandler, HandlerConfigError, HandlerContext, Serializer

_LOG = logging.getLogger("leyden.alert")

EventListener = Callable[[Event], None]


def anonymous_topic(task: str, node: str) -> str:
    """Kapacitor's topic for a node's own handlers, e.g. ``main:cpu_alert:alert4``."""
    return f"main:{task}:{node}"


def _handler_kind_and_props(spec: Any) -> tuple[str, Mapping[str, Any]]:
    """A pipeline ``HandlerSpec``, or ``(kind, props)`` / ``{"kind", "properties"}`` in tests."""
    if isinstance(spec, tuple):
        kind, props = spec
        return str(kind), props
    if isinstance(spec, Mapping):
        return str(spec["kind"]), spec.get("properties", {})
    return str(spec.kind), spec.properties


def _inhibitor_spec(spec: Any) -> tuple[str, tuple[str, ...]]:
    """``(category, [tags])``, ``(category, tag, tag…)`` or the pipeline's dict form."""
    if isinstance(spec, Mapping):
        return str(spec["category"]), tuple(spec.get("equalTags", ()))
    category, *rest = spec
    if len(rest) == 1 and not isinstance(rest[0], str):
        return str(category), tuple(rest[0])
    return str(category), tuple(rest)


class AlertPublisher:
    """One alert node's door into the service; see the module docstring."""

    def __init__(
        self,
        service: AlertService,
        *,
        task: str,
        node: str,
        anon_topic: str | None,
        topic: str | None,
        category: str,
        inhibitors: Sequence[tuple[str, tuple[str, ...]]],
        no_recoveries: bool,
        handlers: list[AlertHandler],
    ) -> None:
        self.service = service
        self.task = task
        self.node = node
        self.anon_topic = anon_topic
        self.topic = topic
        self.category = category
        self.inhibitor_specs = list(inhibitors)
        self.no_recoveries = no_recoveries
        self.handlers = handlers
        #: a global handler with ``state-changes-only`` (Discord's) forces it on this node (§3.10)
        self.state_changes_only = service.global_state_changes_only()
        self._inhibitors: list[InhibitorLike] = []
        #: previous levels for listeners when the node collects into no topic at all
        self._levels: dict[str, Level] = {}
        self._closed = False
        #: the node's statistics (``errors``), given by the alert node: deliveries lost count
        self._error_stats: Any = None
        #: deliveries lost before the node gave its statistics
        self.delivery_errors = 0

    def count_errors_in(self, stats: Any) -> None:
        """Count this node's lost deliveries in ``stats.errors`` (the node's statistics)."""
        stats.errors += self.delivery_errors
        self._error_stats = stats

    def _lost(self, count: int) -> None:
        self.delivery_errors += count
        if self._error_stats is not None:
            self._error_stats.errors += count

    # --- per point -------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Collect the event into the node's topics and queue it for handlers; never blocks."""
        service = self.service
        out: Event | None = None
        # Event(...) rather than dataclasses.replace: the same copy, for a fraction of the cost.
        if self.anon_topic is not None:
            out = service.collect(
                Event(self.anon_topic, event.state, event.data, event.previous_level)
            )
        if self.topic is not None:
            named = service.collect(
                Event(self.topic, event.state, event.data, event.previous_level)
            )
            out = out or named
        if out is None:
            state = event.state
            levels = self._levels
            previous = levels.get(state.id, Level.OK)
            levels[state.id] = state.level
            out = Event(event.topic, state, event.data, previous)
        service.notify(out)

    def publish_unread(self, event_id: str, level: Level) -> bool:
        """Publish an event nothing would read: when the node collects into no topic and no
        listener listens, only the alert's level is kept (the previous level of the next
        event a listener added later sees) and True is returned; otherwise False, and the
        node builds the event and calls :meth:`publish`."""
        if self.anon_topic is not None or self.topic is not None or self.service.listened:
            return False
        self._levels[event_id] = level
        return True

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool:
        return self.service.inhibitors.is_inhibited(category, tags)  # (per event: no detour)

    def add_inhibitor(self, inhibitor: InhibitorLike) -> None:
        """Register a group's inhibitor (:class:`~leyden.model.alert.Inhibitor` or alike);
        the node keeps it active while the group is not OK.  :meth:`close` removes leftovers."""
        self.service.inhibitors.add(inhibitor)
        self._inhibitors.append(inhibitor)

    def remove_inhibitor(self, inhibitor: InhibitorLike) -> None:
        self.service.inhibitors.remove(inhibitor)
        for i, mine in enumerate(self._inhibitors):
            if mine is inhibitor:
                del self._inhibitors[i]
                break

    def group_inhibitors(self, tags: Mapping[str, str]) -> list[Inhibitor]:
        """Convenience: one registered inhibitor per ``.inhibit()`` for a group with ``tags``."""
        made = [
            Inhibitor(category, {t: tags.get(t, "") for t in equal_tags})
            for category, equal_tags in self.inhibitor_specs
        ]
        for inhibitor in made:
            self.add_inhibitor(inhibitor)
        return made

    def restore_event(self, event_id: str) -> EventState | None:
        """The stored state of an alert ID when a group starts (Kapacitor's ``restoreEvent``).

        The anonymous topic wins over the named one, and whichever disagrees is brought in
        line, so both topics report the same previous level afterwards.
        """
        topics = self.service.topics
        anon = topics.event_state(self.anon_topic, event_id) if self.anon_topic else None
        named = topics.event_state(self.topic, event_id) if self.topic else None
        anon_level = anon.level if anon is not None else Level.OK
        named_level = named.level if named is not None else Level.OK
        if anon_level != named_level:
            if anon is not None and named is not None and self.topic is not None:
                topics.update_event(self.topic, anon)
            elif named is not None and self.anon_topic is not None:
                topics.update_event(self.anon_topic, named)
        return anon if anon is not None else named

    # --- lifecycle -------------------------------------------------------------------------

    def close(self, *, dead_reason: str = "") -> None:
        """Task stop: detach handlers (they keep sending their queued deliveries), drop the
        anonymous topic's in-memory state (stored state stays) and this node's inhibitors."""
        if self._closed:
            return
        self._closed = True
        for inhibitor in list(self._inhibitors):
            self.remove_inhibitor(inhibitor)
        if self.anon_topic is not None:
            self.service.topics.close_topic(self.anon_topic, dead_reason=dead_reason)

    def delete(self) -> None:
        """Task delete: also forget the anonymous topic's stored state; the handlers' queued
        deliveries are dead-lettered (the task that sent them no longer exists)."""
        self.close()
        dispatcher = self.service.dispatcher
        for key in self.service.handler_keys(self.task, self.node, len(self.handlers)):
            dispatcher.dead_letter(key, f"task {self.task} was deleted")
        if self.anon_topic is not None:
            self.service.topics.delete_topic(self.anon_topic)


class AlertService:
    """Topics, handlers, inhibitors and event listeners shared by every task of a process."""

    def __init__(
        self,
        *,
        services: Mapping[str, Any],
        config: Config | None = None,
        store: TopicStore | None = None,
        dispatcher: Dispatcher,
        serializer: Serializer | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        """``services``: each integration's running service by kind, as the composition root
        built them (the caller owns and closes them; ``{}`` when there are none).
        ``dispatcher``: sends the outbox's rows (the runtime's is over the SQLite outbox; tests
        give one over a :class:`~leyden.delivery.outbox.MemoryOutbox`)."""
        self.config = config
        self.services = services
        self._log = logger or _LOG
        if store is not None and config is not None and not config.alert.persist_topics:
            store = None
        self.dispatcher = dispatcher
        self.topics = Topics(store=store, dispatcher=dispatcher, logger=self._log)
        #: the publisher whose handler a key is, for counting lost deliveries as node errors
        self._publishers: dict[str, AlertPublisher] = {}
        dispatcher.add_loss_listener(self._lost)
        self.inhibitors = InhibitorLookup()
        self.handler_context = HandlerContext(config=config, services=services, logger=self._log)
        if serializer is not None:
            self.handler_context.serializer = serializer
        self._listeners: list[EventListener] = []
        #: whether any listener listens (then every published event is built and read)
        self.listened = False

    # --- alert nodes -----------------------------------------------------------------------

    def global_state_changes_only(self) -> bool:
        """Whether every alert node is in stateChangesOnly mode (an integration's global
        handler says so: Discord's global default workspace with ``state-changes-only``)."""
        for integration in INTEGRATIONS:
            forced = integration.global_state_changes_only
            service = self.services.get(integration.kind)
            if forced is not None and service is not None and forced(service):
                return True
        return False

    def build_handlers(self, specs: Iterable[Any]) -> list[AlertHandler]:
        """Handlers for a node's TICKscript handler specs, plus the integrations' global ones."""
        built: list[AlertHandler] = []
        kinds: set[str] = set()
        for spec in specs:
            kind, props = _handler_kind_and_props(spec)
            kinds.add(kind)
            try:
                built.append(handler_registry.from_tick(kind, props, self.handler_context))
            except HandlerConfigError as exc:
                raise HandlerConfigError(f"failed to create {kind} alert handler: {exc}") from None
        for integration in INTEGRATIONS:
            is_global = integration.global_handler
            service = self.services.get(integration.kind)
            if integration.tick in kinds or is_global is None or service is None:
                continue
            if is_global(service):
                built.append(handler_registry.from_tick(integration.tick, {}, self.handler_context))
        return built

    def register_alert_node(
        self,
        *,
        task: str,
        node: str,
        handlers: Iterable[Any] = (),
        topic: str | None = None,
        category: str = "",
        inhibitors: Iterable[Any] = (),
        no_recoveries: bool = False,
    ) -> AlertPublisher:
        """Build the node's handlers (raising :class:`HandlerConfigError` for bad options),
        attach them to its anonymous topic and restore that topic from the store."""
        built = self.build_handlers(handlers)
        anon = anonymous_topic(task, node) if built else None
        keys: list[str] = []
        if anon is not None:
            self.topics.ensure(anon)
            for index, handler in enumerate(built):
                label = HandlerLabel(handler.kind, task=task, node=node, index=index)
                keys.append(self.topics.register_handler(anon, handler, label))
        if topic:
            self.topics.ensure(topic)
        publisher = AlertPublisher(
            self,
            task=task,
            node=node,
            anon_topic=anon,
            topic=topic or None,
            category=category,
            inhibitors=[_inhibitor_spec(i) for i in inhibitors],
            no_recoveries=no_recoveries,
            handlers=built,
        )
        for key in keys:
            self._publishers[key] = publisher
        return publisher

    def handler_keys(self, task: str, node: str, count: int) -> list[str]:
        """The outbox keys of a node's ``count`` TICKscript handlers."""
        return [HandlerLabel("", task=task, node=node, index=i).key() for i in range(count)]

    def _lost(self, key: str, count: int) -> None:
        publisher = self._publishers.get(key)
        if publisher is not None:
            publisher._lost(count)

    # --- events ----------------------------------------------------------------------------

    def collect(self, event: Event) -> Event:
        """Collect an event into ``event.topic`` (also used by publish/aggregate handlers)."""
        return self.topics.collect(event)

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool:
        return self.inhibitors.is_inhibited(category, tags)

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(event)`` for every published event (synchronously: keep it quick)."""
        self._listeners.append(listener)
        self.listened = True

    def remove_listener(self, listener: EventListener) -> None:
        self._listeners = [x for x in self._listeners if x is not listener]
        self.listened = bool(self._listeners)

    def notify(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:
                self._log.error(
                    "alert event listener failed",
                    extra={"fields": {"id": event.state.id, "reason": type(exc).__name__}},
                )

    # --- shutdown --------------------------------------------------------------------------

    def start(self) -> None:
        """Start sending: rows a killed process had in flight are requeued first.  Called once
        the tasks and topic handlers are attached, so every row finds its handler."""
        self.dispatcher.start()

    async def drain(self) -> None:
        """Commit this turn and send every delivery that is ready now (rows waiting for a
        retry later stay queued)."""
        await self.topics.drain()

    async def close(self, timeout: float | None = None) -> int:
        """Stop intake and commit; send for at most ``timeout`` seconds (None: until nothing
        is ready), then leave the rest in the outbox and close the handlers (the services are
        the caller's).  The number of deliveries left."""
        return await self.topics.close(timeout)
