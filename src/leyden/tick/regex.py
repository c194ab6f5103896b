"""Go RE2 regular expressions, validated and translated to Python's ``re``.

TICKscript regex literals are Go ``regexp`` patterns. Python's ``re`` reads most of them but not
all the same way: ``\\d``/``\\w``/``\\s``/``\\b`` are ASCII-only in Go, ``$`` never matches
before a final newline, ``(?i)`` may appear mid-pattern, ``(?U)`` swaps greediness, ``\\Q…\\E``,
``[[:alpha:]]`` and ``\\pL`` exist, and Perl-only syntax (look-around, back-references) is an
error. So we parse the Go syntax ourselves, reject what Go rejects with Go's message, and emit an
equivalent Python pattern that needs no global flags (each atom carries its own flags).
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["GoRegexError", "compile_go", "translate"]

_MAX_REPEAT = 1000
_MAX_CP = 0x10FFFF


class GoRegexError(ValueError):
    """A pattern Go's regexp would reject; str() is Go's message (``error parsing regexp: …``)."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


def _ranges_str(ranges: list[tuple[int, int]]) -> str:
    out = []
    for lo, hi in ranges:
        out.append(_cp(lo) if lo == hi else f"{_cp(lo)}-{_cp(hi)}")
    return "".join(out)


def _cp(c: int) -> str:
    ch = chr(c)
    if ch.isascii() and ch.isalnum():
        return ch
    return f"\\U{c:08x}" if c > 0xFFFF else f"\\u{c:04x}" if c > 0xFF else f"\\x{c:02x}"


