"""Execution of Go templates (``exec.go``), compiled: the tree becomes nested closures.

A template runs for every alert event, so instead of walking the tree and dispatching on node
types per execution (as Go's ``exec.go`` does), each node is turned once into a Python closure
that does only its own work.  Failures carry their node as :class:`ExecFailure` and become
Go's ``ExecError`` text (:class:`TemplateExecError`) at the top.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from leyden.go.template._funcs import (
    BUILTINS,
    NO_VALUE,
    FuncError,
    NoValue,
    arity,
    as_arg,
    html_text_escape,
    truth,
)
from leyden.go.template._lex import Source
from leyden.go.template._nodes import (
    ActionNode,
    BranchNode,
    CommandNode,
    ConstNode,
    DotNode,
    FieldNode,
    IdentNode,
    KeywordNode,
    ListNode,
    Node,
    PipeNode,
    TemplateCallNode,
    TextNode,
)
from leyden.go.types import GoStruct, format_value, go_quote, go_type_name, sprint

__all__ = ["Compiler", "Exec", "ExecFailure", "State", "TemplateExecError"]


class TemplateExecError(Exception):
    """A template that fails while executing, worded as Go's ``ExecError``."""


class State:
    __slots__ = ("depth", "out", "vars")

    def __init__(self, out: list[str], dollar: Any) -> None:
        self.out = out
        self.vars: list[list[Any]] = [["$", dollar]]
        self.depth = 0


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class ExecFailure(Exception):
    """An execution error located at a node; turned into TemplateExecError at the top."""

    def __init__(self, node: Node, msg: str) -> None:
        super().__init__(msg)
        self.node = node
        self.msg = msg


_Eval = Callable[[State, Any], Any]
Exec = Callable[[State, Any], None]
_Call = Callable[[State, Any, Any], Any]  # (state, dot, final) -> value; final may be _MISSING

_MISSING: Any = object()
_PRIMITIVES = (str, int, float, bool, list, tuple, bytes, type(None))


def _print_html(v: Any) -> str:
    """An action's value as html/template prints it in a text context (nil prints nothing)."""
    if v is NO_VALUE or v is None:
        return ""
    return html_text_escape(v if isinstance(v, str) else sprint(v))


def _print_value(v: Any) -> str:
    if v is NO_VALUE:
        return "<no value>"
    if type(v) is str:
        return v
    return format_value(v)


