"""Topics: the latest state of every alert ID, handler bindings, group commit, inhibition.

A topic (Kapacitor's ``alert/topics.go``) is where alert events are collected: the anonymous
topic ``main:<task>:<node>`` of an alert node with handlers, or a named ``.topic('x')``.  It
remembers the latest :class:`EventState` per event ID (that is where an event's
``previous_level`` comes from) and hands every event to each of its handlers.

Handlers never run on the per-point path, and no event is held only in memory (issue 10):
``collect`` updates the state in memory and records the event for the current event-loop
turn; one :meth:`Topics.flush` per turn (group commit) writes, in ONE transaction, the topics'
new states and one outbox row per (event, delivering handler), so the restored alert state and
the queued deliveries can never disagree.  The dispatcher (:mod:`leyden.delivery.dispatcher`)
sends the rows.  Nothing is dropped: Kapacitor's ``topic-buffer-length`` bounded an in-memory
channel per handler and dropped what did not fit (its issue #1131); it no longer bounds
anything here.  A topic handler's match expression is evaluated when the turn is committed,
and handlers that route events back into topics (``publish``, ``aggregate``) are called then,
their events joining the same transaction.  Unlike Kapacitor, the topic level is the true
maximum level (Kapacitor's sort comparator is not a strict ordering, semantics §4.2).

Persistence is a small synchronous :class:`TopicStore` protocol (the server implements it with
SQLite): a topic loads its states from the store when it is created (task start, or the first
event after its task stopped); non-OK states are saved and an OK state deletes the stored one,
as Kapacitor's ``persist-topics`` does.  An alert node's states render their message and
details on first read (:meth:`~leyden.model.alert.EventState.derived`): the commit saves only
each alert's latest state of the turn, so a storm renders once per alert and commit, not once
per event (the stored form is unchanged: rendered text, as the API shows it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from leyden.alerting.match import MatchError
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import NewDelivery, task_handler_key, topic_handler_key
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify.base import AlertHandler

_LOG = logging.getLogger("leyden.alert")

#: events per commit when the loop commits on its own (explicit flushes commit everything)
COMMIT_CHUNK = 5000


class TopicStore(Protocol):
    """Where topic states survive restarts; every method is quick and synchronous."""

    def load_topic(self, topic: str) -> Mapping[str, EventState]:
        """The stored (non-OK) states of ``topic`` by event ID; empty when none."""
        ...

    def save_event(self, topic: str, state: EventState) -> None: ...

    def delete_event(self, topic: str, event_id: str) -> None: ...

    def delete_topic(self, topic: str) -> None: ...


class MemoryTopicStore:
    """A :class:`TopicStore` in a dict: for tests, and the shape a real store must have."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[str, EventState]] = {}

    def load_topic(self, topic: str) -> Mapping[str, EventState]:
        return dict(self.topics.get(topic, {}))

    def save_event(self, topic: str, state: EventState) -> None:
        self.topics.setdefault(topic, {})[state.id] = state.copy()  # rendered, as SQLite keeps it

    def delete_event(self, topic: str, event_id: str) -> None:
        states = self.topics.get(topic)
        if states is not None:
            states.pop(event_id, None)
            if not states:
                del self.topics[topic]

    def delete_topic(self, topic: str) -> None:
        self.topics.pop(topic, None)


# --- handler bindings ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandlerLabel:
    """Who a handler belongs to: ``kind``, ``task``, ``node``, ``topic``, and its stable
    identity: a topic handler's ``id``, or a TICKscript handler's ``index`` in its node."""

    kind: str
    task: str = ""
    node: str = ""
    topic: str = ""
    id: str = ""  # a topic handler's ID; empty for TICKscript handlers
    index: int = 0  # a TICKscript handler's place among its node's handlers

    def key(self) -> str:
        """The handler's outbox key (see :mod:`leyden.delivery.outbox`)."""
        if self.id:
            return topic_handler_key(self.topic, self.id)
        return task_handler_key(self.task, self.node, self.index)

    def fields(self) -> dict[str, str]:
        """For log lines: handler kind, task, node, topic and handler ID, when set."""
        fields = {"handler": self.kind, "task": self.task, "node": self.node}
        fields["topic"] = self.topic
        if self.id:
            fields["handler_id"] = self.id
        return {k: v for k, v in fields.items() if v}


