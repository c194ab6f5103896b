"""Compile TICKscript lambda expressions to Python code objects.

A lambda is turned into Python source once, compiled with ``compile()``, and then evaluated per
point by calling a plain Python function: no AST walk per point. Where the operand types are known
at compile time (literals, function results) the generated code uses Python operators directly;
where they depend on the point (a field may be an int in one point and a float in the next) the
code takes a type-guarded fast path for the likely types and falls back to :func:`_binop`, which
implements Kapacitor's full operator table and its exact error texts.

Semantics follow Kapacitor's ``tick/stateful`` package (semantics §1.3–§1.5). Known differences:

* Kapacitor type-checks the whole expression before evaluating it, so a type error in the
  right operand of ``AND``/``OR`` is reported even when the left operand short-circuits. We only
  report it when the right operand's type is known at compile time; otherwise the right side is
  skipped, as a short-circuit suggests (``isPresent("x") AND "x" > 5`` works here, errors there).
* Inside an expression, a runtime error (a failing function call) may be reported before a type
  error further right that Kapacitor would have found first.
* Errors Kapacitor raises when it builds an expression (a binary operation on two literals of
  mismatched types, an unknown function, a call whose literal arguments fit no signature) are
  raised here as :class:`CompileError`.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from leyden.go.types import Duration, Time
from leyden.tick.functions import (
    BUILTINS,
    STATEFUL,
    Builtin,
    FunctionError,
    float_to_duration,
    signature_error,
)
from leyden.tick.values import (
    INT64_MAX,
    INT64_MIN,
    MISSING,
    Missing,
    go_type_name,
    go_v,
    register_go_pattern,
    tick_type,
    wrap_int64,
)

__all__ = ["CompileError", "CompiledLambda", "EvalError", "compile_lambda"]


class EvalError(Exception):
    """Evaluating a lambda failed; the message is Kapacitor's text for the same failure."""


class GoPanic(EvalError):
    """A failure that is a Go runtime panic in Kapacitor (integer division by zero).

    Kapacitor never wraps a panic with the "Failed to handle … argument" context, so neither do we.
    """


class CompileError(Exception):
    """A problem found while compiling a lambda; ``str()`` is Kapacitor's message."""

    def __init__(self, message: str, node: Any = None, source: str = "") -> None:
        super().__init__(message)
        self.message = message
        pos = getattr(node, "pos", None)
        self.line: int | None = getattr(pos, "line", None)
        self.col: int | None = getattr(pos, "col", None)
        self.offset: int | None = getattr(pos, "offset", None)
        self.source = source
        # Kapacitor resolves identifiers before it builds evaluators, so their errors carry no
        # "Failed to handle … node" context.
        self.wrappable = True

    def located(self) -> str:
        """``line L char C: message``, the way Kapacitor prefixes evaluation errors."""
        if self.line is None:
            return self.message
        return f"line {self.line} char {self.col}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Operator table (tick/stateful/evaluation_funcs.go): (op, left type, right type) → function

_MISMATCH_HINT = "see bool(), int(), float(), string(), duration()"
_DIV_ZERO = "runtime error: integer divide by zero"


def _w(v: int) -> int:
    return v if INT64_MIN <= v <= INT64_MAX else wrap_int64(v)


def _idiv(a: int, b: int) -> int:
    if b == 0:
        raise GoPanic(_DIV_ZERO)
    q = abs(a) // abs(b)
    return _w(-q if (a < 0) != (b < 0) else q)


def _imod(a: int, b: int) -> int:
    if b == 0:
        raise GoPanic(_DIV_ZERO)
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _fdiv(a: float, b: float) -> float:
    if b == 0:
        if math.isnan(a) or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    try:
        return a / b
    except OverflowError:
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _fmul(a: float, b: float) -> float:
    return a * b


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_OPS: dict[tuple[str, str, str], Callable[[Any, Any], Any]] = {
    ("AND", "boolean", "boolean"): lambda a, b: a and b,
    ("OR", "boolean", "boolean"): lambda a, b: a or b,
    ("==", "boolean", "boolean"): _CMP["=="],
    ("!=", "boolean", "boolean"): _CMP["!="],
    ("+", "int", "int"): lambda a, b: _w(a + b),
    ("-", "int", "int"): lambda a, b: _w(a - b),
    ("*", "int", "int"): lambda a, b: _w(a * b),
    ("/", "int", "int"): _idiv,
    ("%", "int", "int"): _imod,
    ("+", "float", "float"): lambda a, b: a + b,
    ("-", "float", "float"): lambda a, b: a - b,
    ("*", "float", "float"): _fmul,
    ("/", "float", "float"): _fdiv,
    ("+", "string", "string"): lambda a, b: a + b,
    ("=~", "string", "regex"): lambda a, b: b.search(a) is not None,
    ("!~", "string", "regex"): lambda a, b: b.search(a) is None,
    ("+", "duration", "duration"): lambda a, b: Duration(_w(a + b)),
    ("-", "duration", "duration"): lambda a, b: Duration(_w(a - b)),
    ("/", "duration", "duration"): _idiv,
    ("*", "duration", "int"): lambda a, b: Duration(_w(a * b)),
    ("*", "int", "duration"): lambda a, b: Duration(_w(a * b)),
    ("/", "duration", "int"): lambda a, b: Duration(_idiv(a, b)),
    ("*", "duration", "float"): lambda a, b: float_to_duration(float(a) * b),
    ("*", "float", "duration"): lambda a, b: float_to_duration(a * float(b)),
    ("/", "duration", "float"): lambda a, b: float_to_duration(_fdiv(float(a), b)),
}
for _op, _fn in _CMP.items():
    for _pair in (
        ("int", "int"),
        ("float", "float"),
        ("int", "float"),
        ("float", "int"),
        ("string", "string"),
        ("duration", "duration"),
    ):
        _OPS[(_op, *_pair)] = _fn

