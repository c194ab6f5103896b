"""What the routing handlers (``aggregate``, ``publish``) need besides a plain handler's context.

They do not deliver anywhere: they put events back into topics through the alert service, and
the aggregate handler ticks on the service's clock.  Only topic handlers (handler files) have
them, so their factories take a :class:`TopicHandlerContext`, which the topic-handler registry
(:mod:`leyden.alerting.topic_handlers`) builds per handler spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leyden.clock import Clock
from leyden.model.alert import Event
from leyden.notify.base import HandlerConfigError, HandlerContext

Collector = Callable[[Event], Any]


def valid_id(text: str, extra: str = "-._") -> bool:
    """Kapacitor's ID rule ``^[-\\._\\p{L}0-9]+$`` (``services/alert/dao.go``): letters (any
    script: ``str.isalpha`` is exactly ``\\p{L}``), ASCII digits and the ``extra`` characters."""
    return bool(text) and all(ch.isalpha() or "0" <= ch <= "9" or ch in extra for ch in text)


def valid_topic(topic: str) -> bool:
    """Topic IDs may also hold ``:`` (anonymous topics are ``main:<task>:<node>``)."""
    return valid_id(topic, "-:._")


@dataclass(slots=True)
class TopicHandlerContext(HandlerContext):
    """A handler context for one topic handler spec."""

    #: collects an event into ``event.topic`` (``AlertService.collect``)
    collect: Collector | None = None
    #: the service clock; the aggregate handler ticks on it
    clock: Clock | None = None
    #: the handler's own ID and topic (defaults, and loop checks)
    handler_id: str = ""
    topic: str = ""


def routing_context(ctx: HandlerContext, kind: str) -> TopicHandlerContext:
    """``ctx`` as a topic-handler context with a collector, or a clear error."""
    if not isinstance(ctx, TopicHandlerContext) or ctx.collect is None:
        raise HandlerConfigError(
            f"{kind} handlers exist only as topic handlers (define-topic-handler), "
            "not in TICKscripts"
        )
    return ctx


def destination_topic(options: Mapping[str, Any], kind: str, key: str, value: Any) -> str:
    """A destination topic option: a valid topic name."""
    if not isinstance(value, str) or not value:
        raise HandlerConfigError(
            f"{kind} handler option {key!r} must name a topic, got {options.get(key)!r}"
        )
    if not valid_topic(value):
        raise HandlerConfigError(
            f"{kind} handler option {key!r}: topic {value!r} must contain only letters, "
            "numbers, '-', ':', '.' and '_'"
        )
    return value
