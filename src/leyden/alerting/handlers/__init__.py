"""Building alert handlers: the integrations' kinds, plus the two that route back into topics.

Every kind that delivers somewhere is an integration (:data:`leyden.notify.INTEGRATIONS`);
``aggregate`` and ``publish`` route events back into topics, so they live here, exist only as
topic handlers and need a :class:`~leyden.alerting.handlers.routing.TopicHandlerContext`.
:func:`from_tick` builds a handler from a TICKscript handler's properties (``.post(url)``,
``.discord().workspace('x')``); :func:`from_options` from a topic-handler file's ``options``
(Kapacitor's hyphenated keys, unknown keys rejected).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.alerting.handlers import aggregate, publish
from leyden.notify import INTEGRATIONS, Factory
from leyden.notify.base import AlertHandler, HandlerConfigError, HandlerContext

__all__ = ["ROUTING_FACTORIES", "from_options", "from_tick"]

#: Topic-handler kinds that route events back into topics instead of delivering them.
ROUTING_FACTORIES: dict[str, Factory] = {
    "aggregate": aggregate.from_options,
    "publish": publish.from_options,
}


def from_tick(kind: str, props: Mapping[str, Any], ctx: HandlerContext) -> AlertHandler:
    """The handler a TICKscript declares; unknown kinds are a clear error, not a KeyError."""
    integration = INTEGRATIONS.for_tick(kind)
    if integration is None or integration.from_tick is None:
        raise HandlerConfigError(
            f"alert handler .{kind}() is not supported; supported: "
            + ", ".join(f".{k}()" for k in INTEGRATIONS.tick_kinds())
        )
    return integration.from_tick(props, ctx)


def from_options(kind: str, options: Mapping[str, Any], ctx: HandlerContext) -> AlertHandler:
    """The handler a topic-handler file declares."""
    integration = INTEGRATIONS.get(kind)
    factory = integration.from_options if integration is not None else ROUTING_FACTORIES.get(kind)
    if factory is None:
        supported = sorted({i.kind for i in INTEGRATIONS} | set(ROUTING_FACTORIES))
        raise HandlerConfigError(
            f'unsupported action kind "{kind}"; supported kinds: {", ".join(supported)}'
        )
    return factory(options, ctx)
