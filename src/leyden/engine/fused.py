"""A task's source chain (``stream`` → ``from()``), compiled into one generated function.

Node by node, every point of every task pays a method call and a statistics increment per hop,
``from()`` re-tests what the router already decided and, when grouping, builds a new ``Point``
and its group ID for every task.  Here the whole source chain of one task becomes a single
Python loop over the points the router hands the task in one write:

* the ``from()`` filters (database, retention policy, measurement) are plain comparisons with
  the settings as constants, and the ``where`` lambda is called once per point;
* truncate/round and the group are applied, and the grouped point is taken from a per-write
  *memo* (a dict the router makes empty for each write) shared by every task of the write: tasks that group the same way (same dimensions,
  truncation and rounding) hand the same ``Point`` object downstream (points are immutable,
  :mod:`leyden.engine.model`), and tasks whose dimensions match share the group ID string;
* each surviving point goes to the ``point()`` of the ``from()`` node's children, in order;
* the statistics Kapacitor shows (collected/emitted/errors per node) are counted in locals and
  added once per call, to the same totals node by node would reach.

The generated function keeps Kapacitor's per-task order (a point reaches every ``from()`` of the
task before the next point enters), and a node that raises costs only that point, as in
:meth:`leyden.engine.task.Task.receive_point`.  Nodes the chain does not cover (everything
below ``from()``) still run node by node; :func:`compile_source_chain` returns ``None`` for a
source it cannot compile (the task then runs node by node), and the node-by-node path remains
the reference the generated one is tested against (``tests/engine/test_fused.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import CodeType
from typing import Any

from leyden.engine.model import NIL_GROUP, NO_DIMENSIONS, Dimensions, Point, group_id
from leyden.engine.node import Node
from leyden.engine.nodes.source import FromNode, StreamNode
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
    froms: list[FromNode] = [c for c in stream.children if isinstance(c, FromNode)]
    consts: dict[str, Any] = {
        "_S": stream.stats,
        "_SN": stream,
        "_Point": Point,
        "_NO_DIMENSIONS": NO_DIMENSIONS,
        "_NIL_GROUP": NIL_GROUP,
        "_group": _group,
        "_truncate": gotime.truncate,
        "_round": gotime.round_,
    }
    shape = [f"len(_SN.children) != {len(froms)}"]
    shape += [f"len(_F{i}.children) != {len(f.children)}" for i, f in enumerate(froms)]
    head = [
        "def _run(points, memo, failed):",
        f"    if {' or '.join(shape)}:",
        "        return False",
        "    n = len(points)",
        "    _S.collected += n",
        "    _S.emitted += n",
    ]
    body: list[str] = []
    tail: list[str] = []
    for i, f in enumerate(froms):
        consts[f"_F{i}"] = f
        consts[f"_FS{i}"] = f.stats
        consts[f"_K{i}"] = ("point", f.dims, f.all_tags, f.truncate, f.round)
        consts[f"_GK{i}"] = ("group", f.dims, f.all_tags)
        head.append(f"    _FS{i}.collected += n")
        head.append(f"    e{i} = 0")
        head.append(f"    pm{i} = memo.get(_K{i})")
        head.append(f"    if pm{i} is None:")
        head.append(f"        pm{i} = memo[_K{i}] = {{}}")
        head.append(f"    gm{i} = memo.get(_GK{i})")
        head.append(f"    if gm{i} is None:")
        head.append(f"        gm{i} = memo[_GK{i}] = {{}}")
        for j in range(len(f.children)):
            head.append(f"    c{i}_{j} = _F{i}.children[{j}].point")
        tail.append(f"    _FS{i}.emitted += e{i}")
        body.extend(_from_block(i, f, consts))
    src = "\n".join(
        [
            *head,
            "    for p in points:",
            "        try:",
            *body,
            "        except Exception as exc:",
            "            failed(exc)",
            *tail,
            "    return True",
        ]
    )
    # Tasks built from one script generate the same text (settings are in the namespace): compile
    # it once.
    code = _CODE.get(src)
    if code is None:
        code = _CODE[src] = compile(src + "\n", "<source chain>", "exec")
    namespace = dict(consts)
    exec(code, namespace)
    run: SourceChain = namespace["_run"]
    return run


#: generated source -> its code object
_CODE: dict[str, CodeType] = {}


def _from_block(i: int, f: FromNode, consts: dict[str, Any]) -> list[str]:
    """The lines handling one point in ``from()`` number ``i``, at the loop body's indent."""
    lines: list[str] = []
    ind = " " * 12

    def emit(line: str) -> None:
        lines.append(ind + line)

    conds = []
    if f.database:
        consts[f"_DB{i}"] = f.database
        conds.append(f"p.db == _DB{i}")
    if f.retention_policy:
        consts[f"_RP{i}"] = f.retention_policy
        conds.append(f"p.rp == _RP{i}")
    if f.measurement:
        consts[f"_M{i}"] = f.measurement
        conds.append(f"p.name == _M{i}")
    if conds:
        emit(f"if {' and '.join(conds)}:")
        ind += "    "
    if f.where is not None:
        consts[f"_W{i}"] = f.where.eval_point_bool
        emit("try:")
        emit(f"    keep = _W{i}(p.time, p.fields, p.tags)")
        emit("except Exception as exc:  # an evaluation error drops the point, as in Kapacitor")
        emit(f'    _F{i}.error("failed to evaluate WHERE expression", err=str(exc))')
        emit("    keep = False")
        emit("if keep:")
        ind += "    "
    # Kapacitor's from() replaces the grouping; an ungrouped point with nothing to change is
    # forwarded itself, any other is rebuilt once per write for every task grouping alike.
    consts[f"_D{i}"] = f.dims
    passthrough = f._passthrough
    if passthrough:
        emit("if p.dims is _NO_DIMENSIONS and p.group == _NIL_GROUP:")
        emit("    q = p")
        emit("else:")
        ind += "    "
    emit(f"q = pm{i}.get(p)")
    emit("if q is None:")
    emit(f"    dg = gm{i}.get(p)")
    emit("    if dg is None:")
    emit(f"        dg = gm{i}[p] = _group(p, _D{i}, {f.all_tags!r})")
    emit("    t = p.time")
    if f.truncate:
        emit(f"    t = _truncate(t, {f.truncate!r})")
    if f.round:
        emit(f"    t = _round(t, {f.round!r})")
    emit(f"    q = pm{i}[p] = _Point(p.name, p.tags, p.fields, t, dg[0], dg[1], p.db, p.rp)")
    if passthrough:
        ind = ind[:-4]
    emit(f"e{i} += 1")
    for j in range(len(f.children)):
        emit(f"c{i}_{j}(q)")
    if not lines:
        emit("pass")
    return lines
