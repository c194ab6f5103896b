"""Evaluate a parsed TICKscript into a validated :class:`~leyden.tick.pipeline.Pipeline`.

This is Kapacitor's ``tick/eval.go`` plus ``pipeline.CreatePipeline`` without reflection: every
chaining method, property and argument is looked up in the tables of :mod:`leyden.tick.pipeline`.
Error texts keep Kapacitor's wording (so that a search for a Kapacitor error finds it, and the
corpus's recorded messages match); positions travel in :class:`TickError` rather than in a
``line L char C:`` prefix, and we add what was valid there and the nearest name.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leyden import limits
from leyden.go.types import Duration
from leyden.tick import ast as A
from leyden.tick.errors import TickError, suggest
from leyden.tick.lambdas import compile_lambda
from leyden.tick.parser import parse, parse_lambda
from leyden.tick.pipeline._sig import (
    GO_TYPES,
    HandlerType,
    NodeType,
    PropertySpec,
    Sig,
    capitalize_first,
)
from leyden.tick.pipeline.graph import (
    BATCH,
    NO_EDGE,
    PARENT,
    STREAM,
    HandlerSpec,
    NodeSpec,
    Pipeline,
    TickWarning,
    TimeDimension,
    Var,
)
from leyden.tick.pipeline.handlers import HANDLER_TYPES
from leyden.tick.pipeline.tables import node_type, type_of
from leyden.tick.pipeline.transforms import UDF_TYPE
from leyden.tick.values import (
    STAR,
    StarValue,
    format_duration_influxql,
    go_pattern,
    parse_duration_influxql,
    typed_value_from_json,
)

__all__ = ["DeadmanSettings", "ZeroVar", "build_pipeline", "task_vars_from_json"]

_TEN_SECONDS = Duration(10_000_000_000)
_VAR_TYPES = ("int", "float", "bool", "string", "regex", "duration", "lambda", "list", "star")


@dataclass(frozen=True, slots=True)
class DeadmanSettings:
    """The ``[deadman]`` configuration that ``|deadman()`` and global deadman read."""

    interval: Duration = _TEN_SECONDS
    threshold: float = 0.0
    id: str = "{{ .Group }}:NODE_NAME for task '{{ .TaskName }}'"
    message: str = (
        '{{ .ID }} is {{ if eq .Level "OK" }}alive{{ else }}dead{{ end }}: '
        '{{ index .Fields "emitted" | printf "%0.3f" }} points/INTERVAL.'
    )
    global_: bool = False


@dataclass(frozen=True, slots=True)
class ZeroVar:
    """The value of a template var with no value when missing vars are ignored (a Go typed nil).

    It passes type checks for its type so a template can be validated; it is never run.
    """

    type: str
    name: str


def _type_of(value: Any) -> str | None:
    """TICKscript var type of a value (None for values that are not vars, such as nodes)."""
    if isinstance(value, ZeroVar):
        return value.type
    t = type(value)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "string"
    if t is Duration:
        return "duration"
    if isinstance(value, re.Pattern):
        return "regex"
    if isinstance(value, A.LambdaNode):
        return "lambda"
    if isinstance(value, list):
        return "list"
    if isinstance(value, StarValue):
        return "star"
    return None


def _describe(value: Any) -> str:
    """A value as a user would recognise it in an error message."""
    if isinstance(value, A.ReferenceNode):
        return f'the reference "{value.reference}"'
    if isinstance(value, NodeSpec):
        return f"the node {value.name}"
    if isinstance(value, HandlerSpec):
        return f"the {value.kind} handler"
    t = _type_of(value)
    if t == "string":
        return f"string '{value}'"
    if t == "duration":
        return f"duration {value}"
    if t == "lambda":
        return "a lambda"
    if t in ("int", "float", "bool"):
        return f"{t} {str(value).lower() if t == 'bool' else value}"
    return t or type(value).__name__


def _matches(value: Any, token: str) -> bool:
    for t in token.split("|"):
        if t == "any":
            if not isinstance(value, A.ReferenceNode | NodeSpec | HandlerSpec):
                return True
        elif t == "node":
            if isinstance(value, NodeSpec | HandlerSpec):
                return True
        elif _type_of(value) == t:
            return True
    return False


def task_vars_from_json(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Kapacitor's API vars (``{"x": {"type": "int", "value": 5}}``) → ``build_pipeline`` vars.

    Values are typed wrappers ``_TaskVar`` so the declared type can be checked exactly (an int
    var is not a float var). Raises ValueError naming the var on malformed input.
    """
    out: dict[str, Any] = {}
    for name, spec in obj.items():
        if not isinstance(spec, Mapping) or "type" not in spec:
            raise ValueError(f'var "{name}": expected an object with "type" and "value"')
        kind = spec["type"]
        try:
            if kind == "lambda":
                text = spec.get("value", spec.get("text"))
                if not isinstance(text, str):
                    raise ValueError("a lambda var needs its expression as a string")
                out[name] = TaskVar("lambda", parse_lambda(text, f"var {name}"))
            elif kind == "list":
                items = spec.get("value") or []
                out[name] = TaskVar("list", [_list_item(i) for i in items])
            elif kind == "star":
                out[name] = TaskVar("star", STAR)
            elif kind == "duration" and "ns" not in spec:
                out[name] = TaskVar("duration", _duration_value(spec.get("value")))
            else:
                out[name] = TaskVar(kind, typed_value_from_json(dict(spec)))
        except TickError as e:
            raise ValueError(f'var "{name}": {e.message}') from None
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f'var "{name}": {e}') from None
    return out