_RESULT_TYPE: dict[tuple[str, str, str], str] = {}
for _op, _lt, _rt in _OPS:
    if _op in _CMP or _op in ("AND", "OR", "=~", "!~"):
        _RESULT_TYPE[(_op, _lt, _rt)] = "boolean"
    elif _lt == "duration" and _rt == "duration" and _op == "/":
        _RESULT_TYPE[(_op, _lt, _rt)] = "int"
    elif "duration" in (_lt, _rt):
        _RESULT_TYPE[(_op, _lt, _rt)] = "duration"
    else:
        _RESULT_TYPE[(_op, _lt, _rt)] = _lt

# Operators a type takes part in, on either side (Kapacitor's typeToBinaryOperators).
_TYPE_OPS: dict[str, set[str]] = {}
for _op, _lt, _rt in _OPS:
    _TYPE_OPS.setdefault(_lt, set()).add(_op)
    _TYPE_OPS.setdefault(_rt, set()).add(_op)

_MATH_OPS = frozenset("+-*/%")
_LOGICAL_OPS = frozenset(("AND", "OR"))
_COMPARISON_OPS = frozenset(("==", "!=", "<", "<=", ">", ">=", "=~", "!~"))


def _op_kind(op: str) -> str:
    if op in _MATH_OPS:
        return "math"
    if op in _LOGICAL_OPS:
        return "logical"
    return "comparison"


def _type_error(
    op: str,
    lt: str,
    rt: str,
    lref: str | None = None,
    rref: str | None = None,
    scoped: bool = False,
) -> str:
    """Kapacitor's ``determineError``: the most specific text for a failed operator lookup.

    ``scoped`` is Kapacitor's evaluation-time variant (a root comparison under EvalBool), which
    first names an invalid or missing operand; the type-check variant goes straight to operators.
    """
    if scoped:
        if lt == "invalid type":
            return "left value is invalid value type"
        if lt == "missing" and lref is not None:
            return f'left reference value "{lref}" is missing value'
        if rt == "invalid type":
            return "right value is invalid value type"
        if rt == "missing" and rref is not None:
            return f'right reference value "{rref}" is missing value'
    if op not in _TYPE_OPS.get(lt, ()):
        return f"invalid {_op_kind(op)} operator {op} for type {lt}"
    return f"mismatched type to binary operator. got {lt} {op} {rt}. {_MISMATCH_HINT}"


def _binop(op: str, a: Any, b: Any, lref: str | None, rref: str | None, scoped: bool) -> Any:
    """Generic binary operator: any operand types, Kapacitor's result or error."""
    lt = tick_type(a)
    rt = tick_type(b)
    f = _OPS.get((op, lt, rt))
    if f is None:
        raise EvalError(_type_error(op, lt, rt, lref, rref, scoped))
    return f(a, b)


def _binerr(op: str, a: Any, rt: str, lref: str | None, scoped: bool) -> Any:
    """AND/OR whose right operand has a statically known non-boolean type."""
    raise EvalError(_type_error(op, tick_type(a), rt, lref, None, scoped))


def _logic_left_err(op: str, a: Any, lref: str | None, scoped: bool) -> Any:
    """AND/OR whose left operand is not a boolean (the right side's type is then irrelevant)."""
    lt = tick_type(a)
    if scoped and lt == "invalid type":
        raise EvalError("left value is invalid value type")
    if scoped and lt == "missing" and lref is not None:
        raise EvalError(f'left reference value "{lref}" is missing value')
    raise EvalError(f"invalid logical operator {op} for type {lt}")


def _neg(v: Any, ref: str | None) -> Any:
    t = type(v)
    if t is int:
        return _w(-v)
    if t is float:
        return -v
    if t is Duration:
        return Duration(_w(-v))
    if t is Missing and ref is not None:
        raise EvalError(f'reference "{ref}" is missing value')
    raise EvalError(f"TypeGuard: expression returned unexpected type {tick_type(v)}, expected int")


def _not(v: Any, ref: str | None) -> Any:
    if v is True:
        return False
    if v is False:
        return True
    if type(v) is Missing and ref is not None:
        raise EvalError(f'reference "{ref}" is missing value')
    raise EvalError(
        f"TypeGuard: expression returned unexpected type {tick_type(v)}, expected boolean"
    )


