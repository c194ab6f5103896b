"""``kind: publish``: every event collected again into each of ``topics``.

As Kapacitor's publish handler: each destination topic keeps its own state for the event ID,
so ``previousLevel`` and persistence are per topic.  A handler that lists its own topic would
feed itself forever; Leyden refuses that at definition (Kapacitor accepts it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from leyden.alerting.handlers.routing import Collector, destination_topic, routing_context
from leyden.model.alert import Event
from leyden.notify.base import HandlerConfigError, HandlerContext, check_keys

OPTION_KEYS = ("topics",)


class PublishHandler:
    kind = "publish"

    def __init__(self, topics: list[str], collect: Collector) -> None:
        self.topics = list(topics)
        self._collect = collect

    def route(self, event: Event) -> None:
        """Collect ``event`` into every topic (called when the turn's events commit)."""
        for topic in self.topics:
            self._collect(dataclasses.replace(event, topic=topic))

    async def handle(self, event: Event) -> None:
        self.route(event)

    async def close(self) -> None:
        return None


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> PublishHandler:
    """From a ``kind: publish`` handler file's ``options``."""
    check_keys(options, "publish", OPTION_KEYS)
    tctx = routing_context(ctx, "publish")
    topics = options.get("topics")
    if not isinstance(topics, list) or not topics:
        raise HandlerConfigError(
            f"publish handler option 'topics' must be a list of topics, got {topics!r}"
        )
    checked = [destination_topic(options, "publish", "topics", t) for t in topics]
    if tctx.topic and tctx.topic in checked:
        raise HandlerConfigError(
            f"publish handler would publish topic {tctx.topic!r} into itself, forever"
        )
    assert tctx.collect is not None  # routing_context checked it
    return PublishHandler(checked, tctx.collect)