def _list_item(item: Any) -> Any:
    if isinstance(item, Mapping):
        if item.get("type") == "star":
            return STAR
        return typed_value_from_json(dict(item))
    return item


def _duration_value(v: Any) -> Duration:
    if isinstance(v, str):
        return parse_duration_influxql(v)
    if type(v) is int:
        return Duration(v)
    raise ValueError(f"invalid duration {v!r}")


@dataclass(frozen=True, slots=True)
class TaskVar:
    """A var supplied from outside the script, with its declared TICKscript type."""

    type: str
    value: Any


def _plain_task_var(name: str, value: Any) -> TaskVar:
    if isinstance(value, TaskVar):
        return value
    t = _type_of(value)
    if t is None:
        raise TickError(f"invalid value supplied for var {name}: {value!r}")
    return TaskVar(t, value)


def build_pipeline(
    program_or_text: A.ProgramNode | str,
    *,
    filename: str = "<tickscript>",
    task_vars: Mapping[str, Any] | None = None,
    ignore_missing_vars: bool = False,
    deadman: DeadmanSettings | None = None,
) -> Pipeline:
    """Build and validate the pipeline a TICKscript declares; raise TickError on any mistake.

    ``task_vars`` are the vars of a task created from a template: plain Python values (typed by
    their value) or :func:`task_vars_from_json` output. ``ignore_missing_vars`` is how templates
    are checked: a ``var x int`` with no value then holds a zero value.
    """
    if isinstance(program_or_text, str):
        text = program_or_text
        program = parse(text, filename)
    else:
        text = ""
        program = program_or_text
    vars_ = {k: _plain_task_var(k, v) for k, v in (task_vars or {}).items()}
    b = _Builder(text, filename, vars_, ignore_missing_vars, deadman or DeadmanSettings())
    return b.build(program)