_UNDEFINED = object()


def _lookup_failed(name: str, value: Any, scope: Mapping[str, Any], prefix: str) -> Any:
    if value is _UNDEFINED:
        raise EvalError(f'{prefix}name "{name}" is undefined. Names in scope: {",".join(scope)}')
    raise EvalError(f'{prefix}referenced value "{name}" is nil.')


def _conflict(name: str) -> Any:
    raise EvalError(f'cannot have field and tags with same name "{name}"')


def _check_call(fn: Builtin, args: tuple[Any, ...], literals: tuple[str, ...], names: Any) -> None:
    """Kapacitor's signature check of a call whose argument types are only known at run time."""
    domain = tuple(tick_type(a) for a in args)
    if domain in fn.signature:
        return
    missing = [lit for lit, t in zip(literals, domain, strict=True) if t == "missing"]
    if missing:
        scope = [f'"{n}"' for n in names]
        for m in missing:
            if m in scope:
                scope.remove(m)
        which = (
            f"argument {missing[0]} is"
            if len(missing) == 1
            else f"arguments {', '.join(missing)} are"
        )
        raise EvalError(
            f'Cannot call function "{fn.name}" {which} missing, values in scope are [{", ".join(scope)}]'
        )
    raise EvalError(signature_error(fn, literals, domain))


def _call_failed(name: str, err: FunctionError) -> Any:
    raise EvalError(f'error calling "{name}": {err}') from None


def _arg_failed(index: int, err: EvalError) -> Any:
    if isinstance(err, GoPanic):
        raise err
    raise EvalError(f"Failed to handle {index} argument: {err}") from None


_VALUE_TYPES = frozenset((int, float, str, bool, Duration))


def _value_result(v: Any, root_ref: str | None) -> Any:
    """Kapacitor's ``Eval``: only int, float, string, bool and duration results are values."""
    t = type(v)
    if t in _VALUE_TYPES:
        return v
    if t is Missing:
        if root_ref is not None:
            raise EvalError(f'missing value: "{root_ref}"')
        return v
    raise EvalError(f"expression returned unexpected type {tick_type(v)}")


def _guard_error(v: Any, want: str, root_kind: str, root_ref: str | None) -> EvalError:
    if root_kind == "binary":
        # Kapacitor's binary nodes report Go's %T of their raw result, which is nil unless the
        # result is a bool, int64 or float64.
        t = type(v)
        go = go_type_name(v) if t is bool or t is int or t is float else "<nil>"
        return EvalError(f"expression returned unexpected type {go}")
    if root_kind == "reference" and type(v) is Missing and root_ref is not None:
        return EvalError(f'reference "{root_ref}" is missing value')
    return EvalError(
        f"TypeGuard: expression returned unexpected type {tick_type(v)}, expected {want}"
    )


def _bool_result(v: Any, root_kind: str, root_ref: str | None) -> Any:
    raise _guard_error(v, "boolean", root_kind, root_ref)


_HELPERS: dict[str, Any] = {
    "_binop": _binop,
    "_binerr": _binerr,
    "_logic_left_err": _logic_left_err,
    "_neg": _neg,
    "_not": _not,
    "_w": _w,
    "_idiv": _idiv,
    "_imod": _imod,
    "_fdiv": _fdiv,
    "_UNDEF": _UNDEFINED,
    "_lookup_failed": _lookup_failed,
    "_conflict": _conflict,
    "_check_call": _check_call,
    "_call_failed": _call_failed,
    "_arg_failed": _arg_failed,
    "_value_result": _value_result,
    "_bool_result": _bool_result,
    "_VALUE_TYPES": _VALUE_TYPES,
    "_MISSING": MISSING,
    "_Duration": Duration,
    "_Time": Time,
    "_FunctionError": FunctionError,
    "_EvalError": EvalError,
}


# ---------------------------------------------------------------------------------------------
# Code generation


def _kind(node: Any) -> str:
    return type(node).__name__


def _node_string(node: Any) -> str:
    """Kapacitor's evaluator ``String()`` of a node, as printed in signature errors."""
    k = _kind(node)
    if k == "NumberNode":
        return go_v(node.int64) if node.is_int else go_v(float(node.float64))
    if k == "StringNode":
        return str(node.literal)
    if k == "BoolNode":
        return "true" if node.value else "false"
    if k == "DurationNode":
        return go_v(Duration(node.ns))
    if k == "RegexNode":
        return str(node.literal)
    if k == "ReferenceNode":
        return f'"{node.reference}"'
    if k == "BinaryNode":
        return f"{_node_string(node.left)} {node.operator} {_node_string(node.right)}"
    if k == "UnaryNode":
        return f"{node.operator}{_node_string(node.node)}"
    if k == "FunctionNode":
        return f"{node.func}({', '.join(_node_string(a) for a in node.args)})"
    if k == "LambdaNode":
        return _node_string(node.expression)
    if k == "_ValueNode":
        return go_v(node.value)
    return k


