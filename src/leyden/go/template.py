"""The subset of Go's text/template (and html/template's text-context escaping) Kapacitor users write.

Alert ``.id()``, ``.message()`` and ``.details()`` and handler options such as the Discord embed
title are Go templates; users copy them from Kapacitor, so the output must match Go byte for byte,
including its quirks (``<no value>``, ``%!d(string=x)``, ``incompatible types for comparison``).

A template is parsed once into a tree and compiled into nested Python closures; executing it is
then a walk over closures with no parsing or dispatch on node types, because templates run for
every alert event.

Data model (see :mod:`leyden.go.types`): dicts are ``map[string]interface{}`` (a missing key reads as
``<no value>``), :class:`~leyden.go.types.StringMap` is ``map[string]string`` (``index`` of a missing
key is ``""``), :class:`~leyden.go.types.GoStruct` and plain objects are structs (a missing field is
an execution error), bound methods of objects are Go methods, ``None`` is nil.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

from leyden.go.types import (
    GoStruct,
    StringMap,
    Time,
    format_value,
    go_json,
    go_type_name,
    sprint,
    sprintf,
    sprintln,
)

__all__ = ["FUNCS_DETAILS", "Template", "TemplateError", "TemplateExecError"]


class TemplateError(Exception):
    """A template that does not parse; the message names the template, line and column."""


class TemplateExecError(Exception):
    """A template that fails while executing, worded as Go's ``ExecError``."""


class _FuncError(Exception):
    """Raised by built-in functions; becomes ``error calling NAME: MSG``."""


class _NoValue:
    """Go's invalid ``reflect.Value``: what a missing map key yields; prints ``<no value>``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Any = _NoValue()


# ============================================================================ lexer

_T_TEXT = "text"
_T_LEFT = "{{"
_T_RIGHT = "}}"
_T_SPACE = "space"
_T_FIELD = "field"
_T_VAR = "variable"
_T_IDENT = "identifier"
_T_KEYWORD = "keyword"
_T_STRING = "string"
_T_RAW = "raw string"
_T_CHARCONST = "char constant"
_T_NUMBER = "number"
_T_BOOL = "bool"
_T_NIL = "nil"
_T_DOT = "."
_T_PIPE = "|"
_T_LPAREN = "("
_T_RPAREN = ")"
_T_DECLARE = ":="
_T_ASSIGN = "="
_T_CHAR = "char"
_T_EOF = "EOF"
_T_ERROR = "error"

_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "template", "define", "block", "break", "continue"}
)
_SPACE = " \t\r\n"
_TERMINATORS = set(_SPACE) | set(".,|:)(")


class _Tok:
    __slots__ = ("pos", "typ", "val")

    def __init__(self, typ: str, val: str, pos: int) -> None:
        self.typ = typ
        self.val = val
        self.pos = pos

    def __str__(self) -> str:
        if self.typ == _T_EOF:
            return "EOF"
        if self.typ == _T_KEYWORD:
            return f"<{self.val}>"
        if self.typ in (_T_LEFT, _T_RIGHT):
            return repr_go(self.val)
        if len(self.val) > 10:
            return repr_go(self.val[:10])[:-1] + '"...'
        return repr_go(self.val)


def repr_go(s: str) -> str:
    """Go's ``%q`` of a short string, for error messages."""
    from leyden.go.types import go_quote

    return go_quote(s)


class _Source:
    """The template text and its name, to turn offsets into ``name:line:col``."""

    __slots__ = ("name", "text")

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text

    def location(self, pos: int) -> str:
        text = self.text
        line = 1 + text.count("\n", 0, pos)
        start = text.rfind("\n", 0, pos) + 1
        col = len(text[start:pos].encode("utf-8", "surrogatepass"))
        return f"{self.name}:{line}:{col}"

    def error(self, pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.location(pos)}: {msg}")


def _lex(src: _Source) -> list[_Tok]:
    text = src.text
    n = len(text)
    toks: list[_Tok] = []
    i = 0
    while i < n:
        j = text.find("{{", i)
        if j < 0:
            toks.append(_Tok(_T_TEXT, text[i:], i))
            break
        trim_left = text.startswith("-", j + 2) and j + 3 < n and text[j + 3] in _SPACE
        chunk = text[i:j]
        if trim_left:
            chunk = chunk.rstrip(_SPACE)
        if chunk:
            toks.append(_Tok(_T_TEXT, chunk, i))
        try:
            i = _lex_action(src, toks, j, trim_left)
        except TemplateError as exc:
            # Like Go's concurrent lexer, the parser sees the tokens before the error first,
            # so `{{ .A }` reports the stray "}" rather than the unclosed action.
            toks.append(_Tok(_T_ERROR, str(exc), j))
            break
    toks.append(_Tok(_T_EOF, "", n))
    return toks


def _at_right_delim(text: str, i: int) -> tuple[bool, bool]:
    """(at a right delimiter, with a trim marker) at offset ``i``."""
    if text.startswith("}}", i):
        return True, False
    if i + 1 < len(text) and text[i] in _SPACE and text.startswith("-}}", i + 1):
        return True, True
    return False, False


def _after_right_delim(text: str, i: int, trim: bool) -> int:
    i += 4 if trim else 2
    if trim:
        while i < len(text) and text[i] in _SPACE:
            i += 1
    return i