class _Builder:
    def __init__(
        self,
        text: str,
        filename: str,
        task_vars: dict[str, TaskVar],
        ignore_missing: bool,
        deadman: DeadmanSettings,
    ) -> None:
        self.lines = text.split("\n") if text else []
        self.filename = filename
        self.task_vars = task_vars
        self.ignore_missing = ignore_missing
        self.deadman = deadman
        self.p = Pipeline()
        self.scope: dict[str, Any] = {}
        self.next_id = 0
        self.regex_literals: dict[int, str] = {}
        self.scope["time"] = _TIME  # Kapacitor's task scope: the batch groupBy time() function

    # -- errors ---------------------------------------------------------------------------

    def error(self, pos: A.Position | None, message: str, length: int = 1) -> TickError:
        if pos is None:
            return TickError(message, filename=self.filename)
        src = self.lines[pos.line - 1] if 0 < pos.line <= len(self.lines) else ""
        caret = len(src.encode()[: pos.col - 1].decode(errors="ignore")) + 1 if src else pos.col
        return TickError(
            message,
            filename=self.filename,
            line=pos.line,
            col=pos.col,
            offset=pos.offset,
            source_line=src,
            length=length,
            caret_col=caret,
        )

    def warn(self, pos: A.Position, message: str) -> None:
        self.p.warnings.append(TickWarning(message, self.filename, pos.line, pos.col))

    # -- program --------------------------------------------------------------------------

    def build(self, program: A.ProgramNode) -> Pipeline:
        self._decide_task_type(program)
        for stmt in program.nodes:
            if isinstance(stmt, A.DBRPNode):
                self.p.dbrps.append((stmt.db.reference, stmt.rp.reference))
            elif isinstance(stmt, A.TypeDeclarationNode):
                self._type_declaration(stmt)
            elif isinstance(stmt, A.DeclarationNode):
                self._declaration(stmt)
            elif isinstance(stmt, A.CommentNode):
                continue
            else:
                self.eval(stmt)
        if self.deadman.global_ and self.p.sources:
            self._deadman(
                self.p.sources[0], self.deadman.threshold, self.deadman.interval, [], None
            )
        self._validate()
        self._post_warnings()
        self.p.scope = {k: v for k, v in self.scope.items() if v is not _TIME}
        return self.p

    def _decide_task_type(self, program: A.ProgramNode) -> None:
        """Find ``stream``/``batch`` uses; Kapacitor gives a task exactly one of them."""
        seen: dict[str, A.Position] = {}

        # without recursion: a chain or an expression may be a thousand levels deep
        stack: list[Any] = [program]
        while stack:
            n = stack.pop()
            if isinstance(n, A.IdentifierNode):
                if n.ident in (STREAM, BATCH) and (
                    n.ident not in seen or n.pos.offset < seen[n.ident].offset
                ):
                    seen[n.ident] = n.pos
            elif isinstance(n, A.DeclarationNode):
                stack.append(n.right)
            elif isinstance(n, A.ChainNode | A.BinaryNode):
                stack.append(n.right)
                stack.append(n.left)
            elif isinstance(n, A.FunctionNode):
                if n.type == "global" and n.func in (STREAM, BATCH):  # `stream()`, an error later
                    stack.append(A.IdentifierNode(n.pos, n.func))
                stack.extend(reversed(n.args))
            elif isinstance(n, A.ListNode | A.ProgramNode):
                stack.extend(reversed(n.nodes))
            elif isinstance(n, A.UnaryNode):
                stack.append(n.node)
        if len(seen) == 2:
            first, second = sorted(seen, key=lambda k: seen[k].offset)
            fp = seen[first]
            raise self.error(
                seen[second],
                f"invalid task type: the script uses both {first} (line {fp.line} char {fp.col}) "
                f"and {second}; a task reads either stream or batch, not both",
                length=len(second),
            )
        if seen:
            kind = next(iter(seen))
            self.p.task_type = kind
            src = self._new_node(node_type(kind), None)
            self.p.sources.append(src)
            self.scope[kind] = src

    # -- vars -----------------------------------------------------------------------------

    def _type_declaration(self, stmt: A.TypeDeclarationNode) -> None:
        name, typ = stmt.node.ident, stmt.type.ident
        if typ not in _VAR_TYPES:
            raise self.error(
                stmt.type.pos,
                f'invalid var type "{typ}"; valid types are {", ".join(_VAR_TYPES)}',
                len(typ),
            )
        if name in self.scope:
            raise self.error(
                stmt.node.pos, f"attempted to redefine {name}, vars are immutable", len(name)
            )
        self.p.vars[name] = Var(typ, None, _comment(stmt))
        supplied = self.task_vars.get(name)
        if supplied is not None:
            if supplied.type != typ:
                raise self.error(
                    stmt.node.pos,
                    f"invalid type supplied for {name}, got {supplied.type} exp {typ}",
                    len(name),
                )
            self.scope[name] = supplied.value
        elif self.ignore_missing:
            self.scope[name] = _zero(typ, name)
        else:
            raise self.error(stmt.node.pos, f'missing value for var "{name}".', len(name))

    def _declaration(self, stmt: A.DeclarationNode) -> None:
        name = stmt.left.ident
        value = self.eval(stmt.right)
        if name in self.scope:
            raise self.error(
                stmt.left.pos, f"attempted to redefine {name}, vars are immutable", len(name)
            )
        typ = _type_of(value)
        if typ is not None:
            self.p.vars[name] = Var(typ, value, _comment(stmt))
        supplied = self.task_vars.get(name)
        if supplied is not None:
            if supplied.type != typ:
                raise self.error(
                    stmt.left.pos,
                    f"invalid type supplied for {name}, got {supplied.type} exp {typ or 'node'}",
                    len(name),
                )
            value = supplied.value
        self.scope[name] = value

    def lookup(self, ident: A.IdentifierNode) -> Any:
        name = ident.ident
        if name in self.scope:
            return self.scope[name]
        msg = f'name "{name}" is undefined. Names in scope: {",".join(sorted(self.scope))}'
        if name in (STREAM, BATCH):
            msg += f" (a {self.p.task_type} task cannot use {name})"
        hint = suggest(name, [*self.scope, "lambda" if name.startswith("lam") else ""])
        if hint:
            msg += f"; did you mean {hint}?"
        raise self.error(ident.pos, msg, len(name))

    # -- expressions ----------------------------------------------------------------------

    def eval(self, n: Any) -> Any:
        if isinstance(n, A.BoolNode):
            return n.value
        if isinstance(n, A.NumberNode):
            return n.int64 if n.is_int else n.float64
        if isinstance(n, A.DurationNode):
            return Duration(n.ns)
        if isinstance(n, A.StringNode):
            return n.literal
        if isinstance(n, A.RegexNode):
            self.regex_literals[id(n.regex)] = n.literal
            return n.regex
        if isinstance(n, A.StarNode):
            return STAR
        if isinstance(n, A.ReferenceNode):
            return n
        if isinstance(n, A.IdentifierNode):
            return self.lookup(n)
        if isinstance(n, A.UnaryNode):
            return self._unary(n)
        if isinstance(n, A.BinaryNode | A.FunctionNode) and not isinstance(n, A.ChainNode):
            if isinstance(n, A.FunctionNode) and n.type != "global":
                raise self.error(n.pos, f"{n.func}() must be called on a node")
            if (
                isinstance(n, A.FunctionNode)
                and n.func == "time"
                and self.scope.get("time") is _TIME
            ):
                return self._group_by_time(n)
            if isinstance(n, A.FunctionNode) and n.func in self.scope:
                raise self.error(
                    n.pos,
                    f'no global function "{n.func}" defined: {n.func} is '
                    f"{_describe(self.scope[n.func])}; use it without parentheses",
                    len(n.func),
                )
            return self._expression(n)
        if isinstance(n, A.LambdaNode):
            resolved = A.LambdaNode(n.pos, self._resolve(n.expression), n.comment)
            self._check_size(resolved.expression, n.pos)
            self._check_lambda(resolved.expression)
            return resolved
        if isinstance(n, A.ListNode):
            return [self.eval(item) for item in n.nodes]
        if isinstance(n, A.ChainNode):
            return self._chain(n)
        if isinstance(n, A.DeclarationNode | A.TypeDeclarationNode | A.DBRPNode):
            raise self.error(n.pos, "declarations are only allowed at the top level")
        raise self.error(getattr(n, "pos", None), f"unexpected {type(n).__name__}")

    def _group_by_time(self, f: A.FunctionNode) -> TimeDimension:
        args = [self.eval(a) for a in f.args]
        if not 1 <= len(args) <= 2 or any(type(a) is not Duration for a in args):
            raise self.error(
                f.pos,
                "time() takes a group-by interval and an optional offset, both durations "
                f"(e.g. time(1m) or time(1m, 10s)); got {', '.join(map(_describe, args)) or 'none'}",
                4,
            )
        return TimeDimension(*args)

    def _unary(self, n: A.UnaryNode) -> Any:
        v = self.eval(n.node)
        if n.operator == "-":
            if type(v) in (int, float):
                return -v
            if type(v) is Duration:
                return Duration(-v)
        elif n.operator == "!" and type(v) is bool:
            return not v
        raise self.error(n.pos, f"invalid argument to '{n.operator}': {_describe(v)}")

    def _expression(self, n: Any) -> Any:
        """Top-level arithmetic (``var w = 5m * 2``): the lambda engine evaluates it now."""
        expr = self._resolve(n)
        self._check_size(expr, n.pos)
        try:
            compiled = compile_lambda(A.LambdaNode(n.pos, expr, None))
            return compiled.eval({})
        except TickError:
            raise
        except Exception as e:  # the lambda engine's evaluation errors carry Kapacitor's text
            raise self.error(n.pos, str(e)) from None

    def _resolve(self, n: Any) -> Any:
        """A copy of an expression with vars replaced by literals (Kapacitor's resolveIdents)."""
        if isinstance(n, A.IdentifierNode):
            return self._literal(n, self.lookup(n))
        if isinstance(n, A.UnaryNode):
            return A.UnaryNode(n.pos, n.operator, self._resolve(n.node), n.comment)
        if isinstance(n, A.BinaryNode):
            binary = copy.copy(n)
            binary.left = self._resolve(n.left)
            binary.right = self._resolve(n.right)
            return binary
        if isinstance(n, A.FunctionNode):
            call = copy.copy(n)
            call.args = [self._resolve(a) for a in n.args]
            return call
        return n

    def _literal(self, ident: A.IdentifierNode, v: Any) -> Any:
        pos = ident.pos
        t = _type_of(v)
        if isinstance(v, ZeroVar):
            v = _concrete_zero(v.type)
            t = _type_of(v)
        if t == "bool":
            return A.BoolNode(pos, v)
        if t == "int":
            return A.NumberNode(pos, True, False, int64=v, base=10)
        if t == "float":
            return A.NumberNode(pos, False, True, float64=v)
        if t == "string":
            return A.StringNode(pos, v)
        if t == "duration":
            return A.DurationNode(pos, int(v), format_duration_influxql(int(v)))
        if t == "regex":
            lit = self.regex_literals.get(id(v))
            if lit is None:  # a task var's regex: the Go text it was compiled from
                lit = go_pattern(v)
            return A.RegexNode(pos, lit, v)
        if t == "lambda":
            return A.LambdaNode(pos, v.expression, None)
        if t == "star":
            return A.StarNode(pos)
        raise self.error(
            pos, f'cannot use {_describe(v)} (var "{ident.ident}") inside an expression'
        )

    def _check_size(self, expr: Any, pos: A.Position | None) -> None:
        """Refuse a lambda whose vars inline into more than
        :data:`leyden.limits.MAX_EXPRESSION_NODES` nodes or
        :data:`leyden.limits.MAX_EXPRESSION_DEPTH` levels (a lambda var used twice in each
        of a chain of lambda vars doubles at every step); counted without recursion and
        stopped at the limit, never walking the whole of a huge tree."""
        count = 0
        stack: list[tuple[Any, int]] = [(expr, 1)]
        while stack:
            n, depth = stack.pop()
            count += 1
            if count > limits.MAX_EXPRESSION_NODES or depth > limits.MAX_EXPRESSION_DEPTH:
                what = (
                    f"more than {limits.MAX_EXPRESSION_NODES} nodes"
                    if count > limits.MAX_EXPRESSION_NODES
                    else f"more than {limits.MAX_EXPRESSION_DEPTH} levels deep"
                )
                raise self.error(pos, f"lambda expression is {what} with its vars (the limit)")
            if isinstance(n, A.BinaryNode):
                stack.append((n.left, depth + 1))
                stack.append((n.right, depth + 1))
            elif isinstance(n, A.UnaryNode):
                stack.append((n.node, depth + 1))
            elif isinstance(n, A.FunctionNode):
                stack.extend((a, depth + 1) for a in n.args)
            elif isinstance(n, A.LambdaNode):
                stack.append((n.expression, depth + 1))

    def _check_lambda(self, expr: Any) -> None:
        """Warn about ``'count' > 0``: a single-quoted string is never a field."""
        stack = [expr]
        while stack:
            n = stack.pop()
            if isinstance(n, A.BinaryNode):
                if n.operator in ("<", "<=", ">", ">=", "==", "!="):
                    for a, b in ((n.left, n.right), (n.right, n.left)):
                        if isinstance(a, A.StringNode) and isinstance(b, A.NumberNode):
                            self.warn(
                                a.pos,
                                f"'{a.literal}' is a string literal, so this compares a string "
                                f"with a number and fails for every point; did you mean the "
                                f'field or tag "{a.literal}" (double quotes)?',
                            )
                stack.extend((n.left, n.right))
            elif isinstance(n, A.UnaryNode):
                stack.append(n.node)
            elif isinstance(n, A.FunctionNode):
                stack.extend(n.args)

    # -- chains ---------------------------------------------------------------------------

    def _args(self, f: A.FunctionNode) -> list[Any]:
        args = [self.eval(a) for a in f.args]
        if len(args) == 1 and isinstance(args[0], list):
            return list(args[0])  # a list var as the only argument is spread (Kapacitor)
        return args

    def _chain(self, n: A.ChainNode) -> Any:
        """A chain, link by link from its start (a loop: a chain may be a thousand long)."""
        links = [n]
        while isinstance(links[-1].left, A.ChainNode):
            links.append(links[-1].left)
        value = self.eval(links[-1].left)
        for link in reversed(links):
            value = self._link_call(value, link)
        return value

    def _link_call(self, left: Any, n: A.ChainNode) -> Any:
        right = n.right
        if isinstance(right, A.IdentifierNode):
            target = left.node if isinstance(left, HandlerSpec) else left
            if isinstance(target, NodeSpec) and right.ident in target.properties:
                return target.properties[right.ident]
            raise self.error(
                right.pos,
                f"object {_go_type(left)} has no property {right.ident}",
                len(right.ident),
            )
        f: A.FunctionNode = right
        if not isinstance(left, NodeSpec | HandlerSpec):
            raise self.error(
                f.pos,
                f'no method or property "{f.func}" on {_go_type(left)}: '
                f"{_describe(left)} is not a node",
                len(f.func),
            )
        if n.operator == "|":
            return self._call_chain(left, f)
        if n.operator == ".":
            return self._call_property(left, f)
        return self._call_dynamic(left, f)

    def _owner(self, v: NodeSpec | HandlerSpec) -> NodeSpec:
        return v.node if isinstance(v, HandlerSpec) else v

    def _property_table(self, v: NodeSpec | HandlerSpec) -> list[dict[str, PropertySpec]]:
        node = self._owner(v)
        tables = []
        if isinstance(v, HandlerSpec):
            tables.append(_handler_type(v).properties)
        tables.append(type_of(node).properties)
        return tables

    def _has_property(self, v: NodeSpec | HandlerSpec, name: str) -> bool:
        key = capitalize_first(name)
        node = self._owner(v)
        if any(key in t for t in self._property_table(v)):
            return True
        return node.kind == "alert" and key in HANDLER_TYPES

    def _has_chain(self, v: NodeSpec | HandlerSpec, name: str) -> bool:
        node = self._owner(v)
        key = capitalize_first(name)
        return any(capitalize_first(c) == key for c in type_of(node).chains)

    def _unknown(self, v: NodeSpec | HandlerSpec, f: A.FunctionNode) -> TickError:
        node = self._owner(v)
        own = sorted({p.name for p in self._property_table(v)[0].values()})
        every = sorted(
            {p.name for t in self._property_table(v) for p in t.values()}
            | ({h.kind for h in HANDLER_TYPES.values()} if node.kind == "alert" else set())
        )
        chains = sorted(type_of(node).chains)
        msg = f'no method or property "{f.func}" on {_go_type(v)}'
        hint = suggest(f.func, [*every, *chains])
        if hint:
            op = "|" if hint in chains and hint not in every else "."
            msg += f"; did you mean {op}{hint}()?"
        if isinstance(v, HandlerSpec):
            msg += f" (.{v.kind}() takes {', '.join('.' + p for p in own) or 'no options'}"
            msg += ", plus every alert property)"
        else:
            listed = ", ".join("." + p for p in own)
            msg += f" (properties: {listed}; chaining methods: "
            msg += ", ".join("|" + c for c in chains[:12])
            msg += f", and {len(chains) - 12} more)" if len(chains) > 12 else ")"
        return self.error(f.pos, msg, len(f.func))

    def _call_chain(self, left: NodeSpec | HandlerSpec, f: A.FunctionNode) -> Any:
        if not self._has_chain(left, f.func):
            if self._has_property(left, f.func):
                raise self.error(
                    f.pos,
                    f'no chaining method "{f.func}" on {_go_type(left)}, but property does exist. '
                    f"Use '.' operator instead: 'node.{f.func}(..)'.",
                    len(f.func),
                )
            raise self._unknown(left, f)
        parent = self._owner(left)
        kind = next(
            c for c in type_of(parent).chains if capitalize_first(c) == capitalize_first(f.func)
        )
        nt = node_type(kind)
        args = self._args(f)
        self._check_args(nt.args, args, f, left, kind)
        if kind == "deadman":
            threshold, interval, *lambdas = args
            return self._deadman(parent, threshold, interval, lambdas, f.pos)
        if kind == "stats":
            return self._stats(parent, args[0], f.pos)
        if kind == "window" and parent.provides != STREAM:
            raise self.error(
                f.pos,
                f'error calling func "window" on obj {_go_type(left)}: cannot Window batch edge '
                f"(window() needs a stream; {parent.name} provides {parent.provides})",
                len(f.func),
            )
        if kind == "trickle" and parent.provides != BATCH:
            raise self.error(
                f.pos,
                f'error calling func "trickle" on obj {_go_type(left)}: cannot Trickle stream edge',
                len(f.func),
            )
        if kind in ("join", "union"):
            return self._merge(kind, parent, [self._owner(a) for a in args], f.pos)
        child = self._new_node(nt, f.pos, parent)
        if nt.init:
            nt.init(child.properties, args)
        self._link(parent, child)
        return child

    def _call_property(self, left: NodeSpec | HandlerSpec, f: A.FunctionNode) -> Any:
        node = self._owner(left)
        key = capitalize_first(f.func)
        if node.kind == "udf" and key != "Quiet":
            node.properties.setdefault("options", []).append((f.func, self._args(f)))
            return left
        spec: PropertySpec | None = None
        target: dict[str, Any] = node.properties
        own = _handler_type(left).properties if isinstance(left, HandlerSpec) else {}
        if key in own:
            spec, target = own[key], left.properties
        elif key in type_of(node).properties:
            spec = type_of(node).properties[key]
        elif node.kind == "alert" and key in HANDLER_TYPES:
            return self._new_handler(node, HANDLER_TYPES[key], f, left)
        if spec is None:
            if self._has_chain(left, f.func):
                raise self.error(
                    f.pos,
                    f'no property method "{f.func}" on {_go_type(left)}, but chaining method does '
                    f"exist. Use '|' operator instead: 'node|{f.func}(..)'.",
                    len(f.func),
                )
            raise self._unknown(left, f)
        args = self._args(f)
        self._check_args(spec.sig, args, f, left, f.func, spec)
        prev = node.properties.get("where")
        if node.kind == "from" and key == "Where" and isinstance(prev, A.LambdaNode):
            new = (
                args[0].expression
                if isinstance(args[0], A.LambdaNode)
                else A.BoolNode(f.pos, False)
            )
            combined = A.BinaryNode(f.pos, "AND", prev.expression, new)
            self._check_size(combined, f.pos)
            node.properties["where"] = A.LambdaNode(prev.pos, combined, None)
        else:
            spec.apply(target, args)
        return left

    def _call_dynamic(self, left: NodeSpec | HandlerSpec, f: A.FunctionNode) -> Any:
        """``@name()`` calls a UDF: recorded with its arguments and options (Leyden runs no UDF
        agents, so no runtime registry has it and ``Pipeline.unsupported`` lists it)."""
        parent = self._owner(left)
        child = self._new_node(UDF_TYPE, f.pos, parent, desc=f.func)
        child.udf_name = f.func
        child.properties["args"] = self._args(f)
        self._link(parent, child)
        return child

    def _new_handler(
        self, node: NodeSpec, ht: HandlerType, f: A.FunctionNode, left: NodeSpec | HandlerSpec
    ) -> HandlerSpec:
        args = self._args(f)
        self._check_args(ht.args, args, f, left, f.func)
        h = HandlerSpec(ht.kind, dict(copy.deepcopy(ht.defaults)), f.pos, node)
        if ht.init:
            ht.init(h.properties, args)
        node.handlers.append(h)
        return h

    def _check_args(
        self,
        s: Sig,
        args: list[Any],
        f: A.FunctionNode,
        obj: Any,
        name: str,
        prop: PropertySpec | None = None,
    ) -> None:
        go = _go_type(obj)
        for i, a in enumerate(args):
            want = s.type_at(i) if (i < len(s.params) or s.variadic) else None
            if want is None:
                break
            if _matches(a, want):
                continue
            if isinstance(a, A.ReferenceNode) and "string" in want.split("|"):
                raise self.error(
                    f.pos,
                    "cannot assign *ast.ReferenceNode to type string, did you use double quotes "
                    f"instead of single quotes? (write '{a.reference}' for the string)",
                    len(f.func),
                )
            gowant = " or ".join(GO_TYPES[t] for t in want.split("|"))
            msg = (
                f'error calling func "{f.func}" on obj {go}: argument {i + 1} of {name}() '
                f"must be {gowant}, got {_describe(a)}"
            )
            t = _type_of(a)
            if want == "float" and t == "int":
                msg += f" (write {a}.0: integers are not converted)"
            elif want == "int" and t == "float":
                msg += " (write a whole number without a decimal point)"
            elif want == "duration" and t == "string":
                msg += f" (write {a} without quotes)"
            raise self.error(f.pos, msg, len(f.func))
        if s.arity_ok(len(args)):
            return
        if prop is not None and prop.field:
            if len(args) > 1:
                raise self.error(
                    f.pos, f"too many arguments to set property {prop.go_name} on {go}", len(f.func)
                )
            raise self.error(
                f.pos, f"{f.func}() needs 1 argument ({s.describe()}), got none", len(f.func)
            )
        desc = s.describe() or "no arguments"
        raise self.error(
            f.pos,
            f'error calling func "{f.func}" on obj {go}: {name}() takes ({desc}), '
            f"got {len(args)} argument{'s' if len(args) != 1 else ''}",
            len(f.func),
        )

    # -- graph ----------------------------------------------------------------------------

    def _new_node(
        self,
        nt: NodeType,
        pos: A.Position | None,
        parent: NodeSpec | None = None,
        desc: str | None = None,
    ) -> NodeSpec:
        if len(self.p.nodes) >= limits.MAX_PIPELINE_NODES:
            raise self.error(
                pos, f"pipeline has more than {limits.MAX_PIPELINE_NODES} nodes (the limit)"
            )
        provided = parent.provides if parent else NO_EDGE
        node = NodeSpec(
            kind=nt.kind,
            id=self.next_id,
            desc=desc or nt.desc,
            wants=provided if nt.wants == PARENT else nt.wants,
            provides=provided if nt.provides == PARENT else nt.provides,
            pos=pos,
            properties=copy.deepcopy(dict(nt.defaults)),
        )
        self.next_id += 1
        self.p.nodes.append(node)
        return node

    def _link(self, parent: NodeSpec, child: NodeSpec) -> None:
        parent.children.append(child)
        child.parents.append(parent)

    def _merge(
        self, kind: str, first: NodeSpec, others: list[NodeSpec], pos: A.Position | None
    ) -> NodeSpec:
        """join/union: Kapacitor links every parent in turn, renumbering the node each time."""
        node = self._new_node(node_type(kind), pos, first)
        self.next_id -= 1
        order = [first, *others] if kind == "join" else [*others, first]
        for parent in order:
            node.id = self.next_id
            self.next_id += 1
            self._link(parent, node)
        # The node was appended at its first id; keep self.p.nodes in creation order.
        return node

    def _stats(self, watched: NodeSpec, interval: Duration, pos: A.Position | None) -> NodeSpec:
        stats = self._new_node(node_type("stats"), pos)
        stats.properties["interval"] = interval
        stats.properties["sourceNode"] = watched.name
        self.p.sources.append(stats)
        if not watched.children:
            self._link(watched, self._new_node(node_type("noop"), pos, watched))
        return stats

    def _deadman(
        self,
        watched: NodeSpec,
        threshold: float,
        interval: Duration,
        lambdas: list[A.LambdaNode],
        pos: A.Position | None,
    ) -> NodeSpec:
        stats = self._stats(watched, interval, pos)
        stats.properties["align"] = True
        deriv = self._new_node(node_type("derivative"), pos, stats)
        deriv.properties.update(field="emitted", unit=interval, nonNegative=True)
        deriv.properties["as"] = "emitted"
        self._link(stats, deriv)
        alert = self._new_node(node_type("alert"), pos, deriv)
        self._link(deriv, alert)
        p = pos or A.Position(0, 1, 1)
        crit: Any = A.BinaryNode(
            p, "<=", A.ReferenceNode(p, "emitted"), A.NumberNode(p, False, True, float64=threshold)
        )
        for lam in lambdas:
            if isinstance(lam, A.LambdaNode):
                crit = A.BinaryNode(p, "AND", crit, lam.expression)
        alert.properties["crit"] = A.LambdaNode(p, crit, None)
        alert.properties["id"] = self.deadman.id.replace("NODE_NAME", watched.name, 1)
        alert.properties["message"] = self.deadman.message.replace(
            "INTERVAL", str(Duration(interval)), 1
        )
        return alert

    def _post_warnings(self) -> None:
        for n in self.p.nodes:
            for h in n.handlers:
                if (
                    h.kind == "post"
                    and not h.properties.get("url")
                    and not h.properties.get("endpoint")
                ):
                    pos = h.pos or A.Position(0, 1, 1)
                    self.warn(
                        pos,
                        f".post() on {n.name} has neither a URL nor an endpoint; "
                        "Kapacitor refuses to start such a task (Either URL or endpoint must "
                        "be non-empty)",
                    )

    def _validate(self) -> None:
        for n in self.p.walk():
            check = type_of(n).validate
            problem = check(n) if check else None
            if problem:
                raise self.error(n.pos, f"invalid {n.kind} node {n.name}: {problem}")
            for parent in n.parents:
                if n.kind == "udf" or parent.kind == "udf":
                    continue
                if parent.provides != n.wants:
                    raise self.error(
                        n.pos,
                        f"cannot add child mismatched edges: {parent.name}:{parent.provides} -> "
                        f"{n.name}:{n.wants}",
                    )


