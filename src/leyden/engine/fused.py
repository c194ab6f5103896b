"""A task's source chain (``stream`` → ``from()`` → …), compiled into one generated function.

Node by node, every point of every task pays a method call and a statistics increment per hop,
``from()`` re-tests what the router already decided and, when grouping, builds a new ``Point``
and its group ID for every task.  Here the whole source chain of one task becomes a single
Python loop over the points the router hands the task in one write:

* the ``from()`` filters (database, retention policy, measurement) are plain comparisons with
  the settings as constants, and the ``where`` lambda is called once per point;
* truncate/round and the group are applied, and the grouped point is taken from a per-write
  *memo* (a dict the router makes empty for each write) shared by every task of the write:
  tasks that group the same way (same dimensions, truncation and rounding) hand the same
  ``Point`` object downstream (points are immutable, :mod:`leyden.engine.model`), and tasks
  whose dimensions match share the group ID string;
* a plain ``where()`` or ``eval()`` that is its parent's only child runs inline too (its
  per-group lambda state stays in the node), and so on down a linear chain of them;
* each surviving point goes to the ``point()`` of the last inlined node's children, in order;
* the statistics Kapacitor shows (collected/emitted/errors per node) are counted in locals and
  added once per call, to the same totals node by node would reach (a ``from()`` after the
  first counts its own points: a node below an earlier sibling may raise on one).

The generated function keeps Kapacitor's per-task order (a point reaches every ``from()`` of the
task before the next point enters), and a node that raises costs only that point, as in
:meth:`leyden.engine.task.Task.receive_point`.  Nodes the chain does not cover (windows,
alerts …) still run node by node; :func:`compile_source_chain` returns ``None`` for a
source it cannot compile (the task then runs node by node), and the node-by-node path remains
the reference the generated one is tested against (``tests/engine/test_fused.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from types import CodeType
from typing import Any

from leyden.engine.model import NIL_GROUP, NO_DIMENSIONS, Dimensions, Point, group_id
from leyden.engine.node import Node
from leyden.engine.nodes.alert import AlertNode, Threshold
from leyden.engine.nodes.source import FromNode, StreamNode
from leyden.engine.nodes.transform import EvalNode, WhereNode
from leyden.go import time as gotime

#: the generated loop: (points of one write for this task, the write's memo, failure handler);
#: it returns False, having done nothing, when the nodes' children changed since it was compiled
SourceChain = Callable[[Sequence[Point], dict[Any, Any], Callable[[Exception], None]], bool]


def _group(p: Point, dims: Dimensions, all_tags: bool) -> tuple[Dimensions, str]:
    """``from()``'s dimensions and group for ``p`` (:class:`FromNode` does the same inline)."""
    if all_tags:
        dims = Dimensions(dims.by_name, tuple(sorted(p.tags)))
        return dims, group_id(p.name, p.tags, dims)
    if dims.tag_names:
        return dims, group_id(p.name, p.tags, dims)
    return dims, (p.name if dims.by_name else NIL_GROUP)


def fusable(stream: Node) -> bool:
    """Whether ``stream``'s chain can be compiled: a plain stream whose children are ``from()``s.

    A subclass of either node may behave differently, so only the exact classes qualify.
    """
    return type(stream) is StreamNode and all(type(c) is FromNode for c in stream.children)


def compile_source_chain(stream: Node) -> SourceChain | None:
    """The generated loop for ``stream`` and its ``from()`` children, or None if not fusable.

    The children's ``point`` methods are looked up once per call (not when compiling), so a
    child replaced or wrapped after the task was built is still the one called; the *number*
    of children is compiled in: the function returns False when it changed (a ``stats`` node
    adds a child to the node it watches when it starts), and must be compiled again.
    """
    if not fusable(stream):
        return None
    gen = _Gen(stream)
    for i, f in enumerate(stream.children):
        assert isinstance(f, FromNode)
        gen.from_node(f, first=i == 0)
    src = gen.source()
    # Tasks built from one script generate the same text (settings are in the namespace): compile
    # it once.
    code = _compile(src)
    namespace = dict(gen.consts)
    exec(code, namespace)
    run: SourceChain = namespace["_run"]
    return run


@functools.lru_cache(maxsize=512)
def _compile(src: str) -> CodeType:
    """The code of a generated source; bounded, since numbers written into the source
    (truncate, round, thresholds) make every redefinition with new ones a new text."""
    return compile(src + "\n", "<source chain>", "exec")


_NO_STATES: dict[str, Any] = {}


