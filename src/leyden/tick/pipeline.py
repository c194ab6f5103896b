"""What a TICKscript declares: node and handler specs, and the pipeline graph that links them.

Kapacitor discovers a node's chaining methods and properties by reflecting over Go structs. We
spell them out instead, one table per node type, so that the valid vocabulary of every node can be
read here, listed in error messages, and checked before anything runs. The tables follow
Kapacitor's ``pipeline/*.go`` at commit 7702d12d: method names, argument types (int64 vs float64
are not interchangeable, exactly as in Kapacitor), edge types and defaults.

Names are matched as Kapacitor matches them: the first letter is upper-cased and compared with the
Go name, so ``.avatarURL()`` and ``.AvatarURL()`` are the same property and the Pushover URL is
``.uRL()``. Leyden adds a few spellings Kapacitor's documentation promises (``.avatarUrl()``,
``.timestamp()`` on ``.discord()``); see ``reference/compatibility.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from leyden.go.types import Duration
from leyden.tick.ast import Position

STREAM = "stream"
BATCH = "batch"
NO_EDGE = "none"
PARENT = "parent"  # an edge type taken from the parent's output

# Argument type tokens, and how Kapacitor's Go signatures spell them in messages.
GO_TYPES: dict[str, str] = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "bool",
    "duration": "time.Duration",
    "lambda": "*ast.LambdaNode",
    "regex": "*regexp.Regexp",
    "star": "*ast.StarNode",
    "node": "pipeline.Node",
    "any": "interface {}",
}


def capitalize_first(name: str) -> str:
    """Kapacitor's method lookup key: ``embedTitle`` and ``EmbedTitle`` are the same method."""
    return name[:1].upper() + name[1:]


@dataclass(frozen=True, slots=True)
class Sig:
    """An argument list: fixed parameters, then optionally any number of ``variadic`` ones.

    A type is a token from :data:`GO_TYPES` or several joined by ``|`` (``"string|star"``).
    """

    params: tuple[str, ...] = ()
    variadic: str | None = None
    max_args: int | None = None  # a cap on the total when Go's variadic is really "optional"

    def describe(self) -> str:
        parts = list(self.params)
        if self.variadic:
            parts.append(self.variadic + "...")
        return ", ".join(parts)

    def arity_ok(self, n: int) -> bool:
        if n < len(self.params):
            return False
        if self.variadic is None:
            return n == len(self.params)
        return self.max_args is None or n <= self.max_args

    def type_at(self, i: int) -> str:
        return self.params[i] if i < len(self.params) else (self.variadic or "any")


def sig(*params: str, variadic: str | None = None, max_args: int | None = None) -> Sig:
    return Sig(tuple(params), variadic, max_args)


NO_ARGS = Sig()

Setter = Callable[[dict[str, Any], list[Any]], None]


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """A property method (``.period(10s)``).

    ``field`` marks properties that Kapacitor sets straight into a struct field: those take
    exactly one argument and report arity errors with the Go field name (``go_name``).
    """

    name: str
    sig: Sig
    apply: Setter
    field: bool = False
    go_name: str = ""


# -- setters: how a property call lands in a spec's ``properties`` dict ------------------------