class Compiler:
    def __init__(
        self,
        src: Source,
        funcs: Mapping[str, Callable[..., Any]],
        html_escape: bool,
        defines: dict[str, ListNode],
    ) -> None:
        self.src = src
        self.funcs = funcs
        self.printer = _print_html if html_escape else _print_value
        self.defines = defines
        self.compiled_defines: dict[str, Exec] = {}
        self.arities: dict[str, tuple[int, int | None]] = {}
        for name, fn in funcs.items():
            self.arities[name] = (
                BUILTINS[name][1:] if name in BUILTINS and fn is BUILTINS[name][0] else arity(fn)
            )

    # nodes -> executors ----------------------------------------------------------
    def list_(self, lst: ListNode) -> Exec:
        parts = [self.node(n) for n in lst.nodes]
        if len(parts) == 1:
            return parts[0]

        def run_list(st: State, dot: Any) -> None:
            for part in parts:
                part(st, dot)

        return run_list

    def node(self, node: Node) -> Exec:
        if isinstance(node, TextNode):
            text = node.text

            def run_text(st: State, dot: Any) -> None:
                st.out.append(text)

            return run_text
        if isinstance(node, ActionNode):
            pipe = self.pipe(node.pipe)
            if node.pipe.decl:

                def run_decl(st: State, dot: Any) -> None:
                    pipe(st, dot)

                return run_decl
            printer = self.printer

            def run_action(st: State, dot: Any) -> None:
                st.out.append(printer(pipe(st, dot)))

            return run_action
        if isinstance(node, BranchNode):
            if node.kind == "range":
                return self.range_(node)
            return self.if_with(node)
        if isinstance(node, KeywordNode):
            exc = _Break if node.word == "break" else _Continue

            def run_keyword(st: State, dot: Any) -> None:
                raise exc

            return run_keyword
        if isinstance(node, TemplateCallNode):
            return self.template_call(node)
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover

    def if_with(self, node: BranchNode) -> Exec:
        pipe = self.pipe(node.pipe)
        body = self.list_(node.body)
        else_body = self.list_(node.else_list) if node.else_list is not None else None
        is_with = node.kind == "with"

        def run_if(st: State, dot: Any) -> None:
            mark = len(st.vars)
            val = pipe(st, dot)
            if truth(val):
                body(st, val if is_with else dot)
            elif else_body is not None:
                else_body(st, dot)
            del st.vars[mark:]

        return run_if

    def range_(self, node: BranchNode) -> Exec:
        pipe = self.pipe(node.pipe)
        body = self.list_(node.body)
        else_body = self.list_(node.else_list) if node.else_list is not None else None
        ndecl = len(node.pipe.decl)

        def run_range(st: State, dot: Any) -> None:
            mark = len(st.vars)
            val = pipe(st, dot)
            if isinstance(val, GoStruct) or not isinstance(
                val, list | tuple | Mapping | int | NoValue | type(None)
            ):
                raise ExecFailure(node, f"range can't iterate over {_print_value(val)}")
            if isinstance(val, bool):
                raise ExecFailure(node, f"range can't iterate over {_print_value(val)}")
            items: Any
            if isinstance(val, Mapping):
                items = sorted(val.items(), key=lambda kv: kv[0])
            elif isinstance(val, list | tuple):
                items = enumerate(val)
            elif isinstance(val, int):
                items = ((i, i) for i in range(int(val)))
            else:
                items = ()
            inner = len(st.vars)
            ran = False
            try:
                for key, elem in items:
                    ran = True
                    if ndecl:
                        st.vars[inner - 1][1] = elem
                        if ndecl > 1:
                            st.vars[inner - 2][1] = key
                    with contextlib.suppress(_Continue):
                        body(st, elem)
                    del st.vars[inner:]
            except _Break:
                pass
            if not ran and else_body is not None:
                else_body(st, dot)
            del st.vars[mark:]

        return run_range

    def template_call(self, node: TemplateCallNode) -> Exec:
        pipe = self.pipe(node.pipe) if node.pipe is not None else None
        name = node.name
        if name not in self.defines:

            def run_missing(st: State, dot: Any) -> None:
                raise ExecFailure(node, f"template {go_quote(name)} not defined")

            return run_missing
        compiled = self.compiled_defines

        def run_template(st: State, dot: Any) -> None:
            new_dot = pipe(st, dot) if pipe is not None else None
            if new_dot is NO_VALUE:
                new_dot = None
            if st.depth >= 100:
                raise ExecFailure(node, "exceeded maximum template depth (100)")
            saved = st.vars
            st.vars = [["$", new_dot]]
            st.depth += 1
            try:
                compiled[name](st, new_dot)
            finally:
                st.depth -= 1
                st.vars = saved

        return run_template

    # pipelines -----------------------------------------------------------------
    def pipe(self, pipe: PipeNode) -> _Eval:
        cmds = [self.command(c) for c in pipe.cmds]
        decl = pipe.decl
        is_assign = pipe.is_assign

        def eval_cmds(st: State, dot: Any) -> Any:
            value = _MISSING
            for cmd in cmds:
                value = cmd(st, dot, value)
                if value is None:
                    value = NO_VALUE  # a nil interface{} digs down to the invalid value
            return value

        if len(cmds) == 1 and not decl:
            only = cmds[0]

            def eval_one(st: State, dot: Any) -> Any:
                value = only(st, dot, _MISSING)
                return NO_VALUE if value is None else value

            return eval_one
        if not decl:
            return eval_cmds

        def eval_decl(st: State, dot: Any) -> Any:
            value = eval_cmds(st, dot)
            for name in decl:
                if is_assign:
                    for slot in reversed(st.vars):
                        if slot[0] == name:
                            slot[1] = value
                            break
                else:
                    st.vars.append([name, value])
            return value

        return eval_decl

    def command(self, cmd: CommandNode) -> _Call:
        first = cmd.args[0]
        if isinstance(first, IdentNode):
            return self.function(first, cmd, cmd.args[1:])
        if isinstance(first, FieldNode):
            return self.field(first, cmd.args[1:])
        if isinstance(first, PipeNode):
            inner = self.pipe(first)

            def call_pipe(st: State, dot: Any, final: Any) -> Any:
                if final is not _MISSING:
                    raise ExecFailure(first, f"can't give argument to non-function {first}")
                return inner(st, dot)

            return call_pipe
        if isinstance(first, ConstNode) and first.is_nil:

            def call_nil(st: State, dot: Any, final: Any) -> Any:
                raise ExecFailure(first, "nil is not a command")

            return call_nil
        value_of = self.arg(first)
        if len(cmd.args) > 1:

            def call_bad(st: State, dot: Any, final: Any) -> Any:
                raise ExecFailure(first, f"can't give argument to non-function {first}")

            return call_bad

        def call_value(st: State, dot: Any, final: Any) -> Any:
            if final is not _MISSING:
                raise ExecFailure(first, f"can't give argument to non-function {first}")
            return value_of(st, dot)

        return call_value

    def arg(self, node: Node) -> _Eval:
        """An argument's value; the invalid value becomes nil as Go's validateType does."""
        if isinstance(node, ConstNode):
            value = node.value

            def const(st: State, dot: Any) -> Any:
                return value

            return const
        if isinstance(node, DotNode):

            def dot_value(st: State, dot: Any) -> Any:
                return dot

            return dot_value
        if isinstance(node, PipeNode):
            inner = self.pipe(node)
            return lambda st, dot: as_arg(inner(st, dot))
        if isinstance(node, IdentNode):
            call = self.function(node, node, [])
            return lambda st, dot: as_arg(call(st, dot, _MISSING))
        if isinstance(node, FieldNode):
            fcall = self.field(node, [])
            return lambda st, dot: as_arg(fcall(st, dot, _MISSING))
        raise AssertionError(f"unexpected argument {node!r}")  # pragma: no cover

    def function(self, ident: IdentNode, cmd: Node, arg_nodes: list[Node]) -> _Call:
        name = ident.name
        fn = self.funcs[name]
        lo, hi = self.arities[name]
        args = [self.arg(a) for a in arg_nodes]
        builtin = name in BUILTINS and fn is BUILTINS[name][0]

        def check_count(n: int) -> None:
            if n < lo:
                want = f"at least {lo}" if hi is None else str(lo)
                raise ExecFailure(ident, f"wrong number of args for {name}: want {want} got {n}")
            if hi is not None and n > hi:
                raise ExecFailure(ident, f"wrong number of args for {name}: want {hi} got {n}")

        if builtin and name in ("and", "or"):
            want_truth = name == "or"

            def call_logic(st: State, dot: Any, final: Any) -> Any:
                check_count(len(args) + (final is not _MISSING))
                v: Any = None
                for a in args:
                    v = a(st, dot)
                    if truth(v) == want_truth:
                        return v
                if final is not _MISSING:
                    v = as_arg(final)
                return v

            return call_logic

        def call_func(st: State, dot: Any, final: Any) -> Any:
            values = [a(st, dot) for a in args]
            if final is not _MISSING:
                values.append(as_arg(final))
            check_count(len(values))
            try:
                return fn(*values)
            except (ExecFailure, _Break, _Continue):
                raise
            except FuncError as exc:
                raise ExecFailure(cmd, f"error calling {name}: {exc}") from None
            except Exception as exc:
                if builtin:  # pragma: no cover - a bug in a built-in, not the user's fault
                    raise
                raise ExecFailure(cmd, f"error calling {name}: {exc}") from None

        return call_func

    def field(self, node: FieldNode, arg_nodes: list[Node]) -> _Call:
        names = node.names
        args = [self.arg(a) for a in arg_nodes]
        base = node.base
        receiver: _Eval
        if base is None:
            receiver = lambda st, dot: dot  # noqa: E731
        elif isinstance(base, str):
            var = base
            if not names:

                def variable(st: State, dot: Any, final: Any) -> Any:
                    if args or final is not _MISSING:
                        raise ExecFailure(node, f"can't give argument to non-function {node}")
                    return _lookup_var(node, st, var)

                return variable
            receiver = lambda st, dot: _lookup_var(node, st, var)  # noqa: E731
        else:
            inner = self.arg(base)
            receiver = inner
        last = len(names) - 1

        def call_field(st: State, dot: Any, final: Any) -> Any:
            value = receiver(st, dot)
            for k, name in enumerate(names):
                if k < last:
                    value = _get_field(node, value, name, None, _MISSING, st, dot)
                else:
                    value = _get_field(node, value, name, args, final, st, dot)
            return value

        if not args and len(names) == 1 and base is None:
            name0 = names[0]

            def call_simple(st: State, dot: Any, final: Any) -> Any:
                # The common ``.Field`` on a map: one dict lookup.
                if type(dot) is dict and final is _MISSING:
                    return dot.get(name0, NO_VALUE)
                return _get_field(node, dot, name0, args, final, st, dot)

            return call_simple
        return call_field


