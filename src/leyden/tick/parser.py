"""TICKscript parser: tokens → :mod:`leyden.tick.ast`.

A recursive-descent parser with precedence climbing for operators, following the structure of
Kapacitor's ``tick/ast/parser.go`` closely, including its two-token lookahead and the way
comments ride on the token that follows them. Those details decide which node a comment lands on
and where errors are reported, and the formatter and the error corpus depend on both.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from leyden import limits
from leyden.go.types import go_quote
from leyden.tick.values import wrap_int64

from . import lexer as L
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
    Position,
    ProgramNode,
    ReferenceNode,
    RegexNode,
    StarNode,
    StringNode,
    TypeDeclarationNode,
    UnaryNode,
)
from .errors import TickError, suggest
from .regex import GoRegexError, compile_go

__all__ = ["check_size", "parse", "parse_lambda"]

_OPERAND_EXPECTED = (
    L.NUMBER,
    L.STRING,
    L.DURATION,
    L.IDENT,
    L.TRUE,
    L.FALSE,
    L.EQUAL,
    L.LPAREN,
    L.MINUS,
    L.NOT,
)
_OP_TEXT = {L.MULT: "*"}
_INT64_MAX = (1 << 63) - 1

# influxql.ParseDuration units, in nanoseconds.
_DUR_NS = {
    "u": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}

_ZERO_TOKEN = L.Token(L.ERR, 0, "")  # what Go's closed token channel yields


def _go_float_ok(text: str) -> float | None:
    """strconv.ParseFloat on digits with one '.', or None where Go reports an error."""
    if not all(c == "." or "0" <= c <= "9" for c in text) or text == ".":
        return None
    f = float(Decimal(text))
    if f == float("inf"):
        return None
    return f


def check_size(text: str, filename: str) -> None:
    """Refuse a script over :data:`leyden.limits.MAX_SCRIPT_BYTES`, located where it crosses
    the limit (checked before anything is lexed)."""
    limit = limits.MAX_SCRIPT_BYTES
    if len(text) <= limit // 4:  # no character is over 4 bytes in UTF-8
        return
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return
    line = data.count(b"\n", 0, limit) + 1
    col = limit - (data.rfind(b"\n", 0, limit) + 1) + 1
    raise TickError(
        f"script is {len(data)} bytes, over the limit of {limit} bytes",
        filename=filename,
        line=line,
        col=col,
        offset=limit,
    )


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        check_size(text, filename)
        self.src = L.Source(text)
        self.filename = filename
        self.toks = L.lex(text)
        #: primary() calls in progress (parentheses, unary operators, arguments …)
        self.nesting = 0
        #: lambda function calls in progress
        self.calls = 0
        #: tree depth of the expressions built so far, by id (a leaf is 1)
        self.depths: dict[int, int] = {}
        self.ti = 0
        self.token: list[L.Token] = [_ZERO_TOKEN, _ZERO_TOKEN]
        self.comments: list[CommentNode | None] = [None, None]
        self.peek_count = 0
        self._positions: dict[int, Position] = {}

    # ---- token stream (a port of Kapacitor's next/peek/backup with comment slots) ----

    def _raw(self) -> L.Token:
        if self.ti < len(self.toks):
            t = self.toks[self.ti]
            self.ti += 1
            return t
        return _ZERO_TOKEN

    def _next_token(self) -> tuple[L.Token, CommentNode | None]:
        t = self._raw()
        texts: list[str] = []
        pos = -1
        while t.type == L.COMMENT:
            if pos == -1:
                pos = t.pos
            texts.append(t.text)
            t = self._raw()
        return t, (self._comment(pos, texts) if texts else None)

    def next(self) -> L.Token:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0], self.comments[0] = self._next_token()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def peek(self) -> L.Token:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[1], self.comments[1] = self.token[0], self.comments[0]
        self.token[0], self.comments[0] = self._next_token()
        return self.token[0]

    def consume_comment(self) -> CommentNode | None:
        c = self.comments[self.peek_count]
        self.comments[self.peek_count] = None
        return c

    def expect(self, typ: str) -> L.Token:
        tok = self.next()
        if tok.type != typ:
            self.unexpected(tok, typ)
        return tok

    # ---- helpers ----

    def position(self, pos: int) -> Position:
        p = self._positions.get(pos)
        if p is None:
            line, col = self.src.line_col(pos)
            p = self._positions[pos] = Position(pos, line, col)
        return p

    def _comment(self, pos: int, tokens: list[str]) -> CommentNode:
        lines: list[str] = []
        for i, tok in enumerate(tokens):
            if i:
                lines.append("\n")
            for raw in tok.split("\n"):
                c = L.go_trim_space(raw)
                if not c:
                    continue
                c = c.removeprefix("//").removeprefix(" ")
                lines.append(c)
        return CommentNode(self.position(pos), lines)

    def fail(self, message: str, pos: int, length: int = 1) -> NoReturn:
        line, col = self.src.line_col(pos)
        raise TickError(
            message,
            filename=self.filename,
            line=line,
            col=col,
            offset=pos,
            source_line=self.src.line_text(pos),
            length=length,
            caret_col=self.src.char_col(pos),
        )

    def unexpected(self, tok: L.Token, *expected: str) -> NoReturn:
        data = self.src.data
        start = max(tok.pos - 10, 0)
        nl = data.rfind(b"\n", start, tok.pos)
        if nl != -1:
            start = nl + 1
        stop = min(tok.pos + 10, len(data))
        nl = data.find(b"\n", tok.pos, stop)
        if nl != -1:
            stop = nl
        context = data[start:stop].decode("utf-8", "replace")
        line, char = self.src.line_col(tok.pos)
        tok_str = tok.text if tok.type == L.ERR else L.type_name(tok.type)
        exp = ",".join(f'"{L.type_name(e)}"' for e in expected)
        message = (
            f'parser: unexpected {tok_str} line {line} char {char} in "{context}". expected: {exp}'
        )
        pos, length = tok.pos, (1 if tok.type == L.ERR else len(tok.text))
        hint = self._lambda_hint(tok)
        if hint is not None:
            message += ' (did you mean "lambda:"?)'
            pos, length = hint.pos, len(hint.text) + 1
        self.fail(message, pos, length)

    def _lambda_hint(self, tok: L.Token) -> L.Token | None:
        """The identifier before a stray ':' when it looks like a misspelt ``lambda:``."""
        if tok.type != L.ERR or tok.text != "unknown state, last char: ':'" or len(self.toks) < 2:
            return None
        prev = self.toks[-2]
        if prev.type == L.IDENT and (
            prev.text == "lambda" or suggest(prev.text, ["lambda"]) == "lambda"
        ):
            return prev
        return None

    def error(self, message: str, tok: L.Token) -> NoReturn:
        self.fail("parser: " + message, tok.pos, len(tok.text))

    # ---- grammar ----

    def program(self) -> ProgramNode:
        nodes: list[Any] = []
        prog = ProgramNode(self.position(0), nodes)
        while True:
            if self.peek().type == L.EOF:
                if self.comments[1] is not None:
                    nodes.append(self.comments[1])
                if self.comments[0] is not None:
                    nodes.append(self.comments[0])
                return prog
            nodes.append(self.statement())

    def statement(self) -> Any:
        t = self.peek().type
        if t == L.VAR:
            return self.declaration()
        if t == L.DBRP:
            return self.dbrp()
        return self.expression()

    def dbrp(self) -> DBRPNode:
        tok = self.expect(L.DBRP)
        c = self.consume_comment()
        db = self.reference()
        self.expect(L.DOT)
        rp = self.reference()
        return DBRPNode(self.position(tok.pos), db, rp, c)

    def declaration(self) -> DeclarationNode | TypeDeclarationNode:
        tok = self.expect(L.VAR)
        c = self.consume_comment()
        v = self.identifier()
        if self.peek().type == L.ASGN:
            self.expect(L.ASGN)
            right = self.expression()
            return DeclarationNode(self.position(tok.pos), v, right, c)
        t = self.identifier()
        return TypeDeclarationNode(self.position(tok.pos), v, t, c)

    def expression(self) -> Any:
        t = self.peek().type
        if t == L.IDENT:
            self.next()
            t2 = self.peek().type
            if t2 == L.LPAREN:
                self.backup()
                term = self.function("global")
                if self.peek().type in (L.DOT, L.PIPE, L.AT, L.VAR, L.IDENT):
                    return self.chain(term)
                return self.precedence(term, 0)
            if t2 in (L.DOT, L.AT, L.PIPE, L.VAR, L.IDENT):
                self.backup()
                return self.chain(self.identifier())
            self.backup()
            return self.primary_expr()
        if t == L.LAMBDA:
            return self.lambda_()
        if t == L.LSBRACKET:
            return self.string_list()
        return self.primary_expr()

    def chain(self, lhs: Any) -> Any:
        links = 0
        while (t := self.peek().type) in (L.DOT, L.PIPE, L.AT):
            op = self.next()
            links += 1
            if links > limits.MAX_CHAIN_LENGTH:
                self.fail(
                    f"parser: chain is longer than {limits.MAX_CHAIN_LENGTH} links "
                    "(|node, .property or @udf calls; the limit)",
                    op.pos,
                )
            c = self.consume_comment()
            ft = {L.DOT: "property", L.PIPE: "chain", L.AT: "dynamic"}[t]
            rhs = self.func_or_ident(ft)
            lhs = ChainNode(self.position(op.pos), lhs, t, rhs, c)
        return lhs

    def func_or_ident(self, ft: str) -> Any:
        self.next()
        if ft == "chain" or self.peek().type == L.LPAREN:
            self.backup()
            return self.function(ft)
        self.backup()
        return self.identifier()

    def identifier(self) -> IdentifierNode:
        tok = self.expect(L.IDENT)
        return IdentifierNode(self.position(tok.pos), tok.text, self.consume_comment())

    def function(self, ft: str) -> FunctionNode:
        ident = self.expect(L.IDENT)
        c = self.consume_comment()
        self.expect(L.LPAREN)
        args = self.parameters(self.expression)
        self.expect(L.RPAREN)
        multi = bool(args) and self.src.has_newline(ident.pos, args[-1].pos.offset)
        return FunctionNode(self.position(ident.pos), ft, ident.text, args, c, multi)

    def parameters(self, parameter: Any) -> list[Any]:
        args: list[Any] = []
        while True:
            if self.peek().type == L.RPAREN:
                return args
            args.append(parameter())
            if self.next().type != L.COMMA:
                self.backup()
                return args

    def string_list(self) -> ListNode:
        tok = self.expect(L.LSBRACKET)
        c = self.consume_comment()
        items: list[Any] = []
        while True:
            if self.peek().type == L.RSBRACKET:
                break
            items.append(self.string_item())
            if self.next().type != L.COMMA:
                self.backup()
                break
        self.expect(L.RSBRACKET)
        return ListNode(self.position(tok.pos), items, c)

    def string_item(self) -> Any:
        t = self.peek()
        if t.type == L.IDENT:
            return self.identifier()
        if t.type == L.STRING:
            return self.string()
        if t.type == L.STAR:
            return self.star()
        self.unexpected(t, L.IDENT, L.STRING, L.STAR)

    def lambda_(self) -> LambdaNode:
        tok = self.next()
        c = self.consume_comment()
        expr = self.primary_expr()
        return LambdaNode(self.position(tok.pos), expr, c)

    def primary_expr(self) -> Any:
        return self.precedence(self.primary(), 0)

    def _deeper(self, node: Any, parts: list[Any], pos: int) -> Any:
        """Record ``node``'s tree depth (one more than its deepest part); refuse it over
        :data:`leyden.limits.MAX_EXPRESSION_DEPTH`, at ``pos``."""
        depths = self.depths
        depth = 1 + max((depths.get(id(p), 1) for p in parts), default=1)
        if depth > limits.MAX_EXPRESSION_DEPTH:
            self.fail(
                f"parser: expression is more than {limits.MAX_EXPRESSION_DEPTH} levels deep "
                "(the limit; a flat 'a AND b AND …' is one level per operator): "
                "split it, or test a list with a regex",
                pos,
            )
        depths[id(node)] = depth
        return node

    def precedence(self, lhs: Any, min_p: int) -> Any:
        prec = L.PRECEDENCE
        look = self.peek()
        while look.type in prec and prec[look.type] >= min_p:
            op = self.next()
            c = self.consume_comment()
            rhs = self.primary()
            look = self.peek()
            while look.type in prec and prec[look.type] > prec[op.type]:
                rhs = self.precedence(rhs, prec[look.type])
                look = self.peek()
            multi = self.src.has_newline(lhs.pos.offset, rhs.pos.offset)
            binary = BinaryNode(
                self.position(op.pos),
                _OP_TEXT.get(op.type, op.type),
                lhs,
                rhs,
                multiline=multi,
                comment=c,
            )
            lhs = self._deeper(binary, [lhs, rhs], op.pos)
        return lhs

    def lfunction(self) -> FunctionNode:
        ident = self.expect(L.IDENT)
        self.calls += 1
        if self.calls > limits.MAX_CALL_NESTING:
            self.fail(
                f"parser: function calls nest more than {limits.MAX_CALL_NESTING} deep (the limit)",
                ident.pos,
                len(ident.text),
            )
        try:
            self.expect(L.LPAREN)
            args = self.parameters(self.primary_expr)
            self.expect(L.RPAREN)
        finally:
            self.calls -= 1
        multi = bool(args) and self.src.has_newline(ident.pos, args[-1].pos.offset)
        call = FunctionNode(self.position(ident.pos), "global", ident.text, args, None, multi)
        return self._deeper(call, args, ident.pos)

    def primary(self) -> Any:
        self.nesting += 1
        try:
            if self.nesting > limits.MAX_NESTING:
                tok = self.peek()
                self.fail(
                    f"parser: expression nests too deeply: more than {limits.MAX_NESTING} "
                    "levels of parentheses, unary operators or function calls (the limit)",
                    tok.pos,
                )
            return self._primary()
        finally:
            self.nesting -= 1

    def _primary(self) -> Any:
        tok = self.peek()
        t = tok.type
        if t == L.LPAREN:
            self.next()
            c = self.consume_comment()
            n = self.primary_expr()
            if isinstance(n, BinaryNode):
                n.parens = True
            if hasattr(n, "comment"):
                n.comment = c
            self.expect(L.RPAREN)
            return n
        if t == L.NUMBER:
            return self.number()
        if t == L.STRING:
            return self.string()
        if t in (L.TRUE, L.FALSE):
            self.next()
            return BoolNode(self.position(tok.pos), t == L.TRUE, self.consume_comment())
        if t == L.DURATION:
            return self.duration()
        if t == L.REGEX:
            return self.regex()
        if t == L.STAR:
            return self.star()
        if t == L.REFERENCE:
            return self.reference()
        if t == L.IDENT:
            self.next()
            if self.peek().type == L.LPAREN:
                self.backup()
                return self.lfunction()
            self.backup()
            return self.identifier()
        if t in (L.MINUS, L.NOT):
            self.next()
            operand = self.primary()
            unary = UnaryNode(self.position(tok.pos), t, operand, self.consume_comment())
            return self._deeper(unary, [operand], tok.pos)
        self.unexpected(tok, *_OPERAND_EXPECTED)

    def number(self) -> NumberNode:
        tok = self.expect(L.NUMBER)
        text = tok.text
        c = self.consume_comment()
        pos = self.position(tok.pos)
        if "." in text:
            f = _go_float_ok(text)
            if f is not None:
                return NumberNode(pos, False, True, float64=f, comment=c)
        else:
            base = 8 if text[0] == "0" and len(text) > 1 else 10
            digits = "01234567" if base == 8 else "0123456789"
            if all(ch in digits for ch in text):
                v = int(text, base)
                if v <= _INT64_MAX:
                    return NumberNode(pos, True, False, int64=v, base=base, comment=c)
        self.error(f"illegal number syntax: {go_quote(text)}", tok)

    def duration(self) -> DurationNode:
        tok = self.expect(L.DURATION)
        text = tok.text
        c = self.consume_comment()
        unit = "ms" if text.endswith("ms") else text[-1]
        digits = text[: -len(unit)]
        if not digits or not all("0" <= ch <= "9" for ch in digits) or int(digits) > _INT64_MAX:
            self.error("invalid duration", tok)
        ns = wrap_int64(int(digits) * _DUR_NS[unit])
        if ns < 0:
            self.error(
                f"overflowed duration {text}: choose a smaller duration or INF",
                tok,
            )
        return DurationNode(self.position(tok.pos), ns, text, c)

    def string(self) -> StringNode:
        tok = self.expect(L.STRING)
        txt = tok.text
        if len(txt) >= 6 and txt.startswith("'''"):
            literal, triple = txt[3:-3], True
        else:
            literal, triple = txt[1:-1].replace("\\'", "'"), False
        return StringNode(self.position(tok.pos), literal, triple, self.consume_comment())

    def regex(self) -> RegexNode:
        tok = self.expect(L.REGEX)
        c = self.consume_comment()
        literal = tok.text[1:-1]
        try:
            compiled = compile_go(literal.replace("\\/", "/"))
        except GoRegexError as e:
            self.error(str(e), tok)
        return RegexNode(self.position(tok.pos), literal, compiled, c)

    def star(self) -> StarNode:
        tok = self.expect(L.STAR)
        return StarNode(self.position(tok.pos), self.consume_comment())

    def reference(self) -> ReferenceNode:
        tok = self.expect(L.REFERENCE)
        ref = tok.text[1:-1].replace('\\"', '"')
        return ReferenceNode(self.position(tok.pos), ref, self.consume_comment())


def _guard(p: _Parser, run: Any) -> Any:
    try:
        return run()
    except RecursionError:
        tok = p.token[p.peek_count] if p.peek_count < 2 else p.token[1]
        p.fail("parser: expression nests too deeply", tok.pos)


def parse(text: str, filename: str = "<tickscript>") -> ProgramNode:
    """Parse a whole TICKscript. Raises TickError (and nothing else) on any bad input."""
    p = _Parser(text, filename)

    def run() -> ProgramNode:
        prog = p.program()
        p.expect(L.EOF)
        return prog

    return _guard(p, run)


def parse_lambda(text: str, filename: str = "<lambda>") -> LambdaNode:
    """Parse the text after ``lambda:`` on its own (Kapacitor's ParseLambda)."""
    p = _Parser(text, filename)

    def run() -> LambdaNode:
        expr = p.primary_expr()
        node = LambdaNode(p.position(0), expr, None)
        p.expect(L.EOF)
        return node

    return _guard(p, run)
