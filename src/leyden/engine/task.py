"""A running task: the runtime nodes of one pipeline, wired as the script declared them."""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any

import leyden.engine.nodes  # noqa: F401  (imported for its registrations: NODE_CLASSES complete)
from leyden.engine.fused import SourceChain, compile_source_chain
from leyden.engine.model import Point
from leyden.engine.node import (
    NODE_CLASSES,
    MultiParentNode,
    Node,
    ParentEdge,
    Receiver,
    TaskContext,
    TaskError,
)
from leyden.engine.router import Router
from leyden.lineprotocol import WirePoint
from leyden.tick.pipeline import Pipeline

log = logging.getLogger("leyden.task")


#: one written point in this many is followed through the graph to time the nodes
SAMPLE_EVERY = 256
#: and one emitted batch or ``stats()`` tick in this many (the first included), with what is
#: below it: a followed batch costs the profile hook on every call inside it (a 100-point
#: ``count`` batch about ten times its own time), so one in 32 slowed a windowed task by 6%
BATCH_SAMPLE_EVERY = 256
_NODE_ENTRIES = frozenset(
    {"point", "batch", "point_from", "batch_from", "_emit_batches", "emit_stats"}
)


class ExecTimes:
    """Kapacitor's ``avg_exec_time_ns``: a node's own time per message, children excluded.

    Timing every hop would cost more than many nodes take, so one point in ``SAMPLE_EVERY`` is
    followed through the graph with a profile hook: it sees each node's ``point``/``batch`` call
    and return, and a node's own time is its call's time less its children's calls.  A node
    below a window would rarely (with a steady period, never) see a sampled point, since few
    points close a window: so one batch in ``BATCH_SAMPLE_EVERY`` that a node emits (a window's,
    a query's) is followed the same way (:meth:`Node.emit_batch`), which also times a batch
    task, whose data is all batches; and so is a ``stats()`` node's tick (what ``deadman()``
    alerts on), which no written point leads to.
    """

    def __init__(self, nodes: Iterable[Node]) -> None:
        self._names = {id(n): n.name for n in nodes}
        self.total_ns: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)

    @staticmethod
    def due(n: int) -> bool:
        """Whether to follow the ``n``-th batch a node emits (or tick, or query run): the
        first and one in ``BATCH_SAMPLE_EVERY``, counted per node so that every branch of a
        task gets its turn (a task-wide count lands on the same branch when windows take
        turns); not while a sample runs already, nor under another profiler such as
        cProfile, which must not be replaced."""
        return n % BATCH_SAMPLE_EVERY == 1 and sys.getprofile() is None

    def avg_ns(self, name: str) -> int:
        calls = self.calls.get(name, 0)
        return self.total_ns[name] // calls if calls else 0

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        """``fn(*args)`` with every node call below it timed."""
        names, total, calls, clock = self._names, self.total_ns, self.calls, time.perf_counter_ns
        stack: list[list[Any]] = []  # [node name, start, children's time, frame]

        def hook(frame: FrameType, event: str, _arg: Any) -> None:
            if event == "call":
                if frame.f_code.co_name not in _NODE_ENTRIES:
                    return
                name = names.get(id(frame.f_locals.get("self")))
                # a node calling its base class's point() is still the same message
                if name is not None and not (stack and stack[-1][0] == name):
                    stack.append([name, clock(), 0, frame])
            elif event == "return" and stack and stack[-1][3] is frame:
                name, start, children, _ = stack.pop()
                elapsed = clock() - start
                total[name] += elapsed - children
                calls[name] += 1
                if stack:
                    stack[-1][2] += elapsed

        sys.setprofile(hook)
        try:
            fn(*args)
        finally:
            sys.setprofile(None)