def set_(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props[key] = args[0]

    return apply


def flag(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props[key] = True

    return apply


def set_list(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props[key] = list(args)

    return apply


def extend(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props.setdefault(key, []).extend(args)

    return apply


def put_map(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props.setdefault(key, {})[args[0]] = args[1]

    return apply


def append_tuple(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props.setdefault(key, []).append(tuple(args))

    return apply


def _field(name: str, typ: str, key: str | None = None) -> PropertySpec:
    """A struct-field property: ``.name(value)``, stored under ``key`` (default ``name``)."""
    return PropertySpec(
        name, sig(typ), set_(key or name), field=True, go_name=capitalize_first(name)
    )


def _method(name: str, s: Sig, apply: Setter) -> PropertySpec:
    return PropertySpec(name, s, apply)


def _flag(name: str, key: str | None = None) -> PropertySpec:
    return PropertySpec(name, NO_ARGS, flag(key or name))


def props(*specs: PropertySpec) -> dict[str, PropertySpec]:
    return {capitalize_first(p.name): p for p in specs}


# -- custom setters -------------------------------------------------------------------------


def _keep(p: dict[str, Any], args: list[Any]) -> None:
    p["keep"] = True
    p["keepList"] = list(args)


def _state_changes_only(p: dict[str, Any], args: list[Any]) -> None:
    p["stateChangesOnly"] = True
    if len(args) == 1:
        p["stateChangesOnlyDuration"] = args[0]


def _flapping(p: dict[str, Any], args: list[Any]) -> None:
    p["flapping"] = True
    p["flapLow"], p["flapHigh"] = args


def _inhibit(p: dict[str, Any], args: list[Any]) -> None:
    p.setdefault("inhibitors", []).append({"category": args[0], "equalTags": list(args[1:])})


def _drop_original(p: dict[str, Any], args: list[Any]) -> None:
    p["dropOriginalFieldName"] = bool(args[0]) if args else True


def _pd2_link(p: dict[str, Any], args: list[Any]) -> None:
    p.setdefault("links", []).append({"href": args[0], "text": args[1] if len(args) > 1 else ""})


def _snmp_data(p: dict[str, Any], args: list[Any]) -> None:
    p.setdefault("data", []).append({"oid": args[0], "type": args[1], "value": args[2]})


# -- node types ----------------------------------------------------------------------------


Validator = Callable[["NodeSpec"], str | None]
Init = Setter  # chaining-method arguments land in properties as property arguments do


@dataclass(frozen=True, slots=True)
class NodeType:
    """One kind of pipeline node, as created by the chaining method ``kind``.

    ``desc`` is Kapacitor's description, which names the node (``http_out3``); ``wants`` and
    ``provides`` are edge types (``PARENT`` = whatever the parent provides).
    """

    kind: str
    desc: str
    go_type: str
    args: Sig
    init: Init | None
    wants: str
    provides: str
    chains: frozenset[str]
    properties: dict[str, PropertySpec]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    validate: Validator | None = None
    supported: bool = True


# Chaining methods every node has (Kapacitor's ``node``): stats and deadman.
NODE_CHAINS = frozenset({"stats", "deadman"})


# -- init functions: chaining-method arguments → properties ---------------------------------


def _init_keys(*keys: str) -> Init:
    def init(p: dict[str, Any], args: list[Any]) -> None:
        for k, v in zip(keys, args, strict=False):
            p[k] = v

    return init


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


def _init_top(p: dict[str, Any], args: list[Any]) -> None:
    p["num"] = args[0]
    p["field"] = args[1]
    p["fieldsAndTags"] = list(args[2:])


def _init_hw(fit: bool) -> Init:
    def init(p: dict[str, Any], args: list[Any]) -> None:
        p["field"], p["h"], p["m"], p["interval"] = args
        p["includeFitData"] = fit

    return init


# (kind, args, init, provides)
_INFLUXQL: list[tuple[str, Sig, Init, str]] = [
    ("count", sig("string"), _init_keys("field"), STREAM),
    ("distinct", sig("string"), _init_keys("field"), BATCH),
    ("mean", sig("string"), _init_keys("field"), STREAM),
    ("median", sig("string"), _init_keys("field"), STREAM),
    ("mode", sig("string"), _init_keys("field"), STREAM),
    ("spread", sig("string"), _init_keys("field"), STREAM),
    ("sum", sig("string"), _init_keys("field"), STREAM),
    ("first", sig("string"), _init_keys("field"), STREAM),
    ("last", sig("string"), _init_keys("field"), STREAM),
    ("min", sig("string"), _init_keys("field"), STREAM),
    ("max", sig("string"), _init_keys("field"), STREAM),
    ("percentile", sig("string", "float"), _init_keys("field", "percentile"), STREAM),
    ("top", sig("int", "string", variadic="string"), _init_top, BATCH),
    ("bottom", sig("int", "string", variadic="string"), _init_top, BATCH),
    ("stddev", sig("string"), _init_keys("field"), STREAM),
    ("elapsed", sig("string", "duration"), _init_keys("field", "unit"), PARENT),
    ("difference", sig("string"), _init_keys("field"), PARENT),
    ("movingAverage", sig("string", "int"), _init_keys("field", "window"), PARENT),
    ("cumulativeSum", sig("string"), _init_keys("field"), PARENT),
    ("holtWinters", sig("string", "int", "int", "duration"), _init_hw(False), BATCH),
    ("holtWintersWithFit", sig("string", "int", "int", "duration"), _init_hw(True), BATCH),
]

INFLUXQL_KINDS = tuple(kind for kind, *_ in _INFLUXQL)

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

QUIET = _flag("quiet")


def _validate_dimensions(dims: list[Any], excluded: list[str]) -> str | None:
    from leyden.tick.values import StarValue

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


def _v_from(n: NodeSpec) -> str | None:
    return _validate_dimensions(n.properties.get("groupBy", []), [])


def _v_groupby(n: NodeSpec) -> str | None:
    return _validate_dimensions(n.properties.get("dimensions", []), n.properties.get("exclude", []))


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


def _v_http_post(n: NodeSpec) -> str | None:
    urls = n.properties.get("urls", [])
    endpoints = n.properties.get("endpoints", [])
    if len(urls) >= 2:
        return f"httpPost expects 0 or 1 arguments, got {len(urls)}"
    if len(endpoints) > 1:
        return f"httpPost expects 0 or 1 endpoints, got {len(endpoints)}"
    if not urls and not endpoints:
        return "must provide url or endpoint"
    if urls and endpoints:
        return "only one endpoint and url may be specified"
    if any(k.upper() == "AUTHENTICATE" for k in n.properties.get("headers", {})):
        return "cannot set 'authenticate' header"
    return None


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


def _v_loopback(n: NodeSpec) -> str | None:
    if not n.properties.get("database"):
        return "must specify a database"
    if not n.properties.get("retentionPolicy"):
        return "must specify a retention policy"
    return None


def _v_alert(n: NodeSpec) -> str | None:
    p = n.properties
    if p.get("flapping") and (p["flapLow"] > 1 or p["flapHigh"] > 1):
        return "alert flap thresholds are percentages and should be between 0 and 1"
    for h in n.handlers:
        if h.kind == "post" and any(
            k.upper() == "AUTHENTICATE" for k in h.properties.get("headers", {})
        ):
            return "invalid post: cannot set 'authenticate' header"
        if h.kind == "snmpTrap":
            oid = h.properties.get("trapOid", "")
            if not oid:
                return f'invalid SNMP trap "{oid}": you must supply a trap Oid'
            for d in h.properties.get("data", []):
                if d["type"] not in ("c", "i", "n", "s", "t"):
                    return (
                        f'invalid SNMP trap "{oid}": unsupported data type "{d["type"]}" '
                        f'for data entry "{d["oid"]}"'
                    )
    return None


def _node(
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
    supported: bool = True,
) -> NodeType:
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
        supported,
    )


_SECOND = Duration(1_000_000_000)
_ZERO = Duration(0)

_INFLUXQL_PROPS = props(
    _field("as", "string"),
    _field("field", "string"),
    _flag("usePointTimes"),
)

_NODE_LIST: list[NodeType] = [
    _node(
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
    _node(
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
    _node(
        "from",
        "from",
        "*pipeline.FromNode",
        NO_ARGS,
        None,
        STREAM,
        STREAM,
        props(
            _method("where", sig("lambda"), set_("where")),  # AND-ed by the builder
            _method("groupBy", sig(variadic="string|star"), set_list("groupBy")),
            _flag("groupByMeasurement"),
            _field("database", "string"),
            _field("retentionPolicy", "string"),
            _field("measurement", "string"),
            _field("truncate", "duration"),
            _field("round", "duration"),
        ),
        chains=CHAIN_CHAINS | {"from"},
        validate=_v_from,
    ),
    _node(
        "query",
        "query",
        "*pipeline.QueryNode",
        sig("string"),
        _init_keys("query"),
        BATCH,
        BATCH,
        props(
            _field("period", "duration"),
            _field("every", "duration"),
            _flag("align"),
            _field("cron", "string"),
            _field("offset", "duration"),
            _flag("alignGroup"),
            _method("groupBy", sig(variadic="string|star|any"), set_list("groupBy")),
            _flag("groupByMeasurement"),
            _field("fill", "any"),
            _field("cluster", "string"),
        ),
    ),
    _node(
        "queryFlux",
        "queryFlux",
        "*pipeline.QueryFluxNode",
        sig("string"),
        _init_keys("query"),
        BATCH,
        BATCH,
        props(
            _field("period", "duration"),
            _field("every", "duration"),
            _flag("align"),
            _field("cron", "string"),
            _field("offset", "duration"),
            _field("cluster", "string"),
            _field("org", "string"),
            _field("orgID", "string"),
        ),
        supported=False,
    ),
    _node(
        "where",
        "where",
        "*pipeline.WhereNode",
        sig("lambda"),
        _init_keys("lambda"),
        PARENT,
        PARENT,
        {},
    ),
    _node(
        "window",
        "window",
        "*pipeline.WindowNode",
        NO_ARGS,
        None,
        STREAM,
        BATCH,
        props(
            _field("period", "duration"),
            _field("every", "duration"),
            _flag("align"),
            _flag("fillPeriod"),
            _field("periodCount", "int"),
            _field("everyCount", "int"),
        ),
        validate=_v_window,
    ),
    _node(
        "groupBy",
        "groupby",
        "*pipeline.GroupByNode",
        sig(variadic="string|star"),
        set_list("dimensions"),
        PARENT,
        PARENT,
        props(
            _method("exclude", sig(variadic="string"), extend("exclude")), _flag("byMeasurement")
        ),
        validate=_v_groupby,
    ),
    _node(
        "eval",
        "eval",
        "*pipeline.EvalNode",
        sig(variadic="lambda"),
        set_list("lambdas"),
        PARENT,
        PARENT,
        props(
            _method("as", sig(variadic="string"), set_list("as")),
            _method("tags", sig(variadic="string"), set_list("tags")),
            _method("keep", sig(variadic="string"), _keep),
        ),
        validate=_v_eval,
    ),
    _node(
        "default",
        "default",
        "*pipeline.DefaultNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            _method("field", sig("string", "any"), put_map("fields")),
            _method("tag", sig("string", "string"), put_map("tags")),
        ),
        validate=_v_default,
    ),
    _node(
        "delete",
        "delete",
        "*pipeline.DeleteNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            _method("field", sig("string"), extend("fields")),
            _method("tag", sig("string"), extend("tags")),
        ),
    ),
    _node(
        "shift",
        "shift",
        "*pipeline.ShiftNode",
        sig("duration"),
        _init_keys("shift"),
        PARENT,
        PARENT,
        {},
    ),
    _node(
        "sample",
        "sample",
        "*pipeline.SampleNode",
        sig("int|duration"),
        _init_sample,
        PARENT,
        PARENT,
        {},
    ),
    _node(
        "derivative",
        "derivative",
        "*pipeline.DerivativeNode",
        sig("string"),
        _init_derivative,
        PARENT,
        PARENT,
        props(_field("as", "string"), _field("unit", "duration"), _flag("nonNegative")),
        defaults={"unit": _SECOND, "nonNegative": False},
    ),
    _node(
        "changeDetect",
        "changeDetect",
        "*pipeline.ChangeDetectNode",
        sig(variadic="string"),
        set_list("fields"),
        PARENT,
        PARENT,
        {},
    ),
    _node(
        "stateDuration",
        "state_duration",
        "*pipeline.StateDurationNode",
        sig("lambda"),
        _init_keys("lambda"),
        PARENT,
        PARENT,
        props(_field("as", "string"), _field("unit", "duration")),
        defaults={"as": "state_duration", "unit": _SECOND},
    ),
    _node(
        "stateCount",
        "state_count",
        "*pipeline.StateCountNode",
        sig("lambda"),
        _init_keys("lambda"),
        PARENT,
        PARENT,
        props(_field("as", "string")),
        defaults={"as": "state_count"},
    ),
    _node(
        "stats",
        "stats",
        "*pipeline.StatsNode",
        sig("duration"),
        _init_keys("interval"),
        STREAM,
        STREAM,
        props(_flag("align")),
    ),
    # ``|deadman()`` is sugar for stats|derivative|alert; this entry only types its arguments.
    _node(
        "deadman",
        "alert",
        "*pipeline.AlertNode",
        sig("float", "duration", variadic="lambda"),
        None,
        PARENT,
        PARENT,
        {},
    ),
    _node("noop", "noop", "*pipeline.NoOpNode", NO_ARGS, None, PARENT, PARENT, {}),
    _node(
        "join",
        "join",
        "*pipeline.JoinNode",
        sig(variadic="node"),
        None,
        PARENT,
        PARENT,
        props(
            _method("as", sig(variadic="string"), set_list("as")),
            _method("on", sig(variadic="string"), set_list("on")),
            _field("delimiter", "string"),
            _field("streamName", "string"),
            _field("tolerance", "duration"),
            _field("fill", "any"),
            _field("deleteAll", "bool"),
        ),
        defaults={"delimiter": "."},
        validate=_v_prefixes("join"),
    ),
    _node(
        "union",
        "union",
        "*pipeline.UnionNode",
        sig(variadic="node"),
        None,
        PARENT,
        PARENT,
        props(_field("rename", "string")),
    ),
    _node(
        "combine",
        "combine",
        "*pipeline.CombineNode",
        sig(variadic="lambda"),
        set_list("lambdas"),
        PARENT,
        STREAM,
        props(
            _method("as", sig(variadic="string"), set_list("as")),
            _field("delimiter", "string"),
            _field("tolerance", "duration"),
            _field("max", "int"),
        ),
        defaults={"delimiter": ".", "max": 1_000_000},
        validate=_v_prefixes("combine"),
    ),
    _node(
        "flatten",
        "flatten",
        "*pipeline.FlattenNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            _method("on", sig(variadic="string"), set_list("on")),
            _field("delimiter", "string"),
            _field("tolerance", "duration"),
            _method("dropOriginalFieldName", sig(variadic="bool", max_args=1), _drop_original),
        ),
        defaults={"delimiter": "."},
    ),
    _node(
        "log",
        "log",
        "*pipeline.LogNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(_field("level", "string"), _field("prefix", "string")),
        defaults={"level": "INFO", "prefix": ""},
    ),
    _node(
        "httpOut",
        "http_out",
        "*pipeline.HTTPOutNode",
        sig("string"),
        _init_keys("endpoint"),
        PARENT,
        PARENT,
        {},
    ),
    _node(
        "httpPost",
        "http_post",
        "*pipeline.HTTPPostNode",
        sig(variadic="string"),
        set_list("urls"),
        PARENT,
        PARENT,
        props(
            _method("endpoint", sig("string"), extend("endpoints")),
            _method("header", sig("string", "string"), put_map("headers")),
            _field("codeField", "string"),
            _flag("captureResponse"),
            _field("timeout", "duration"),
        ),
        validate=_v_http_post,
    ),
    _node(
        "influxDBOut",
        "influxdb_out",
        "*pipeline.InfluxDBOutNode",
        NO_ARGS,
        None,
        PARENT,
        NO_EDGE,
        props(
            _field("cluster", "string"),
            _field("database", "string"),
            _field("retentionPolicy", "string"),
            _field("measurement", "string"),
            _field("writeConsistency", "string"),
            _field("precision", "string"),
            _field("buffer", "int"),
            _field("flushInterval", "duration"),
            _method("tag", sig("string", "string"), put_map("tags")),
            _flag("create"),
        ),
        chains=NODE_CHAINS,
        defaults={"buffer": 1000, "flushInterval": Duration(10_000_000_000)},
    ),
    _node(
        "kapacitorLoopback",
        "kapacitor_loopback",
        "*pipeline.KapacitorLoopbackNode",
        NO_ARGS,
        None,
        PARENT,
        NO_EDGE,
        props(
            _field("database", "string"),
            _field("retentionPolicy", "string"),
            _field("measurement", "string"),
            _method("tag", sig("string", "string"), put_map("tags")),
        ),
        chains=NODE_CHAINS,
        validate=_v_loopback,
        supported=False,
    ),
    _node(
        "barrier",
        "barrier",
        "*pipeline.BarrierNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        # ``.delete(bool)`` is a property and ``|delete()`` a chaining method, as in Kapacitor.
        props(_field("idle", "duration"), _field("period", "duration"), _field("delete", "bool")),
        chains=CHAIN_CHAINS,  # ``delete`` stays a chaining method, as in Kapacitor
        validate=_v_barrier,
    ),
    _node("trickle", "trickle", "*pipeline.TrickleNode", NO_ARGS, None, BATCH, STREAM, {}),
    _node(
        "sideload",
        "sideload",
        "*pipeline.SideloadNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        props(
            _field("source", "string"),
            _method("order", sig(variadic="string"), set_list("order")),
            _method("field", sig("string", "any"), put_map("fields")),
            _method("tag", sig("string", "string"), put_map("tags")),
        ),
    ),
    _node(
        "k8sAutoscale",
        "k8s_autoscale",
        "*pipeline.K8sAutoscaleNode",
        NO_ARGS,
        None,
        PARENT,
        STREAM,
        props(
            *(
                _field(n, "string")
                for n in (
                    "cluster",
                    "namespace",
                    "kind",
                    "resourceName",
                    "resourceNameTag",
                    "currentField",
                    "namespaceTag",
                    "kindTag",
                    "resourceTag",
                )
            ),
            _field("max", "int"),
            _field("min", "int"),
            _field("replicas", "lambda"),
            _field("increaseCooldown", "duration"),
            _field("decreaseCooldown", "duration"),
        ),
        supported=False,
    ),
    _node(
        "swarmAutoscale",
        "swarm_autoscale",
        "*pipeline.SwarmAutoscaleNode",
        NO_ARGS,
        None,
        PARENT,
        STREAM,
        props(
            *(
                _field(n, "string")
                for n in (
                    "cluster",
                    "serviceName",
                    "serviceNameTag",
                    "outputServiceNameTag",
                    "currentField",
                )
            ),
            _field("max", "int"),
            _field("min", "int"),
            _field("replicas", "lambda"),
            _field("increaseCooldown", "duration"),
            _field("decreaseCooldown", "duration"),
        ),
        supported=False,
    ),
    _node(
        "ec2Autoscale",
        "ec2_autoscale",
        "*pipeline.Ec2AutoscaleNode",
        NO_ARGS,
        None,
        PARENT,
        STREAM,
        props(
            *(
                _field(n, "string")
                for n in (
                    "cluster",
                    "groupName",
                    "groupNameTag",
                    "outputGroupNameTag",
                    "currentField",
                )
            ),
            _field("max", "int"),
            _field("min", "int"),
            _field("replicas", "lambda"),
            _field("increaseCooldown", "duration"),
            _field("decreaseCooldown", "duration"),
        ),
        supported=False,
    ),
]

for _kind, _args, _init, _provides in _INFLUXQL:
    _NODE_LIST.append(
        _node(
            _kind,
            "holtWinters" if _kind.startswith("holtWinters") else _kind,
            "*pipeline.InfluxQLNode",
            _args,
            _init,
            PARENT,
            _provides,
            _INFLUXQL_PROPS,
            defaults={
                "as": "holtWinters" if _kind.startswith("holtWinters") else _kind,
                "usePointTimes": _kind.startswith("holtWinters"),
            },
        )
    )

# -- alert and its handlers -------------------------------------------------------------------


DEFAULT_ID_TEMPLATE = "{{ .Name }}:{{ .Group }}"
DEFAULT_MESSAGE_TEMPLATE = "{{ .ID }} is {{ .Level }}"
DEFAULT_DETAILS_TEMPLATE = "{{ json . }}"

ALERT_PROPERTIES = props(
    _field("category", "string"),
    _field("topic", "string"),
    _field("id", "string"),
    _field("message", "string"),
    _field("details", "string"),
    _field("info", "lambda"),
    _field("warn", "lambda"),
    _field("crit", "lambda"),
    _field("infoReset", "lambda"),
    _field("warnReset", "lambda"),
    _field("critReset", "lambda"),
    _method("flapping", sig("float", "float"), _flapping),
    _field("history", "int"),
    _field("levelTag", "string"),
    _field("levelField", "string"),
    _field("messageField", "string"),
    _field("durationField", "string"),
    _field("idTag", "string"),
    _field("idField", "string"),
    _flag("all"),
    _flag("noRecoveries"),
    _method("stateChangesOnly", sig(variadic="duration", max_args=1), _state_changes_only),
    _method("inhibit", sig("string", variadic="string"), _inhibit),
)


@dataclass(frozen=True, slots=True)
class HandlerType:
    """An alert handler created by the property method ``kind`` on an alert (``.discord()``)."""

    kind: str
    go_type: str
    args: Sig
    init: Init | None
    properties: dict[str, PropertySpec]
    supported: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)


def _h(
    kind: str,
    go_type: str,
    args: Sig,
    init: Init | None,
    *specs: PropertySpec,
    supported: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> HandlerType:
    return HandlerType(kind, go_type, args, init, props(*specs), supported, dict(defaults or {}))


def _init_post(p: dict[str, Any], args: list[Any]) -> None:
    if args:
        p["url"] = args[0]


def _strings(*names: str) -> list[PropertySpec]:
    return [_field(n, "string") for n in names]


_HANDLER_LIST: list[HandlerType] = [
    _h(
        "post",
        "*pipeline.AlertHTTPPostHandler",
        sig(variadic="string"),
        _init_post,
        _field("uRL", "string", "url"),
        _field("endpoint", "string"),
        _method("header", sig("string", "string"), put_map("headers")),
        _flag("captureResponse"),
        _field("timeout", "duration"),
        _flag("skipSSLVerification"),
        supported=True,
    ),
    _h(
        "tcp",
        "*pipeline.TcpHandler",
        sig("string"),
        _init_keys("address"),
        _field("address", "string"),
        supported=True,
    ),
    _h(
        "log",
        "*pipeline.LogHandler",
        sig("string"),
        _init_keys("path"),
        _field("filePath", "string", "path"),
        _field("mode", "int"),
        supported=True,
    ),
    _h(
        "exec",
        "*pipeline.ExecHandler",
        sig("string", variadic="string"),
        set_list("command"),
        _method("command", sig(variadic="string"), set_list("command")),
        supported=True,
    ),
    _h(
        "discord",
        "*pipeline.DiscordHandler",
        NO_ARGS,
        None,
        *_strings("workspace", "username", "avatarURL", "embedTitle"),
        # Leyden: the documented spelling and the documented timestamp option (compatibility.md).
        _field("avatarUrl", "string", "avatarURL"),
        _field("timestamp", "bool"),
        supported=True,
    ),
    _h(
        "email",
        "*pipeline.EmailHandler",
        sig(variadic="string"),
        set_list("to"),
        _method("to", sig(variadic="string"), extend("to")),
        _method("toTemplates", sig(variadic="string"), extend("toTemplates")),
    ),
    _h("victorOps", "*pipeline.VictorOpsHandler", NO_ARGS, None, *_strings("routingKey")),
    _h("pagerDuty", "*pipeline.PagerDutyHandler", NO_ARGS, None, *_strings("serviceKey")),
    _h(
        "pagerDuty2",
        "*pipeline.PagerDuty2Handler",
        NO_ARGS,
        None,
        _field("routingKey", "string"),
        _method("serviceKey", sig("string"), set_("routingKey")),
        _method("link", sig("string", variadic="string", max_args=2), _pd2_link),
    ),
    _h(
        "pushover",
        "*pipeline.PushoverHandler",
        NO_ARGS,
        None,
        *_strings("userKey", "device", "title", "uRL", "uRLTitle", "sound"),
    ),
    _h(
        "sensu",
        "*pipeline.SensuHandler",
        NO_ARGS,
        None,
        _field("source", "string"),
        _method("handlers", sig(variadic="string"), set_list("handlers")),
        _method("metadata", sig("string", "any"), put_map("metadata")),
    ),
    _h(
        "slack",
        "*pipeline.SlackHandler",
        NO_ARGS,
        None,
        *_strings("workspace", "channel", "username", "iconEmoji"),
    ),
    _h(
        "bigPanda",
        "*pipeline.BigPandaHandler",
        NO_ARGS,
        None,
        *_strings("appKey", "host", "primaryProperty", "secondaryProperty"),
        _method("attribute", sig("string", "any"), put_map("attributes")),
    ),
    _h(
        "telegram",
        "*pipeline.TelegramHandler",
        NO_ARGS,
        None,
        *_strings("chatId", "parseMode"),
        _flag("disableWebPagePreview"),
        _flag("disableNotification"),
    ),
    _h("hipChat", "*pipeline.HipChatHandler", NO_ARGS, None, *_strings("room", "token")),
    _h(
        "alerta",
        "*pipeline.AlertaHandler",
        NO_ARGS,
        None,
        *_strings("token", "resource", "event", "environment", "group", "value", "origin"),
        _method("services", sig(variadic="string"), set_list("services")),
        _method("correlated", sig(variadic="string"), set_list("correlated")),
        _method("attribute", sig("string", "any"), put_map("attributes")),
        _field("timeout", "duration"),
    ),
    _h(
        "opsGenie",
        "*pipeline.OpsGenieHandler",
        NO_ARGS,
        None,
        _method("teams", sig(variadic="string"), set_list("teams")),
        _method("recipients", sig(variadic="string"), set_list("recipients")),
    ),
    _h(
        "opsGenie2",
        "*pipeline.OpsGenie2Handler",
        NO_ARGS,
        None,
        _method("teams", sig(variadic="string"), set_list("teams")),
        _method("recipients", sig(variadic="string"), set_list("recipients")),
        _method("recoveryAction", sig("string"), set_("recoveryAction")),
        _flag("details"),
    ),
    _h("talk", "*pipeline.TalkHandler", NO_ARGS, None),
    _h(
        "mqtt",
        "*pipeline.MQTTHandler",
        sig("string"),
        _init_keys("topic"),
        *_strings("brokerName", "topic"),
        _field("qos", "int"),
        _field("retained", "bool"),
    ),
    _h(
        "snmpTrap",
        "*pipeline.SNMPTrapHandler",
        sig("string"),
        _init_keys("trapOid"),
        _field("trapOid", "string"),
        _method("data", sig("string", "string", "string"), _snmp_data),
    ),
    _h(
        "kafka",
        "*pipeline.KafkaHandler",
        NO_ARGS,
        None,
        *_strings("cluster", "kafkaTopic", "partitionHashAlgorithm", "template"),
        _flag("disablePartitionById"),
    ),
    _h("teams", "*pipeline.TeamsHandler", NO_ARGS, None, *_strings("channelURL")),
    _h(
        "serviceNow",
        "*pipeline.ServiceNowHandler",
        NO_ARGS,
        None,
        *_strings(
            "uRL",
            "username",
            "password",
            "source",
            "node",
            "type",
            "resource",
            "metricName",
            "messageKey",
        ),
        _method("additionalInfo", sig("string", "any"), put_map("additionalInfo")),
    ),
    _h(
        "zenoss",
        "*pipeline.ZenossHandler",
        NO_ARGS,
        None,
        *_strings(
            "uRL",
            "username",
            "password",
            "action",
            "method",
            "type",
            "collector",
            "summary",
            "device",
            "component",
            "eventClassKey",
            "eventClass",
            "message",
        ),
        _field("tid", "int"),
        _method("customField", sig("string", "any"), put_map("customFields")),
        defaults={"summary": "{{ .Message }}"},
    ),
]

HANDLER_TYPES: dict[str, HandlerType] = {capitalize_first(h.kind): h for h in _HANDLER_LIST}

_NODE_LIST.append(
    _node(
        "alert",
        "alert",
        "*pipeline.AlertNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        ALERT_PROPERTIES,
        defaults={
            "id": DEFAULT_ID_TEMPLATE,
            "message": DEFAULT_MESSAGE_TEMPLATE,
            "details": DEFAULT_DETAILS_TEMPLATE,
            "history": 21,
        },
        validate=_v_alert,
    )
)

# A UDF (``@name()``) has options only its agent knows; any property is accepted and recorded.
UDF_TYPE = _node(
    "udf",
    "udf",
    "*pipeline.UDFNode",
    sig(variadic="any"),
    set_list("args"),
    PARENT,
    PARENT,
    {},
    supported=False,
)

NODE_TYPES: dict[str, NodeType] = {capitalize_first(t.kind): t for t in _NODE_LIST}


def node_type(kind: str) -> NodeType:
    return NODE_TYPES[capitalize_first(kind)]


# -- the graph --------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class HandlerSpec:
    """One alert handler (``.discord()``, ``.post(url)`` …) and the options set on it."""

    kind: str
    properties: dict[str, Any]
    pos: Position | None
    supported: bool
    node: NodeSpec  # the alert node it belongs to

    @property
    def type(self) -> HandlerType:
        return HANDLER_TYPES[capitalize_first(self.kind)]


@dataclass(slots=True, eq=False)
class NodeSpec:
    """One node of a task's graph: what kind, where in the script, and its typed settings.

    Values in ``properties`` are Python values: ``int``/``float``/``str``/``bool``, durations as
    :class:`leyden.go.types.Duration` (int nanoseconds), lambdas as the (identifier-resolved)
    :class:`leyden.tick.ast.LambdaNode`, ``*`` as :data:`leyden.tick.values.STAR`, lists, dicts.
    """

    kind: str
    id: int
    desc: str
    wants: str
    provides: str
    pos: Position | None
    supported: bool = True
    properties: dict[str, Any] = field(default_factory=dict)
    handlers: list[HandlerSpec] = field(default_factory=list)
    parents: list[NodeSpec] = field(default_factory=list)
    children: list[NodeSpec] = field(default_factory=list)
    udf_name: str = ""

    @property
    def name(self) -> str:
        return f"{self.desc}{self.id}"

    @property
    def type(self) -> NodeType:
        return UDF_TYPE if self.kind == "udf" else node_type(self.kind)

    @property
    def go_type(self) -> str:
        return self.type.go_type

    def __repr__(self) -> str:
        return f"<NodeSpec {self.name}>"


@dataclass(frozen=True, slots=True)
class TimeDimension:
    """``time(10s[, offset])`` in a batch query's ``.groupBy()``: a GROUP BY time() interval."""

    interval: Duration
    offset: Duration = _ZERO


@dataclass(frozen=True, slots=True)
class TickWarning:
    """A script that builds but probably does not do what its author meant."""

    message: str
    filename: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: warning: {self.message}"


@dataclass(frozen=True, slots=True)
class UnsupportedUse:
    """A node or handler Leyden accepts in a script but cannot run (yet)."""

    what: str  # "sideload", "udf movingAverage", "handler slack"
    node: str  # the node's name, e.g. "alert4"
    pos: Position | None

    def __str__(self) -> str:
        where = f" at line {self.pos.line} char {self.pos.col}" if self.pos else ""
        return f"{self.what} ({self.node}){where}"


@dataclass(frozen=True, slots=True)
class Var:
    """A script var as Kapacitor reports it for templates: type name and value (None if unset)."""

    type: str
    value: Any
    description: str = ""


@dataclass(slots=True, eq=False)
class Pipeline:
    nodes: list[NodeSpec] = field(default_factory=list)  # creation (= id) order
    sources: list[NodeSpec] = field(default_factory=list)
    task_type: str | None = None  # "stream" | "batch" | None for a script with no source
    dbrps: list[tuple[str, str]] = field(default_factory=list)
    vars: dict[str, Var] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)
    warnings: list[TickWarning] = field(default_factory=list)

    def walk(self) -> Iterator[NodeSpec]:
        """Nodes in Kapacitor's topological order (parents before children, sources' order)."""
        order: list[NodeSpec] = []
        done: set[int] = set()
        active: set[int] = set()

        def visit(n: NodeSpec) -> None:
            if id(n) in active:
                raise ValueError("pipeline contains a cycle")
            if id(n) in done:
                return
            active.add(id(n))
            for c in n.children:
                visit(c)
            active.discard(id(n))
            done.add(id(n))
            order.append(n)

        for src in reversed(self.sources):
            visit(src)
        return iter(reversed(order))

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def unsupported(self) -> list[UnsupportedUse]:
        out: list[UnsupportedUse] = []
        for n in self.nodes:
            if not n.supported:
                what = f"udf {n.udf_name}" if n.kind == "udf" else n.kind
                out.append(UnsupportedUse(what, n.name, n.pos))
            for h in n.handlers:
                if not h.supported:
                    out.append(UnsupportedUse(f"handler {h.kind}", n.name, h.pos))
        return out