class _ValueNode:
    """A var's value spliced into a lambda (Kapacitor turns it into a literal node)."""

    __slots__ = ("pos", "value")

    def __init__(self, value: Any, pos: Any) -> None:
        self.value = value
        self.pos = pos


_ORDINAL_ARG = "Failed to handle {} argument: "


class _Program:
    """Facts shared by every generated variant of one lambda."""

    def __init__(
        self, root: Any, scope_vars: Mapping[str, Any], source: str, check_signatures: bool
    ) -> None:
        self.root = root
        self.scope_vars = scope_vars
        self.source = source
        self.check_signatures = check_signatures
        self.refs: dict[str, tuple[int, str]] = {}  # name → (slot, error prefix of first use)
        self.consts: dict[str, Any] = {}
        self.states: dict[str, tuple[int, str]] = {}  # closure name → (lambda index, function)
        self.lambda_count = 0


class _Gen:
    """Emits the Python statements for one variant (value/bool/raw × scope/point)."""

    def __init__(self, prog: _Program, mode: str) -> None:
        self.prog = prog
        self.mode = mode  # "value", "bool" or "raw"
        self.lines: list[str] = []
        self.indent = 1
        self.temps = itertools.count()
        prog.lambda_count = 0  # nested lambdas get the same state slots in every variant

    # -- helpers -------------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def temp(self) -> str:
        return f"_t{next(self.temps)}"

    def const(self, value: Any) -> str:
        for name, v in self.prog.consts.items():
            if v is value:
                return name
        name = f"_k{len(self.prog.consts)}"
        self.prog.consts[name] = value
        return name

    def literal(self, value: Any) -> tuple[str, str]:
        t = type(value)
        if t is int:
            return repr(value), "int"
        if t is float:
            if math.isfinite(value):
                return repr(value), "float"
            return self.const(value), "float"
        if t is str:
            return repr(value), "string"
        if t is bool:
            return repr(value), "boolean"
        if t is Duration:
            return self.const(value), "duration"
        if t is re.Pattern:
            return self.const(value), "regex"
        if t is Time:
            return self.const(value), "time"
        return self.const(value), tick_type(value)

    def fail(self, message: str, node: Any) -> CompileError:
        return CompileError(message, node, self.prog.source)

    # -- nodes ---------------------------------------------------------------------------------

    def expr(self, node: Any, lam: int, prefix: str, root: bool = False) -> tuple[str, str | None]:
        """Emit code computing ``node``; returns (Python expression, static TICK type or None)."""
        k = _kind(node)
        if k == "NumberNode":
            if node.is_int:
                return repr(int(node.int64)), "int"
            return self.literal(float(node.float64))
        if k == "StringNode":
            return repr(str(node.literal)), "string"
        if k == "BoolNode":
            return repr(bool(node.value)), "boolean"
        if k == "DurationNode":
            return self.const(Duration(node.ns)), "duration"
        if k == "RegexNode":
            register_go_pattern(node.regex, getattr(node, "pattern", node.literal))
            return self.const(node.regex), "regex"
        if k == "_ValueNode":
            return self.literal(node.value)
        if k == "ReferenceNode":
            return self.reference(node, prefix), None
        if k == "IdentifierNode":
            return self.expr(self.resolve(node), lam, prefix, root)
        if k == "LambdaNode":
            return self.nested_lambda(node, prefix)
        if k == "UnaryNode":
            return self.unary(node, lam, prefix)
        if k == "BinaryNode":
            return self.binary(node, lam, prefix, root)
        if k == "FunctionNode":
            return self.function(node, lam, prefix)
        raise self.fail(f"Given node type is not valid evaluation node: *ast.{k}", node)

    def resolve(self, node: Any) -> Any:
        name = node.ident
        if name not in self.prog.scope_vars:
            names = ",".join(self.prog.scope_vars)
            err = self.fail(f'name "{name}" is undefined. Names in scope: {names}', node)
            err.wrappable = False
            raise err
        value = self.prog.scope_vars[name]
        if isinstance(value, CompiledLambda):
            value = value.node
        if _kind(value) == "LambdaNode":
            return value
        if value is None or type(value) not in (int, float, str, bool, Duration, re.Pattern, Time):
            raise self.fail(f"unsupported literal type {go_type_name(value)}", node)
        return _ValueNode(value, node.pos)

    def reference(self, node: Any, prefix: str) -> str:
        name = node.reference
        if name not in self.prog.refs:
            self.prog.refs[name] = (len(self.prog.refs), prefix)
        return f"_r{self.prog.refs[name][0]}"

    def nested_lambda(self, node: Any, prefix: str) -> tuple[str, str | None]:
        self.prog.lambda_count += 1
        inner = self.prog.lambda_count
        try:
            return self.expr(node.expression, inner, prefix)
        except CompileError as e:
            raise self.wrap(e, "Failed to handle node: ") from None

    def wrap(self, e: CompileError, text: str) -> CompileError:
        if not e.wrappable:
            return e
        e.message = text + e.message
        e.args = (e.message,)
        return e

    def unary(self, node: Any, lam: int, prefix: str) -> tuple[str, str | None]:
        try:
            code, st = self.expr(node.node, lam, prefix)
        except CompileError as e:
            raise self.wrap(e, "Failed to handle node: ") from None
        ref = node.node.reference if _kind(node.node) == "ReferenceNode" else None
        out = self.temp()
        if node.operator == "-":
            if st == "float":
                self.emit(f"{out} = -{code}")
                return out, "float"
            if st == "int":
                self.emit(f"{out} = _w(-{code})")
                return out, "int"
            if st == "duration":
                self.emit(f"{out} = _Duration(_w(-{code}))")
                return out, "duration"
            if st is not None:
                raise self.fail(
                    f"TypeGuard: expression returned unexpected type {st}, expected int", node
                )
            self.emit(f"{out} = -{code} if type({code}) is float else _neg({code}, {ref!r})")
            return out, None
        if node.operator == "!":
            if st == "boolean":
                self.emit(f"{out} = not {code}")
                return out, "boolean"
            if st is not None:
                raise self.fail(
                    f"TypeGuard: expression returned unexpected type {st}, expected boolean", node
                )
            self.emit(f"{out} = _not({code}, {ref!r})")
            return out, "boolean"
        raise self.fail(f'Invalid unary operator: "{node.operator}"', node)

    def binary(self, node: Any, lam: int, prefix: str, root: bool) -> tuple[str, str | None]:
        op = node.operator
        scoped = root and self.mode == "bool"
        lref = node.left.reference if _kind(node.left) == "ReferenceNode" else None
        rref = node.right.reference if _kind(node.right) == "ReferenceNode" else None
        if op in _LOGICAL_OPS:
            return self.logical(node, lam, prefix, scoped, lref)
        try:
            lcode, lt = self.expr(node.left, lam, prefix)
        except CompileError as e:
            raise self.wrap(e, "Failed to handle left node: ") from None
        try:
            rcode, rt = self.expr(node.right, lam, prefix)
        except CompileError as e:
            raise self.wrap(e, "Failed to handle right node: ") from None
        out = self.temp()
        generic = f"_binop({op!r}, {lcode}, {rcode}, {lref!r}, {rref!r}, {scoped!r})"
        if lt is not None and rt is not None:
            key = (op, lt, rt)
            if key not in _OPS:
                raise self.fail(_type_error(op, lt, rt), node)
            self.emit(f"{out} = {self.direct(op, lt, rt, lcode, rcode)}")
            return out, _RESULT_TYPE[key]
        guard, fast, result = self.fast_path(op, lt, rt, lcode, rcode)
        if guard is None:
            self.emit(f"{out} = {generic}")
        else:
            self.emit(f"{out} = {fast} if {guard} else {generic}")
        if op in _COMPARISON_OPS:
            return out, "boolean"
        return out, result

    def direct(self, op: str, lt: str, rt: str, a: str, b: str) -> str:
        """Python for an operator whose operand types are known."""
        if op in _CMP:
            return f"({a} {op} {b})"
        if op == "=~":
            return f"({b}.search({a}) is not None)"
        if op == "!~":
            return f"({b}.search({a}) is None)"
        if lt == rt == "float":
            return f"({a} {op} {b})" if op != "/" else f"({a} / {b} if {b} else _fdiv({a}, {b}))"
        if lt == rt == "int":
            if op in "+-*":
                return f"_w({a} {op} {b})"
            return f"_idiv({a}, {b})" if op == "/" else f"_imod({a}, {b})"
        if lt == rt == "string":
            return f"({a} + {b})"
        return f"_OPS[({op!r}, {lt!r}, {rt!r})]({a}, {b})"

    def fast_path(
        self, op: str, lt: str | None, rt: str | None, a: str, b: str
    ) -> tuple[str | None, str, str | None]:
        """(guard, expression, result type) for the likely operand types, or (None, "", None)."""
        known = lt if lt is not None else rt
        dyn_a = lt is None
        dyn_b = rt is None
        num = ("int", "float")

        def is_type(code: str, pytype: str) -> str:
            return f"type({code}) is {pytype}"

        def is_num(code: str) -> str:
            return f"(type({code}) is float or type({code}) is int)"

        if op in _CMP:
            if known in num or (dyn_a and dyn_b):
                checks = [is_num(c) for c, d in ((a, dyn_a), (b, dyn_b)) if d]
                return " and ".join(checks), f"({a} {op} {b})", "boolean"
            if known == "string":
                checks = [is_type(c, "str") for c, d in ((a, dyn_a), (b, dyn_b)) if d]
                return " and ".join(checks), f"({a} {op} {b})", "boolean"
            if known == "duration":
                checks = [is_type(c, "_Duration") for c, d in ((a, dyn_a), (b, dyn_b)) if d]
                return " and ".join(checks), f"({a} {op} {b})", "boolean"
            if known == "boolean" and op in ("==", "!="):
                checks = [is_type(c, "bool") for c, d in ((a, dyn_a), (b, dyn_b)) if d]
                return " and ".join(checks), f"({a} {op} {b})", "boolean"
            return None, "", None
        if op in ("=~", "!~"):
            if rt == "regex" and dyn_a:
                neg = "is None" if op == "!~" else "is not None"
                return is_type(a, "str"), f"({b}.search({a}) {neg})", "boolean"
            return None, "", None
        # Arithmetic: same-type fast paths only (no implicit widening in TICKscript).
        if known == "float" or (dyn_a and dyn_b):
            checks = [is_type(c, "float") for c, d in ((a, dyn_a), (b, dyn_b)) if d]
            if op == "%":
                return None, "", None
            expr = f"({a} {op} {b})" if op != "/" else f"_fdiv({a}, {b})"
            # The generic fallback may yield a duration (duration * float), so no static type.
            return " and ".join(checks), expr, None
        if known == "int":
            checks = [is_type(c, "int") for c, d in ((a, dyn_a), (b, dyn_b)) if d]
            if op in "+-*":
                expr = f"_w({a} {op} {b})"
            else:
                expr = f"_idiv({a}, {b})" if op == "/" else f"_imod({a}, {b})"
            return " and ".join(checks), expr, None
        if known == "string" and op == "+":
            checks = [is_type(c, "str") for c, d in ((a, dyn_a), (b, dyn_b)) if d]
            return " and ".join(checks), f"({a} + {b})", "string"
        return None, "", None

    def logical(
        self, node: Any, lam: int, prefix: str, scoped: bool, lref: str | None
    ) -> tuple[str, str | None]:
        op = node.operator
        try:
            lcode, lt = self.expr(node.left, lam, prefix)
        except CompileError as e:
            raise self.wrap(e, "Failed to handle left node: ") from None
        # The right side's static type is needed before deciding anything (Kapacitor checks types
        # first); compile it into a nested block.
        out = self.temp()
        saved_lines, self.lines = self.lines, []
        saved_indent = self.indent
        self.indent = 0
        try:
            rcode, rt = self.expr(node.right, lam, prefix)
        except CompileError as e:
            raise self.wrap(e, "Failed to handle right node: ") from None
        right_lines, self.lines = self.lines, saved_lines
        self.indent = saved_indent
        if lt is not None and rt is not None and (op, lt, rt) not in _OPS:
            raise self.fail(_type_error(op, lt, rt), node)
        short = "False" if op == "AND" else "True"
        if lt is not None and lt != "boolean":
            self.emit(f"_logic_left_err({op!r}, {lcode}, {lref!r}, {scoped!r})")
            self.emit(f"{out} = False")
            return out, "boolean"
        if lt is None:
            self.emit(f"if type({lcode}) is not bool:")
            self.emit(f"    _logic_left_err({op!r}, {lcode}, {lref!r}, {scoped!r})")
        if rt is not None and rt != "boolean":
            self.emit(f"{out} = _binerr({op!r}, {lcode}, {rt!r}, {lref!r}, {scoped!r})")
            return out, "boolean"
        self.emit(f"if {lcode} is {short}:")
        self.emit(f"    {out} = {short}")
        self.emit("else:")
        self.indent += 1
        for line in right_lines:
            self.emit(line)
        if rt == "boolean":
            self.emit(f"{out} = {rcode}")
        else:
            self.emit(
                f"{out} = {rcode} if type({rcode}) is bool else _binop({op!r}, {lcode}, {rcode}, {lref!r}, None, {scoped!r})"
            )
        self.indent -= 1
        return out, "boolean"

    def function(self, node: Any, lam: int, prefix: str) -> tuple[str, str | None]:
        name = node.func
        fn = BUILTINS.get(name)
        if fn is None:
            raise self.fail(f'undefined function: "{name}"', node)
        codes: list[str] = []
        types: list[str | None] = []
        for i, arg in enumerate(node.args, 1):
            arg_prefix = prefix + _ORDINAL_ARG.format(i)
            try:
                if _kind(arg) in ("ReferenceNode", "IdentifierNode") or not self.may_fail(arg):
                    code, st = self.expr(arg, lam, arg_prefix)
                else:
                    self.emit("try:")
                    self.indent += 1
                    code, st = self.expr(arg, lam, arg_prefix)
                    self.indent -= 1
                    self.emit("except _EvalError as _e:")
                    self.emit(f"    _arg_failed({i}, _e)")
            except CompileError as e:
                raise self.wrap(e, _ORDINAL_ARG.format(i)) from None
            codes.append(code)
            types.append(st)
        literals = tuple(_node_string(a) for a in node.args)
        ret: str | None
        if self.prog.check_signatures:
            if len(node.args) > 4:
                raise self.fail(
                    f'too many arguments provided: Cannot call function "{name}" with args '
                    f"({','.join(t or 'invalid type' for t in types[:4])}), available signatures are "
                    f"{signature_error(fn, [], []).split('available signatures are ', 1)[1][:-1]}.",
                    node,
                )
            if all(t is not None for t in types):
                domain = tuple(t for t in types if t is not None)
                if domain not in fn.signature:
                    raise self.fail(signature_error(fn, literals, domain), node)
                ret = fn.signature[domain]
            else:
                arities = {len(d) for d in fn.signature}
                if len(codes) not in arities:
                    shown = ",".join(
                        f"{lit}: {t or '?'}" for lit, t in zip(literals, types, strict=True)
                    )
                    raise self.fail(
                        f'Cannot call function "{name}" with args ({shown}), available signatures are '
                        + signature_error(fn, [], []).split("available signatures are ", 1)[1],
                        node,
                    )
                self.emit(
                    f"_check_call({self.const(fn)}, ({''.join(c + ', ' for c in codes)}), {literals!r}, _names)"
                )
                returns = {r for d, r in fn.signature.items() if len(d) == len(codes)}
                ret = returns.pop() if len(returns) == 1 else None
        else:
            ret = None
        if name in STATEFUL:
            target = f"_s{lam}_{name}"
            self.prog.states[target] = (lam, name)
            call = f"{target}.call"
        else:
            call = f"{self.const(fn)}.call"
        out = self.temp()
        self.emit("try:")
        self.emit(f"    {out} = {call}({', '.join(codes)})")
        self.emit("except _FunctionError as _e:")
        self.emit(f"    _call_failed({name!r}, _e)")
        return out, ret

    def may_fail(self, node: Any) -> bool:
        """Whether evaluating a function argument can raise (literals cannot)."""
        return _kind(node) not in (
            "NumberNode",
            "StringNode",
            "BoolNode",
            "DurationNode",
            "RegexNode",
            "_ValueNode",
        )

    # -- variants ------------------------------------------------------------------------------

    def root(self) -> tuple[str, str | None, str, str | None]:
        node = self.prog.root
        while _kind(node) == "IdentifierNode":
            node = self.resolve(node)
        kind = _kind(node)
        root_ref = node.reference if kind == "ReferenceNode" else None
        code, st = self.expr(node, 0, "", root=True)
        root_kind = {"BinaryNode": "binary", "ReferenceNode": "reference"}.get(kind, "other")
        return code, st, root_kind, root_ref


