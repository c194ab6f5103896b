"""TICKscript syntax tree.

Node names and fields mirror Kapacitor's ``tick/ast/node.go`` (snake_case), so the corpus ASTs in
``parser/ast_cases.json`` compare one to one through :func:`to_dict`. Nodes compare and hash by
identity (``eq=False``): a lambda compiler can key per-node state on them. Kapacitor gives almost
every node a comment; nodes outside the published contract carry theirs as a trailing ``comment``
field with a default, which the formatter needs to reproduce ``tickfmt`` output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Position:
    offset: int  # byte offset in the UTF-8 text
    line: int
    col: int  # byte offset since the last newline + 1 (Kapacitor's "char")


@dataclass(slots=True, eq=False)
class CommentNode:
    pos: Position
    comments: list[str]


@dataclass(slots=True, eq=False)
class ProgramNode:
    pos: Position
    nodes: list[Any]


@dataclass(slots=True, eq=False)
class ReferenceNode:
    pos: Position
    reference: str
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class IdentifierNode:
    pos: Position
    ident: str
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class DBRPNode:
    pos: Position
    db: ReferenceNode
    rp: ReferenceNode
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class TypeDeclarationNode:
    pos: Position
    node: IdentifierNode
    type: IdentifierNode
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class DeclarationNode:
    pos: Position
    left: IdentifierNode
    right: Any
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class FunctionNode:
    pos: Position
    type: str  # "global" | "chain" | "property" | "dynamic"
    func: str
    args: list[Any] = field(default_factory=list)
    comment: CommentNode | None = None
    multiline: bool = False


@dataclass(slots=True, eq=False)
class ChainNode:
    """``left | right()``, ``left.right(...)`` or ``left@right()``.

    ``right`` is a FunctionNode, or an IdentifierNode for a bare property (``influxql.agg``).
    """

    pos: Position  # position of the operator, as in Kapacitor
    left: Any
    operator: str  # "|", "." or "@"
    right: Any
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class StringNode:
    pos: Position
    literal: str
    triple_quotes: bool = False
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class NumberNode:
    pos: Position
    is_int: bool
    is_float: bool
    int64: int = 0
    float64: float = 0.0
    base: int = 0  # 8 or 10 for ints, 0 for floats (as Kapacitor leaves it)
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class DurationNode:
    pos: Position
    ns: int
    literal: str
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class BoolNode:
    pos: Position
    value: bool
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class RegexNode:
    pos: Position
    literal: str  # the Go pattern as written between the slashes (``\\/`` still escaped)
    regex: re.Pattern[str]  # the pattern translated to Python's re
    comment: CommentNode | None = None

    @property
    def pattern(self) -> str:
        """The Go pattern that was compiled: the literal with ``\\/`` unescaped."""
        return self.literal.replace("\\/", "/")


@dataclass(slots=True, eq=False)
class StarNode:
    pos: Position
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class UnaryNode:
    pos: Position
    operator: str  # "-" or "!"
    node: Any
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class BinaryNode:
    pos: Position  # position of the operator, as in Kapacitor
    operator: str
    left: Any
    right: Any
    parens: bool = False
    multiline: bool = False
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class LambdaNode:
    pos: Position
    expression: Any
    comment: CommentNode | None = None


@dataclass(slots=True, eq=False)
class ListNode:
    pos: Position
    nodes: list[Any]
    comment: CommentNode | None = None


Node = (
    ProgramNode
    | DBRPNode
    | TypeDeclarationNode
    | DeclarationNode
    | ChainNode
    | FunctionNode
    | IdentifierNode
    | ReferenceNode
    | StringNode
    | NumberNode
    | DurationNode
    | BoolNode
    | RegexNode
    | StarNode
    | UnaryNode
    | BinaryNode
    | LambdaNode
    | ListNode
    | CommentNode
)

_CHAIN_OP_NAMES = {"|": "Pipe", ".": "Dot", "@": "At"}


def to_dict(node: Any) -> dict[str, Any]:
    """The JSON shape of ``parser/ast_cases.json``: Kapacitor's field names, zero values omitted
    (as Go's ``omitempty`` would), positions as ``{"pos", "line", "char"}``."""
    d: dict[str, Any] = {
        "node": type(node).__name__,
        "pos": {"pos": node.pos.offset, "line": node.pos.line, "char": node.pos.col},
    }

    def put(key: str, value: Any) -> None:
        if value is None or value is False or (isinstance(value, list | str) and not value):
            return
        d[key] = value

    def sub(n: Any) -> dict[str, Any] | None:
        return None if n is None else to_dict(n)

    match node:
        case ProgramNode():
            put("Nodes", [to_dict(n) for n in node.nodes])
        case CommentNode():
            put("Comments", list(node.comments))
        case DBRPNode():
            put("DB", sub(node.db))
            put("RP", sub(node.rp))
        case TypeDeclarationNode():
            put("Node", sub(node.node))
            put("Type", sub(node.type))
        case DeclarationNode():
            put("Left", sub(node.left))
            put("Right", sub(node.right))
        case ChainNode():
            put("Operator", _CHAIN_OP_NAMES[node.operator])
            put("Left", sub(node.left))
            put("Right", sub(node.right))
        case FunctionNode():
            put("Type", node.type)
            put("Func", node.func)
            put("Args", [to_dict(a) for a in node.args])
            put("MultiLine", node.multiline)
        case IdentifierNode():
            put("Ident", node.ident)
        case ReferenceNode():
            put("Reference", node.reference)
        case StringNode():
            put("Literal", node.literal)
            put("TripleQuotes", node.triple_quotes)
        case NumberNode():
            if node.is_int:
                d.update(IsInt=True, Int64=node.int64, Base=node.base)
            if node.is_float:
                d.update(IsFloat=True, Float64=node.float64)
        case DurationNode():
            put("Dur_ns", node.ns)
            put("Literal", node.literal)
        case BoolNode():
            d["Bool"] = node.value
        case RegexNode():
            put("Regex", node.pattern)
            put("Literal", node.literal)
        case UnaryNode():
            put("Operator", node.operator)
            put("Node", sub(node.node))
        case BinaryNode():
            put("Operator", node.operator)
            put("Left", sub(node.left))
            put("Right", sub(node.right))
            put("Parens", node.parens)
            put("MultiLine", node.multiline)
        case LambdaNode():
            put("Expression", sub(node.expression))
        case ListNode():
            put("Nodes", [to_dict(n) for n in node.nodes])
    comment = getattr(node, "comment", None)
    if comment is not None:
        d["Comment"] = to_dict(comment)
    return d
