"""Canonical TICKscript layout, byte for byte as Kapacitor's ``tickfmt`` prints it.

Each node writes itself given the current indent and whether it starts on a fresh line, as the
``Format`` methods in Kapacitor's ``tick/ast/node.go`` do; matching that shape is what keeps the
output identical, including its quirks (comments are re-flowed, redundant parentheses vanish).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .ast import (
    BinaryNode,
    BoolNode,
    ChainNode,
    CommentNode,
    DBRPNode,
    DeclarationNode,
    DurationNode,
    FunctionNode,
    IdentifierNode,
    LambdaNode,
    ListNode,
    NumberNode,
    ProgramNode,
    ReferenceNode,
    RegexNode,
    StarNode,
    StringNode,
    TypeDeclarationNode,
    UnaryNode,
)
from .errors import TickError
from .parser import parse

__all__ = ["format_float", "format_node", "format_script", "formatted"]

_STEP = "    "


def format_script(text: str, filename: str = "<tickscript>") -> str:
    """Parse and re-print a script in canonical layout. Raises TickError on bad input."""
    program = parse(text, filename)
    try:
        return format_node(program)
    except RecursionError:
        raise TickError(
            "script nests too deeply to format", filename=filename, line=1, col=1
        ) from None


@functools.lru_cache(maxsize=64)
def formatted(text: str, filename: str = "<tickscript>") -> str:
    """The script as Kapacitor shows it (``script-format=formatted``): :func:`format_script`,
    or the text itself when it does not format.  Remembered for the scripts shown last, so
    the API does not parse a script on the event loop each time it shows it (a definition
    formats it on the compile thread, :mod:`leyden.tasks.compile`)."""
    try:
        return format_script(text, filename)
    except TickError:
        return text


def format_node(node: Any) -> str:
    """Canonical text of any node (a program gives a whole script)."""
    out: list[str] = []
    _fmt(node, out, "", False)
    return "".join(out)


def format_float(f: float) -> str:
    """Go's strconv.FormatFloat(f, 'f', -1, 64), plus '.0' when that has no point."""
    s = format(Decimal(repr(f)), "f")
    return s if "." in s else s + ".0"


def _indent(out: list[str], indent: str, on_new_line: bool) -> None:
    if on_new_line:
        out.append(indent)


def _comment(c: CommentNode, out: list[str], indent: str, on_new_line: bool) -> None:
    if not on_new_line:
        out.append("\n")
    for line in c.comments:
        if line == "\n":
            out.append("\n")
            continue
        out.append(indent + "//")
        if line:
            out.append(" " + line)
        out.append("\n")


def _lead(node: Any, out: list[str], indent: str, on_new_line: bool) -> None:
    """The common start of a value node: its comment, then the indent if on a new line."""
    if node.comment is not None:
        _comment(node.comment, out, indent, on_new_line)
        on_new_line = True
    _indent(out, indent, on_new_line)


def _fmt(node: Any, out: list[str], indent: str, on_new_line: bool) -> None:
    """Append ``node``'s text: each node type has its writer (Kapacitor's ``Format`` methods)."""
    write = _WRITERS.get(type(node))
    if write is None:
        raise TypeError(f"cannot format {type(node).__name__}")
    write(node, out, indent, on_new_line)


# -- statements -------------------------------------------------------------------------------


def _program(node: ProgramNode, out: list[str], indent: str, on_new_line: bool) -> None:
    for i, n in enumerate(node.nodes):
        if i:
            out.append("\n")
        _fmt(n, out, indent, True)
        out.append("\n")


def _statement_comment(node: Any, out: list[str], indent: str, on_new_line: bool) -> None:
    if node.comment is not None:
        _comment(node.comment, out, indent, on_new_line)