def _prologue(prog: _Program, point: bool) -> list[str]:
    lines: list[str] = []
    for name, (slot, prefix) in prog.refs.items():
        var = f"_r{slot}"
        if point:
            if name == "time":
                lines.append(f"    {var} = _Time(time_ns)")
                continue
            lines.append(f"    {var} = fields.get({name!r})")
            lines.append(f"    if {var} is None:")
            lines.append(f"        {var} = tags.get({name!r}, _MISSING)")
            lines.append(f"    elif {name!r} in tags:")
            lines.append(f"        _conflict({name!r})")
        else:
            lines.append(f"    {var} = scope.get({name!r}, _UNDEF)")
            lines.append(f"    if {var} is None or {var} is _UNDEF:")
            lines.append(f"        _lookup_failed({name!r}, {var}, scope, {prefix!r})")
    return lines


def _build_source(prog: _Program) -> tuple[str, list[str], str, str | None]:
    """Python source of a factory that takes the stateful functions and returns the evaluators.

    Also returns the stateful-function names the factory takes and the root's kind and reference
    (what the typed evaluators need for their error texts).
    """
    variants: list[tuple[str, str, bool]] = [
        ("value_scope", "value", False),
        ("bool_scope", "bool", False),
        ("raw_scope", "raw", False),
        ("value_point", "value", True),
        ("bool_point", "bool", True),
    ]
    bodies: dict[str, list[str]] = {}
    for _name, mode, _point in variants:
        if mode in bodies:
            continue
        gen = _Gen(prog, mode)
        code, st, root_kind, root_ref = gen.root()
        lines = gen.lines
        if mode == "value":
            if st not in ("int", "float", "string", "boolean", "duration"):
                lines.append(f"    if type({code}) not in _VALUE_TYPES:")
                lines.append(f"        return _value_result({code}, {root_ref!r})")
        elif mode == "bool" and st != "boolean":
            lines.append(f"    if type({code}) is not bool:")
            lines.append(f"        _bool_result({code}, {root_kind!r}, {root_ref!r})")
        lines.append(f"    return {code}")
        bodies[mode] = lines
    states = sorted(prog.states)
    out = [f"def _make({', '.join(states)}):"]
    names_tuple = repr(tuple(prog.refs))
    for name, mode, point in variants:
        params = "time_ns, fields, tags" if point else "scope"
        out.append(f"    def {name}({params}):")
        if any("_names" in line for line in bodies[mode]):
            out.append(f"        _names = {names_tuple if point else 'scope'}")
        out.extend("    " + line for line in _prologue(prog, point))
        out.extend("    " + line for line in bodies[mode])
    out.append(f"    return ({', '.join(n for n, _, _ in variants)})")
    return "\n".join(out) + "\n", states, root_kind, root_ref