@dataclass(frozen=True, slots=True)
class _Attached:
    """A handler on a topic: its key, what the turn's commit does with its events."""

    key: str
    handler: AlertHandler  # as registered (maybe a MatchHandler)
    target: Any  # the handler events go to (the MatchHandler's inner one)
    match: Any  # a match expression, or None
    route: Callable[[Event], None] | None  # routing handlers: collect into other topics
    label: HandlerLabel


def _attached(key: str, handler: AlertHandler, label: HandlerLabel) -> _Attached:
    target: Any = handler
    match = None
    inner = getattr(handler, "handler", None)
    if inner is not None and hasattr(handler, "match"):
        target, match = inner, handler.match
    return _Attached(key, handler, target, match, getattr(target, "route", None), label)


# --- topics ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicState:
    level: Level
    collected: int
    #: this topic's handlers' deliveries lost for good (dead-lettered) since the process started
    delivery_errors: int = 0


class Topic:
    """Latest state per event ID, a collected counter and the handlers attached."""

    def __init__(self, topic_id: str) -> None:
        self.id = topic_id
        self.events: dict[str, EventState] = {}
        #: what each alert's latest collected event was about (its data without the result,
        #: and the level before it), for views that render it again: the status page's
        #: Discord preview; a state restored from the store has none
        self.latest_data: dict[str, tuple[EventData, Level]] = {}
        self.collected = 0
        self.delivery_errors = 0
        #: replaced, never changed in place: a turn's pending events keep the tuple they saw
        self.attached: tuple[_Attached, ...] = ()
        #: False after a ``DELETE`` of the topic while its handlers stay attached: the API does
        #: not show it (Kapacitor drops it) until an event arrives again
        self.listed = True

    def restore(self, states: Mapping[str, EventState]) -> None:
        """Replace the remembered states (from the store at start)."""
        self.events = dict(states)
        self.latest_data = {}

    def max_level(self) -> Level:
        return max((s.level for s in self.events.values()), default=Level.OK)

    def state(self) -> TopicState:
        return TopicState(self.max_level(), self.collected, self.delivery_errors)

    def event_state(self, event_id: str) -> EventState | None:
        return self.events.get(event_id)

    def event_states(self, min_level: Level = Level.OK) -> dict[str, EventState]:
        """States at or above ``min_level``, most severe first, then by ID."""
        chosen = [s for s in self.events.values() if s.level >= min_level]
        chosen.sort(key=lambda s: (-s.level, s.id))
        return {s.id: s for s in chosen}

    def update_event(self, state: EventState) -> EventState | None:
        """Remember ``state`` as the latest for its ID; the previous one, if any."""
        previous = self.events.get(state.id)
        self.events[state.id] = state
        self.listed = True
        return previous

    def latest_event(self, event_id: str) -> Event | None:
        """The alert's latest event as its handlers saw it, but for the point or batch
        (``result``); empty data for a state restored from the store."""
        state = self.events.get(event_id)
        if state is None:
            return None
        data, previous = self.latest_data.get(event_id, (_NO_DATA, Level.OK))
        return Event(self.id, state, data, previous)

    def handlers(self) -> list[AlertHandler]:
        return [a.handler for a in self.attached]

    def collect(self, event: Event) -> Event:
        """Record the event; the event as handlers see it (with its previous level)."""
        previous = self.update_event(event.state)
        self.collected += 1
        level = previous.level if previous is not None else Level.OK
        d = event.data
        # a copy without the result: a batch's rows are not kept alive for a preview
        self.latest_data[event.state.id] = (
            EventData(d.name, d.task_name, d.category, d.group, d.tags, d.fields, d.recoverable),
            level,
        )
        return Event(self.id, event.state, event.data, level)


