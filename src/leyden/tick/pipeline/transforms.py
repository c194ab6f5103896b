"""Processing nodes: filter, reshape, regroup, window and merge points.

Kapacitor's ``pipeline/where.go``, ``window.go``, ``group_by.go``, ``eval.go``, ``default.go``,
``delete.go``, ``shift.go``, ``sample.go``, ``derivative.go``, ``change_detect.go``,
``state_tracking.go``, ``noop.go``, ``join.go``, ``union.go``, ``combine.go``, ``flatten.go``,
``log.go``, ``barrier.go``, ``trickle.go``, ``sideload.go`` and ``udf.go``: method names,
argument types (int64 vs float64 are not interchangeable, exactly as in Kapacitor), edge types,
defaults, and each node's ``validate`` with Kapacitor's wording.
"""

from __future__ import annotations

from typing import Any

from leyden.go.types import Duration
from leyden.tick.pipeline._sig import (
    NO_ARGS,
    NodeType,
    Validator,
    extend,
    field,
    flag,
    init_keys,
    method,
    props,
    put_map,
    set_list,
    sig,
)
from leyden.tick.pipeline.chains import CHAIN_CHAINS, node
from leyden.tick.pipeline.graph import BATCH, PARENT, STREAM, NodeSpec
from leyden.tick.values import StarValue

__all__ = ["TYPES", "UDF_TYPE", "validate_dimensions"]

_SECOND = Duration(1_000_000_000)


def validate_dimensions(dims: list[Any], excluded: list[str]) -> str | None:
    """Kapacitor's ``validateDimensions`` (``group_by.go``), shared by ``from``."""
    has_star = False
    for d in dims:
        if isinstance(d, StarValue):
            has_star = True
        elif isinstance(d, str):
            if not d:
                return "dimensions cannot not be the empty string"
        else:
            return f"invalid dimension object of type {type(d).__name__}"
    if has_star and len(dims) > 1:
        return "cannot group by both '*' and named dimensions."
    if not has_star and excluded:
        return "exclude requires '*'"
    return None


def _v_groupby(n: NodeSpec) -> str | None:
    return validate_dimensions(n.properties.get("dimensions", []), n.properties.get("exclude", []))


def _v_window(n: NodeSpec) -> str | None:
    p = n.properties
    if p.get("periodCount", 0) and p.get("period", 0):
        return "cannot specify both period and periodCount"
    if p.get("periodCount", 0) and p.get("align"):
        return "can only align windows based off time, not count"
    if p.get("periodCount", 0) and p.get("everyCount", 0) <= 0:
        return "everyCount must be greater than zero"
    return None


def _v_eval(n: NodeSpec) -> str | None:
    as_list = n.properties.get("as", [])
    lambdas = n.properties.get("lambdas", [])
    if len(as_list) != len(lambdas):
        return (
            "must specify same number of expressions and .as() names: "
            f"got {len(as_list)} as names, and {len(lambdas)} expressions."
        )
    for tag in n.properties.get("tags", []):
        if tag not in as_list:
            return f"invalid tag name {tag!r}, name is not present is .as() names".replace("'", '"')
    return None


def _v_default(n: NodeSpec) -> str | None:
    for name, value in n.properties.get("fields", {}).items():
        if type(value) not in (float, int, bool, str):
            tname = "time.Duration" if isinstance(value, Duration) else type(value).__name__
            return (
                f'unsupported type {tname} for field "{name}", '
                "field default values must be float,int,string or bool"
            )
    return None