# ---------------------------------------------------------------------------------------------
# Public API

_TYPED = {
    "value": None,
    "bool": "boolean",
    "int": "int",
    "float": "float",
    "string": "string",
    "duration": "duration",
    "regex": "regex",
}


class CompiledLambda:
    """A compiled lambda expression with its own stateful-function state.

    ``eval``/``eval_bool`` take a mapping of names to values (Kapacitor's scope);
    ``eval_point``/``eval_point_bool`` are the per-point fast path over a point's fields and tags.
    """

    __slots__ = (
        "_factory",
        "_root_kind",
        "_root_ref",
        "_state_names",
        "_states",
        "eval",
        "eval_bool",
        "eval_point",
        "eval_point_bool",
        "eval_raw",
        "node",
        "python_source",
        "references",
        "source",
    )

    def __init__(
        self,
        factory: Callable[..., tuple[Callable[..., Any], ...]],
        state_names: list[tuple[str, str]],
        references: frozenset[str],
        node: Any,
        source: str,
        python_source: str,
        root_kind: str,
        root_ref: str | None,
    ) -> None:
        self._factory = factory
        self._state_names = state_names
        self.references = references
        self.node = node
        self.source = source
        self.python_source = python_source
        self._root_kind = root_kind
        self._root_ref = root_ref
        self._states: list[Builtin] = [BUILTINS[fname].fresh() for _, fname in state_names]
        (
            self.eval,
            self.eval_bool,
            self.eval_raw,
            self.eval_point,
            self.eval_point_bool,
        ) = factory(*self._states)

    def reset(self) -> None:
        """Clear the state of ``count()``, ``sigma()``, ``spread()``."""
        for s in self._states:
            s.reset()

    def clone(self) -> CompiledLambda:
        """The same compiled code with fresh state (one per group, as Kapacitor's CopyReset)."""
        return CompiledLambda(
            self._factory,
            self._state_names,
            self.references,
            self.node,
            self.source,
            self.python_source,
            self._root_kind,
            self._root_ref,
        )

    def eval_as(self, scope: Mapping[str, Any], type_name: str) -> Any:
        """Kapacitor's typed evaluators (EvalInt, EvalFloat, …); ``type_name`` as in the corpus."""
        if type_name == "value":
            return self.eval(scope)
        if type_name == "bool":
            return self.eval_bool(scope)
        want = _TYPED.get(type_name)
        if want is None:
            raise ValueError(f"unknown evaluation type {type_name!r}")
        v = self.eval_raw(scope)
        if tick_type(v) != want:
            raise _guard_error(v, want, self._root_kind, self._root_ref)
        return v

    def __repr__(self) -> str:
        return f"CompiledLambda({self.source!r})" if self.source else "CompiledLambda(...)"


