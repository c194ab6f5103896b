"""What a TICKscript declares: the pipeline graph, its node and handler specs, and its warnings.

This is the data :func:`leyden.tick.builder.build_pipeline` produces and the runtime consumes
(Kapacitor's ``pipeline.Pipeline`` and its nodes, ``pipeline/pipeline.go`` and ``node.go``). It
knows no node kind: what each kind may be called with is in the family tables beside this module,
and what this server can run is in the runtime's registries (see :meth:`Pipeline.unsupported`).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from typing import Any

from leyden.go.types import Duration
from leyden.tick.ast import Position

__all__ = [
    "BATCH",
    "NO_EDGE",
    "PARENT",
    "STREAM",
    "HandlerSpec",
    "NodeSpec",
    "Pipeline",
    "TickWarning",
    "TimeDimension",
    "UnsupportedUse",
    "Var",
]

# Edge types: what a node wants from its parent and provides to its children.
STREAM = "stream"
BATCH = "batch"
NO_EDGE = "none"
PARENT = "parent"  # in a node type: the edge type is taken from the parent's output

_ZERO = Duration(0)


@dataclass(slots=True, eq=False)
class HandlerSpec:
    """One alert handler (``.discord()``, ``.post(url)`` …) and the options set on it."""

    kind: str
    properties: dict[str, Any]
    pos: Position | None
    node: NodeSpec  # the alert node it belongs to


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
    properties: dict[str, Any] = field(default_factory=dict)
    handlers: list[HandlerSpec] = field(default_factory=list)
    parents: list[NodeSpec] = field(default_factory=list)
    children: list[NodeSpec] = field(default_factory=list)
    udf_name: str = ""

    @property
    def name(self) -> str:
        return f"{self.desc}{self.id}"

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


#: how an unsupported node kind is named when that says more than its kind
_WHAT = {"queryFlux": "Flux queries (queryFlux)"}


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
    """A built script: its nodes, sources, vars and warnings (Kapacitor's ``pipeline.Pipeline``)."""

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

        # depth-first, children before their parent, with a stack of its own: a pipeline may
        # be a thousand nodes deep (Python's recursion would stop near that)
        for src in reversed(self.sources):
            if id(src) in done:
                continue
            active.add(id(src))
            stack: list[tuple[NodeSpec, Iterator[NodeSpec]]] = [(src, iter(src.children))]
            while stack:
                n, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    active.discard(id(n))
                    done.add(id(n))
                    order.append(n)
                elif id(child) in active:
                    raise ValueError("pipeline contains a cycle")
                elif id(child) not in done:
                    active.add(id(child))
                    stack.append((child, iter(child.children)))
        return iter(reversed(order))

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def unsupported(
        self, node_kinds: Container[str], handler_kinds: Container[str]
    ) -> list[UnsupportedUse]:
        """What this pipeline uses that a runtime running ``node_kinds`` and ``handler_kinds``
        cannot run, in node order (each node, then its handlers).

        The language only knows what a script may say; what this server can run is known by the
        runtime's registries (the engine's node classes, the alert service's handler kinds),
        which the caller hands in, so the answer is stated in one place. Kapacitor has no such
        split: it runs every node it parses.
        """
        out: list[UnsupportedUse] = []
        for n in self.nodes:
            if n.kind not in node_kinds:
                what = f"udf {n.udf_name}" if n.kind == "udf" else _WHAT.get(n.kind, n.kind)
                out.append(UnsupportedUse(what, n.name, n.pos))
            for h in n.handlers:
                if h.kind not in handler_kinds:
                    out.append(UnsupportedUse(f"handler {h.kind}", n.name, h.pos))
        return out
