"""The parser of Go's ``text/template/parse`` (``parse.go``): tokens into a tree.

Recursive descent over the token list, with Go's error wording (``unexpected EOF in
command``, ``function "x" not defined``, ``undefined variable "$x"``) and its checks made at
parse time: functions and variables must exist, ``break``/``continue`` only inside ``range``,
and ``define``/``block`` bodies collected by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.go.template._lex import (
    T_ASSIGN,
    T_BOOL,
    T_CHAR,
    T_CHARCONST,
    T_DECLARE,
    T_DOT,
    T_EOF,
    T_ERROR,
    T_FIELD,
    T_IDENT,
    T_KEYWORD,
    T_LEFT,
    T_LPAREN,
    T_NIL,
    T_NUMBER,
    T_PIPE,
    T_RAW,
    T_RIGHT,
    T_RPAREN,
    T_SPACE,
    T_STRING,
    T_TEXT,
    T_VAR,
    Source,
    TemplateError,
    Tok,
    lex,
    unquote,
)
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
from leyden.go.types import go_quote

__all__ = ["Parser"]


#: bytes of one template (Go has no limit; a template is text an alert renders, and parsing
#: one on the task's definition is about 4 µs a byte here): leyden.limits lists it
MAX_TEMPLATE_BYTES = 64 * 1024
#: ``if``/``with``/``range``/``else if``/``block`` clauses and parenthesised pipelines nested in
#: one another (the parser and the compiled template recurse once per level)
MAX_TEMPLATE_NESTING = 50


def check_size(src: Source) -> None:
    """Refuse a template over :data:`MAX_TEMPLATE_BYTES`, at the place it crosses it."""
    text = src.text
    if len(text) <= MAX_TEMPLATE_BYTES // 4:
        return
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEMPLATE_BYTES:
        raise src.error(
            min(len(text), MAX_TEMPLATE_BYTES),
            f"template is {size} bytes, over the limit of {MAX_TEMPLATE_BYTES} bytes",
        )


class Parser:
    def __init__(self, src: Source, funcs: Mapping[str, Any]) -> None:
        check_size(src)
        self.src = src
        self.toks = lex(src)
        self.depth = 0
        self.i = 0
        self.funcs = funcs
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.defines: dict[str, ListNode] = {}

    # token helpers -------------------------------------------------------------
    def next(self) -> Tok:
        tok = self.peek()
        if tok.typ != T_EOF:
            self.i += 1
        return tok

    def peek(self) -> Tok:
        tok = self.toks[self.i]
        if tok.typ == T_ERROR:
            raise TemplateError(tok.val)
        return tok

    def peek_non_space(self) -> Tok:
        if self.peek().typ == T_SPACE:
            self.i += 1
        return self.peek()

    def next_non_space(self) -> Tok:
        self.peek_non_space()
        return self.next()

    def error(self, tok: Tok | int, msg: str) -> TemplateError:
        return self.src.error(tok if isinstance(tok, int) else tok.pos, msg)

    def unexpected(self, tok: Tok, context: str) -> TemplateError:
        if tok.typ == T_EOF:
            return self.error(tok, f"unexpected EOF in {context}")
        return self.error(tok, f"unexpected {tok} in {context}")

    def expect(self, typ: str, context: str) -> Tok:
        tok = self.next_non_space()
        if tok.typ != typ:
            raise self.unexpected(tok, context)
        return tok

    def deeper(self, tok: Tok | int) -> None:
        """One more level of nesting; refused over :data:`MAX_TEMPLATE_NESTING`."""
        self.depth += 1
        if self.depth > MAX_TEMPLATE_NESTING:
            raise self.error(
                tok,
                f"actions nest more than {MAX_TEMPLATE_NESTING} deep (if, with, range, "
                "else if, block and parentheses; the limit)",
            )

    # grammar --------------------------------------------------------------------
    def parse(self) -> ListNode:
        root = ListNode(0)
        while self.peek().typ != T_EOF:
            if self.peek().typ == T_LEFT:
                save = self.i
                self.next()
                kw = self.next_non_space()
                if kw.typ == T_KEYWORD and kw.val == "define":
                    self.parse_define(kw)
                    continue
                self.i = save
            node = self.text_or_action()
            if isinstance(node, KeywordNode) and node.word in ("end", "else"):
                raise self.error(node.pos, f"unexpected {{{{{node.word}}}}}")
            root.nodes.append(node)
        return root

    def parse_define(self, kw: Tok) -> None:
        name_tok = self.next_non_space()
        if name_tok.typ not in (T_STRING, T_RAW):
            raise self.unexpected(name_tok, "define clause")
        name = unquote(self.src, name_tok)
        self.expect(T_RIGHT, "define clause")
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if end.word != "end":
            raise self.error(end.pos, f"unexpected {end} in input")
        self.add_define(name, body, kw.pos)

    def add_define(self, name: str, body: ListNode, pos: int) -> None:
        old = self.defines.get(name)
        if (
            old is not None
            and old.nodes
            and any(not (isinstance(n, TextNode) and not n.text.strip()) for n in old.nodes)
        ):
            raise self.error(pos, f"template: multiple definition of template {go_quote(name)}")
        self.defines[name] = body

    def item_list(self) -> tuple[ListNode, KeywordNode]:
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != T_EOF:
            node = self.text_or_action()
            if isinstance(node, KeywordNode) and node.word in ("end", "else"):
                return lst, node
            lst.nodes.append(node)
        raise self.error(self.peek(), "unexpected EOF")

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok.typ == T_TEXT:
            return TextNode(tok.pos, tok.val)
        if tok.typ == T_LEFT:
            return self.action()
        raise self.unexpected(tok, "input")

    def action(self) -> Node:
        tok = self.next_non_space()
        if tok.typ == T_KEYWORD:
            word = tok.val
            if word in ("if", "with", "range"):
                return self.control(word, tok)
            if word == "end":
                self.expect(T_RIGHT, "end")
                return KeywordNode(tok.pos, "end")
            if word == "else":
                nxt = self.peek_non_space()
                if nxt.typ == T_KEYWORD and nxt.val in ("if", "with"):
                    return KeywordNode(tok.pos, "else")
                self.expect(T_RIGHT, "else")
                return KeywordNode(tok.pos, "else")
            if word in ("break", "continue"):
                if self.range_depth == 0:
                    raise self.error(tok, f"{{{{{word}}}}} outside {{{{range}}}}")
                self.expect(T_RIGHT, f"{{{{{word}}}}}")
                return KeywordNode(tok.pos, word)
            if word in ("template", "block"):
                return self.template_call(word, tok)
            if word == "define":
                raise self.error(tok, "unexpected <define> in command")
        self.i -= 1  # give the first token back to the pipeline
        pipe = self.pipeline("command", T_RIGHT)
        return ActionNode(tok.pos, pipe)

    def control(self, kind: str, tok: Tok) -> BranchNode:
        self.deeper(tok)
        try:
            return self._control(kind, tok)
        finally:
            self.depth -= 1

    def _control(self, kind: str, tok: Tok) -> BranchNode:
        mark = len(self.vars)
        pipe = self.pipeline(kind, T_RIGHT)
        if kind == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_list: ListNode | None = None
        if nxt.word == "else":
            follow = self.peek_non_space()
            if kind in ("if", "with") and follow.typ == T_KEYWORD and follow.val == kind:
                self.next()
                else_list = ListNode(nxt.pos)
                else_list.nodes.append(self.control(kind, follow))
            else:
                else_list, end = self.item_list()
                if end.word != "end":
                    raise self.error(end.pos, f"expected end; found {end}")
        del self.vars[mark:]
        # Go positions if/with/range nodes at their pipeline, which error messages show.
        return BranchNode(pipe.pos, kind, pipe, body, else_list)

    def template_call(self, word: str, tok: Tok) -> Node:
        context = f"{word} clause"
        name_tok = self.next_non_space()
        if name_tok.typ not in (T_STRING, T_RAW):
            raise self.unexpected(name_tok, context)
        name = unquote(self.src, name_tok)
        pipe: PipeNode | None = None
        if self.peek_non_space().typ != T_RIGHT:
            pipe = self.pipeline(context, T_RIGHT)
        else:
            self.next()
        if word == "block":
            if pipe is None:
                raise self.error(tok, "missing value for block clause")
            saved_vars, self.vars = self.vars, ["$"]
            self.deeper(tok)
            body, end = self.item_list()
            self.depth -= 1
            self.vars = saved_vars
            if end.word != "end":
                raise self.error(end.pos, f"unexpected {end} in block clause")
            self.add_define(name, body, tok.pos)
        return TemplateCallNode(tok.pos, name, pipe)

    def pipeline(self, context: str, end: str) -> PipeNode:
        pipe = PipeNode(self.peek_non_space().pos)
        while True:  # declarations
            v = self.peek_non_space()
            if v.typ != T_VAR:
                break
            save = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.typ in (T_DECLARE, T_ASSIGN):
                self.next()
                pipe.is_assign = nxt.typ == T_ASSIGN
                if pipe.is_assign and v.val not in self.vars:
                    raise self.error(v, f"undefined variable {go_quote(v.val)}")
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                break
            if nxt.typ == T_CHAR and nxt.val == ",":
                self.next()
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (T_VAR, T_RIGHT, T_RPAREN):
                        continue
                    raise self.error(self.peek(), "range can only initialize variables")
                raise self.error(nxt, f"too many declarations in {context}")
            self.i = save
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                if not pipe.cmds:
                    raise self.error(tok, f"missing value for {context}")
                for k, cmd in enumerate(pipe.cmds[1:]):
                    if isinstance(cmd.args[0], ConstNode | DotNode):
                        raise self.error(
                            cmd.pos, f"non executable command in pipeline stage {k + 2}"
                        )
                return pipe
            if tok.typ in (
                T_BOOL,
                T_CHARCONST,
                T_DOT,
                T_FIELD,
                T_IDENT,
                T_NUMBER,
                T_NIL,
                T_RAW,
                T_STRING,
                T_VAR,
                T_LPAREN,
            ):
                self.i -= 1
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == T_SPACE:
                continue
            if tok.typ in (T_RIGHT, T_RPAREN):
                self.i -= 1
            elif tok.typ == T_PIPE:
                pass
            else:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error(cmd.pos, "empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == T_FIELD:
            names: list[str] = []
            while self.peek().typ == T_FIELD:
                names.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                node = FieldNode(node.pos, node.base, node.names + names)
            elif isinstance(node, ConstNode | DotNode):
                raise self.error(node.pos, f"unexpected . after term {go_quote(str(node))}")
            else:
                node = FieldNode(node.pos, node, names)
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == T_IDENT:
            if tok.val not in self.funcs:
                raise self.error(tok, f"function {go_quote(tok.val)} not defined")
            return IdentNode(tok.pos, tok.val)
        if typ == T_DOT:
            return DotNode(tok.pos)
        if typ == T_NIL:
            return ConstNode(tok.pos, None, "nil", is_nil=True)
        if typ == T_VAR:
            name = tok.val
            if name not in self.vars:
                raise self.error(tok, f"undefined variable {go_quote(name)}")
            return FieldNode(tok.pos, name, [])
        if typ == T_FIELD:
            return FieldNode(tok.pos, None, [tok.val[1:]])
        if typ == T_BOOL:
            return ConstNode(tok.pos, tok.val == "true", tok.val)
        if typ == T_NUMBER:
            return ConstNode(tok.pos, self.number(tok), tok.val)
        if typ == T_CHARCONST:
            return ConstNode(tok.pos, ord(unquote(self.src, tok)), tok.val)
        if typ == T_LPAREN:
            self.deeper(tok)
            pipe = self.pipeline("parenthesized pipeline", T_RPAREN)
            self.depth -= 1
            return pipe
        if typ in (T_STRING, T_RAW):
            return ConstNode(tok.pos, unquote(self.src, tok), tok.val)
        self.i -= 1
        return None

    def number(self, tok: Tok) -> int | float:
        """Go's ideal-constant rule: floats when written with ``.``/exponent, else ints."""
        text = tok.val
        is_hex = text.lstrip("+-")[:2].lower() == "0x"
        if not is_hex and any(c in text for c in ".eE"):
            try:
                return float(text.replace("_", ""))
            except ValueError:
                raise self.error(tok, f"illegal number syntax: {go_quote(text)}") from None
        body = text.lstrip("+-")
        sign = -1 if text.startswith("-") else 1
        try:
            if len(body) > 1 and body[0] == "0" and body[1].isdigit():
                value = int(body.replace("_", ""), 8)
            else:
                value = int(body, 0)
        except ValueError:
            raise self.error(tok, f"illegal number syntax: {go_quote(text)}") from None
        value *= sign
        if not -(2**63) <= value < 2**63:
            raise self.error(tok, f"{text} overflows int")
        return value
