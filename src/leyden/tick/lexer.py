"""TICKscript lexer.

A hand-written port of the state machine in Kapacitor's ``tick/ast/lex.go``. The oddities are
deliberate, because scripts depend on them: whether ``/`` starts a regex or divides depends on the
previous token, ``-``/``!`` in operand position are always unary, ``lambda`` is a keyword only when
``:`` follows at once, and a comment swallows the next line if it starts with ``/``.

Positions are byte offsets into the UTF-8 text, as in Kapacitor.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import NamedTuple

# Token types are the strings Kapacitor's TokenType.String() prints; they appear in messages.
ERR = "ERR"
EOF = "EOF"
VAR = "var"
DBRP = "dbrp"
ASGN = "="
DOT = "."
PIPE = "|"
AT = "@"
IDENT = "identifier"
REFERENCE = "reference"
LAMBDA = "lambda"
NUMBER = "number"
STRING = "string"
DURATION = "duration"
LPAREN = "("
RPAREN = ")"
LSBRACKET = "["
RSBRACKET = "]"
COMMA = ","
NOT = "!"
TRUE = "TRUE"
FALSE = "FALSE"
REGEX = "regex"
COMMENT = "//"
STAR = "*"
PLUS = "+"
MINUS = "-"
MULT = "*op"  # distinct from STAR internally; printed as "*"
DIV = "/"
MOD = "%"
AND = "AND"
OR = "OR"
EQUAL = "=="
NOT_EQUAL = "!="
LESS = "<"
GREATER = ">"
LESS_EQUAL = "<="
GREATER_EQUAL = ">="
REGEX_EQUAL = "=~"
REGEX_NOT_EQUAL = "!~"

#: Binary operators and their precedence (lowest binds loosest).
PRECEDENCE: dict[str, int] = {
    OR: 0,
    AND: 1,
    EQUAL: 2,
    NOT_EQUAL: 2,
    REGEX_EQUAL: 2,
    REGEX_NOT_EQUAL: 2,
    GREATER: 3,
    GREATER_EQUAL: 3,
    LESS: 3,
    LESS_EQUAL: 3,
    PLUS: 4,
    MINUS: 4,
    MULT: 5,
    DIV: 5,
    MOD: 5,
}

_KEYWORDS = {"AND": AND, "OR": OR, "TRUE": TRUE, "FALSE": FALSE, "var": VAR, "dbrp": DBRP}

# Go's unicode.IsSpace: the Unicode White_Space property.
_SPACE_CHARS = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE = frozenset(_SPACE_CHARS)
_DUR_UNITS = frozenset("uµsmhdw")


def type_name(typ: str) -> str:
    """How Kapacitor prints a token type in messages."""
    return "*" if typ == MULT else typ


def go_trim_space(s: str) -> str:
    """strings.TrimSpace: strips exactly Go's whitespace set (Python's str.strip strips more);
    the parser and the ``strTrimSpace`` lambda function share it."""
    return s.strip(_SPACE_CHARS)


def _is_digit(ch: str) -> bool:
    return ch.isdecimal()  # Unicode Nd, as Go's unicode.IsDigit


def _is_ident(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal() or ch == "_"


def go_quote_rune(ch: str) -> str:
    """Go's %q for a rune: the character in single quotes, escaped the way Go escapes it."""
    special = {
        "\a": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
        "\\": "\\\\",
        "'": "\\'",
    }
    if ch in special:
        return f"'{special[ch]}'"
    cp = ord(ch)
    if ch.isprintable() and not 0xD800 <= cp <= 0xDFFF:
        return f"'{ch}'"
    if cp < 0x80:
        return f"'\\x{cp:02x}'"
    if cp <= 0xFFFF:
        return f"'\\u{cp:04x}'"
    return f"'\\U{cp:08x}'"


class Token(NamedTuple):
    type: str
    pos: int  # byte offset of the token start
    text: str


