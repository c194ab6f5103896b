"""Every node type the language knows, by Kapacitor's method lookup key, from the family tables.

This is the whole vocabulary of chaining methods (what ``|name()`` may create); the handler types
are :data:`leyden.tick.pipeline.handlers.HANDLER_TYPES`. What this server can *run* is not here:
the runtime's registries say that (:meth:`leyden.tick.pipeline.Pipeline.unsupported`).
"""

from __future__ import annotations

from leyden.tick.pipeline import alert, influxql, outputs, sources, transforms
from leyden.tick.pipeline._sig import NodeType, capitalize_first
from leyden.tick.pipeline.graph import NodeSpec
from leyden.tick.pipeline.transforms import UDF_TYPE

__all__ = ["NODE_TYPES", "node_type", "type_of"]

NODE_TYPES: dict[str, NodeType] = {
    capitalize_first(t.kind): t
    for family in (sources, transforms, influxql, outputs, alert)
    for t in family.TYPES
}


def node_type(kind: str) -> NodeType:
    """The type a chaining method creates (``window`` or ``Window``); KeyError if none."""
    return NODE_TYPES[capitalize_first(kind)]


def type_of(spec: NodeSpec) -> NodeType:
    """The type of a built node; a UDF (``@name()``) has its own catch-all type."""
    return UDF_TYPE if spec.kind == "udf" else node_type(spec.kind)
