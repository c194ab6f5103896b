"""Topics: the latest state of every alert ID, handler queues, persistence hooks, inhibition.

A topic (Kapacitor's ``alert/topics.go``) is where alert events are collected: the anonymous
topic ``main:<task>:<node>`` of an alert node with handlers, or a named ``.topic('x')``.  It
remembers the latest :class:`EventState` per event ID (that is where an event's
``previous_level`` comes from) and hands every event to each of its handlers.

Handlers never run on the per-point path: ``collect`` only appends to a per-handler queue and
returns.  Each queue delivers its events one at a time, in order, in its own asyncio task, so
a slow or failing handler delays only itself.  A full queue drops the event and logs it
(``[alert] topic-buffer-length``).  Unlike Kapacitor, the topic level is the true maximum
level (Kapacitor's sort comparator is not a strict ordering, semantics §4.2).

Persistence is a small synchronous :class:`TopicStore` protocol (the server implements it with
SQLite): a topic loads its states from the store when it is created (task start, or the first
event after its task stopped); non-OK states are saved as they change and an OK state deletes
the stored one, as Kapacitor's ``persist-topics`` does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from leyden.model.alert import Event, EventState, Level
from leyden.notify.base import AlertHandler, HandlerError

DEFAULT_BUFFER_LENGTH = 5000
MINIMUM_BUFFER_LENGTH = 1000
#: at most one "dropped" log line per handler queue this often (seconds)
DROP_LOG_INTERVAL = 10.0

_LOG = logging.getLogger("leyden.alert")


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
        self.topics.setdefault(topic, {})[state.id] = dataclasses.replace(state)

    def delete_event(self, topic: str, event_id: str) -> None:
        states = self.topics.get(topic)
        if states is not None:
            states.pop(event_id, None)
            if not states:
                del self.topics[topic]

    def delete_topic(self, topic: str) -> None:
        self.topics.pop(topic, None)


def effective_buffer_length(configured: int) -> int:
    """Kapacitor's rule for ``topic-buffer-length``: below 1000 means the default 5000."""
    return DEFAULT_BUFFER_LENGTH if configured < MINIMUM_BUFFER_LENGTH else configured


# --- handler queues ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandlerLabel:
    """Who a handler belongs to, for log lines: ``kind``, ``task``, ``node``, ``topic``."""

    kind: str
    task: str = ""
    node: str = ""
    topic: str = ""
    id: str = ""  # a topic handler's ID; empty for TICKscript handlers