def _dbrp(node: DBRPNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _statement_comment(node, out, indent, on_new_line)
    out.append(f'{indent}dbrp "{node.db.reference}"."{node.rp.reference}"')


def _declaration(node: DeclarationNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _statement_comment(node, out, indent, on_new_line)
    out.append("var ")
    _fmt(node.left, out, indent, False)
    out.append(" = ")
    _fmt(node.right, out, indent, False)


def _type_declaration(
    node: TypeDeclarationNode, out: list[str], indent: str, on_new_line: bool
) -> None:
    _statement_comment(node, out, indent, on_new_line)
    out.append("var ")
    _fmt(node.node, out, indent, False)
    out.append(" ")
    _fmt(node.type, out, indent, False)


# -- chains and calls -------------------------------------------------------------------------


def _chain(node: ChainNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _fmt(node.left, out, indent, on_new_line)
    out.append("\n")
    indent += _STEP
    if node.operator == ".":
        indent += _STEP
    if node.comment is not None:
        _comment(node.comment, out, indent, True)
    out.append(indent + node.operator)
    _fmt(node.right, out, indent, False)


def _function(node: FunctionNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _lead(node, out, indent, on_new_line)
    out.append(node.func + "(")
    arg_indent = indent + _STEP
    for i, arg in enumerate(node.args):
        if i:
            out.append("," if node.multiline else ", ")
        if node.multiline:
            out.append("\n")
        _fmt(arg, out, arg_indent, node.multiline)
    if node.multiline and node.args:
        out.append("\n" + indent)
    out.append(")")


# -- values -----------------------------------------------------------------------------------


def _string_text(node: StringNode) -> str:
    if node.triple_quotes:
        return "'''" + node.literal + "'''"
    return "'" + node.literal.replace("'", "\\'") + "'"


def _number_text(node: NumberNode) -> str:
    if node.is_int:
        return "0" + format(node.int64, "o") if node.base == 8 else str(node.int64)
    return format_float(node.float64)


# The values that are one piece of text after their comment and indent.
_TEXT: dict[type, Callable[[Any], str]] = {
    IdentifierNode: lambda n: n.ident,
    ReferenceNode: lambda n: '"' + n.reference.replace('"', '\\"') + '"',
    StringNode: _string_text,
    NumberNode: _number_text,
    DurationNode: lambda n: n.literal,
    BoolNode: lambda n: "TRUE" if n.value else "FALSE",
    RegexNode: lambda n: "/" + n.literal + "/",
    StarNode: lambda n: "*",
}


def _text(node: Any, out: list[str], indent: str, on_new_line: bool) -> None:
    _lead(node, out, indent, on_new_line)
    out.append(_TEXT[type(node)](node))


def _unary(node: UnaryNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _lead(node, out, indent, on_new_line)
    out.append(node.operator)
    _fmt(node.node, out, indent, False)


def _ends_in_regex(node: Any) -> bool:
    """Whether the text of ``node`` ends with a regex (so no symbol operator may follow it)."""
    while True:
        if isinstance(node, BinaryNode) and not node.parens:
            node = node.right
        elif isinstance(node, UnaryNode):
            node = node.node
        else:
            return isinstance(node, RegexNode)


def _binary(node: BinaryNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _lead(node, out, indent, on_new_line)
    if node.parens:
        out.append("(")
        indent += _STEP
    # An operator cannot follow a regex (the lexer reads one only after "(" or "=~"/"!~" and
    # expects ")" after it), so a regex on the left keeps its parentheses (found by fuzzing).
    left_regex = node.operator not in ("AND", "OR") and _ends_in_regex(node.left)
    out.append("(" if left_regex else "")
    _fmt(node.left, out, indent, False)
    out.append(")" if left_regex else "")
    out.append(" " + node.operator + ("\n" if node.multiline else " "))
    _fmt(node.right, out, indent, node.multiline)
    if node.parens:
        out.append(")")


def _lambda(node: LambdaNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _lead(node, out, indent, on_new_line)
    out.append("lambda: ")
    # A regex cannot start a lambda (the parser reads one only after an operator or a
    # parenthesis), so ``lambda: (/x/)`` keeps its parentheses to parse again (found by fuzzing).
    bare_regex = isinstance(node.expression, RegexNode)
    out.append("(" if bare_regex else "")
    _fmt(node.expression, out, indent, False)
    out.append(")" if bare_regex else "")


def _list(node: ListNode, out: list[str], indent: str, on_new_line: bool) -> None:
    _lead(node, out, indent, on_new_line)
    out.append("[")
    for i, item in enumerate(node.nodes):
        if i:
            out.append(", ")
        _fmt(item, out, indent, on_new_line)
    out.append("]")


_WRITERS: dict[type, Callable[[Any, list[str], str, bool], None]] = {
    ProgramNode: _program,
    CommentNode: _comment,
    DBRPNode: _dbrp,
    DeclarationNode: _declaration,
    TypeDeclarationNode: _type_declaration,
    ChainNode: _chain,
    FunctionNode: _function,
    **dict.fromkeys(_TEXT, _text),
    UnaryNode: _unary,
    BinaryNode: _binary,
    LambdaNode: _lambda,
    ListNode: _list,
}