def compile_lambda(
    node: Any,
    *,
    scope_vars: Mapping[str, Any] | None = None,
    source: str = "",
    check_signatures: bool = True,
) -> CompiledLambda:
    """Compile a LambdaNode (or its expression) once into Python functions.

    ``scope_vars`` are the TICKscript vars visible to the lambda: identifiers are replaced by
    their values, and a var holding a lambda is inlined with its own stateful-function state.
    ``check_signatures=False`` skips function signature checks, as Kapacitor does when it
    evaluates a bare function node (only its tests do that).
    """
    expression = node.expression if _kind(node) == "LambdaNode" else node
    plain = scope_vars is None and not source and check_signatures
    if plain:
        cached = _COMPILED.get(id(expression))
        if cached is not None and cached[0] is expression:
            return cached[1].clone()
    compiled = _compile(expression, node, scope_vars, source, check_signatures)
    if plain:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[id(expression)] = (expression, compiled)
        return compiled.clone()
    return compiled


#: compiled lambdas by their expression (kept alive here, so its id stays its own): a task's
#: lambdas are compiled on the compile thread when it is defined (leyden.tasks.compile) and
#: taken from here when its nodes start on the event loop; each taker gets a clone
_COMPILED: dict[int, tuple[Any, CompiledLambda]] = {}
_COMPILED_MAX = 4096


