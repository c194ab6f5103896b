"""Canonical TICKscript layout, byte for byte as Kapacitor's ``tickfmt`` prints it.

Each node writes itself given the current indent and whether it starts on a fresh line, as the
``Format`` methods in Kapacitor's ``tick/ast/node.go`` do; matching that shape is what keeps the
output identical, including its quirks (comments are re-flowed, redundant parentheses vanish).
"""

from __future__ import annotations

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

__all__ = ["format_float", "format_node", "format_script"]

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
    match node:
        case ProgramNode():
            for i, n in enumerate(node.nodes):
                if i:
                    out.append("\n")
                _fmt(n, out, indent, True)
                out.append("\n")
        case CommentNode():
            _comment(node, out, indent, on_new_line)
        case DBRPNode():
            if node.comment is not None:
                _comment(node.comment, out, indent, on_new_line)
            out.append(f'{indent}dbrp "{node.db.reference}"."{node.rp.reference}"')
        case DeclarationNode():
            if node.comment is not None:
                _comment(node.comment, out, indent, on_new_line)
            out.append("var ")
            _fmt(node.left, out, indent, False)
            out.append(" = ")
            _fmt(node.right, out, indent, False)
        case TypeDeclarationNode():
            if node.comment is not None:
                _comment(node.comment, out, indent, on_new_line)
            out.append("var ")
            _fmt(node.node, out, indent, False)
            out.append(" ")
            _fmt(node.type, out, indent, False)
        case ChainNode():
            _fmt(node.left, out, indent, on_new_line)
            out.append("\n")
            indent += _STEP
            if node.operator == ".":
                indent += _STEP
            if node.comment is not None:
                _comment(node.comment, out, indent, True)
            out.append(indent + node.operator)
            _fmt(node.right, out, indent, False)
        case FunctionNode():
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
        case IdentifierNode():
            _lead(node, out, indent, on_new_line)
            out.append(node.ident)
        case ReferenceNode():
            _lead(node, out, indent, on_new_line)
            out.append('"' + node.reference.replace('"', '\\"') + '"')
        case StringNode():
            _lead(node, out, indent, on_new_line)
            if node.triple_quotes:
                out.append("'''" + node.literal + "'''")
            else:
                out.append("'" + node.literal.replace("'", "\\'") + "'")
        case NumberNode():
            _lead(node, out, indent, on_new_line)
            if node.is_int:
                out.append("0" + format(node.int64, "o") if node.base == 8 else str(node.int64))
            else:
                out.append(format_float(node.float64))
        case DurationNode():
            _lead(node, out, indent, on_new_line)
            out.append(node.literal)
        case BoolNode():
            _lead(node, out, indent, on_new_line)
            out.append("TRUE" if node.value else "FALSE")
        case RegexNode():
            _lead(node, out, indent, on_new_line)
            out.append("/" + node.literal + "/")
        case StarNode():
            _lead(node, out, indent, on_new_line)
            out.append("*")
        case UnaryNode():
            _lead(node, out, indent, on_new_line)
            out.append(node.operator)
            _fmt(node.node, out, indent, False)
        case BinaryNode():
            _lead(node, out, indent, on_new_line)
            if node.parens:
                out.append("(")
                indent += _STEP
            _fmt(node.left, out, indent, False)
            out.append(" " + node.operator + ("\n" if node.multiline else " "))
            _fmt(node.right, out, indent, node.multiline)
            if node.parens:
                out.append(")")
        case LambdaNode():
            _lead(node, out, indent, on_new_line)
            out.append("lambda: ")
            _fmt(node.expression, out, indent, False)
        case ListNode():
            _lead(node, out, indent, on_new_line)
            out.append("[")
            for i, item in enumerate(node.nodes):
                if i:
                    out.append(", ")
                _fmt(item, out, indent, on_new_line)
            out.append("]")
        case _:
            raise TypeError(f"cannot format {type(node).__name__}")