def _seam(
    node: Node, compiled: AlertNode
) -> tuple[dict[str, Any], Callable[[int, Any, Any], bool] | None, Node]:
    """An ``alert()`` child's quiet seam for one call, with the node; when there is none (or
    the child is no longer the node compiled in), an empty mapping of states, so that every
    point goes to the child's ``point()``."""
    seam = node.quiet_seam() if node is compiled else None
    if seam is None:
        return _NO_STATES, None, node
    return seam[0], seam[1], node


_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _folded(thresholds: Sequence[Threshold]) -> list[tuple[str, str, int | float]]:
    """The thresholds as ``field op number`` comparisons (the field on the left), any of
    which holding means any of the originals holds, with one comparison per field and
    ordering operator: ``v > 90 or v > 95`` is ``v > 90`` (Python compares ints and floats
    exactly, so the least bound decides); a NaN bound never holds and is dropped.  ``==`` and
    ``!=`` are kept as they are."""
    bounds: dict[tuple[str, str], int | float] = {}
    kept: list[tuple[str, str, int | float]] = []
    for field, op, number, on_left in thresholds:
        op = op if on_left else _FLIPPED[op]
        if op in ("==", "!="):
            kept.append((field, op, number))
        elif number == number:  # not NaN
            pick = min if op in (">", ">=") else max
            key = (field, op)
            bounds[key] = pick(bounds[key], number) if key in bounds else number
    return kept + [(field, op, number) for (field, op), number in bounds.items()]