def _lex_action(src: _Source, toks: list[_Tok], start: int, trim_left: bool) -> int:
    """Lex one ``{{ ... }}`` starting at ``start``; return the offset after it."""
    text = src.text
    n = len(text)
    i = start + (4 if trim_left else 2)
    # Comments must follow the delimiter directly.
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        if end < 0:
            raise src.error(i, "unclosed comment")
        k = end + 2
        at, trim = _at_right_delim(text, k)
        if not at:
            raise src.error(k, "comment ends before closing delimiter")
        return _after_right_delim(text, k, trim)
    toks.append(_Tok(_T_LEFT, "{{", start))
    depth = 0
    while True:
        at, trim = _at_right_delim(text, i)
        if at:
            if depth:
                raise src.error(i, "unclosed left paren")
            toks.append(_Tok(_T_RIGHT, "}}", i))
            return _after_right_delim(text, i, trim)
        if i >= n:
            raise src.error(i, "unclosed action")
        c = text[i]
        if c in _SPACE:
            k = i
            while k < n and text[k] in _SPACE and not _at_right_delim(text, k)[0]:
                k += 1
            toks.append(_Tok(_T_SPACE, text[i:k], i))
            i = k
        elif c == "|":
            toks.append(_Tok(_T_PIPE, c, i))
            i += 1
        elif c == "(":
            depth += 1
            toks.append(_Tok(_T_LPAREN, c, i))
            i += 1
        elif c == ")":
            if depth == 0:
                raise src.error(i, "unexpected right paren")
            depth -= 1
            toks.append(_Tok(_T_RPAREN, c, i))
            i += 1
        elif c == ":":
            if not text.startswith(":=", i):
                raise src.error(i, "expected :=")
            toks.append(_Tok(_T_DECLARE, ":=", i))
            i += 2
        elif c == "=":
            toks.append(_Tok(_T_ASSIGN, c, i))
            i += 1
        elif c == '"':
            k = i + 1
            while True:
                if k >= n or text[k] == "\n":
                    raise src.error(i, "unterminated quoted string")
                if text[k] == "\\":
                    k += 2
                    continue
                if text[k] == '"':
                    break
                k += 1
            toks.append(_Tok(_T_STRING, text[i : k + 1], i))
            i = k + 1
        elif c == "`":
            k = text.find("`", i + 1)
            if k < 0:
                raise src.error(i, "unterminated raw quoted string")
            toks.append(_Tok(_T_RAW, text[i : k + 1], i))
            i = k + 1
        elif c == "'":
            k = i + 1
            while True:
                if k >= n or text[k] == "\n":
                    raise src.error(i, "unterminated character constant")
                if text[k] == "\\":
                    k += 2
                    continue
                if text[k] == "'":
                    break
                k += 1
            toks.append(_Tok(_T_CHARCONST, text[i : k + 1], i))
            i = k + 1
        elif c == "$" or (c == "." and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] == "_")):
            if c == "." and text[i + 1].isdigit():
                i = _lex_number(src, toks, i)
                continue
            k = i + 1
            while k < n and (text[k].isalnum() or text[k] == "_"):
                k += 1
            if k < n and text[k] not in _TERMINATORS and not _at_right_delim(text, k)[0]:
                raise src.error(k, f"bad character {_go_unicode(text[k])}")
            toks.append(_Tok(_T_VAR if c == "$" else _T_FIELD, text[i:k], i))
            i = k
        elif c == ".":
            toks.append(_Tok(_T_DOT, c, i))
            i += 1
        elif c.isdigit() or (c in "+-" and i + 1 < n and text[i + 1].isdigit()):
            i = _lex_number(src, toks, i)
        elif c.isalpha() or c == "_":
            k = i
            while k < n and (text[k].isalnum() or text[k] == "_"):
                k += 1
            if k < n and text[k] not in _TERMINATORS and not _at_right_delim(text, k)[0]:
                raise src.error(k, f"bad character {_go_unicode(text[k])}")
            word = text[i:k]
            if word in _KEYWORDS:
                typ = _T_KEYWORD
            elif word in ("true", "false"):
                typ = _T_BOOL
            elif word == "nil":
                typ = _T_NIL
            else:
                typ = _T_IDENT
            toks.append(_Tok(typ, word, i))
            i = k
        elif c.isprintable() and ord(c) < 0x80:
            toks.append(_Tok(_T_CHAR, c, i))
            i += 1
        else:
            raise src.error(i, f"unrecognized character in action: {_go_unicode(c)}")


def _go_unicode(c: str) -> str:
    """Go's ``%#U``: ``U+00E9 'é'``."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


def _lex_number(src: _Source, toks: list[_Tok], i: int) -> int:
    text = src.text
    n = len(text)
    k = i
    if text[k] in "+-":
        k += 1
    digits = "0123456789_"
    if text.startswith(("0x", "0X"), k):
        k += 2
        digits = "0123456789abcdefABCDEF_"
    elif text.startswith(("0o", "0O", "0b", "0B"), k):
        k += 2
    while k < n and text[k] in digits:
        k += 1
    if k < n and text[k] == ".":
        k += 1
        while k < n and text[k] in digits:
            k += 1
    if (k < n and text[k] in "eEpP" and digits == "0123456789_") or (
        k < n and text[k] in "pP" and len(digits) > 11
    ):
        k += 1
        if k < n and text[k] in "+-":
            k += 1
        while k < n and text[k] in "0123456789_":
            k += 1
    if k < n and (text[k].isalnum() or text[k] in "._"):
        while k < n and (text[k].isalnum() or text[k] in "._"):
            k += 1
        raise src.error(i, f"bad number syntax: {repr_go(text[i:k])}")
    toks.append(_Tok(_T_NUMBER, text[i:k], i))
    return k


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def _unquote(src: _Source, tok: _Tok) -> str:
    """Go's ``strconv.Unquote`` for the string and character literals of templates."""
    body = tok.val[1:-1]
    if tok.val[0] == "`":
        return body.replace("\r", "")
    quote = tok.val[0]
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise src.error(tok.pos, "invalid syntax")
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e == quote:
            out.append(e)
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            hexpart = body[i + 2 : i + 2 + width]
            try:
                if len(hexpart) != width:
                    raise ValueError
                out.append(chr(int(hexpart, 16)))
            except ValueError:
                raise src.error(tok.pos, "invalid syntax") from None
            i += 2 + width
        elif e in "01234567":
            octal = body[i + 1 : i + 4]
            try:
                if len(octal) != 3:
                    raise ValueError
                out.append(chr(int(octal, 8)))
            except ValueError:
                raise src.error(tok.pos, "invalid syntax") from None
            i += 4
        else:
            raise src.error(tok.pos, "invalid syntax")
    text = "".join(out)
    if quote == "'" and len(text) != 1:
        raise src.error(tok.pos, f"malformed character constant: {tok.val}")
    return text


