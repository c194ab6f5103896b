"""What every node has: its chaining methods and ``.quiet()``, and the node-type constructor.

Kapacitor's ``pipeline/node.go`` declares them on two embedded structs: ``node`` (``|stats()``,
``|deadman()``) and ``chainnode``, which every processing node embeds and which carries every
other chaining method. The InfluxQL methods (``|count(f)``, ``|percentile(f, p)`` …) are declared
there too, with their arguments and output edge, so their table is here; the node they create
(Kapacitor's ``InfluxQLNode``, ``influxql.go``) is :mod:`leyden.tick.pipeline.influxql`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.tick.pipeline._sig import (
    Init,
    NodeType,
    PropertySpec,
    Sig,
    Validator,
    flag,
    init_keys,
    props,
    sig,
)
from leyden.tick.pipeline.graph import BATCH, PARENT, STREAM

__all__ = ["CHAIN_CHAINS", "INFLUXQL_KINDS", "INFLUXQL_METHODS", "NODE_CHAINS", "node"]

# Chaining methods every node has (Kapacitor's ``node``): stats and deadman.
NODE_CHAINS = frozenset({"stats", "deadman"})


def _init_top(p: dict[str, Any], args: list[Any]) -> None:
    p["num"] = args[0]
    p["field"] = args[1]
    p["fieldsAndTags"] = list(args[2:])


def _init_hw(fit: bool) -> Init:
    def init(p: dict[str, Any], args: list[Any]) -> None:
        p["field"], p["h"], p["m"], p["interval"] = args
        p["includeFitData"] = fit

    return init


# The InfluxQL chaining methods: (kind, args, init, provides).
INFLUXQL_METHODS: tuple[tuple[str, Sig, Init, str], ...] = (
    ("count", sig("string"), init_keys("field"), STREAM),
    ("distinct", sig("string"), init_keys("field"), BATCH),
    ("mean", sig("string"), init_keys("field"), STREAM),
    ("median", sig("string"), init_keys("field"), STREAM),
    ("mode", sig("string"), init_keys("field"), STREAM),
    ("spread", sig("string"), init_keys("field"), STREAM),
    ("sum", sig("string"), init_keys("field"), STREAM),
    ("first", sig("string"), init_keys("field"), STREAM),
    ("last", sig("string"), init_keys("field"), STREAM),
    ("min", sig("string"), init_keys("field"), STREAM),
    ("max", sig("string"), init_keys("field"), STREAM),
    ("percentile", sig("string", "float"), init_keys("field", "percentile"), STREAM),
    ("top", sig("int", "string", variadic="string"), _init_top, BATCH),
    ("bottom", sig("int", "string", variadic="string"), _init_top, BATCH),
    ("stddev", sig("string"), init_keys("field"), STREAM),
    ("elapsed", sig("string", "duration"), init_keys("field", "unit"), PARENT),
    ("difference", sig("string"), init_keys("field"), PARENT),
    ("movingAverage", sig("string", "int"), init_keys("field", "window"), PARENT),
    ("cumulativeSum", sig("string"), init_keys("field"), PARENT),
    ("holtWinters", sig("string", "int", "int", "duration"), _init_hw(False), BATCH),
    ("holtWintersWithFit", sig("string", "int", "int", "duration"), _init_hw(True), BATCH),
)

INFLUXQL_KINDS = tuple(kind for kind, *_ in INFLUXQL_METHODS)

# Chaining methods of Kapacitor's ``chainnode`` (every processing node).
CHAIN_CHAINS = NODE_CHAINS | frozenset(
    {
        "where",
        "httpOut",
        "httpPost",
        "influxDBOut",
        "kapacitorLoopback",
        "alert",
        "union",
        "join",
        "combine",
        "flatten",
        "eval",
        "groupBy",
        "window",
        "barrier",
        "sample",
        "derivative",
        "changeDetect",
        "shift",
        "log",
        "default",
        "delete",
        "k8sAutoscale",
        "swarmAutoscale",
        "ec2Autoscale",
        "stateDuration",
        "stateCount",
        "sideload",
        "trickle",
        *INFLUXQL_KINDS,
    }
)

QUIET = flag("quiet")


def node(
    kind: str,
    desc: str,
    go_type: str,
    args: Sig,
    init: Init | None,
    wants: str,
    provides: str,
    properties: dict[str, PropertySpec],
    *,
    chains: frozenset[str] = CHAIN_CHAINS,
    defaults: Mapping[str, Any] | None = None,
    validate: Validator | None = None,
) -> NodeType:
    """A node type as the family tables write it: every node also takes ``.quiet()``."""
    return NodeType(
        kind,
        desc,
        go_type,
        args,
        init,
        wants,
        provides,
        chains,
        {**props(QUIET), **properties},
        dict(defaults or {}),
        validate,
    )