class Task:
    """The nodes of one task; ``receive`` is the router's entry into its stream source."""

    def __init__(
        self,
        name: str,
        pipeline: Pipeline,
        ctx: TaskContext,
        dbrps: Iterable[tuple[str, str]],
        *,
        fused: bool = True,
    ) -> None:
        self.name = name
        self.pipeline = pipeline
        self.ctx = ctx
        self.dbrps = list(dbrps)
        self.nodes: dict[str, Node] = {}
        missing = sorted({s.kind for s in pipeline.nodes if s.kind not in NODE_CLASSES})
        if missing:
            raise TaskError(f"task {name}: not supported by this server yet: {', '.join(missing)}")
        for spec in pipeline.walk():
            self.nodes[spec.name] = NODE_CLASSES[spec.kind](spec, ctx)
        for spec in pipeline.nodes:
            self.nodes[spec.name].children = self._edges(spec)
        self._streams = [self.nodes[s.name] for s in pipeline.sources if s.kind == "stream"]
        #: a batch task's ``query()`` nodes in Kapacitor's pipeline walk order (the order of its
        #: batch collectors, which its replayer feeds file 0, 1 …); what feeds them (the query
        #: scheduler, ``leyden replay``) calls their ``emit_batches``
        self.query_nodes = [self.nodes[s.name] for s in pipeline.walk() if s.kind == "query"]
        self.exec_times = ExecTimes(self.nodes.values())
        for node in self.nodes.values():
            node.sampler = self.exec_times
        self._received = 0
        #: points a node failed on with an unexpected exception (a bug, logged)
        self.failures = 0
        #: run the source chain as generated code (:mod:`leyden.engine.fused`); False keeps
        #: node by node, the reference the generated code is tested against
        self._chain: SourceChain | None = None
        if fused and len(self._streams) == 1:
            self._chain = compile_source_chain(self._streams[0])
        #: an alert node inhibits other tasks' alerts: the router keeps this task in point-major
        #: order with the others within a write (an inhibitor acts from the point that raised it)
        self.point_major = any(
            spec.kind == "alert" and spec.properties.get("inhibitors") for spec in pipeline.nodes
        )

    def _edges(self, spec: Any) -> list[Receiver]:
        """The children of ``spec``'s node; a multi-parent child gets an edge naming the parent.

        A parent linked twice to the same child (``a|join(a)``) is, in order, each of its
        positions in the child's parent list.
        """
        edges: list[Receiver] = []
        seen: dict[str, int] = {}
        for c in spec.children:
            child = self.nodes[c.name]
            if not isinstance(child, MultiParentNode):
                edges.append(child)
                continue
            positions = [i for i, parent in enumerate(c.parents) if parent is spec]
            k = seen.get(c.name, 0)
            seen[c.name] = k + 1
            edges.append(ParentEdge(child, positions[k] if k < len(positions) else 0))
        return edges

    def measurements(self) -> set[str | None]:
        """What the router must send: the from() measurements; None when one reads them all."""
        wanted: set[str | None] = set()
        for spec in self.pipeline.nodes:
            if spec.kind == "from":
                wanted.add(spec.properties.get("measurement") or None)
        return wanted or {None}

    def start(self, router: Router) -> None:
        # Clock-driven nodes (stats) attach to the nodes they watch and start their timers.
        for node in self.nodes.values():
            start = getattr(node, "start", None)
            if callable(start):
                start(self.nodes)
        if self._chain is not None:  # started nodes may have added children (stats)
            self._chain = compile_source_chain(self._streams[0])
        if self._streams:  # a batch task reads no written point: its queries feed it
            router.subscribe(self, self.dbrps or None, self.measurements())

    def receive(self, db: str, rp: str, point: WirePoint) -> None:
        self.receive_point(Point(point.name, point.tags, point.fields, point.time, db=db, rp=rp))

    def receive_points(self, points: Sequence[Point], memo: dict[Any, Any] | None = None) -> None:
        """The router's entry: the points of one write routed to this task, in order.

        The points may be shared with other tasks (nodes never modify them), and so is ``memo``
        (a dict per write), through which tasks grouping alike share grouped points.  A bug in
        a node must cost that point, not the write request or the other tasks.  One point in
        ``SAMPLE_EVERY`` goes node by node under :class:`ExecTimes`, the others through the
        generated source chain.
        """
        if self._chain is None:
            if not self._streams:  # a batch task reads no written point
                return
            for p in points:
                self.receive_point(p)
            return
        if memo is None:
            memo = {}
        n = len(points)
        seen = self._received
        self._received = seen + n
        # the index of the task's next SAMPLE_EVERY-th point
        sample = SAMPLE_EVERY - 1 - seen % SAMPLE_EVERY
        if sample >= n or sys.getprofile() is not None:
            self._run_chain(points, memo)
            return
        start = 0
        while sample < n:
            if sample > start:
                self._run_chain(points[start:sample], memo)
            try:
                self.exec_times.call(self._push, points[sample])
            except Exception as exc:
                self._failed(exc)
            start = sample + 1
            sample += SAMPLE_EVERY
        if start < n:
            self._run_chain(points[start:], memo)

    def _run_chain(self, points: Sequence[Point], memo: dict[Any, Any]) -> None:
        """Run ``points`` through the chain, compiled again if the wiring changed since."""
        chain = self._chain
        if chain is not None and chain(points, memo, self._failed):
            return
        chain = self._chain = compile_source_chain(self._streams[0])
        if chain is not None and chain(points, memo, self._failed):
            return
        self._chain = None
        for p in points:
            try:
                self._push(p)
            except Exception as exc:
                self._failed(exc)

    @property
    def fused(self) -> bool:
        """Whether the source chain runs as generated code (:mod:`leyden.engine.fused`)."""
        return self._chain is not None

    def receive_point(self, p: Point) -> None:
        """One point, node by node (for one point, cheaper than the generated chain's set-up);
        the router's entry when a write must stay in point-major order (``point_major``)."""
        self._received += 1
        try:
            # (a profiler already installed, e.g. cProfile, must not be replaced)
            if self._received % SAMPLE_EVERY == 0 and sys.getprofile() is None:
                self.exec_times.call(self._push, p)
            else:
                for stream in self._streams:
                    stream.point(p)
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.failures & (self.failures - 1) == 0:  # the 1st, 2nd, 4th, 8th … failure
            log.error(
                "task failed on a point; the point was dropped",
                exc_info=self.failures == 1,
                extra={
                    "fields": {
                        "task": self.name,
                        "failures": self.failures,
                        "err": f"{type(exc).__name__}: {exc}",
                    }
                },
            )

    def _push(self, p: Point) -> None:
        for stream in self._streams:
            stream.point(p)

    def stop(self, router: Router | None = None) -> None:
        if router is not None:
            router.unsubscribe(self)
        for node in self.nodes.values():
            node.stop()

    async def drain(self) -> None:
        """Wait for work nodes handed off (httpPost requests), parents before children.

        A node that forwards only once its work is done (``httpPost().codeField()``) feeds its
        children while it drains, so draining in pipeline order leaves nothing behind.  Call it
        before ``stop()`` and again after (``stop()`` flushes joins, which may post more).
        """
        for node in self.nodes.values():
            await node.drain()

    def http_out(self) -> dict[str, Any]:
        """Every httpOut endpoint's current ``models.Result``, by endpoint name."""
        out: dict[str, Any] = {}
        for node in self.nodes.values():
            result = getattr(node, "http_result", None)
            endpoint = getattr(node, "endpoint", None)
            if callable(result) and endpoint is not None:
                out[endpoint] = result()
        return out
