"""Alert handlers, one small module per kind, and the registry that builds them.

``TICK_FACTORIES`` builds a handler from a TICKscript handler's properties (``.post(url)``,
``.discord().workspace('x')`` — the keys of :mod:`leyden.tick.pipeline`'s handler tables);
``OPTION_FACTORIES`` from a topic-handler file's ``options`` (Kapacitor's hyphenated keys,
unknown keys rejected).  ``aggregate`` and ``publish`` route events back into topics, so they
exist only as topic handlers and need a :class:`~leyden.alerting.handlers.routing.TopicHandlerContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from leyden.alerting.handlers import aggregate, discord, exec, log, post, publish, tcp
from leyden.alerting.handlers.base import (
    AlertHandler,
    HandlerConfigError,
    HandlerContext,
    HandlerError,
    Serializer,
)

Factory = Callable[[Mapping[str, Any], HandlerContext], AlertHandler]

TICK_FACTORIES: dict[str, Factory] = {
    "post": post.from_tick,
    "tcp": tcp.from_tick,
    "log": log.from_tick,
    "exec": exec.from_tick,
    "discord": discord.from_tick,
}

OPTION_FACTORIES: dict[str, Factory] = {
    "post": post.from_options,
    "tcp": tcp.from_options,
    "log": log.from_options,
    "exec": exec.from_options,
    "discord": discord.from_options,
    "aggregate": aggregate.from_options,
    "publish": publish.from_options,
}


def from_tick(kind: str, props: Mapping[str, Any], ctx: HandlerContext) -> AlertHandler:
    """The handler a TICKscript declares; unknown kinds are a clear error, not a KeyError."""
    factory = TICK_FACTORIES.get(kind)
    if factory is None:
        raise HandlerConfigError(
            f"alert handler .{kind}() is not supported; supported: "
            + ", ".join(f".{k}()" for k in TICK_FACTORIES)
        )
    return factory(props, ctx)


def from_options(kind: str, options: Mapping[str, Any], ctx: HandlerContext) -> AlertHandler:
    """The handler a topic-handler file declares."""
    factory = OPTION_FACTORIES.get(kind)
    if factory is None:
        raise HandlerConfigError(f'unsupported action kind "{kind}"')
    return factory(options, ctx)


__all__ = [
    "OPTION_FACTORIES",
    "TICK_FACTORIES",
    "AlertHandler",
    "Factory",
    "HandlerConfigError",
    "HandlerContext",
    "HandlerError",
    "Serializer",
    "from_options",
    "from_tick",
]
