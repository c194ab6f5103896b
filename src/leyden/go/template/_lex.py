"""The lexer of Go's ``text/template/parse`` (``lex.go``): template text into tokens.

Unlike Go's concurrent lexer this one runs to the end before the parser starts, but it keeps
Go's observable order: a lexing error becomes an error token after the tokens before it, so
``{{ .A }`` reports the stray ``}`` the way Go does.  Offsets become ``name:line:col`` through
:class:`Source`, with the column counted in UTF-8 bytes as Go counts it.
"""

from __future__ import annotations

from leyden.go.types import go_quote

__all__ = [
    "T_ASSIGN",
    "T_BOOL",
    "T_CHAR",
    "T_CHARCONST",
    "T_DECLARE",
    "T_DOT",
    "T_EOF",
    "T_ERROR",
    "T_FIELD",
    "T_IDENT",
    "T_KEYWORD",
    "T_LEFT",
    "T_LPAREN",
    "T_NIL",
    "T_NUMBER",
    "T_PIPE",
    "T_RAW",
    "T_RIGHT",
    "T_RPAREN",
    "T_SPACE",
    "T_STRING",
    "T_TEXT",
    "T_VAR",
    "Source",
    "TemplateError",
    "Tok",
    "lex",
    "unquote",
]


class TemplateError(Exception):
    """A template that does not parse; the message names the template, line and column."""


T_TEXT = "text"
T_LEFT = "{{"
T_RIGHT = "}}"
T_SPACE = "space"
T_FIELD = "field"
T_VAR = "variable"
T_IDENT = "identifier"
T_KEYWORD = "keyword"
T_STRING = "string"
T_RAW = "raw string"
T_CHARCONST = "char constant"
T_NUMBER = "number"
T_BOOL = "bool"
T_NIL = "nil"
T_DOT = "."
T_PIPE = "|"
T_LPAREN = "("
T_RPAREN = ")"
T_DECLARE = ":="
T_ASSIGN = "="
T_CHAR = "char"
T_EOF = "EOF"
T_ERROR = "error"

_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "template", "define", "block", "break", "continue"}
)
_SPACE = " \t\r\n"
_TERMINATORS = set(_SPACE) | set(".,|:)(")


class Tok:
    __slots__ = ("pos", "typ", "val")

    def __init__(self, typ: str, val: str, pos: int) -> None:
        self.typ = typ
        self.val = val
        self.pos = pos

    def __str__(self) -> str:
        if self.typ == T_EOF:
            return "EOF"
        if self.typ == T_KEYWORD:
            return f"<{self.val}>"
        if self.typ in (T_LEFT, T_RIGHT):
            return go_quote(self.val)
        if len(self.val) > 10:
            return go_quote(self.val[:10])[:-1] + '"...'
        return go_quote(self.val)


class Source:
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


def lex(src: Source) -> list[Tok]:
    text = src.text
    n = len(text)
    toks: list[Tok] = []
    i = 0
    while i < n:
        j = text.find("{{", i)
        if j < 0:
            toks.append(Tok(T_TEXT, text[i:], i))
            break
        trim_left = text.startswith("-", j + 2) and j + 3 < n and text[j + 3] in _SPACE
        chunk = text[i:j]
        if trim_left:
            chunk = chunk.rstrip(_SPACE)
        if chunk:
            toks.append(Tok(T_TEXT, chunk, i))
        try:
            i = _lex_action(src, toks, j, trim_left)
        except TemplateError as exc:
            # Like Go's concurrent lexer, the parser sees the tokens before the error first,
            # so `{{ .A }` reports the stray "}" rather than the unclosed action.
            toks.append(Tok(T_ERROR, str(exc), j))
            break
    toks.append(Tok(T_EOF, "", n))
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


# One hand-tuned state machine over the action text, as Go's lexer is (lex.go); it stays long
# because splitting it per token kind would cost a call per character on every parse.
def _lex_action(src: Source, toks: list[Tok], start: int, trim_left: bool) -> int:
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
    toks.append(Tok(T_LEFT, "{{", start))
    depth = 0
    while True:
        at, trim = _at_right_delim(text, i)
        if at:
            if depth:
                raise src.error(i, "unclosed left paren")
            toks.append(Tok(T_RIGHT, "}}", i))
            return _after_right_delim(text, i, trim)
        if i >= n:
            raise src.error(i, "unclosed action")
        c = text[i]
        if c in _SPACE:
            k = i
            while k < n and text[k] in _SPACE and not _at_right_delim(text, k)[0]:
                k += 1
            toks.append(Tok(T_SPACE, text[i:k], i))
            i = k
        elif c == "|":
            toks.append(Tok(T_PIPE, c, i))
            i += 1
        elif c == "(":
            depth += 1
            toks.append(Tok(T_LPAREN, c, i))
            i += 1
        elif c == ")":
            if depth == 0:
                raise src.error(i, "unexpected right paren")
            depth -= 1
            toks.append(Tok(T_RPAREN, c, i))
            i += 1
        elif c == ":":
            if not text.startswith(":=", i):
                raise src.error(i, "expected :=")
            toks.append(Tok(T_DECLARE, ":=", i))
            i += 2
        elif c == "=":
            toks.append(Tok(T_ASSIGN, c, i))
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
            toks.append(Tok(T_STRING, text[i : k + 1], i))
            i = k + 1
        elif c == "`":
            k = text.find("`", i + 1)
            if k < 0:
                raise src.error(i, "unterminated raw quoted string")
            toks.append(Tok(T_RAW, text[i : k + 1], i))
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
            toks.append(Tok(T_CHARCONST, text[i : k + 1], i))
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
            toks.append(Tok(T_VAR if c == "$" else T_FIELD, text[i:k], i))
            i = k
        elif c == ".":
            toks.append(Tok(T_DOT, c, i))
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
                typ = T_KEYWORD
            elif word in ("true", "false"):
                typ = T_BOOL
            elif word == "nil":
                typ = T_NIL
            else:
                typ = T_IDENT
            toks.append(Tok(typ, word, i))
            i = k
        elif c.isprintable() and ord(c) < 0x80:
            toks.append(Tok(T_CHAR, c, i))
            i += 1
        else:
            raise src.error(i, f"unrecognized character in action: {_go_unicode(c)}")


def _go_unicode(c: str) -> str:
    """Go's ``%#U``: ``U+00E9 'é'``."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


def _lex_number(src: Source, toks: list[Tok], i: int) -> int:
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
        raise src.error(i, f"bad number syntax: {go_quote(text[i:k])}")
    toks.append(Tok(T_NUMBER, text[i:k], i))
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


def unquote(src: Source, tok: Tok) -> str:
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