class Source:
    """The script text with the byte-offset bookkeeping Kapacitor's positions need."""

    __slots__ = ("_char_of_byte", "_newlines", "data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8", "surrogatepass")
        self._newlines = [i for i, b in enumerate(self.data) if b == 0x0A]
        self._char_of_byte: list[int] | None = None

    def line_col(self, pos: int) -> tuple[int, int]:
        """Kapacitor's lineNumber: 1-based line and byte offset since the last newline, plus 1."""
        k = bisect.bisect_left(self._newlines, pos)
        last = self._newlines[k - 1] if k else -1
        return k + 1, pos - last

    def line_text(self, pos: int) -> str:
        k = bisect.bisect_left(self._newlines, pos)
        start = self._newlines[k - 1] + 1 if k else 0
        end = self._newlines[k] if k < len(self._newlines) else len(self.data)
        return self.data[start:end].decode("utf-8", "replace").rstrip("\r")

    def char_col(self, pos: int) -> int:
        """1-based column in characters, for drawing a caret."""
        k = bisect.bisect_left(self._newlines, pos)
        start = self._newlines[k - 1] + 1 if k else 0
        return len(self.data[start:pos].decode("utf-8", "replace")) + 1

    def has_newline(self, start: int, end: int) -> bool:
        k = bisect.bisect_left(self._newlines, start)
        return k < len(self._newlines) and self._newlines[k] < end


def _byte_offsets(text: str) -> list[int] | None:
    """Byte offset of every character index (plus the end), or None for pure ASCII."""
    if text.isascii():
        return None
    offs = [0] * (len(text) + 1)
    acc = 0
    for i, ch in enumerate(text):
        offs[i] = acc
        cp = ord(ch)
        acc += 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    offs[len(text)] = acc
    return offs


_START, _BINOP, _REGEX = 0, 1, 2


def tokenize(text: str) -> list[Token]:
    """All tokens, comments included, ending with an EOF token or (on a lexer error) an ERR token
    whose text is Kapacitor's lexer message and whose position is where the bad token starts.

    Types are the names Kapacitor prints (``lexer/cases.json``): multiplication is ``*``.
    """
    return [Token("*", t.pos, t.text) if t.type == MULT else t for t in lex(text)]


