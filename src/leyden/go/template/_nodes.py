"""The parse tree of Go's ``text/template/parse`` (``node.go``).

Each node prints back as template text (``String()`` in Go), because execution errors quote
the failing node (``at <.A.B>``) and Go's wording must be matched.
"""

from __future__ import annotations

from typing import Any

from leyden.go.types import go_quote

__all__ = [
    "ActionNode",
    "BranchNode",
    "CommandNode",
    "ConstNode",
    "DotNode",
    "FieldNode",
    "IdentNode",
    "KeywordNode",
    "ListNode",
    "Node",
    "PipeNode",
    "TemplateCallNode",
    "TextNode",
    "arg_str",
]


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class ConstNode(Node):
    """A literal: bool, string, number or nil; ``source`` is its text as written."""

    __slots__ = ("is_nil", "source", "value")

    def __init__(self, pos: int, value: Any, source: str, is_nil: bool = False) -> None:
        super().__init__(pos)
        self.value = value
        self.source = source
        self.is_nil = is_nil

    def __str__(self) -> str:
        return self.source


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class FieldNode(Node):
    """``.A.B`` on dot, ``$x.A.B`` on a variable, or ``(pipe).A.B``: a receiver and a chain."""

    __slots__ = ("base", "names")

    def __init__(self, pos: int, base: Any, names: list[str]) -> None:
        super().__init__(pos)
        self.base = base  # None (dot), a variable name "$x", or a PipeNode / other node
        self.names = names

    def __str__(self) -> str:
        chain = "".join("." + n for n in self.names)
        if self.base is None:
            return chain
        if isinstance(self.base, str):
            return self.base + chain
        return f"{arg_str(self.base)}{chain}"


class IdentNode(Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.args: list[Node] = []

    def __str__(self) -> str:
        return " ".join(arg_str(a) for a in self.args)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.decl: list[str] = []
        self.is_assign = False
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(c) for c in self.cmds)


def arg_str(node: Node) -> str:
    return f"({node})" if isinstance(node, PipeNode) else str(node)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.nodes: list[Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class BranchNode(Node):
    """``if``, ``with`` and ``range``: a pipeline, a body and an optional else body."""

    __slots__ = ("body", "else_list", "kind", "pipe")

    def __init__(
        self, pos: int, kind: str, pipe: PipeNode, body: ListNode, else_list: ListNode | None
    ):
        super().__init__(pos)
        self.kind = kind
        self.pipe = pipe
        self.body = body
        self.else_list = else_list

    def __str__(self) -> str:
        text = f"{{{{{self.kind} {self.pipe}}}}}{self.body}"
        if self.else_list is not None:
            text += f"{{{{else}}}}{self.else_list}"
        return text + "{{end}}"


class TemplateCallNode(Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        if self.pipe is None:
            return f"{{{{template {go_quote(self.name)}}}}}"
        return f"{{{{template {go_quote(self.name)} {self.pipe}}}}}"


class KeywordNode(Node):
    """``{{break}}`` / ``{{continue}}`` in the tree, and ``{{end}}`` / ``{{else}}`` while parsing."""

    __slots__ = ("word",)

    def __init__(self, pos: int, word: str) -> None:
        super().__init__(pos)
        self.word = word

    def __str__(self) -> str:
        return "{{" + self.word + "}}"