def _v_prefixes(what: str) -> Validator:
    def check(n: NodeSpec) -> str | None:
        names = n.properties.get("as", [])
        if not names:
            return f"a call to {what}.as() is required to specify the output stream prefixes."
        expected = len(n.parents) if what == "join" else len(n.properties.get("lambdas", []))
        if len(names) != expected:
            if what == "join":
                return "number of prefixes specified by join.as() must match the number of joined streams"
            return "number of prefixes specified by combine.as() must match the number of combine expressions"
        delim = n.properties.get("delimiter", ".")
        for name in names:
            if not name:
                return f"must provide a prefix name for the {what} node, see .as() property method"
            if delim and delim in name:
                return (
                    f'cannot use name {name} as field prefix, it contains the delimiter "{delim}"'
                )
        if len(set(names)) != len(names):
            return "cannot use the same prefix name see .as() property method"
        return None

    return check


def _v_barrier(n: NodeSpec) -> str | None:
    idle = n.properties.get("idle", 0)
    period = n.properties.get("period", 0)
    if idle and period:
        return "cannot specify both idle and period"
    if period == 0 and idle <= 0:
        return "idle must be greater than zero"
    if period <= 0 and idle == 0:
        return "period must be greater than zero"
    return None


def _keep(p: dict[str, Any], args: list[Any]) -> None:
    p["keep"] = True
    p["keepList"] = list(args)


def _drop_original(p: dict[str, Any], args: list[Any]) -> None:
    p["dropOriginalFieldName"] = bool(args[0]) if args else True


def _init_sample(p: dict[str, Any], args: list[Any]) -> None:
    if isinstance(args[0], Duration):
        p["duration"] = args[0]
        p["n"] = 0
    else:
        p["n"] = args[0]
        p["duration"] = Duration(0)


def _init_derivative(p: dict[str, Any], args: list[Any]) -> None:
    p["field"] = args[0]
    p["as"] = args[0]