def _lookup_var(node: FieldNode, st: State, name: str) -> Any:
    for slot in reversed(st.vars):
        if slot[0] == name:
            return slot[1]
    # The parser declares ``$x`` before its own pipeline, so ``{{with $x := len $x}}`` parses
    # and fails here, as Go's exec.go varValue does ("undefined variable: $x").
    raise ExecFailure(node, f"undefined variable: {name}")


def _get_field(
    node: FieldNode,
    receiver: Any,
    name: str,
    args: list[_Eval] | None,
    final: Any,
    st: State,
    dot: Any,
) -> Any:
    has_args = bool(args) or final is not _MISSING
    if receiver is NO_VALUE:
        return NO_VALUE
    if receiver is None:
        raise ExecFailure(node, f"nil pointer evaluating interface {{}}.{name}")
    if isinstance(receiver, GoStruct):
        if name in receiver:
            if has_args:
                raise ExecFailure(node, f"{name} has arguments but cannot be invoked as function")
            return receiver[name]
    elif isinstance(receiver, Mapping):
        if has_args:
            raise ExecFailure(node, f"{name} is not a method but has arguments")
        return receiver.get(name, NO_VALUE)
    elif not isinstance(receiver, _PRIMITIVES) and not name.startswith("_"):
        attr = getattr(receiver, name, _MISSING)
        if attr is not _MISSING:
            if inspect.ismethod(attr):
                values = [a(st, dot) for a in args or ()]
                if final is not _MISSING:
                    values.append(as_arg(final))
                try:
                    return attr(*values)
                except Exception as exc:
                    raise ExecFailure(node, f"error calling {name}: {exc}") from None
            if has_args:
                raise ExecFailure(node, f"{name} has arguments but cannot be invoked as function")
            return attr
    raise ExecFailure(node, f"can't evaluate field {name} in type {go_type_name(receiver)}")