class HandlerQueue:
    """One handler's pending events, delivered in order by a task that exists while it has work.

    The worker task is created on the first event (or by :meth:`drain` when events were queued
    outside a running event loop) and ends as soon as the queue is empty, so an idle handler
    costs nothing.

    Drops are logged at most once per ``DROP_LOG_INTERVAL`` with the count since the last line
    (and the rest when the worker empties the queue): a burst of alerts into a full queue would
    otherwise log one line per point, which costs as much as the alert node itself.
    """

    def __init__(
        self,
        handler: AlertHandler,
        label: HandlerLabel,
        limit: int | None,
        logger: logging.Logger = _LOG,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.handler = handler
        self.label = label
        self.limit = limit
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._log = logger
        self._clock = clock
        self._unreported_drops = 0
        self._drop_reason = ""
        self._next_drop_log = float("-inf")
        self._pending: deque[Event] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: queues of a closed incarnation of the same topic that must finish first
        self._after: list[HandlerQueue] = []

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, event: Event) -> bool:
        """Queue one event; ``False`` (and a log line) when the queue is full or closed."""
        if self._closed or (self.limit is not None and len(self._pending) >= self.limit):
            self.dropped += 1
            self._unreported_drops += 1
            self._drop_reason = "queue closed" if self._closed else "queue full"
            now = self._clock()
            if now >= self._next_drop_log:
                self._next_drop_log = now + DROP_LOG_INTERVAL
                self._report_drops(event.state.id)
            return False
        self._pending.append(event)
        self._start()
        return True

    def _report_drops(self, event_id: str = "") -> None:
        fields = {**self._fields(), "reason": self._drop_reason}
        if event_id:
            fields["id"] = event_id
        fields["dropped"] = str(self._unreported_drops)
        self._unreported_drops = 0
        self._log.error("failed to deliver event to handler", extra={"fields": fields})

    def _start(self) -> None:
        if self._task is not None or not self._pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop yet: drain() starts the worker
        self._task = loop.create_task(self._run())

    def wait_for(self, queues: Iterable[HandlerQueue]) -> None:
        """Deliver nothing before ``queues`` are empty (a restarted task's handlers must not
        overtake what the stopped task's handlers still hold, e.g. a CRITICAL before its OK)."""
        self._after.extend(q for q in queues if q.busy)

    async def _run(self) -> None:
        try:
            while self._after:
                await self._after.pop().drain()
            while self._pending:
                await self._deliver(self._pending.popleft())
        finally:
            self._task = None
            if self._unreported_drops:
                self._report_drops()

    async def _deliver(self, event: Event) -> None:
        try:
            await self.handler.handle(event)
        except asyncio.CancelledError:
            raise
        except HandlerError as exc:
            self.failed += 1
            self._error(event, str(exc))
        except Exception as exc:  # a handler bug must not end the queue or the task
            self.failed += 1
            # The text of an unexpected error may hold a URL; only its type is logged.
            self._error(event, f"unexpected {type(exc).__name__}")
        else:
            self.delivered += 1

    def _fields(self) -> dict[str, str]:
        label = self.label
        fields = {"handler": label.kind, "task": label.task, "node": label.node}
        fields["topic"] = label.topic
        if label.id:
            fields["handler_id"] = label.id
        return {k: v for k, v in fields.items() if v}

    def _error(self, event: Event, reason: str) -> None:
        self._log.error(
            "alert handler failed",
            extra={"fields": {**self._fields(), "id": event.state.id, "reason": reason}},
        )

    @property
    def busy(self) -> bool:
        return bool(self._pending) or self._task is not None

    async def drain(self) -> None:
        """Wait until every queued event was handled (delivered or failed)."""
        while self.busy:
            self._start()
            task = self._task
            if task is None:
                return  # pending events but no loop cannot happen inside a coroutine
            await asyncio.shield(task)

    def close(self) -> None:
        """Accept no more events; those already queued are still delivered."""
        self._closed = True

    async def aclose(self) -> None:
        self.close()
        await self.drain()
        if self._unreported_drops:
            self._report_drops()
        try:
            await self.handler.close()
        except Exception as exc:
            self._log.error(
                "closing alert handler failed",
                extra={"fields": {**self._fields(), "reason": type(exc).__name__}},
            )


# --- topics ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicState:
    level: Level
    collected: int


class Topic:
    """Latest state per event ID, a collected counter and the queues of its handlers."""

    def __init__(self, topic_id: str, buffer_length: int | None, logger: logging.Logger) -> None:
        self.id = topic_id
        self.events: dict[str, EventState] = {}
        self.collected = 0
        self.queues: list[HandlerQueue] = []
        self._buffer_length = buffer_length
        self._log = logger

    def restore(self, states: Mapping[str, EventState]) -> None:
        """Replace the remembered states (from the store at start)."""
        self.events = dict(states)

    def max_level(self) -> Level:
        return max((s.level for s in self.events.values()), default=Level.OK)

    def state(self) -> TopicState:
        return TopicState(self.max_level(), self.collected)

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
        return previous

    def add_handler(self, handler: AlertHandler, label: HandlerLabel) -> HandlerQueue:
        """Attach a handler (the same object twice is ignored, as in Kapacitor)."""
        for queue in self.queues:
            if queue.handler is handler:
                return queue
        queue = HandlerQueue(
            handler, dataclasses.replace(label, topic=self.id), self._buffer_length, self._log
        )
        self.queues.append(queue)
        return queue

    def remove_handler(self, handler: AlertHandler) -> HandlerQueue | None:
        """Detach a handler; the returned queue still delivers what it holds."""
        for i, queue in enumerate(self.queues):
            if queue.handler is handler:
                del self.queues[i]
                queue.close()
                return queue
        return None

    def collect(self, event: Event) -> Event:
        """Record the event and queue it for every handler; the event as handlers see it."""
        previous = self.update_event(event.state)
        out = Event(
            self.id, event.state, event.data, previous.level if previous is not None else Level.OK
        )
        self.collected += 1
        for queue in self.queues:
            queue.put(out)
        return out