class _GroupByTimeFunction:
    def __repr__(self) -> str:
        return "time()"


_TIME = _GroupByTimeFunction()


def _handler_type(h: HandlerSpec) -> HandlerType:
    return HANDLER_TYPES[capitalize_first(h.kind)]


def _go_type(v: Any) -> str:
    if isinstance(v, HandlerSpec):
        return _handler_type(v).go_type
    if isinstance(v, NodeSpec):
        return type_of(v).go_type
    if isinstance(v, A.ReferenceNode):
        return "*ast.ReferenceNode"
    t = _type_of(v)
    return GO_TYPES.get(t or "", type(v).__name__) if t not in ("list",) else "[]interface {}"


def _comment(stmt: Any) -> str:
    c = getattr(stmt, "comment", None)
    return "\n".join(c.comments) if c is not None else ""


def _zero(typ: str, name: str) -> Any:
    if typ in ("lambda", "regex", "star"):
        return ZeroVar(typ, name)
    return _concrete_zero(typ)


def _concrete_zero(typ: str) -> Any:
    return {
        "int": 0,
        "float": 0.0,
        "bool": False,
        "string": "",
        "duration": Duration(0),
        "list": [],
        "star": STAR,
        "regex": re.compile(""),
        "lambda": A.LambdaNode(A.Position(0, 1, 1), A.BoolNode(A.Position(0, 1, 1), False)),
    }[typ]