def _compile(
    expression: Any,
    node: Any,
    scope_vars: Mapping[str, Any] | None,
    source: str,
    check_signatures: bool,
) -> CompiledLambda:
    prog = _Program(expression, scope_vars or {}, source, check_signatures)
    try:
        py_source, states, root_kind, root_ref = _build_source(prog)
        namespace: dict[str, Any] = dict(_HELPERS)
        namespace["_OPS"] = _OPS
        namespace.update(prog.consts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile(py_source, f"<lambda {source[:60]!r}>" if source else "<lambda>", "exec")
    except (RecursionError, SyntaxError, MemoryError) as exc:
        # The parser's limits (leyden.limits) keep a script's lambdas well inside what Python
        # compiles; a lambda made some other way (vars inlined, a task var) that is not
        # still gets a clear error, never a traceback.
        raise CompileError(
            "lambda expression is too complex to compile (it nests too deeply: "
            f"{type(exc).__name__}); split it into smaller expressions",
            node,
            source,
        ) from None
    exec(code, namespace)
    factory = namespace["_make"]
    state_names = [(n, prog.states[n][1]) for n in states]
    return CompiledLambda(
        factory,
        state_names,
        frozenset(prog.refs),
        expression,
        source,
        py_source,
        root_kind,
        root_ref,
    )
