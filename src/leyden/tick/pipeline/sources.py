"""Source nodes: ``stream`` and ``batch``, what reads from them, and ``|stats()``.

Kapacitor's ``pipeline/stream.go``, ``batch.go``, ``query.go``, ``query_flux.go`` and ``stats.go``.
A task has exactly one of ``stream``/``batch`` (the builder decides which); ``|stats()`` is a
source too, fed by the node it watches rather than by writes.
"""

from __future__ import annotations

from leyden.tick.pipeline._sig import (
    NO_ARGS,
    NodeType,
    field,
    flag,
    init_keys,
    method,
    props,
    set_,
    set_list,
    sig,
)
from leyden.tick.pipeline.chains import CHAIN_CHAINS, NODE_CHAINS, node
from leyden.tick.pipeline.graph import BATCH, NO_EDGE, STREAM, NodeSpec
from leyden.tick.pipeline.transforms import validate_dimensions

__all__ = ["TYPES"]


def _v_from(n: NodeSpec) -> str | None:
    return validate_dimensions(n.properties.get("groupBy", []), [])


TYPES: tuple[NodeType, ...] = (
    node(
        "stream",
        "stream",
        "*pipeline.StreamNode",
        NO_ARGS,
        None,
        STREAM,
        STREAM,
        {},
        chains=NODE_CHAINS | {"from"},
    ),
    node(
        "batch",
        "batch",
        "*pipeline.BatchNode",
        NO_ARGS,
        None,
        NO_EDGE,
        BATCH,
        {},
        chains=NODE_CHAINS | {"query", "queryFlux"},
    ),
    node(
        "from",
        "from",
        "*pipeline.FromNode",
        NO_ARGS,
        None,
        STREAM,
        STREAM,
        props(
            method("where", sig("lambda"), set_("where")),  # AND-ed by the builder
            method("groupBy", sig(variadic="string|star"), set_list("groupBy")),
            flag("groupByMeasurement"),
            field("database", "string"),
            field("retentionPolicy", "string"),
            field("measurement", "string"),
            field("truncate", "duration"),
            field("round", "duration"),
        ),
        chains=CHAIN_CHAINS | {"from"},
        validate=_v_from,
    ),
    node(
        "query",
        "query",
        "*pipeline.QueryNode",
        sig("string"),
        init_keys("query"),
        BATCH,
        BATCH,
        props(
            field("period", "duration"),
            field("every", "duration"),
            flag("align"),
            field("cron", "string"),
            field("offset", "duration"),
            flag("alignGroup"),
            method("groupBy", sig(variadic="string|star|any"), set_list("groupBy")),
            flag("groupByMeasurement"),
            field("fill", "any"),
            field("cluster", "string"),
        ),
    ),
    node(
        "queryFlux",
        "queryFlux",
        "*pipeline.QueryFluxNode",
        sig("string"),
        init_keys("query"),
        BATCH,
        BATCH,
        props(
            field("period", "duration"),
            field("every", "duration"),
            flag("align"),
            field("cron", "string"),
            field("offset", "duration"),
            field("cluster", "string"),
            field("org", "string"),
            field("orgID", "string"),
        ),
    ),
    node(
        "stats",
        "stats",
        "*pipeline.StatsNode",
        sig("duration"),
        init_keys("interval"),
        STREAM,
        STREAM,
        props(flag("align")),
    ),
)
