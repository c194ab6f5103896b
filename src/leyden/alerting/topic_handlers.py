"""Topic handlers: handler specs (``kapacitor define-topic-handler``) turned into live handlers.

A spec (:class:`~leyden.store.HandlerRecord`: ``topic``, ``id``, ``kind``, ``options``,
``match``) is validated as Kapacitor's ``HandlerSpec.Validate`` does, built with
:func:`leyden.alerting.handlers.from_options` (strict option decoding), wrapped in its match
expression when it has one, persisted, and attached to its topic in the alert service.  Unlike a
TICKscript handler it lives independently of tasks and sees every event collected into its topic.

Differences from Kapacitor, in the user's interest:

* A handler an integration refuses at definition (its ``check``: a ``discord`` handler naming a
  workspace that is not configured) is refused when it is defined (Kapacitor accepts it and
  fails on every event).
* Specs that cannot be built at start (the workspace was removed from the configuration since)
  stay listed, so they can be fixed with a PUT; Kapacitor hides them until the next restart.
* Deleting a topic clears its events but keeps its handlers attached (Kapacitor detaches them
  until the next restart, semantics §4.2).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Protocol

from leyden.alerting import handlers as handler_registry
from leyden.alerting.handlers.routing import TopicHandlerContext, valid_id, valid_topic
from leyden.alerting.match import MatchError, MatchExpression, compile_match
from leyden.alerting.service import AlertService
from leyden.alerting.topics import HandlerLabel
from leyden.clock import Clock
from leyden.model.alert import Event
from leyden.model.records import HandlerRecord
from leyden.notify import INTEGRATIONS
from leyden.notify.base import AlertHandler, HandlerConfigError, HandlerError

__all__ = [
    "HandlerSpecError",
    "HandlerStore",
    "InvalidHandlerError",
    "MatchHandler",
    "PatternError",
    "RegistrationError",
    "TopicHandlers",
    "path_match",
    "validate_spec",
]

_LOG = logging.getLogger("leyden.alert")


class HandlerSpecError(ValueError):
    """The spec itself is malformed (Kapacitor answers 400 ``invalid handler spec: …``)."""


class RegistrationError(Exception):
    """The spec is well formed but cannot be registered (Kapacitor answers 500)."""


class InvalidHandlerError(RegistrationError):
    """The spec's kind, options or match cannot make a handler: the user's mistake, so the API
    answers 400 (Kapacitor answers 500 ``failed to create handler: …`` for these too)."""


class PatternError(ValueError):
    """A malformed glob (Go's ``path.ErrBadPattern``)."""


class HandlerStore(Protocol):
    """Where specs survive restarts (:class:`leyden.store.Store` is one)."""

    def put_handler(self, spec: HandlerRecord, *, replaces: str | None = None) -> None: ...

    def list_handlers(self, topic: str | None = None) -> list[HandlerRecord]: ...

    def delete_handler(self, topic: str, handler_id: str) -> bool: ...


# --- globs ---------------------------------------------------------------------------------

_PATTERNS: dict[str, re.Pattern[str]] = {}


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise PatternError("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise PatternError("syntax error in pattern")
    return pattern[i], i + 1


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise PatternError("syntax error in pattern")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            ranges: list[str] = []
            while True:
                if i < n and pattern[i] == "]" and ranges:
                    i += 1
                    break
                lo, i = _class_char(pattern, i)
                hi = lo
                if i < n and pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                ranges.append(f"{re.escape(lo)}-{re.escape(hi)}" if lo <= hi else "(?!)")
            body = "".join(r for r in ranges if r != "(?!)")
            if negate:
                out.append(f"[^{body}]" if body else "[\\s\\S]")
            else:
                out.append(f"[{body}]" if body else "(?!)")
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match`` (``*`` and ``?`` stop at ``/``, ``[^a-z]`` classes, ``\\`` escapes);
    the empty pattern matches everything, as Kapacitor's ``PatternMatch``.  Malformed patterns
    raise :class:`PatternError` even when they could not match anyway."""
    if pattern == "":
        return True
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = re.compile(_translate(pattern), re.DOTALL)
        if len(_PATTERNS) < 256:
            _PATTERNS[pattern] = compiled
    return compiled.fullmatch(name) is not None


def check_pattern(pattern: str) -> None:
    path_match(pattern, "")


# --- specs ---------------------------------------------------------------------------------


def validate_spec(spec: HandlerRecord) -> None:
    """Kapacitor's ``HandlerSpec.Validate``, with its texts (the topic error prints the ID)."""
    if not valid_topic(spec.topic):
        raise HandlerSpecError(
            f"handler topic must contain only letters, numbers, '-', '.' and '_'. \"{spec.id}\""
        )
    if not valid_id(spec.id):
        raise HandlerSpecError(
            f"handler ID must contain only letters, numbers, '-', '.' and '_'. \"{spec.id}\""
        )
    if not spec.kind:
        raise HandlerSpecError("handler Kind must not be empty")


class MatchHandler:
    """A handler that only gets the events its match expression accepts."""

    def __init__(self, handler: AlertHandler, match: MatchExpression) -> None:
        self.kind = handler.kind
        self.handler = handler
        self.match = match

    async def handle(self, event: Event) -> None:
        try:
            accepted = self.match.matches(event)
        except MatchError as exc:
            raise HandlerError(f"failed to evaluate match expression: {exc}") from None
        if accepted:
            await self.handler.handle(event)

    async def close(self) -> None:
        await self.handler.close()


@dataclasses.dataclass(slots=True)
class _Entry:
    spec: HandlerRecord
    #: None when the spec could not be built at start (it stays listed so it can be fixed)
    handler: AlertHandler | None


class TopicHandlers:
    """Every topic handler of a server: specs by topic and ID, their live handlers, the store."""

    def __init__(
        self,
        alerts: AlertService,
        store: HandlerStore | None = None,
        *,
        clock: Clock,
        logger: logging.Logger | None = None,
    ) -> None:
        self.alerts = alerts
        self.store = store
        self.clock = clock
        self._log = logger or _LOG
        self._entries: dict[str, dict[str, _Entry]] = {}

    # --- building ------------------------------------------------------------------------

    def _check(self, spec: HandlerRecord) -> None:
        """What the handler's integration refuses at definition (an unknown workspace)."""
        integration = INTEGRATIONS.get(spec.kind)
        if integration is None or integration.check is None:
            return
        service = self.alerts.services.get(spec.kind)
        if service is None:
            return
        problem = integration.check(spec.options, service, False)
        if problem is not None:
            raise HandlerConfigError(problem.message)

    def build(self, spec: HandlerRecord, *, check_workspace: bool = True) -> AlertHandler:
        """The live handler of ``spec``; :class:`HandlerConfigError` or :class:`MatchError`
        (both ``ValueError``) say what is wrong with it."""
        base = self.alerts.handler_context
        ctx = TopicHandlerContext(
            config=base.config,
            services=base.services,
            serializer=base.serializer,
            logger=base.logger,
            collect=self.alerts.collect,
            clock=self.clock,
            handler_id=spec.id,
            topic=spec.topic,
        )
        if not isinstance(spec.options, dict):
            raise HandlerConfigError(f"handler options must be an object, got {spec.options!r}")
        match = compile_match(spec.match) if spec.match else None
        if check_workspace:
            self._check(spec)
        handler = handler_registry.from_options(spec.kind, spec.options, ctx)
        if spec.kind == "aggregate" and getattr(handler, "topic", None) == spec.topic:
            raise HandlerConfigError(
                f"aggregate handler would publish topic {spec.topic!r} into itself, forever"
            )
        return MatchHandler(handler, match) if match is not None else handler

    def _attach(self, spec: HandlerRecord, handler: AlertHandler) -> None:
        label = HandlerLabel(spec.kind, topic=spec.topic, id=spec.id)
        self.alerts.topics.register_handler(spec.topic, handler, label)

    def _detach(self, entry: _Entry, *, dead_reason: str = "") -> None:
        if entry.handler is not None:
            self.alerts.topics.deregister_handler(
                entry.spec.topic, entry.handler, dead_reason=dead_reason
            )
            entry.handler = None

    def _discard(self, handler: AlertHandler) -> None:
        """Drop a handler that was built but never attached (stops an aggregate's ticker)."""
        inner = handler.handler if isinstance(handler, MatchHandler) else handler
        discard = getattr(inner, "discard", None)
        if discard is not None:
            discard()

    # --- queries -------------------------------------------------------------------------

    def get(self, topic: str, handler_id: str) -> HandlerRecord | None:
        entry = self._entries.get(topic, {}).get(handler_id)
        return entry.spec if entry is not None else None

    def handler(self, topic: str, handler_id: str) -> AlertHandler | None:
        entry = self._entries.get(topic, {}).get(handler_id)
        return entry.handler if entry is not None else None

    def specs(self, topic: str, pattern: str = "") -> list[HandlerRecord]:
        """The specs of ``topic`` whose ID matches ``pattern`` (Go glob), sorted by ID."""
        entries = self._entries.get(topic, {})
        return [entries[i].spec for i in sorted(entries) if path_match(pattern, i)]

    def topics(self) -> list[str]:
        return sorted(t for t, entries in self._entries.items() if entries)

    # --- changes -------------------------------------------------------------------------

    def register(self, spec: HandlerRecord) -> None:
        """Create a handler: validate, build, refuse a taken ID, persist, attach."""
        validate_spec(spec)
        try:
            handler = self.build(spec)
        except ValueError as exc:
            raise InvalidHandlerError(str(exc)) from None
        if spec.id in self._entries.get(spec.topic, {}):
            self._discard(handler)
            raise RegistrationError(
                f'cannot register handler, handler with ID "{spec.id}" already exists'
            )
        if self.store is not None:
            try:
                self.store.put_handler(spec)
            except Exception as exc:
                self._discard(handler)
                raise RegistrationError(str(exc)) from None
        self._entries.setdefault(spec.topic, {})[spec.id] = _Entry(spec, handler)
        self._attach(spec, handler)

    def update(self, old: HandlerRecord, new: HandlerRecord) -> None:
        """Replace ``old`` by ``new`` (same topic; the ID may change)."""
        validate_spec(new)
        if new.topic != old.topic:
            raise RegistrationError("cannot change topic in update")
        try:
            handler = self.build(new)
        except ValueError as exc:
            raise InvalidHandlerError(str(exc)) from None
        entries = self._entries.setdefault(new.topic, {})
        if new.id != old.id and new.id in entries:
            self._discard(handler)
            raise RegistrationError("handler spec already exists")
        if self.store is not None:
            try:
                self.store.put_handler(new, replaces=old.id)
            except Exception as exc:
                self._discard(handler)
                raise RegistrationError(str(exc)) from None
        previous = entries.pop(old.id, None)
        if previous is not None:
            self._detach(previous)  # its queued deliveries go to the new one (same key)
        entries[new.id] = _Entry(new, handler)
        self._attach(new, handler)

    def deregister(self, topic: str, handler_id: str) -> None:
        """Delete a handler; not an error when there is none (Kapacitor answers 204 either way)."""
        entries = self._entries.get(topic, {})
        entry = entries.get(handler_id)
        if entry is None:
            return
        if self.store is not None:
            try:
                self.store.delete_handler(topic, handler_id)
            except Exception as exc:
                raise RegistrationError(str(exc)) from None
        del entries[handler_id]
        if not entries:
            del self._entries[topic]
        self._detach(entry, dead_reason=f"topic handler {topic}/{handler_id} was deleted")

    def delete_topic(self, topic: str) -> None:
        """Forget a topic's events (memory and store); its handlers are attached again.

        Kapacitor drops the topic, so it is no longer listed, but also its handlers, until a
        restart; here they stay attached and the topic is listed again at its next event."""
        self.alerts.topics.delete_topic(topic)
        for entry in self._entries.get(topic, {}).values():
            entry.handler = None  # closed with the topic's queues
            self._start(entry)
        self.alerts.topics.unlist(topic)

    # --- start ---------------------------------------------------------------------------

    def _start(self, entry: _Entry) -> None:
        try:
            handler = self.build(entry.spec, check_workspace=False)
        except ValueError as exc:
            self._log.error(
                "failed to load handler",
                extra={
                    "fields": {
                        "topic": entry.spec.topic,
                        "handler_id": entry.spec.id,
                        "reason": str(exc),
                    }
                },
            )
            return
        entry.handler = handler
        self._attach(entry.spec, handler)

    def load(self) -> None:
        """Server start: attach every stored spec, and re-open every topic with stored events
        (Kapacitor lists them right after a restart)."""
        topic_store = self.alerts.topics.store
        stored_topics = getattr(topic_store, "event_state_topics", None)
        if stored_topics is not None:
            try:
                for topic in stored_topics():
                    self.alerts.topics.ensure(topic)
            except Exception as exc:
                self._log.error("failed to restore topics", extra={"fields": {"reason": str(exc)}})
        if self.store is None:
            return
        for spec in self.store.list_handlers():
            entry = _Entry(spec, None)
            self._entries.setdefault(spec.topic, {})[spec.id] = entry
            self._start(entry)