class _Gen:
    """Writes the generated function: a head run once per call, the loop body, and a tail
    adding the counted statistics."""

    def __init__(self, stream: Node) -> None:
        self.consts: dict[str, Any] = {
            "_S": stream.stats,
            "_SN": stream,
            "_Point": Point,
            "_NO_DIMENSIONS": NO_DIMENSIONS,
            "_NIL_GROUP": NIL_GROUP,
            "_group": _group,
            "_truncate": gotime.truncate,
            "_round": gotime.round_,
        }
        self.shape = [f"len(_SN.children) != {len(stream.children)}"]
        self.head = ["    n = len(points)", "    _S.collected += n", "    _S.emitted += n"]
        self.body: list[str] = []
        self.tail: list[str] = []
        self.nodes = 0
        #: the measurement every point leaving node k has, when its ``from()`` names one
        self.measurements: dict[int, str] = {}

    def source(self) -> str:
        return "\n".join(
            [
                "def _run(points, memo, failed):",
                f"    if {' or '.join(self.shape)}:",
                "        return False",
                *self.head,
                "    for p in points:",
                "        try:",
                *self.body,
                "        except Exception as exc:",
                "            failed(exc)",
                *self.tail,
                "    return True",
            ]
        )

    def node(self, node: Node) -> int:
        """A number for ``node``: its names in the generated code end with it."""
        k = self.nodes
        self.nodes += 1
        self.consts[f"_N{k}"] = node
        self.consts[f"_NS{k}"] = node.stats
        self.shape.append(f"len(_N{k}.children) != {len(node.children)}")
        return k

    def from_node(self, f: FromNode, *, first: bool) -> None:
        """The lines handling one point in ``f``, at the loop body's indent.

        The first ``from()`` collects every point; a later one misses the points on which a
        node below an earlier one raised, so it counts its own.
        """
        k = self.node(f)
        self.measurements[k] = f.measurement
        ind = " " * 12
        lines = self.body

        def emit(line: str) -> None:
            lines.append(ind + line)

        if first:
            self.head.append(f"    _NS{k}.collected += n")
        else:
            self.head.append(f"    cc{k} = 0")
            self.tail.append(f"    _NS{k}.collected += cc{k}")
            emit(f"cc{k} += 1")

        conds = []
        for attr, setting in (
            ("db", f.database),
            ("rp", f.retention_policy),
            ("name", f.measurement),
        ):
            if setting:
                self.consts[f"_{attr.upper()}{k}"] = setting
                conds.append(f"p.{attr} == _{attr.upper()}{k}")
        if conds:
            emit(f"if {' and '.join(conds)}:")
            ind += "    "
        if f.where is not None:
            self.consts[f"_W{k}"] = f.where.eval_point_bool
            emit("try:")
            emit(f"    keep = _W{k}(p.time, p.fields, p.tags)")
            emit("except Exception as exc:  # an evaluation error drops the point, as in Kapacitor")
            emit(f'    _N{k}.error("failed to evaluate WHERE expression", err=str(exc))')
            emit("    keep = False")
            emit("if keep:")
            ind += "    "
        # Kapacitor's from() replaces the grouping; an ungrouped point with nothing to change is
        # forwarded itself, any other is rebuilt once per write for every task grouping alike.
        self.consts[f"_K{k}"] = ("point", f.dims, f.all_tags, f.truncate, f.round)
        self.consts[f"_GK{k}"] = ("group", f.dims, f.all_tags)
        self.consts[f"_D{k}"] = f.dims
        for key in ("pm", "gm"):
            const = "_K" if key == "pm" else "_GK"
            self.head.append(f"    {key}{k} = memo.get({const}{k})")
            self.head.append(f"    if {key}{k} is None:")
            self.head.append(f"        {key}{k} = memo[{const}{k}] = {{}}")
        if f._passthrough:
            emit("if p.dims is _NO_DIMENSIONS and p.group == _NIL_GROUP:")
            emit("    q = p")
            emit("else:")
            ind += "    "
        emit(f"q = pm{k}.get(p)")
        emit("if q is None:")
        emit(f"    dg = gm{k}.get(p)")
        emit("    if dg is None:")
        emit(f"        dg = gm{k}[p] = _group(p, _D{k}, {f.all_tags!r})")
        emit("    t = p.time")
        if f.truncate:
            emit(f"    t = _truncate(t, {f.truncate!r})")
        if f.round:
            emit(f"    t = _round(t, {f.round!r})")
        emit(f"    q = pm{k}[p] = _Point(p.name, p.tags, p.fields, t, dg[0], dg[1], p.db, p.rp)")
        if f._passthrough:
            ind = ind[:-4]
        self.forward(k, f, ind)

    def forward(self, k: int, node: Node, ind: str) -> None:
        """Count an emit of node ``k`` and hand ``q`` to its children: inline when the only
        child is a plain ``where()`` or ``eval()`` (their per-group lambda state stays in the
        node; a subclass may behave differently, so only the exact classes), else through
        their ``point()``."""
        self.head.append(f"    e{k} = 0")
        self.tail.append(f"    _NS{k}.emitted += e{k}")
        self.body.append(f"{ind}e{k} += 1")
        children = node.children
        if len(children) == 1 and type(children[0]) is WhereNode:
            self.where_node(children[0], k, ind)
            return
        if len(children) == 1 and type(children[0]) is EvalNode:
            self.eval_node(children[0], k, ind)
            return
        for j in range(len(children)):
            self.head.append(f"    c{k}_{j} = _N{k}.children[{j}].point")
            if type(children[j]) is AlertNode:
                self.alert_child(k, j, ind)
            else:
                self.body.append(f"{ind}c{k}_{j}(q)")

    def alert_child(self, k: int, j: int, ind: str) -> None:
        """Hand ``q`` to ``alert()``, child ``j`` of node ``k``, skipping what the node would
        skip at once (:meth:`AlertNode.quiet_seam`): an OK point of a quiet group is counted
        here; any other point, or every point when the node offers no seam (or the child was
        replaced since compiling), goes to its ``point()``.  The test is stateless, so a point
        on which it raises gets the same error when ``point()`` evaluates it again.

        Per point this is as short as it can be made: whether the group is quiet for the
        point's measurement is decided when the group changes (when the ``from()`` names the
        measurement, every point has that name); the thresholds are folded into one
        comparison per field and operator; and when the alert is the node's only child, the
        points it skipped are the node's emits less the ones handed on, so only those are
        counted.
        """
        a = f"{k}_{j}"
        node = self.consts[f"_N{k}"].children[j]
        assert isinstance(node, AlertNode)
        only_child = len(self.consts[f"_N{k}"].children) == 1
        self.consts["_seam"] = _seam
        self.consts[f"_A{a}"] = node
        self.head.append(f"    as{a}, at{a}, an{a} = _seam(_N{k}.children[{j}], _A{a})")
        self.head.append(f"    ac{a} = 0")  # points handed to point(), or skipped
        if only_child:
            self.tail.append(f"    if e{k} != ac{a}:")
            self.tail.append(f"        an{a}.stats.collected += e{k} - ac{a}")
        else:
            self.tail.append(f"    if ac{a}:")
            self.tail.append(f"        an{a}.stats.collected += ac{a}")
        # The group's quietness is decided again when the group ID is another object, or
        # after point() ran (it may have changed the group's state; nothing else changes the
        # states while this loop runs).
        self.head.append(f"    ag{a} = None")
        self.head.append(f"    aok{a} = False")
        name = self.measurements.get(k, "")
        if name:
            self.consts[f"_AM{a}"] = name
        lines = self.body
        lines.append(f"{ind}if q.group is not ag{a}:")
        lines.append(f"{ind}    ag{a} = q.group")
        lines.append(f"{ind}    st = as{a}.get(ag{a})")
        if name:
            lines.append(
                f"{ind}    aok{a} = st is not None and st.quiet and st.quiet_name == _AM{a}"
            )
            lines.append(f"{ind}if aok{a}:")
        else:
            lines.append(
                f"{ind}    aok{a} = st.quiet_name if st is not None and st.quiet else None"
            )
            lines.append(f"{ind}if aok{a} == q.name:")
        if only_child:  # count what is handed on
            hand_on, skipped = [f"ag{a} = None", f"ac{a} += 1", f"c{a}(q)"], []
        else:  # count what is skipped
            hand_on, skipped = [f"ag{a} = None", f"c{a}(q)"], [f"ac{a} += 1"]
        test = [
            "try:",
            f"    fire = at{a}(q.time, q.fields, q.tags)",
            "except Exception:  # point() reports it",
            "    fire = True",
            "if fire:",
            *("    " + line for line in hand_on),
        ]
        if skipped:
            test += ["else:", *("    " + line for line in skipped)]
        thresholds = node.quiet_thresholds()
        if thresholds is None:
            lines.extend(f"{ind}    {line}" for line in test)
        else:  # the comparisons inline when the fields are numbers (else the test)
            names = list(dict.fromkeys(t[0] for t in thresholds))
            guards = []
            for i, field in enumerate(names):
                lines.append(f"{ind}    v{i} = q.fields.get({field!r})")
                guards.append(f"(type(v{i}) is float or type(v{i}) is int)")
            guards.extend(f"{field!r} not in q.tags" for field in names)
            holds = []
            for i, (field, op, number) in enumerate(_folded(thresholds)):
                self.consts[f"_T{a}_{i}"] = number
                self.head.append(f"    t{a}_{i} = _T{a}_{i}")  # a local: the fastest load
                holds.append(f"v{names.index(field)} {op} t{a}_{i}")
            lines.append(f"{ind}    if {' and '.join(guards)}:")
            if holds:
                lines.append(f"{ind}        if {' or '.join(holds)}:")
                lines.extend(f"{ind}            {line}" for line in hand_on)
                if skipped:
                    lines.append(f"{ind}        else:")
                    lines.extend(f"{ind}            {line}" for line in skipped)
            else:  # no comparison can hold (NaN thresholds): always skipped
                lines.extend(f"{ind}        {line}" for line in skipped or ["pass"])
            lines.append(f"{ind}    else:")
            lines.extend(f"{ind}        {line}" for line in test)
        lines.append(f"{ind}else:")
        lines.extend(f"{ind}    {line}" for line in hand_on)

    def where_node(self, w: WhereNode, parent: int, ind: str) -> None:
        """``where()`` inline: a lambda per group when it keeps state, as the node does."""
        k = self.node(w)
        self.measurements[k] = self.measurements[parent]
        self.tail.append(f"    _NS{k}.collected += e{parent}")
        lines = self.body
        if w.expr.stateful:
            self.consts[f"_X{k}"] = w.expr.get
            lines.append(f"{ind}try:")
            lines.append(
                f"{ind}    keep = _X{k}(q.group).eval_point_bool(q.time, q.fields, q.tags)"
            )
        else:
            self.consts[f"_W{k}"] = w.expr.base.eval_point_bool
            lines.append(f"{ind}try:")
            lines.append(f"{ind}    keep = _W{k}(q.time, q.fields, q.tags)")
        lines.append(f"{ind}except Exception as exc:  # evaluation errors drop the point")
        lines.append(f'{ind}    _N{k}.error("error while evaluating expression", err=str(exc))')
        lines.append(f"{ind}    keep = False")
        lines.append(f"{ind}if keep:")
        self.forward(k, w, ind + "    ")

    def eval_node(self, ev: EvalNode, parent: int, ind: str) -> None:
        """``eval()`` inline: the node's own evaluation, then the new point built here."""
        k = self.node(ev)
        self.measurements[k] = self.measurements[parent]
        self.tail.append(f"    _NS{k}.collected += e{parent}")
        self.consts[f"_EV{k}"] = ev._evaluate
        lines = self.body
        lines.append(f"{ind}try:")
        lines.append(f"{ind}    nf, nt = _EV{k}(q.group, q.time, q.fields, q.tags)")
        lines.append(f"{ind}    ok = True")
        lines.append(f"{ind}except Exception as exc:  # any failure drops the point")
        lines.append(f'{ind}    _N{k}.error("error evaluating expression", err=str(exc))')
        lines.append(f"{ind}    ok = False")
        lines.append(f"{ind}if ok:")
        lines.append(
            f"{ind}    q = _Point(q.name, nt, nf, q.time, q.dims,"
            " q.group if nt is q.tags else None, q.db, q.rp)"
        )
        self.forward(k, ev, ind + "    ")