TYPES: tuple[NodeType, ...] = (
    node(
        "where",
        "where",
        "*pipeline.WhereNode",
        sig("lambda"),
        init_keys("lambda"),
        PARENT,
        PARENT,
        {},
    ),
    node(
        "window",
        "window",
        "*pipeline.WindowNode",
        NO_ARGS,
        None,
        STREAM,
        BATCH,
        props(
            field("period", "duration"),
            field("every", "duration"),
            flag("align"),
            flag("fillPeriod"),
            field("periodCount", "int"),
            field("everyCount", "int"),
        ),
        validate=_v_window,
    ),
    node(
        "groupBy",
        "groupby",
        "*pipeline.GroupByNode",
        sig(variadic="string|star"),
        set_list("dimensions"),
        PARENT,
        PARENT,
        props(method("exclude", sig(variadic="string"), extend("exclude")), flag("byMeasurement")),
        validate=_v_groupby,
    ),
    node(
        "eval",
        "eval",
        "*pipeline.EvalNode",
        sig(variadic="lambda"),
        set_list("lambdas"),
        PARENT,
        PARENT,
        props(
            method("as", sig(variadic="string"), set_list("as")),
            method("tags", sig(variadic="string"), set_list("tags")),
            method("keep", sig(variadic="string"), _keep),
        ),
        validate=_v_eval,
    ),
    node(
        "default",
        "default",
        "*pipeline.DefaultNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            method("field", sig("string", "any"), put_map("fields")),
            method("tag", sig("string", "string"), put_map("tags")),
        ),
        validate=_v_default,
    ),
    node(
        "delete",
        "delete",
        "*pipeline.DeleteNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            method("field", sig("string"), extend("fields")),
            method("tag", sig("string"), extend("tags")),
        ),
    ),
    node(
        "shift",
        "shift",
        "*pipeline.ShiftNode",
        sig("duration"),
        init_keys("shift"),
        PARENT,
        PARENT,
        {},
    ),
    node(
        "sample",
        "sample",
        "*pipeline.SampleNode",
        sig("int|duration"),
        _init_sample,
        PARENT,
        PARENT,
        {},
    ),
    node(
        "derivative",
        "derivative",
        "*pipeline.DerivativeNode",
        sig("string"),
        _init_derivative,
        PARENT,
        PARENT,
        props(field("as", "string"), field("unit", "duration"), flag("nonNegative")),
        defaults={"unit": _SECOND, "nonNegative": False},
    ),
    node(
        "changeDetect",
        "changeDetect",
        "*pipeline.ChangeDetectNode",
        sig(variadic="string"),
        set_list("fields"),
        PARENT,
        PARENT,
        {},
    ),
    node(
        "stateDuration",
        "state_duration",
        "*pipeline.StateDurationNode",
        sig("lambda"),
        init_keys("lambda"),
        PARENT,
        PARENT,
        props(field("as", "string"), field("unit", "duration")),
        defaults={"as": "state_duration", "unit": _SECOND},
    ),
    node(
        "stateCount",
        "state_count",
        "*pipeline.StateCountNode",
        sig("lambda"),
        init_keys("lambda"),
        PARENT,
        PARENT,
        props(field("as", "string")),
        defaults={"as": "state_count"},
    ),
    node("noop", "noop", "*pipeline.NoOpNode", NO_ARGS, None, PARENT, PARENT, {}),
    node(
        "join",
        "join",
        "*pipeline.JoinNode",
        sig(variadic="node"),
        None,
        PARENT,
        PARENT,
        props(
            method("as", sig(variadic="string"), set_list("as")),
            method("on", sig(variadic="string"), set_list("on")),
            field("delimiter", "string"),
            field("streamName", "string"),
            field("tolerance", "duration"),
            field("fill", "any"),
            field("deleteAll", "bool"),
        ),
        defaults={"delimiter": "."},
        validate=_v_prefixes("join"),
    ),
    node(
        "union",
        "union",
        "*pipeline.UnionNode",
        sig(variadic="node"),
        None,
        PARENT,
        PARENT,
        props(field("rename", "string")),
    ),
    node(
        "combine",
        "combine",
        "*pipeline.CombineNode",
        sig(variadic="lambda"),
        set_list("lambdas"),
        PARENT,
        STREAM,
        props(
            method("as", sig(variadic="string"), set_list("as")),
            field("delimiter", "string"),
            field("tolerance", "duration"),
            field("max", "int"),
        ),
        defaults={"delimiter": ".", "max": 1_000_000},
        validate=_v_prefixes("combine"),
    ),
    node(
        "flatten",
        "flatten",
        "*pipeline.FlattenNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            method("on", sig(variadic="string"), set_list("on")),
            field("delimiter", "string"),
            field("tolerance", "duration"),
            method("dropOriginalFieldName", sig(variadic="bool", max_args=1), _drop_original),
        ),
        defaults={"delimiter": "."},
    ),
    node(
        "log",
        "log",
        "*pipeline.LogNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(field("level", "string"), field("prefix", "string")),
        defaults={"level": "INFO", "prefix": ""},
    ),
    node(
        "barrier",
        "barrier",
        "*pipeline.BarrierNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        # ``.delete(bool)`` is a property and ``|delete()`` a chaining method, as in Kapacitor.
        props(field("idle", "duration"), field("period", "duration"), field("delete", "bool")),
        chains=CHAIN_CHAINS,  # ``delete`` stays a chaining method, as in Kapacitor
        validate=_v_barrier,
    ),
    node("trickle", "trickle", "*pipeline.TrickleNode", NO_ARGS, None, BATCH, STREAM, {}),
    node(
        "sideload",
        "sideload",
        "*pipeline.SideloadNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            field("source", "string"),
            method("order", sig(variadic="string"), set_list("order")),
            method("field", sig("string", "any"), put_map("fields")),
            method("tag", sig("string", "string"), put_map("tags")),
        ),
    ),
)

# A UDF (``@name()``) has options only its agent knows; any property is accepted and recorded.
UDF_TYPE = node(
    "udf",
    "udf",
    "*pipeline.UDFNode",
    sig(variadic="any"),
    set_list("args"),
    PARENT,
    PARENT,
    {},
)
