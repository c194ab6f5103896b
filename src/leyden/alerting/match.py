"""Topic-handler ``match`` expressions: which events of a topic a handler sees.

A match is lambda syntax without ``lambda:`` (Kapacitor's ``services/alert`` match handler):
``level() >= WARNING AND changed() AND "host" =~ /^web/``.  It is parsed and compiled once,
with the TICKscript lambda compiler, when the handler is defined; evaluating it per event is a
dictionary build and one call.

How the alert functions are provided: before compiling, each call of ``changed()``,
``level()``, ``name()``, ``taskName()`` or ``alertDuration()`` is replaced by a reference to a
name no tag can have, and the compiled lambda reads it from the per-event scope next to the
tags.  ``duration()`` without arguments is accepted as the alert duration too (its name before
Kapacitor renamed it because it shadowed the ``duration(value, unit)`` builtin, which stays
available with arguments).  The level identifiers ``OK`` … ``CRITICAL`` are the ints 0..3; any
other bare identifier is an error, as in Kapacitor.

References (``"host"``) read the event's tags only; a referenced tag the event lacks is an
evaluation error (``no tag exists for host``) and the event is not handled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leyden.model.alert import Event, Level
from leyden.tick import ast
from leyden.tick.errors import TickError
from leyden.tick.lambdas import CompiledLambda, CompileError, EvalError, compile_lambda
from leyden.tick.parser import parse_lambda

__all__ = ["MatchError", "MatchExpression", "compile_match"]

LEVEL_IDENTIFIERS: dict[str, int] = {level.name: int(level) for level in Level}

_PREFIX = "\x00match:"  # a reference name no tag can have

#: alert function name → what it returns for an event
_FUNCTIONS: dict[str, Callable[[Event], Any]] = {
    "changed": lambda e: e.state.level != e.previous_level,
    "level": lambda e: int(e.state.level),
    "name": lambda e: e.data.name,
    "taskName": lambda e: e.data.task_name,
    "alertDuration": lambda e: e.state.duration,
}
_ALIASES = {"duration": "alertDuration"}


class MatchError(ValueError):
    """A match expression that does not compile, or an event it cannot be evaluated on."""


def _rewrite(node: Any, used: set[str]) -> Any:
    """Replace alert-function calls by synthetic references and check bare identifiers."""
    if isinstance(node, ast.FunctionNode):
        name = _ALIASES.get(node.func, node.func) if not node.args else node.func
        if name in _FUNCTIONS:
            if node.args:
                raise MatchError(f"invalid match expression: {name} takes no arguments")
            used.add(name)
            return ast.ReferenceNode(node.pos, _PREFIX + name)
        node.args = [_rewrite(arg, used) for arg in node.args]
        return node
    if isinstance(node, ast.IdentifierNode):
        if node.ident not in LEVEL_IDENTIFIERS:
            raise MatchError(f'unknown identifier "{node.ident}"')
        return node
    if isinstance(node, ast.BinaryNode):
        node.left = _rewrite(node.left, used)
        node.right = _rewrite(node.right, used)
        return node
    if isinstance(node, ast.UnaryNode):
        node.node = _rewrite(node.node, used)
        return node
    if isinstance(node, ast.LambdaNode):
        node.expression = _rewrite(node.expression, used)
        return node
    return node


class MatchExpression:
    """A compiled match; :meth:`matches` decides for one event as its topic delivers it."""

    __slots__ = ("_functions", "_lambda", "_tags", "text")

    def __init__(self, text: str, compiled: CompiledLambda, functions: set[str]) -> None:
        self.text = text
        self._lambda = compiled
        self._functions = [(_PREFIX + f, _FUNCTIONS[f]) for f in sorted(functions)]
        self._tags = sorted(r for r in compiled.references if not r.startswith(_PREFIX))

    def matches(self, event: Event) -> bool:
        """Whether the handler gets ``event``; :class:`MatchError` when it cannot be decided."""
        tags = event.data.tags
        scope: dict[str, Any] = {}
        for tag in self._tags:
            value = tags.get(tag)
            if value is None:
                raise MatchError(f"no tag exists for {tag}")
            scope[tag] = value
        for key, function in self._functions:
            scope[key] = function(event)
        try:
            return bool(self._lambda.eval_bool(scope))
        except EvalError as exc:
            raise MatchError(str(exc)) from None

    def __repr__(self) -> str:
        return f"MatchExpression({self.text!r})"


def compile_match(text: str) -> MatchExpression:
    """Parse and compile a match expression; :class:`MatchError` says what is wrong and where."""
    try:
        node = parse_lambda(text, filename="match")
    except TickError as exc:
        raise MatchError(f"invalid match expression: {exc}") from None
    used: set[str] = set()
    node = _rewrite(node, used)
    try:
        compiled = compile_lambda(node, scope_vars=LEVEL_IDENTIFIERS, source=text)
    except CompileError as exc:
        raise MatchError(f"invalid match expression: {exc}") from None
    return MatchExpression(text, compiled, used)