class Topics:
    """Every topic by ID, with the store behind them and the queues still finishing work."""

    def __init__(
        self,
        *,
        store: TopicStore | None = None,
        buffer_length: int | None = DEFAULT_BUFFER_LENGTH,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.buffer_length = buffer_length
        self._log = logger or _LOG
        self._topics: dict[str, Topic] = {}
        #: queues detached from closed topics or removed handlers, finishing their events
        self._retired: list[HandlerQueue] = []
        self._finishing: dict[HandlerQueue, asyncio.Task[None]] = {}

    def __contains__(self, topic_id: str) -> bool:
        return topic_id in self._topics

    def ids(self) -> list[str]:
        return sorted(self._topics)

    def get(self, topic_id: str) -> Topic | None:
        return self._topics.get(topic_id)

    def ensure(self, topic_id: str) -> Topic:
        """The topic, created (and restored from the store) if it is not open."""
        topic = self._topics.get(topic_id)
        if topic is None:
            topic = Topic(topic_id, self.buffer_length, self._log)
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
        self.ensure(topic_id).update_event(state)
        self._persist(topic_id, state)

    def collect(self, event: Event) -> Event:
        """Collect ``event`` into ``event.topic`` and persist its state; see :meth:`Topic.collect`."""
        out = self.ensure(event.topic).collect(event)
        self._persist(event.topic, event.state)
        return out

    def _persist(self, topic_id: str, state: EventState) -> None:
        if self.store is None:
            return
        try:
            if state.level == Level.OK:
                self.store.delete_event(topic_id, state.id)
            else:
                self.store.save_event(topic_id, state)
        except Exception as exc:
            self._store_failed("save", topic_id, exc)

    def _store_failed(self, what: str, topic_id: str, exc: Exception) -> None:
        self._log.error(
            f"failed to {what} topic state",
            extra={"fields": {"topic": topic_id, "reason": f"{type(exc).__name__}: {exc}"}},
        )

    def register_handler(self, topic_id: str, handler: AlertHandler, label: HandlerLabel) -> None:
        queue = self.ensure(topic_id).add_handler(handler, label)
        queue.wait_for(q for q in self._retired if q.label.topic == topic_id)

    def deregister_handler(self, topic_id: str, handler: AlertHandler) -> None:
        topic = self._topics.get(topic_id)
        if topic is not None:
            queue = topic.remove_handler(handler)
            if queue is not None:
                self._retire([queue])

    def close_topic(self, topic_id: str) -> None:
        """Forget the topic in memory (task stop); stored states stay for the next start."""
        topic = self._topics.pop(topic_id, None)
        if topic is not None:
            self._retire(topic.queues)
            topic.queues = []

    def delete_topic(self, topic_id: str) -> None:
        """Forget the topic and its stored states (task delete, ``DELETE`` of a topic)."""
        self.close_topic(topic_id)
        if self.store is not None:
            try:
                self.store.delete_topic(topic_id)
            except Exception as exc:
                self._store_failed("delete", topic_id, exc)

    def _retire(self, queues: Iterable[HandlerQueue]) -> None:
        for queue in queues:
            queue.close()
            self._retired.append(queue)
            self._finish_soon(queue)

    def _finish_soon(self, queue: HandlerQueue) -> None:
        """Let a retired queue deliver what it holds, then close its handler and forget it."""
        if queue in self._finishing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # drain() does it
        self._finishing[queue] = loop.create_task(self._finish(queue))

    async def _finish(self, queue: HandlerQueue) -> None:
        try:
            await queue.aclose()
        finally:
            self._finishing.pop(queue, None)
            if queue in self._retired:
                self._retired.remove(queue)

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

    def queues(self) -> list[HandlerQueue]:
        return [q for t in self._topics.values() for q in t.queues]

    async def drain(self) -> None:
        """Wait until every queued event was handled and retired handlers are closed."""
        while True:
            for queue in list(self._retired):
                self._finish_soon(queue)
            busy = [q for q in self.queues() if q.busy]
            finishing = list(self._finishing.values())
            if not busy and not finishing:
                return
            await asyncio.gather(*(q.drain() for q in busy), *finishing)

    async def close(self) -> None:
        """Close every topic and handler (server shutdown), after they finish their queues."""
        for topic_id in list(self._topics):
            self.close_topic(topic_id)
        await self.drain()


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
