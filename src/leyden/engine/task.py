"""A running task: the runtime nodes of one pipeline, wired as the script declared them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leyden import lineprotocol
from leyden.engine.model import Point
from leyden.engine.node import NODE_TYPES, Node, TaskContext
from leyden.engine.router import Engine
from leyden.tick.pipeline import Pipeline


class TaskError(Exception):
    """The task cannot start (for example a node kind this server does not run yet)."""


# Node modules register their kinds on import.
def _load_node_modules() -> None:
    import importlib
    import pkgutil

    import leyden.engine.nodes as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


class Task:
    """The nodes of one task; ``receive`` is the router's entry into its stream source."""

    def __init__(
        self, name: str, pipeline: Pipeline, ctx: TaskContext, dbrps: Iterable[tuple[str, str]]
    ) -> None:
        _load_node_modules()
        self.name = name
        self.pipeline = pipeline
        self.ctx = ctx
        self.dbrps = list(dbrps)
        self.nodes: dict[str, Node] = {}
        missing = sorted({s.kind for s in pipeline.nodes if s.kind not in NODE_TYPES})
        if missing:
            raise TaskError(f"task {name}: not supported by this server yet: {', '.join(missing)}")
        for spec in pipeline.walk():
            self.nodes[spec.name] = NODE_TYPES[spec.kind](spec, ctx)
        for spec in pipeline.nodes:
            node = self.nodes[spec.name]
            node.children = [self.nodes[c.name] for c in spec.children]
        self._streams = [self.nodes[s.name] for s in pipeline.sources if s.kind == "stream"]

    def measurements(self) -> set[str | None]:
        """What the router must send: the from() measurements; None when one reads them all."""
        wanted: set[str | None] = set()
        for spec in self.pipeline.nodes:
            if spec.kind == "from":
                wanted.add(spec.properties.get("measurement") or None)
        return wanted or {None}

    def start(self, engine: Engine) -> None:
        engine.subscribe(self, self.dbrps, self.measurements())

    def receive(self, db: str, rp: str, point: lineprotocol.Point) -> None:
        p = Point(point.name, point.tags, point.fields, point.time, db=db, rp=rp)
        for stream in self._streams:
            stream.point(p)

    def stop(self, engine: Engine | None = None) -> None:
        if engine is not None:
            engine.unsubscribe(self)
        for node in self.nodes.values():
            node.stop()

    def http_out(self) -> dict[str, Any]:
        """Every httpOut endpoint's current ``models.Result``, by endpoint name."""
        out: dict[str, Any] = {}
        for node in self.nodes.values():
            result = getattr(node, "http_result", None)
            endpoint = getattr(node, "endpoint", None)
            if callable(result) and endpoint is not None:
                out[endpoint] = result()
        return out