def _negate(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    nxt = 0
    for lo, hi in sorted(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= _MAX_CP:
        out.append((nxt, _MAX_CP))
    return out


_PERL = {
    "d": [(0x30, 0x39)],
    "s": [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
    "w": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
}

_POSIX = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}


@functools.cache
def _category_ranges(name: str) -> tuple[tuple[int, int], ...]:
    """Code point ranges of a Unicode general category (one or two letters), built once."""
    out: list[tuple[int, int]] = []
    start = -1
    for cp in range(_MAX_CP + 2):
        hit = cp <= _MAX_CP and unicodedata.category(chr(cp)).startswith(name)
        if hit and start < 0:
            start = cp
        elif not hit and start >= 0:
            out.append((start, cp - 1))
            start = -1
    return tuple(out)


_CATEGORIES = {
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk",
    "Sm", "So", "Z", "Zl", "Zp", "Zs",
}  # fmt: skip

_WORD = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"


class _Translator:
    def __init__(self, src: str) -> None:
        self.s = src
        self.i = 0
        self.flags = {"i": False, "m": False, "s": False, "U": False}
        self.names: set[str] = set()

    def error(self, code: str, expr: str) -> GoRegexError:
        return GoRegexError(code, expr)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def translate(self) -> str:
        out = self.alternation(0)
        if self.i < len(self.s):  # a ')' with no '('
            raise self.error("unexpected )", self.s)
        return out

    def alternation(self, depth: int) -> str:
        if depth > 1000:
            raise self.error("expression nests too deeply", self.s)
        saved = dict(self.flags)
        branches = [self.sequence(depth)]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence(depth))
        self.flags = saved
        return "|".join(branches)

    def sequence(self, depth: int) -> str:
        parts: list[str] = []
        while self.i < len(self.s) and self.peek() not in "|)":
            start = self.i
            atom = self.atom(depth)
            if atom is None:  # a flag group such as (?i): no text, changes flags
                continue
            parts.append(self.quantified(atom, start))
        return "".join(parts)

    def quantified(self, atom: str, start: int) -> str:
        c = self.peek()
        if c in ("*", "+", "?"):
            self.i += 1
            q = c
        elif c == "{":
            rep = self.repeat()
            if rep is None:
                return atom
            q = rep
        else:
            return atom
        lazy = False
        if self.peek() == "?":
            self.i += 1
            lazy = True
        if self.flags["U"]:
            lazy = not lazy
        nxt = self.peek()
        if nxt in ("*", "+", "?") or (nxt == "{" and self._repeat_ahead()):
            op_start = self.i - len(q) - (1 if lazy != self.flags["U"] else 0)
            raise self.error("invalid nested repetition operator", self.s[op_start : self.i + 1])
        return f"(?:{atom}){q}{'?' if lazy else ''}"

    def _repeat_ahead(self) -> bool:
        return re.match(r"\{\d+(,\d*)?\}", self.s[self.i :]) is not None

    def repeat(self) -> str | None:
        m = re.match(r"\{(\d+)(,(\d*))?\}", self.s[self.i :])
        if m is None:
            return None  # a literal '{'
        lo = int(m.group(1))
        hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
        if lo > _MAX_REPEAT or hi > _MAX_REPEAT or (hi >= 0 and hi < lo):
            raise self.error("invalid repeat count", m.group(0))
        self.i += m.end()
        return m.group(0)

    def lit(self, ch: str) -> str:
        e = re.escape(ch) if ch.isascii() else _cp(ord(ch))
        if self.flags["i"] and ch.lower() != ch.upper():
            return f"(?i:{e})"
        return e

    def cls(self, ranges: list[tuple[int, int]], negated: bool) -> str:
        body = f"[{'^' if negated else ''}{_ranges_str(ranges)}]"
        if not ranges:
            body = "[^\\x00-\\U0010ffff]" if not negated else "[\\x00-\\U0010ffff]"
        return f"(?i:{body})" if self.flags["i"] else body

    def atom(self, depth: int) -> str | None:
        c = self.s[self.i]
        if c == "(":
            return self.group(depth)
        if c in "*+?":
            raise self.error("missing argument to repetition operator", c)
        if c == "{" and self._repeat_ahead():
            m = re.match(r"\{\d+(,\d*)?\}", self.s[self.i :])
            raise self.error("missing argument to repetition operator", m.group(0) if m else c)
        self.i += 1
        if c == ".":
            return "(?s:.)" if self.flags["s"] else "[^\\n]"
        if c == "^":
            return "(?m:^)" if self.flags["m"] else "\\A"
        if c == "$":
            return "(?m:$)" if self.flags["m"] else "\\Z"
        if c == "[":
            return self.bracket()
        if c == "\\":
            return self.escape()
        return self.lit(c)

    def group(self, depth: int) -> str | None:
        start = self.i
        self.i += 1
        if self.peek() == "?":
            rest = self.s[self.i :]
            m = re.match(r"\?P?<([^>]*)>", rest)
            if m and (rest.startswith("?P<") or rest.startswith("?<")):
                name = m.group(1)
                if not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                    raise self.error("invalid named capture", self.s[start : self.i + m.end()])
                if name in self.names:
                    raise self.error("duplicate capture group name", name)
                self.names.add(name)
                self.i += m.end()
                py_name = name if name.isidentifier() else "_" + name
                return f"(?P<{py_name}>{self.close(depth)})"
            m = re.match(r"\?([imsU]*)(?:-([imsU]*))?([:)])", rest)
            if not m or (m.group(2) is not None and not m.group(2)) or m.group(0) in ("?)", "?-)"):
                end = self.s.find(")", self.i)
                bad = self.s[start : end + 1] if end >= 0 else self.s[start:]
                raise self.error("invalid or unsupported Perl syntax", bad[:3] if not m else bad)
            self.i += m.end()
            new = dict(self.flags)
            for f in m.group(1):
                new[f] = True
            for f in m.group(2) or "":
                new[f] = False
            if m.group(3) == ")":
                self.flags = new
                return None
            saved = self.flags
            self.flags = new
            body = self.close(depth)
            self.flags = saved
            return f"(?:{body})"
        return f"({self.close(depth)})"

    def close(self, depth: int) -> str:
        body = self.alternation(depth + 1)
        if self.peek() != ")":
            raise self.error("missing closing )", self.s)
        self.i += 1
        return body

    def escape(self) -> str:
        c = self.peek()
        if not c:
            raise self.error("trailing backslash at end of expression", "")
        if c == "Q":
            end = self.s.find("\\E", self.i + 1)
            text = self.s[self.i + 1 :] if end < 0 else self.s[self.i + 1 : end]
            self.i = len(self.s) if end < 0 else end + 2
            return "".join(self.lit(ch) for ch in text)
        if c == "A":
            self.i += 1
            return "\\A"
        if c == "z":
            self.i += 1
            return "\\Z"
        if c == "b":
            self.i += 1
            return _BOUNDARY
        if c == "B":
            self.i += 1
            return _NOT_BOUNDARY
        ranges = self.class_escape()
        if ranges is not None:
            return self.cls(ranges[0], ranges[1])
        return self.lit(chr(self.char_escape()))

    def class_escape(self) -> tuple[list[tuple[int, int]], bool] | None:
        """\\d \\s \\w (and negations) or \\p{..}; consumes it. (ranges, negated) or None."""
        c = self.peek()
        if c.lower() in _PERL:
            self.i += 1
            return list(_PERL[c.lower()]), c.isupper()
        if c in ("p", "P"):
            start = self.i - 1
            self.i += 1
            neg = c == "P"
            if self.peek() == "{":
                end = self.s.find("}", self.i)
                if end < 0:
                    raise self.error("invalid character class range", self.s[start:])
                name = self.s[self.i + 1 : end]
                self.i = end + 1
            else:
                name = self.peek()
                if not name:
                    raise self.error("invalid character class range", self.s[start:])
                self.i += 1
            if name.startswith("^"):
                neg, name = not neg, name[1:]
            if name == "Any":
                return [(0, _MAX_CP)], neg
            if name not in _CATEGORIES:
                raise self.error("invalid character class range", self.s[start : self.i])
            return list(_category_ranges(name)), neg
        return None

    def char_escape(self) -> int:
        """A single-character escape after '\\'; consumes it and returns the code point."""
        start = self.i - 1
        c = self.peek()
        self.i += 1
        if c in "1234567" and not ("0" <= self.peek() <= "7"):
            raise self.error("invalid escape sequence", self.s[start : self.i])
        if c in "01234567":
            v = int(c)
            for _ in range(2):
                if "0" <= self.peek() <= "7":
                    v = v * 8 + int(self.peek())
                    self.i += 1
            return v
        if c == "x":
            if self.peek() == "{":
                end = self.s.find("}", self.i)
                digits = self.s[self.i + 1 : end] if end >= 0 else ""
                if (
                    end < 0
                    or not re.fullmatch(r"[0-9A-Fa-f]+", digits)
                    or int(digits, 16) > _MAX_CP
                ):
                    raise self.error(
                        "invalid escape sequence", self.s[start : end + 1 if end >= 0 else None]
                    )
                self.i = end + 1
                return int(digits, 16)
            digits = self.s[self.i : self.i + 2]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
                raise self.error("invalid escape sequence", self.s[start : self.i + len(digits)])
            self.i += 2
            return int(digits, 16)
        simple = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}
        if c in simple:
            return simple[c]
        if c.isascii() and not c.isalnum():
            return ord(c)
        raise self.error("invalid escape sequence", self.s[start : self.i])

    def bracket(self) -> str:
        start = self.i - 1
        negated = False
        if self.peek() == "^":
            negated = True
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            c = self.peek()
            if not c:
                raise self.error("missing closing ]", self.s[start:])
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.peek(1) == ":":
                end = self.s.find(":]", self.i + 2)
                if end >= 0:
                    name = self.s[self.i + 2 : end]
                    neg = name.startswith("^")
                    if name.lstrip("^") in _POSIX:
                        r = _POSIX[name.lstrip("^")]
                        ranges.extend(_negate(r) if neg else r)
                        self.i = end + 2
                        continue
                    raise self.error("invalid character class range", self.s[self.i : end + 2])
            item_start = self.i
            if c == "\\":
                self.i += 1
                if not self.peek():
                    raise self.error("trailing backslash at end of expression", "")
                ce = self.class_escape()
                if ce is not None:
                    ranges.extend(_negate(ce[0]) if ce[1] else ce[0])
                    continue
                lo = self.char_escape()
            else:
                self.i += 1
                lo = ord(c)
            hi = lo
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                c2 = self.peek()
                if c2 == "\\":
                    self.i += 1
                    if not self.peek():
                        raise self.error("trailing backslash at end of expression", "")
                    if self.peek().lower() in _PERL or self.peek() in "pP":
                        raise self.error(
                            "invalid character class range", self.s[item_start : self.i + 1]
                        )
                    hi = self.char_escape()
                else:
                    self.i += 1
                    hi = ord(c2)
                if hi < lo:
                    raise self.error("invalid character class range", self.s[item_start : self.i])
            ranges.append((lo, hi))
        return self.cls(ranges, negated)


def translate(pattern: str) -> str:
    """The Python ``re`` pattern equivalent to the Go pattern; GoRegexError if Go rejects it."""
    try:
        return _Translator(pattern).translate()
    except RecursionError:
        raise GoRegexError("expression nests too deeply", pattern) from None


@functools.lru_cache(maxsize=1024)
def compile_go(pattern: str) -> re.Pattern[str]:
    """Compile a Go RE2 pattern to a Python pattern with the same meaning."""
    py = translate(pattern)
    try:
        return re.compile(py)
    except (re.error, OverflowError, RecursionError) as e:  # pragma: no cover - translator gaps
        raise GoRegexError("invalid pattern", f"{pattern}: {e}") from None
