"""The InfluxQL nodes: one node type per InfluxQL chaining method (``|mean(f)``, ``|top(n, f)`` …).

Kapacitor's ``pipeline/influxql.go``: every InfluxQL method creates an ``InfluxQLNode`` named after
the function (``holtWinters`` for both Holt-Winters methods), with the same three properties. The
methods' arguments and output edges are declared with the other chaining methods, in
:mod:`leyden.tick.pipeline.chains`, as Kapacitor declares them in ``node.go``.
"""

from __future__ import annotations

from leyden.tick.pipeline._sig import Init, NodeType, Sig, field, flag, props
from leyden.tick.pipeline.chains import INFLUXQL_METHODS, node
from leyden.tick.pipeline.graph import PARENT

__all__ = ["TYPES"]

_PROPERTIES = props(
    field("as", "string"),
    field("field", "string"),
    flag("usePointTimes"),
)


def _influxql(kind: str, args: Sig, init: Init, provides: str) -> NodeType:
    name = "holtWinters" if kind.startswith("holtWinters") else kind
    return node(
        kind,
        name,
        "*pipeline.InfluxQLNode",
        args,
        init,
        PARENT,
        provides,
        _PROPERTIES,
        defaults={"as": name, "usePointTimes": kind.startswith("holtWinters")},
    )


TYPES: tuple[NodeType, ...] = tuple(_influxql(*m) for m in INFLUXQL_METHODS)