# ============================================================================ parse tree


class _Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class _Text(_Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class _Const(_Node):
    """A literal: bool, string, number or nil; ``source`` is its text as written."""

    __slots__ = ("is_nil", "source", "value")

    def __init__(self, pos: int, value: Any, source: str, is_nil: bool = False) -> None:
        super().__init__(pos)
        self.value = value
        self.source = source
        self.is_nil = is_nil

    def __str__(self) -> str:
        return self.source


class _Dot(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class _Field(_Node):
    """``.A.B`` on dot, ``$x.A.B`` on a variable, or ``(pipe).A.B``: a receiver and a chain."""

    __slots__ = ("base", "names")

    def __init__(self, pos: int, base: Any, names: list[str]) -> None:
        super().__init__(pos)
        self.base = base  # None (dot), a variable name "$x", or a _Pipe / other node
        self.names = names

    def __str__(self) -> str:
        chain = "".join("." + n for n in self.names)
        if self.base is None:
            return chain
        if isinstance(self.base, str):
            return self.base + chain
        return f"{_arg_str(self.base)}{chain}"


class _Ident(_Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class _Command(_Node):
    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.args: list[_Node] = []

    def __str__(self) -> str:
        return " ".join(_arg_str(a) for a in self.args)


class _Pipe(_Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.decl: list[str] = []
        self.is_assign = False
        self.cmds: list[_Command] = []

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(c) for c in self.cmds)


def _arg_str(node: _Node) -> str:
    return f"({node})" if isinstance(node, _Pipe) else str(node)


class _Action(_Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: _Pipe) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class _List(_Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.nodes: list[_Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class _Branch(_Node):
    """``if``, ``with`` and ``range``: a pipeline, a body and an optional else body."""

    __slots__ = ("body", "else_list", "kind", "pipe")

    def __init__(self, pos: int, kind: str, pipe: _Pipe, body: _List, else_list: _List | None):
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


class _TemplateCall(_Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: _Pipe | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        if self.pipe is None:
            return f"{{{{template {repr_go(self.name)}}}}}"
        return f"{{{{template {repr_go(self.name)} {self.pipe}}}}}"


class _Keyword(_Node):
    """``{{break}}`` / ``{{continue}}`` in the tree, and ``{{end}}`` / ``{{else}}`` while parsing."""

    __slots__ = ("word",)

    def __init__(self, pos: int, word: str) -> None:
        super().__init__(pos)
        self.word = word

    def __str__(self) -> str:
        return "{{" + self.word + "}}"


# ============================================================================ parser


class _Parser:
    def __init__(self, src: _Source, funcs: Mapping[str, Any]) -> None:
        self.src = src
        self.toks = _lex(src)
        self.i = 0
        self.funcs = funcs
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.defines: dict[str, _List] = {}

    # token helpers -------------------------------------------------------------
    def next(self) -> _Tok:
        tok = self.peek()
        if tok.typ != _T_EOF:
            self.i += 1
        return tok

    def peek(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.typ == _T_ERROR:
            raise TemplateError(tok.val)
        return tok

    def peek_non_space(self) -> _Tok:
        if self.peek().typ == _T_SPACE:
            self.i += 1
        return self.peek()

    def next_non_space(self) -> _Tok:
        self.peek_non_space()
        return self.next()

    def error(self, tok: _Tok | int, msg: str) -> TemplateError:
        return self.src.error(tok if isinstance(tok, int) else tok.pos, msg)

    def unexpected(self, tok: _Tok, context: str) -> TemplateError:
        if tok.typ == _T_EOF:
            return self.error(tok, f"unexpected EOF in {context}")
        return self.error(tok, f"unexpected {tok} in {context}")

    def expect(self, typ: str, context: str) -> _Tok:
        tok = self.next_non_space()
        if tok.typ != typ:
            raise self.unexpected(tok, context)
        return tok

    # grammar --------------------------------------------------------------------
    def parse(self) -> _List:
        root = _List(0)
        while self.peek().typ != _T_EOF:
            if self.peek().typ == _T_LEFT:
                save = self.i
                self.next()
                kw = self.next_non_space()
                if kw.typ == _T_KEYWORD and kw.val == "define":
                    self.parse_define(kw)
                    continue
                self.i = save
            node = self.text_or_action()
            if isinstance(node, _Keyword) and node.word in ("end", "else"):
                raise self.error(node.pos, f"unexpected {{{{{node.word}}}}}")
            root.nodes.append(node)
        return root

    def parse_define(self, kw: _Tok) -> None:
        name_tok = self.next_non_space()
        if name_tok.typ not in (_T_STRING, _T_RAW):
            raise self.unexpected(name_tok, "define clause")
        name = _unquote(self.src, name_tok)
        self.expect(_T_RIGHT, "define clause")
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if end.word != "end":
            raise self.error(end.pos, f"unexpected {end} in input")
        self.add_define(name, body, kw.pos)

    def add_define(self, name: str, body: _List, pos: int) -> None:
        old = self.defines.get(name)
        if (
            old is not None
            and old.nodes
            and any(not (isinstance(n, _Text) and not n.text.strip()) for n in old.nodes)
        ):
            raise self.error(pos, f"template: multiple definition of template {repr_go(name)}")
        self.defines[name] = body

    def item_list(self) -> tuple[_List, _Keyword]:
        lst = _List(self.peek_non_space().pos)
        while self.peek_non_space().typ != _T_EOF:
            node = self.text_or_action()
            if isinstance(node, _Keyword) and node.word in ("end", "else"):
                return lst, node
            lst.nodes.append(node)
        raise self.error(self.peek(), "unexpected EOF")

    def text_or_action(self) -> _Node:
        tok = self.next_non_space()
        if tok.typ == _T_TEXT:
            return _Text(tok.pos, tok.val)
        if tok.typ == _T_LEFT:
            return self.action()
        raise self.unexpected(tok, "input")

    def action(self) -> _Node:
        tok = self.next_non_space()
        if tok.typ == _T_KEYWORD:
            word = tok.val
            if word in ("if", "with", "range"):
                return self.control(word, tok)
            if word == "end":
                self.expect(_T_RIGHT, "end")
                return _Keyword(tok.pos, "end")
            if word == "else":
                nxt = self.peek_non_space()
                if nxt.typ == _T_KEYWORD and nxt.val in ("if", "with"):
                    return _Keyword(tok.pos, "else")
                self.expect(_T_RIGHT, "else")
                return _Keyword(tok.pos, "else")
            if word in ("break", "continue"):
                if self.range_depth == 0:
                    raise self.error(tok, f"{{{{{word}}}}} outside {{{{range}}}}")
                self.expect(_T_RIGHT, f"{{{{{word}}}}}")
                return _Keyword(tok.pos, word)
            if word in ("template", "block"):
                return self.template_call(word, tok)
            if word == "define":
                raise self.error(tok, "unexpected <define> in command")
        self.i -= 1  # give the first token back to the pipeline
        pipe = self.pipeline("command", _T_RIGHT)
        return _Action(tok.pos, pipe)

    def control(self, kind: str, tok: _Tok) -> _Branch:
        mark = len(self.vars)
        pipe = self.pipeline(kind, _T_RIGHT)
        if kind == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_list: _List | None = None
        if nxt.word == "else":
            follow = self.peek_non_space()
            if kind in ("if", "with") and follow.typ == _T_KEYWORD and follow.val == kind:
                self.next()
                else_list = _List(nxt.pos)
                else_list.nodes.append(self.control(kind, follow))
            else:
                else_list, end = self.item_list()
                if end.word != "end":
                    raise self.error(end.pos, f"expected end; found {end}")
        del self.vars[mark:]
        # Go positions if/with/range nodes at their pipeline, which error messages show.
        return _Branch(pipe.pos, kind, pipe, body, else_list)

    def template_call(self, word: str, tok: _Tok) -> _Node:
        context = f"{word} clause"
        name_tok = self.next_non_space()
        if name_tok.typ not in (_T_STRING, _T_RAW):
            raise self.unexpected(name_tok, context)
        name = _unquote(self.src, name_tok)
        pipe: _Pipe | None = None
        if self.peek_non_space().typ != _T_RIGHT:
            pipe = self.pipeline(context, _T_RIGHT)
        else:
            self.next()
        if word == "block":
            if pipe is None:
                raise self.error(tok, "missing value for block clause")
            saved_vars, self.vars = self.vars, ["$"]
            body, end = self.item_list()
            self.vars = saved_vars
            if end.word != "end":
                raise self.error(end.pos, f"unexpected {end} in block clause")
            self.add_define(name, body, tok.pos)
        return _TemplateCall(tok.pos, name, pipe)

    def pipeline(self, context: str, end: str) -> _Pipe:
        pipe = _Pipe(self.peek_non_space().pos)
        while True:  # declarations
            v = self.peek_non_space()
            if v.typ != _T_VAR:
                break
            save = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.typ in (_T_DECLARE, _T_ASSIGN):
                self.next()
                pipe.is_assign = nxt.typ == _T_ASSIGN
                if pipe.is_assign and v.val not in self.vars:
                    raise self.error(v, f"undefined variable {repr_go(v.val)}")
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                break
            if nxt.typ == _T_CHAR and nxt.val == ",":
                self.next()
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (_T_VAR, _T_RIGHT, _T_RPAREN):
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
                    if isinstance(cmd.args[0], _Const | _Dot):
                        raise self.error(
                            cmd.pos, f"non executable command in pipeline stage {k + 2}"
                        )
                return pipe
            if tok.typ in (
                _T_BOOL,
                _T_CHARCONST,
                _T_DOT,
                _T_FIELD,
                _T_IDENT,
                _T_NUMBER,
                _T_NIL,
                _T_RAW,
                _T_STRING,
                _T_VAR,
                _T_LPAREN,
            ):
                self.i -= 1
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def command(self) -> _Command:
        cmd = _Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == _T_SPACE:
                continue
            if tok.typ in (_T_RIGHT, _T_RPAREN):
                self.i -= 1
            elif tok.typ == _T_PIPE:
                pass
            else:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error(cmd.pos, "empty command")
        return cmd

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == _T_FIELD:
            names: list[str] = []
            while self.peek().typ == _T_FIELD:
                names.append(self.next().val[1:])
            if isinstance(node, _Field):
                node = _Field(node.pos, node.base, node.names + names)
            elif isinstance(node, _Const | _Dot):
                raise self.error(node.pos, f"unexpected . after term {repr_go(str(node))}")
            else:
                node = _Field(node.pos, node, names)
        return node

    def term(self) -> _Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == _T_IDENT:
            if tok.val not in self.funcs:
                raise self.error(tok, f"function {repr_go(tok.val)} not defined")
            return _Ident(tok.pos, tok.val)
        if typ == _T_DOT:
            return _Dot(tok.pos)
        if typ == _T_NIL:
            return _Const(tok.pos, None, "nil", is_nil=True)
        if typ == _T_VAR:
            name = tok.val
            if name not in self.vars:
                raise self.error(tok, f"undefined variable {repr_go(name)}")
            return _Field(tok.pos, name, [])
        if typ == _T_FIELD:
            return _Field(tok.pos, None, [tok.val[1:]])
        if typ == _T_BOOL:
            return _Const(tok.pos, tok.val == "true", tok.val)
        if typ == _T_NUMBER:
            return _Const(tok.pos, self.number(tok), tok.val)
        if typ == _T_CHARCONST:
            return _Const(tok.pos, ord(_unquote(self.src, tok)), tok.val)
        if typ == _T_LPAREN:
            return self.pipeline("parenthesized pipeline", _T_RPAREN)
        if typ in (_T_STRING, _T_RAW):
            return _Const(tok.pos, _unquote(self.src, tok), tok.val)
        self.i -= 1
        return None

    def number(self, tok: _Tok) -> int | float:
        """Go's ideal-constant rule: floats when written with ``.``/exponent, else ints."""
        text = tok.val
        is_hex = text.lstrip("+-")[:2].lower() == "0x"
        if not is_hex and any(c in text for c in ".eE"):
            try:
                return float(text.replace("_", ""))
            except ValueError:
                raise self.error(tok, f"illegal number syntax: {repr_go(text)}") from None
        body = text.lstrip("+-")
        sign = -1 if text.startswith("-") else 1
        try:
            if len(body) > 1 and body[0] == "0" and body[1].isdigit():
                value = int(body.replace("_", ""), 8)
            else:
                value = int(body, 0)
        except ValueError:
            raise self.error(tok, f"illegal number syntax: {repr_go(text)}") from None
        value *= sign
        if not -(2**63) <= value < 2**63:
            raise self.error(tok, f"{text} overflows int")
        return value


# ============================================================================ runtime


class _State:
    __slots__ = ("depth", "out", "vars")

    def __init__(self, out: list[str], dollar: Any) -> None:
        self.out = out
        self.vars: list[list[Any]] = [["$", dollar]]
        self.depth = 0


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _ExecFailure(Exception):
    """An execution error located at a node; turned into TemplateExecError at the top."""

    def __init__(self, node: _Node, msg: str) -> None:
        super().__init__(msg)
        self.node = node
        self.msg = msg


def _truth(v: Any) -> bool:
    """Go's ``IsTrue``: the zero value of its type is false; structs are always true."""
    if v is NO_VALUE or v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, Time):
        return True
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, GoStruct):
        return True
    if isinstance(v, str | list | tuple | Mapping):
        return len(v) > 0
    return True


def _arg(v: Any) -> Any:
    """A value passed to a function: Go turns the invalid value into nil."""
    return None if v is NO_VALUE else v


# --- built-in functions ------------------------------------------------------------------

_BASIC_BOOL, _BASIC_INT, _BASIC_FLOAT, _BASIC_STRING = "bool", "int", "float", "string"


def _basic_kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return _BASIC_BOOL
    if isinstance(v, Time):
        return None
    if isinstance(v, int):
        return _BASIC_INT
    if isinstance(v, float):
        return _BASIC_FLOAT
    if isinstance(v, str):
        return _BASIC_STRING
    return None


def _fn_eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise _FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in args:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise _FuncError("incompatible types for comparison")
            truth = arg1 is None and arg is None
        elif k1 is None:
            if isinstance(arg1, Mapping | list) or isinstance(arg, Mapping | list):
                raise _FuncError(
                    f"non-comparable types {format_value(arg1)}: {go_type_name(arg1)}, "
                    f"{go_type_name(arg)}: {format_value(arg)}"
                )
            truth = arg1 == arg and type(arg1) is type(arg)
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _fn_ne(arg1: Any, arg2: Any) -> bool:
    return not _fn_eq(arg1, arg2)


def _fn_lt(arg1: Any, arg2: Any) -> bool:
    k1 = _basic_kind(arg1)
    k2 = _basic_kind(arg2)
    if k1 is None or k2 is None or k1 == _BASIC_BOOL:
        if k1 is not None and k2 is not None and k1 != k2:
            raise _FuncError("incompatible types for comparison")
        raise _FuncError("invalid type for comparison")
    if k1 != k2:
        raise _FuncError("incompatible types for comparison")
    if k2 == _BASIC_BOOL:
        raise _FuncError("invalid type for comparison")
    return arg1 < arg2


def _fn_le(arg1: Any, arg2: Any) -> bool:
    return _fn_lt(arg1, arg2) or _fn_eq(arg1, arg2)


def _fn_gt(arg1: Any, arg2: Any) -> bool:
    return not _fn_le(arg1, arg2)


def _fn_ge(arg1: Any, arg2: Any) -> bool:
    return not _fn_lt(arg1, arg2)


def _fn_not(arg: Any) -> bool:
    return not _truth(arg)


def _index_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if v is None:
            raise _FuncError("cannot index slice/array with nil")
        raise _FuncError(f"cannot index slice/array with type {go_type_name(v)}")
    return int(v)


def _fn_index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _FuncError("index of untyped nil")
    for idx in indexes:
        if item is None:
            raise _FuncError("index of nil pointer")
        if isinstance(item, GoStruct) or not isinstance(item, str | list | tuple | Mapping):
            raise _FuncError(f"can't index item of type {go_type_name(item)}")
        if isinstance(item, Mapping):
            if idx is None:
                raise _FuncError("value is nil; should be of type string")
            if not isinstance(idx, str):
                raise _FuncError(f"value has type {go_type_name(idx)}; should be string")
            if idx in item:
                item = item[idx]
            else:
                item = "" if isinstance(item, StringMap) else None
            continue
        i = _index_int(idx)
        seq: Any = item.encode("utf-8") if isinstance(item, str) else item
        if not 0 <= i < len(seq):
            raise _FuncError(f"index out of range: {i}")
        item = seq[i]
    return item


def _fn_slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8")
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise _FuncError(f"can't slice item of type {go_type_name(item)}")
    bounds = [0, len(seq)]
    for k, idx in enumerate(indexes[:2]):
        i = _index_int(idx)
        if not 0 <= i <= len(seq):
            raise _FuncError(f"index out of range: {i}")
        bounds[k] = i
    if bounds[0] > bounds[1]:
        raise _FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    result = seq[bounds[0] : bounds[1]]
    if isinstance(item, str):
        return result.decode("utf-8", "replace")
    return list(result)


def _fn_len(item: Any) -> int:
    if item is None:
        raise _FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8"))
    if isinstance(item, list | tuple | Mapping) and not isinstance(item, GoStruct):
        return len(item)
    raise _FuncError(f"len of type {go_type_name(item)}")


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*args)


_HTML_ESCAPES = {
    ord('"'): "&#34;",
    ord("'"): "&#39;",
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    0: "\ufffd",
}


def _fn_html(*args: Any) -> str:
    return _eval_args(args).translate(_HTML_ESCAPES)


_JS_ESCAPES = {
    ord("\\"): "\\\\",
    ord("'"): "\\'",
    ord('"'): '\\"',
    ord("<"): "\\u003C",
    ord(">"): "\\u003E",
    ord("&"): "\\u0026",
    ord("="): "\\u003D",
}
_JS_ESCAPES.update({c: f"\\u{c:04X}" for c in range(0x20)})


def _fn_js(*args: Any) -> str:
    text = _eval_args(args).translate(_JS_ESCAPES)
    if text.isascii():
        return text
    return "".join(c if ord(c) < 0x80 or c.isprintable() else f"\\u{ord(c):04X}" for c in text)


def _fn_urlquery(*args: Any) -> str:
    return quote_plus(_eval_args(args), safe="")


def _fn_printf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise _FuncError(f"wrong type for value; expected string; got {go_type_name(fmt)}")
    return sprintf(fmt, *args)


#: built-ins: name -> (function, minimum args, maximum args or None)
_BUILTINS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "eq": (_fn_eq, 1, None),
    "ne": (_fn_ne, 2, 2),
    "lt": (_fn_lt, 2, 2),
    "le": (_fn_le, 2, 2),
    "gt": (_fn_gt, 2, 2),
    "ge": (_fn_ge, 2, 2),
    "not": (_fn_not, 1, 1),
    "index": (_fn_index, 1, None),
    "slice": (_fn_slice, 1, None),
    "len": (_fn_len, 1, 1),
    "html": (_fn_html, 0, None),
    "js": (_fn_js, 0, None),
    "urlquery": (_fn_urlquery, 0, None),
    "print": (sprint, 0, None),
    "println": (sprintln, 0, None),
    "printf": (_fn_printf, 1, None),
    "and": (_fn_not, 1, None),  # placeholders: and/or short-circuit in the compiler
    "or": (_fn_not, 1, None),
}


def _arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 0, None
    lo, hi = 0, 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return lo, None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            hi += 1
            if p.default is p.empty:
                lo += 1
    return lo, hi


def _json_func(v: Any) -> str:
    return go_json(v) + "\n"


def _json_compact_func(v: Any) -> str:
    return go_json(v)


#: Kapacitor's extra functions for the details template (and HTTP post alert templates):
#: ``json`` is Go's ``json.Encoder`` output (HTML-escaped, trailing newline); ``jsonCompact``
#: is the same compacted, which drops the newline.
FUNCS_DETAILS: dict[str, Callable[..., Any]] = {
    "json": _json_func,
    "jsonCompact": _json_compact_func,
}


# --- compiler ---------------------------------------------------------------------------

_Eval = Callable[[_State, Any], Any]
_Exec = Callable[[_State, Any], None]
_Call = Callable[[_State, Any, Any], Any]  # (state, dot, final) -> value; final may be _MISSING

_MISSING: Any = object()
_PRIMITIVES = (str, int, float, bool, list, tuple, bytes, type(None))


def _html_text_escape(v: Any) -> str:
    """html/template's escaper in an HTML text context (nil prints as nothing)."""
    if v is NO_VALUE or v is None:
        return ""
    text = v if isinstance(v, str) else sprint(v)
    return text.translate(_HTML_TEXT_ESCAPES)


_HTML_TEXT_ESCAPES = dict(_HTML_ESCAPES)
_HTML_TEXT_ESCAPES[ord("+")] = "&#43;"


def _print_value(v: Any) -> str:
    if v is NO_VALUE:
        return "<no value>"
    if type(v) is str:
        return v
    return format_value(v)


class _Compiler:
    def __init__(
        self,
        src: _Source,
        funcs: Mapping[str, Callable[..., Any]],
        html_escape: bool,
        defines: dict[str, _List],
    ) -> None:
        self.src = src
        self.funcs = funcs
        self.printer = _html_text_escape if html_escape else _print_value
        self.defines = defines
        self.compiled_defines: dict[str, _Exec] = {}
        self.arities: dict[str, tuple[int, int | None]] = {}
        for name, fn in funcs.items():
            self.arities[name] = (
                _BUILTINS[name][1:]
                if name in _BUILTINS and fn is _BUILTINS[name][0]
                else _arity(fn)
            )

    # nodes -> executors ----------------------------------------------------------
    def list_(self, lst: _List) -> _Exec:
        parts = [self.node(n) for n in lst.nodes]
        if len(parts) == 1:
            return parts[0]

        def run_list(st: _State, dot: Any) -> None:
            for part in parts:
                part(st, dot)

        return run_list

    def node(self, node: _Node) -> _Exec:
        if isinstance(node, _Text):
            text = node.text

            def run_text(st: _State, dot: Any) -> None:
                st.out.append(text)

            return run_text
        if isinstance(node, _Action):
            pipe = self.pipe(node.pipe)
            if node.pipe.decl:

                def run_decl(st: _State, dot: Any) -> None:
                    pipe(st, dot)

                return run_decl
            printer = self.printer

            def run_action(st: _State, dot: Any) -> None:
                st.out.append(printer(pipe(st, dot)))

            return run_action
        if isinstance(node, _Branch):
            if node.kind == "range":
                return self.range_(node)
            return self.if_with(node)
        if isinstance(node, _Keyword):
            exc = _Break if node.word == "break" else _Continue

            def run_keyword(st: _State, dot: Any) -> None:
                raise exc

            return run_keyword
        if isinstance(node, _TemplateCall):
            return self.template_call(node)
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover

    def if_with(self, node: _Branch) -> _Exec:
        pipe = self.pipe(node.pipe)
        body = self.list_(node.body)
        else_body = self.list_(node.else_list) if node.else_list is not None else None
        is_with = node.kind == "with"

        def run_if(st: _State, dot: Any) -> None:
            mark = len(st.vars)
            val = pipe(st, dot)
            if _truth(val):
                body(st, val if is_with else dot)
            elif else_body is not None:
                else_body(st, dot)
            del st.vars[mark:]

        return run_if

    def range_(self, node: _Branch) -> _Exec:
        pipe = self.pipe(node.pipe)
        body = self.list_(node.body)
        else_body = self.list_(node.else_list) if node.else_list is not None else None
        ndecl = len(node.pipe.decl)

        def run_range(st: _State, dot: Any) -> None:
            mark = len(st.vars)
            val = pipe(st, dot)
            if isinstance(val, GoStruct) or not isinstance(
                val, list | tuple | Mapping | int | _NoValue | type(None)
            ):
                raise _ExecFailure(node, f"range can't iterate over {_print_value(val)}")
            if isinstance(val, bool):
                raise _ExecFailure(node, f"range can't iterate over {_print_value(val)}")
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

    def template_call(self, node: _TemplateCall) -> _Exec:
        pipe = self.pipe(node.pipe) if node.pipe is not None else None
        name = node.name
        if name not in self.defines:

            def run_missing(st: _State, dot: Any) -> None:
                raise _ExecFailure(node, f"template {repr_go(name)} not defined")

            return run_missing
        compiled = self.compiled_defines

        def run_template(st: _State, dot: Any) -> None:
            new_dot = pipe(st, dot) if pipe is not None else None
            if new_dot is NO_VALUE:
                new_dot = None
            if st.depth >= 100:
                raise _ExecFailure(node, "exceeded maximum template depth (100)")
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
    def pipe(self, pipe: _Pipe) -> _Eval:
        cmds = [self.command(c) for c in pipe.cmds]
        decl = pipe.decl
        is_assign = pipe.is_assign

        def eval_cmds(st: _State, dot: Any) -> Any:
            value = _MISSING
            for cmd in cmds:
                value = cmd(st, dot, value)
                if value is None:
                    value = NO_VALUE  # a nil interface{} digs down to the invalid value
            return value

        if len(cmds) == 1 and not decl:
            only = cmds[0]

            def eval_one(st: _State, dot: Any) -> Any:
                value = only(st, dot, _MISSING)
                return NO_VALUE if value is None else value

            return eval_one
        if not decl:
            return eval_cmds

        def eval_decl(st: _State, dot: Any) -> Any:
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

    def command(self, cmd: _Command) -> _Call:
        first = cmd.args[0]
        if isinstance(first, _Ident):
            return self.function(first, cmd, cmd.args[1:])
        if isinstance(first, _Field):
            return self.field(first, cmd.args[1:])
        if isinstance(first, _Pipe):
            inner = self.pipe(first)

            def call_pipe(st: _State, dot: Any, final: Any) -> Any:
                if final is not _MISSING:
                    raise _ExecFailure(first, f"can't give argument to non-function {first}")
                return inner(st, dot)

            return call_pipe
        if isinstance(first, _Const) and first.is_nil:

            def call_nil(st: _State, dot: Any, final: Any) -> Any:
                raise _ExecFailure(first, "nil is not a command")

            return call_nil
        value_of = self.arg(first)
        if len(cmd.args) > 1:

            def call_bad(st: _State, dot: Any, final: Any) -> Any:
                raise _ExecFailure(first, f"can't give argument to non-function {first}")

            return call_bad

        def call_value(st: _State, dot: Any, final: Any) -> Any:
            if final is not _MISSING:
                raise _ExecFailure(first, f"can't give argument to non-function {first}")
            return value_of(st, dot)

        return call_value

    def arg(self, node: _Node) -> _Eval:
        """An argument's value; the invalid value becomes nil as Go's validateType does."""
        if isinstance(node, _Const):
            value = node.value

            def const(st: _State, dot: Any) -> Any:
                return value

            return const
        if isinstance(node, _Dot):

            def dot_value(st: _State, dot: Any) -> Any:
                return dot

            return dot_value
        if isinstance(node, _Pipe):
            inner = self.pipe(node)
            return lambda st, dot: _arg(inner(st, dot))
        if isinstance(node, _Ident):
            call = self.function(node, node, [])
            return lambda st, dot: _arg(call(st, dot, _MISSING))
        if isinstance(node, _Field):
            fcall = self.field(node, [])
            return lambda st, dot: _arg(fcall(st, dot, _MISSING))
        raise AssertionError(f"unexpected argument {node!r}")  # pragma: no cover

    def function(self, ident: _Ident, cmd: _Node, arg_nodes: list[_Node]) -> _Call:
        name = ident.name
        fn = self.funcs[name]
        lo, hi = self.arities[name]
        args = [self.arg(a) for a in arg_nodes]
        builtin = name in _BUILTINS and fn is _BUILTINS[name][0]

        def check_count(n: int) -> None:
            if n < lo:
                want = f"at least {lo}" if hi is None else str(lo)
                raise _ExecFailure(ident, f"wrong number of args for {name}: want {want} got {n}")
            if hi is not None and n > hi:
                raise _ExecFailure(ident, f"wrong number of args for {name}: want {hi} got {n}")

        if builtin and name in ("and", "or"):
            want_truth = name == "or"

            def call_logic(st: _State, dot: Any, final: Any) -> Any:
                check_count(len(args) + (final is not _MISSING))
                v: Any = None
                for a in args:
                    v = a(st, dot)
                    if _truth(v) == want_truth:
                        return v
                if final is not _MISSING:
                    v = _arg(final)
                return v

            return call_logic

        def call_func(st: _State, dot: Any, final: Any) -> Any:
            values = [a(st, dot) for a in args]
            if final is not _MISSING:
                values.append(_arg(final))
            check_count(len(values))
            try:
                return fn(*values)
            except (_ExecFailure, _Break, _Continue):
                raise
            except _FuncError as exc:
                raise _ExecFailure(cmd, f"error calling {name}: {exc}") from None
            except Exception as exc:
                if builtin:  # pragma: no cover - a bug in a built-in, not the user's fault
                    raise
                raise _ExecFailure(cmd, f"error calling {name}: {exc}") from None

        return call_func

    def field(self, node: _Field, arg_nodes: list[_Node]) -> _Call:
        names = node.names
        args = [self.arg(a) for a in arg_nodes]
        base = node.base
        receiver: _Eval
        if base is None:
            receiver = lambda st, dot: dot  # noqa: E731
        elif isinstance(base, str):
            var = base
            if not names:

                def variable(st: _State, dot: Any, final: Any) -> Any:
                    if args or final is not _MISSING:
                        raise _ExecFailure(node, f"can't give argument to non-function {node}")
                    return _lookup_var(st, var)

                return variable
            receiver = lambda st, dot: _lookup_var(st, var)  # noqa: E731
        else:
            inner = self.arg(base)
            receiver = inner
        last = len(names) - 1

        def call_field(st: _State, dot: Any, final: Any) -> Any:
            value = receiver(st, dot)
            for k, name in enumerate(names):
                if k < last:
                    value = _get_field(node, value, name, None, _MISSING, st, dot)
                else:
                    value = _get_field(node, value, name, args, final, st, dot)
            return value

        if not args and len(names) == 1 and base is None:
            name0 = names[0]

            def call_simple(st: _State, dot: Any, final: Any) -> Any:
                # The common ``.Field`` on a map: one dict lookup.
                if type(dot) is dict and final is _MISSING:
                    return dot.get(name0, NO_VALUE)
                return _get_field(node, dot, name0, args, final, st, dot)

            return call_simple
        return call_field


def _lookup_var(st: _State, name: str) -> Any:
    for slot in reversed(st.vars):
        if slot[0] == name:
            return slot[1]
    raise AssertionError(f"undefined variable {name}")  # pragma: no cover - parse checks


def _get_field(
    node: _Field,
    receiver: Any,
    name: str,
    args: list[_Eval] | None,
    final: Any,
    st: _State,
    dot: Any,
) -> Any:
    has_args = bool(args) or final is not _MISSING
    if receiver is NO_VALUE:
        return NO_VALUE
    if receiver is None:
        raise _ExecFailure(node, f"nil pointer evaluating interface {{}}.{name}")
    if isinstance(receiver, GoStruct):
        if name in receiver:
            if has_args:
                raise _ExecFailure(node, f"{name} has arguments but cannot be invoked as function")
            return receiver[name]
    elif isinstance(receiver, Mapping):
        if has_args:
            raise _ExecFailure(node, f"{name} is not a method but has arguments")
        return receiver.get(name, NO_VALUE)
    elif not isinstance(receiver, _PRIMITIVES) and not name.startswith("_"):
        attr = getattr(receiver, name, _MISSING)
        if attr is not _MISSING:
            if inspect.ismethod(attr):
                values = [a(st, dot) for a in args or ()]
                if final is not _MISSING:
                    values.append(_arg(final))
                try:
                    return attr(*values)
                except Exception as exc:
                    raise _ExecFailure(node, f"error calling {name}: {exc}") from None
            if has_args:
                raise _ExecFailure(node, f"{name} has arguments but cannot be invoked as function")
            return attr
    raise _ExecFailure(node, f"can't evaluate field {name} in type {go_type_name(receiver)}")


# ============================================================================ public API

_DEFAULT_FUNCS: dict[str, Callable[..., Any]] = {name: f for name, (f, _, _) in _BUILTINS.items()}


class Template:
    """A parsed Go template, compiled once and executed many times.

    ``funcs`` adds functions (as Go's ``Funcs``), e.g. :data:`FUNCS_DETAILS` for Kapacitor's
    details template.  ``html_escape=True`` gives html/template's behaviour in an HTML text
    context: each action's output is entity-escaped and nil prints as nothing.
    """

    __slots__ = ("_run", "html_escape", "name", "text")

    def __init__(self, name: str, text: str, run: _Exec, html_escape: bool) -> None:
        self.name = name
        self.text = text
        self._run = run
        self.html_escape = html_escape

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        name: str = "template",
        funcs: Mapping[str, Callable[..., Any]] | None = None,
        html_escape: bool = False,
    ) -> Template:
        all_funcs = dict(_DEFAULT_FUNCS)
        if funcs:
            all_funcs.update(funcs)
        src = _Source(name, text)
        parser = _Parser(src, all_funcs)
        root = parser.parse()
        compiler = _Compiler(src, all_funcs, html_escape, parser.defines)
        for def_name, body in parser.defines.items():
            compiler.compiled_defines[def_name] = compiler.list_(body)
        if name in parser.defines and not root.nodes:
            run = compiler.compiled_defines[name]
        else:
            run = compiler.list_(root)
        tmpl = cls(name, text, run, html_escape)
        tmpl._bind_errors(src)
        return tmpl

    def _bind_errors(self, src: _Source) -> None:
        run = self._run
        name = self.name

        def execute(st: _State, dot: Any) -> None:
            try:
                run(st, dot)
            except _ExecFailure as exc:
                context = str(exc.node)
                if len(context) > 20:
                    context = context[:20] + "..."
                raise TemplateExecError(
                    f"template: {src.location(exc.node.pos)}: executing {repr_go(name)} "
                    f"at <{context}>: {exc.msg}"
                ) from None
            except RecursionError:
                raise TemplateExecError(
                    f"template: {name}: exceeded maximum template depth"
                ) from None

        self._run = execute

    def execute(self, data: Any) -> str:
        """Render with ``data`` as dot and ``$``; raises :class:`TemplateExecError` on failure."""
        out: list[str] = []
        self._run(_State(out, data), data)
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template(name={self.name!r})"