# One long function on purpose: a hand-tuned port of lex.go's state machine, whose states and
# lookbehind (regex or division, unary minus) read best in one place and cost no call per char.
def lex(text: str) -> list[Token]:
    """Like tokenize, but multiplication keeps its own type (MULT) so the parser can tell it from
    the star token."""
    offs = _byte_offsets(text)
    toks: list[Token] = []
    n = len(text)
    i = 0
    state = _START

    def emit(typ: str, start: int, end: int) -> None:
        toks.append(Token(typ, offs[start] if offs else start, text[start:end]))

    def error(msg: str, start: int) -> list[Token]:
        toks.append(Token(ERR, offs[start] if offs else start, msg))
        return toks

    while True:
        if state == _REGEX:
            # lexRegex: text[i] is '/'.
            start = i
            j = i + 1
            while True:
                if j >= n:
                    return error("unterminated regex", start)
                ch = text[j]
                j += 1
                if ch == "\\":
                    if j < n and text[j] == "/":
                        j += 1
                elif ch == "/":
                    emit(REGEX, start, j)
                    break
            i = j
            state = _START
            continue

        if state == _BINOP:
            # tryLexBinaryOperator: an operator may follow a value; anything else is re-lexed.
            i = _skip_space(text, i)
            state = _START
            if i >= n:
                continue
            ch = text[i]
            nxt = text[i + 1] if i + 1 < n else ""
            if ch in "+-*%":
                emit({"+": PLUS, "-": MINUS, "*": MULT, "%": MOD}[ch], i, i + 1)
                i += 1
            elif ch == "/":
                if nxt == "/":
                    i = _lex_comment(text, i, emit)
                else:
                    emit(DIV, i, i + 1)
                    i += 1
            elif ch == "!":
                if nxt in ("=", "~"):
                    emit(NOT_EQUAL if nxt == "=" else REGEX_NOT_EQUAL, i, i + 2)
                    i += 2
                    if nxt == "~":
                        i = _skip_space(text, i)
                        if i < n and text[i] == "/":
                            state = _REGEX
                else:
                    emit(NOT, i, i + 1)
                    i += 1
            elif ch in "<>":
                if nxt == "=":
                    emit(LESS_EQUAL if ch == "<" else GREATER_EQUAL, i, i + 2)
                    i += 2
                else:
                    emit(LESS if ch == "<" else GREATER, i, i + 1)
                    i += 1
            elif ch == "=":
                if nxt in ("~", "="):
                    emit(REGEX_EQUAL if nxt == "~" else EQUAL, i, i + 2)
                    i += 2
                    if nxt == "~":
                        i = _skip_space(text, i)
                        if i < n and text[i] == "/":
                            state = _REGEX
                else:
                    emit(ASGN, i, i + 1)
                    i += 1
                    # After '=' a '/' always starts a regex, even '//'.
                    i = _skip_space(text, i)
                    if i < n and text[i] == "/":
                        state = _REGEX
            continue

        # lexToken
        if i >= n:
            emit(EOF, n, n)
            return toks
        ch = text[i]
        if ch == "-" or ch == "!":
            emit(MINUS if ch == "-" else NOT, i, i + 1)
            i += 1
        elif _is_digit(ch) or ch == ".":
            start = i
            j = i
            first = True
            found_decimal = False
            while True:
                r = text[j] if j < n else ""
                j += 1 if r else 0
                if r == ".":
                    if first and not (j < n and _is_digit(text[j])):
                        emit(DOT, start, j)
                        state = _START
                        break
                    if found_decimal:
                        return error("multiple decimals in number", start)
                    found_decimal = True
                elif r and _is_digit(r):
                    pass
                elif r and not found_decimal and r in _DUR_UNITS:
                    if r == "m" and j < n and text[j] == "s":
                        j += 1
                    emit(DURATION, start, j)
                    state = _BINOP
                    break
                else:
                    if r:
                        j -= 1
                    emit(NUMBER, start, j)
                    state = _BINOP
                    break
                first = False
            i = j
        elif ch.isalpha():
            start = i
            j = i + 1
            while j < n and _is_ident(text[j]):
                j += 1
            word = text[start:j]
            if word == "lambda" and j < n and text[j] == ":":
                j += 1
                emit(LAMBDA, start, j)
            else:
                emit(_KEYWORDS.get(word, IDENT), start, j)
            i = j
            state = _BINOP
        elif ch == '"':
            start = i
            j = i + 1
            while True:
                if j >= n:
                    return error("unterminated field reference", start)
                r = text[j]
                j += 1
                if r == "\\":
                    if j < n and text[j] == '"':
                        j += 1
                elif r == '"':
                    break
            emit(REFERENCE, start, j)
            i = j
            state = _BINOP
        elif ch == "'":
            j = _lex_string(text, i)
            if j < 0:
                return error("unterminated string", i)
            emit(STRING, i, j)
            i = j
            state = _BINOP
        elif ch in _SPACE:
            i += 1
        elif ch in "()[]|@,*":
            typ = {
                "(": LPAREN,
                ")": RPAREN,
                "[": LSBRACKET,
                "]": RSBRACKET,
                "|": PIPE,
                "@": AT,
                ",": COMMA,
                "*": STAR,
            }[ch]
            emit(typ, i, i + 1)
            i += 1
            if ch == ")":
                state = _BINOP
        elif ch == "/":
            if i + 1 < n and text[i + 1] == "/":
                i = _lex_comment(text, i, emit)
            else:
                state = _REGEX
        else:
            return error(f"unknown state, last char: {go_quote_rune(ch)}", i)


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    return i


def _lex_string(text: str, i: int) -> int:
    """lexSingleOrTripleString from text[i] == "'"; the end index, or -1 if unterminated."""
    n = len(text)
    j = i + 1
    count = 1
    if j < n and text[j] == "'":
        count = 2
        j += 1
        if j < n and text[j] == "'":
            count = 3
            j += 1
        else:
            return j  # the empty string ''
    total = count
    while True:
        if j >= n:
            return -1
        r = text[j]
        j += 1
        if r == "\\" and count == 1:
            if j < n and text[j] == "'":
                j += 1
        elif r == "'":
            count -= 1
            if count == 0:
                return j
        else:
            count = total


def _lex_comment(text: str, i: int, emit: Callable[[str, int, int], None]) -> int:
    """lexComment from text[i:i+2] == '//'; emits the token and returns the index after it.

    After a newline the comment swallows the next line's indentation, and continues if that line
    starts with '/', which is how adjacent comment lines merge into one token.
    """
    n = len(text)
    j = i + 2
    while True:
        if j >= n:
            break
        r = text[j]
        j += 1
        if r == "\n":
            while j < n and text[j] != "\n" and text[j] in _SPACE:
                j += 1
            if j < n and text[j] == "/":
                j += 1
                continue
            break
    emit(COMMENT, i, j)
    return j