class Topics:
    """Every topic by ID, the store behind them, the outbox and its dispatcher.

    The server's runtime gives a dispatcher over the SQLite outbox; tests give one over a
    :class:`~leyden.delivery.outbox.MemoryOutbox`.
    """

    def __init__(
        self,
        *,
        store: TopicStore | None = None,
        dispatcher: Dispatcher,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self._log = logger or _LOG
        self.dispatcher = dispatcher
        self._topics: dict[str, Topic] = {}
        #: the topic each bound handler key belongs to, for counting its lost deliveries
        self._key_topics: dict[str, str] = {}
        dispatcher.add_loss_listener(self._lost)
        #: this turn's events: (topic, event as handlers see it, handlers then, persist?)
        self._pending: list[tuple[str, Event, tuple[_Attached, ...], bool]] = []
        self._scheduled = False
        self._flushing = False

    def __contains__(self, topic_id: str) -> bool:
        return topic_id in self._topics

    def ids(self) -> list[str]:
        return sorted(self._topics)

    def get(self, topic_id: str) -> Topic | None:
        return self._topics.get(topic_id)

    def listed(self, topic_id: str) -> Topic | None:
        """The topic as the API shows it: not one deleted since its last event."""
        topic = self._topics.get(topic_id)
        return topic if topic is not None and topic.listed else None

    def unlist(self, topic_id: str) -> None:
        """Hide a deleted topic that stays open for its handlers, until its next event."""
        topic = self._topics.get(topic_id)
        if topic is not None:
            topic.listed = False

    def ensure(self, topic_id: str) -> Topic:
        """The topic, created (and restored from the store) if it is not open."""
        topic = self._topics.get(topic_id)
        if topic is None:
            topic = Topic(topic_id)
            if self.store is not None:
                try:
                    topic.restore(self.store.load_topic(topic_id))
                except Exception as exc:
                    self._store_failed("restore", topic_id, exc)
            self._topics[topic_id] = topic
        return topic

    def event_state(self, topic_id: str, event_id: str) -> EventState | None:
        topic = self._topics.get(topic_id)
        return topic.event_state(event_id) if topic is not None else None

    def update_event(self, topic_id: str, state: EventState) -> None:
        """Set an event's state without handling it (alert-state restore); persisted too."""
        topic = self.ensure(topic_id)
        topic.update_event(state)
        topic.latest_data.pop(state.id, None)  # what it was about no longer goes with it
        if self.store is not None:
            self._pending.append((topic_id, Event(topic_id, state, _NO_DATA), (), True))
            self._schedule()

    def collect(self, event: Event) -> Event:
        """Collect ``event`` into ``event.topic``: its state now, its rows at the turn's commit."""
        topic = self._topics.get(event.topic) or self.ensure(event.topic)
        out = topic.collect(event)
        persist = self.store is not None
        if topic.attached or persist:
            self._pending.append((topic.id, out, topic.attached, persist))
            if not self._scheduled:
                self._schedule()
        return out

    def _lost(self, key: str, count: int) -> None:
        """Deliveries of ``key`` were dead-lettered: they count in its topic's stats."""
        topic = self._topics.get(self._key_topics.get(key, ""))
        if topic is not None:
            topic.delivery_errors += count

    # --- group commit ----------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._scheduled or self._flushing:
            return
        self._scheduled = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no event loop: nothing to group with
            return
        loop.call_soon(self._flush_turn)

    def _flush_turn(self) -> None:
        """The turn's commit, in chunks of :data:`COMMIT_CHUNK` events, each chunk its own
        turn: a storm's commit must not hold the event loop (HTTP, sends) for seconds.  Each
        chunk holds its events' states and rows, so state and rows still always agree."""
        self.flush(COMMIT_CHUNK)

    def flush(self, limit: int | None = None) -> int:
        """Commit pending events (at most about ``limit``; None: all): topic states and
        outbox rows in one transaction, then wake the dispatcher; the number of rows queued."""
        self._scheduled = False
        if not self._pending or self._flushing:
            return 0
        self._flushing = True
        outbox = self.dispatcher.outbox
        rows: list[NewDelivery] = []
        destinations: dict[str, str] = {}
        done = 0  # events taken from the pending list into this transaction
        try:
            with outbox.transaction():
                states: dict[tuple[str, str], EventState] = {}
                while self._pending and (limit is None or done < limit):
                    if limit is None:
                        batch, self._pending = self._pending, []
                    else:
                        batch = self._pending[: limit - done]
                        del self._pending[: len(batch)]
                    done += len(batch)
                    for topic_id, event, attached, persist in batch:
                        if persist:
                            states[(topic_id, event.state.id)] = event.state
                        for a in attached:
                            self._hand_over(a, event, rows, destinations)
                self._save_states(states)
                if rows:
                    outbox.add(rows)
        except Exception as exc:
            # Lost: the events this transaction took (their states and rows).  Events it never
            # took stay pending: a storm's later chunks get their own turns and commits.
            self._log.error(
                "failed to commit alert events",
                extra={"fields": {"events": done, "reason": f"{type(exc).__name__}: {exc}"}},
            )
            return 0
        finally:
            self._flushing = False
            if self._pending:
                self._schedule()
        if destinations:
            self.dispatcher.queued(destinations, Counter(row.handler for row in rows))
        return len(rows)

    def _hand_over(
        self,
        attached: _Attached,
        event: Event,
        rows: list[NewDelivery],
        destinations: dict[str, str],
    ) -> None:
        if attached.match is not None:
            try:
                if not attached.match.matches(event):
                    return
            except MatchError as exc:
                self._log.error(
                    "alert handler failed",
                    extra={
                        "fields": {
                            **attached.label.fields(),
                            "id": event.state.id,
                            "reason": f"failed to evaluate match expression: {exc}",
                        }
                    },
                )
                return
        if attached.route is not None:
            try:
                attached.route(event)  # collects into other topics: joins this commit
            except Exception as exc:
                self._log.error(
                    "alert handler failed",
                    extra={
                        "fields": {
                            **attached.label.fields(),
                            "id": event.state.id,
                            "reason": f"unexpected {type(exc).__name__}",
                        }
                    },
                )
            return
        target = attached.target
        destination = getattr(target, "destination", "") or attached.key
        rows.append(
            NewDelivery.of(
                event, handler=attached.key, kind=attached.label.kind, destination=destination
            )
        )
        destinations.setdefault(destination, attached.key)

    def _save_states(self, states: Mapping[tuple[str, str], EventState]) -> None:
        store = self.store
        if store is None:
            return
        for (topic_id, event_id), state in states.items():
            try:
                if state.level == Level.OK:
                    store.delete_event(topic_id, event_id)
                else:
                    store.save_event(topic_id, state)
            except Exception as exc:
                self._store_failed("save", topic_id, exc)

    def _store_failed(self, what: str, topic_id: str, exc: Exception) -> None:
        self._log.error(
            f"failed to {what} topic state",
            extra={"fields": {"topic": topic_id, "reason": f"{type(exc).__name__}: {exc}"}},
        )

    # --- handlers --------------------------------------------------------------------------

    def register_handler(self, topic_id: str, handler: AlertHandler, label: HandlerLabel) -> str:
        """Attach a handler under its stable key (the same object twice is ignored, as in
        Kapacitor); the key.  Rows of that key queued before (a restart, a task restart) are
        sent by this handler from now on.  A deleted topic is listed again, as Kapacitor's
        ``RegisterHandler`` creates it anew."""
        self.flush()
        topic = self.ensure(topic_id)
        topic.listed = True
        for a in topic.attached:
            if a.handler is handler:
                return a.key
        label = dataclasses.replace(label, topic=topic_id)
        key = label.key()
        taken = {a.key for a in topic.attached}
        n = 1
        while key in taken:  # handlers without a stable identity (tests): keep them apart
            n += 1
            key = f"{label.key()}~{n}"
        attached = _attached(key, handler, label)
        topic.attached = (*topic.attached, attached)
        self._key_topics[key] = topic_id
        if attached.route is None:
            self.dispatcher.bind(key, attached.target, label.fields())
        return key

    def deregister_handler(
        self, topic_id: str, handler: AlertHandler, *, dead_reason: str = ""
    ) -> None:
        """Detach a handler: it still sends the rows it has, unless ``dead_reason`` (the
        handler was deleted) dead-letters them."""
        self.flush()
        topic = self._topics.get(topic_id)
        if topic is None:
            return
        for a in topic.attached:
            if a.handler is handler:
                topic.attached = tuple(x for x in topic.attached if x is not a)
                self._detach(a, dead_reason)
                return

    def _detach(self, attached: _Attached, dead_reason: str) -> None:
        if attached.route is None:
            self.dispatcher.unbind(attached.key, attached.target, dead_reason=dead_reason)
        else:
            self.dispatcher.close_later(attached.target, attached.label.fields())

    def close_topic(self, topic_id: str, *, dead_reason: str = "") -> None:
        """Forget the topic in memory (task stop); stored states and queued rows stay, and the
        handlers send what they have (``dead_reason``: a deleted task's rows are dead)."""
        self.flush()
        topic = self._topics.pop(topic_id, None)
        if topic is not None:
            attached, topic.attached = topic.attached, ()
            for a in attached:
                self._detach(a, dead_reason)

    def delete_topic(self, topic_id: str, *, dead_reason: str = "") -> None:
        """Forget the topic and its stored states (task delete, ``DELETE`` of a topic)."""
        self.close_topic(topic_id, dead_reason=dead_reason)
        if self.store is not None:
            try:
                self.store.delete_topic(topic_id)
            except Exception as exc:
                self._store_failed("delete", topic_id, exc)

    def states(self, pattern: str = "", min_level: Level = Level.OK) -> dict[str, TopicState]:
        """Topic states whose ID matches a glob ``pattern`` (empty: all) at ``min_level`` or above."""
        out: dict[str, TopicState] = {}
        for topic_id in sorted(self._topics):
            if pattern and not fnmatch.fnmatchcase(topic_id, pattern):
                continue
            state = self._topics[topic_id].state()
            if state.level >= min_level:
                out[topic_id] = state
        return out

    async def drain(self) -> None:
        """Commit this turn and send until nothing is ready now (rows waiting for a retry
        later stay queued); detached handlers with nothing left are closed."""
        self.flush()
        await self.dispatcher.drain()

    async def close(self, timeout: float | None = None) -> int:
        """Server shutdown: commit, close every topic, let the dispatcher send for at most
        ``timeout`` seconds (None: until nothing is ready), close the handlers; the number of
        deliveries left in the outbox."""
        self.flush()
        for topic_id in list(self._topics):
            self.close_topic(topic_id)
        return await self.dispatcher.stop(timeout)


_NO_DATA = EventData()


# --- inhibition ------------------------------------------------------------------------------


class InhibitorLike(Protocol):
    category: str

    def inhibits(self, category: str, tags: Mapping[str, str]) -> bool: ...


class InhibitorLookup:
    """Every inhibitor by category, shared by all tasks."""

    def __init__(self) -> None:
        self._by_category: dict[str, list[InhibitorLike]] = {}

    def add(self, inhibitor: InhibitorLike) -> None:
        self._by_category.setdefault(inhibitor.category, []).append(inhibitor)

    def remove(self, inhibitor: InhibitorLike) -> None:
        found = self._by_category.get(inhibitor.category)
        if found is None:
            return
        for i, candidate in enumerate(found):
            if candidate is inhibitor:
                del found[i]
                break
        if not found:
            del self._by_category[inhibitor.category]

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool:
        found = self._by_category.get(category)
        if not found:
            return False
        return any(i.inhibits(category, tags) for i in found)
