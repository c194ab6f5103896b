"""The email Kapacitor's smtp service sends, byte for byte where it matters.

Kapacitor builds its mail with gomail (``gopkg.in/gomail.v2``): ``Mime-Version: 1.0``, a
``Date`` (RFC 1123 with a numeric zone), ``From``, ``To`` (the recipients joined by ``", "``),
``Subject`` (the alert message), then ``Content-Type: text/html; charset=UTF-8`` and
``Content-Transfer-Encoding: quoted-printable`` and the alert details as the body, encoded by
Go's ``mime/quotedprintable`` writer (CRLF line ends, soft breaks before 76 characters, ``=``
as ``=3D``, trailing blanks encoded).  Header values with characters outside printable ASCII
are RFC 2047 Q-encoded words of at most 75 characters as Go's ``mime.QEncoding`` makes them,
and long header lines are folded at spaces as gomail folds them.  gomail writes its headers in
Go's random map order; Leyden writes them in the order above.

One difference on purpose: a CR or LF inside a header value (an alert message spanning lines)
becomes a space, so an alert message cannot add headers to the mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import formatdate, getaddresses

__all__ = ["build_message", "parse_address", "q_encode", "quoted_printable"]

_HEX = "0123456789ABCDEF"
_LINE_MAX = 76
#: Go's mime: an encoded word is at most 75 characters, "=?UTF-8?q?" and "?=" included
_WORD_CONTENT_MAX = 75 - len("=?UTF-8?q?") - len("?=")


def parse_address(text: str) -> str | None:
    """The address of ``Name <local@domain>`` or ``local@domain`` (Go's ``mail.ParseAddress``
    accepts one address); ``None`` when ``text`` is not one address."""
    pairs = getaddresses([text])
    if len(pairs) != 1:
        return None
    address = pairs[0][1]
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        return None
    if "<" in text and not text.rstrip().endswith(">"):
        return None
    return address


def quoted_printable(text: str) -> bytes:
    """Go's ``mime/quotedprintable.Writer`` (text mode) over ``text`` encoded as UTF-8."""
    out = bytearray()
    line = bytearray()
    cr = False

    def flush() -> None:
        out.extend(line)
        line.clear()

    def crlf() -> None:
        line.extend(b"\r\n")
        flush()

    def soft_break() -> None:
        line.extend(b"=")
        crlf()

    def encode(b: int) -> None:
        if _LINE_MAX - 1 - len(line) < 3:
            soft_break()
        line.extend(b"=" + _HEX[b >> 4].encode() + _HEX[b & 0x0F].encode())

    def check_last_byte() -> None:
        if line and line[-1] in b" \t":
            b = line.pop()
            encode(b)

    for b in text.encode("utf-8"):
        if (0x21 <= b <= 0x7E and b != 0x3D) or b in b" \t\r\n":
            if b in b"\r\n":
                if cr and b == 0x0A:
                    cr = False
                    continue
                cr = b == 0x0D
                check_last_byte()
                crlf()
                continue
            if len(line) == _LINE_MAX - 1:
                soft_break()
            line.append(b)
            cr = False
        else:
            encode(b)
            cr = False
    check_last_byte()
    flush()
    return bytes(out)


def _needs_encoding(text: str) -> bool:
    return any((c < " " or c > "~") and c != "\t" for c in text)


def _q_chars(chunk: bytes) -> str:
    out = []
    for b in chunk:
        if b == 0x20:
            out.append("_")
        elif 0x21 <= b <= 0x7E and b not in b"=?_":
            out.append(chr(b))
        else:
            out.append("=" + _HEX[b >> 4] + _HEX[b & 0x0F])
    return "".join(out)


def q_encode(text: str) -> str:
    """Go's ``mime.QEncoding.Encode("UTF-8", text)``: unchanged when plain printable ASCII."""
    if not _needs_encoding(text):
        return text
    words: list[str] = []
    current: list[str] = []
    length = 0
    for ch in text:
        raw = ch.encode("utf-8")
        plain = len(raw) == 1 and 0x20 <= raw[0] <= 0x7E and raw not in (b"=", b"?", b"_")
        size = 1 if plain else 3 * len(raw)
        if length + size > _WORD_CONTENT_MAX:
            words.append("".join(current))
            current, length = [], 0
        current.append(_q_chars(raw))
        length += size
    words.append("".join(current))
    return " ".join(f"=?UTF-8?q?{w}?=" for w in words)


def _write_line(out: list[str], s: str, chars_left: int) -> str:
    newline = s.find("\n")
    if newline != -1 and newline < chars_left:
        out.append(s[: newline + 1])
        return s[newline + 1 :]
    for i in range(min(chars_left, len(s)) - 1, -1, -1):
        if s[i] == " ":
            out.append(s[:i] + "\r\n ")
            return s[i + 1 :]
    for i in range(75, len(s)):
        if s[i] == " ":
            out.append(s[:i] + "\r\n ")
            return s[i + 1 :]
        if s[i] == "\n":
            out.append(s[: i + 1])
            return s[i + 1 :]
    out.append(s)
    return ""


def _header(name: str, values: Sequence[str]) -> str:
    """gomail's ``writeHeader``: values joined by ", ", folded near 76 characters."""
    out = [name]
    if not values:
        return name + ":\r\n"
    out.append(": ")
    chars_left = 76 - len(name) - 2
    for i, value in enumerate(values):
        s = value
        if chars_left < 1:
            out.append("\r\n " if i == 0 else ",\r\n ")
            chars_left = 75
        elif i:
            out.append(", ")
            chars_left -= 2
        while len(s) > chars_left:
            s = _write_line(out, s, chars_left)
            chars_left = 75
        out.append(s)
        newline = s.rfind("\n")
        chars_left = 75 - (len(s) - newline - 1) if newline != -1 else chars_left - len(s)
    out.append("\r\n")
    return "".join(out)


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def build_message(
    sender: str, to: Sequence[str], subject: str, body: str, *, date: str | None = None
) -> bytes:
    """The whole message (headers, blank line, quoted-printable HTML body), CRLF line ends."""
    head = [
        "Mime-Version: 1.0\r\n",
        _header("Date", [date if date is not None else formatdate(localtime=True)]),
        _header("From", [q_encode(_one_line(sender))]),
        _header("To", [q_encode(_one_line(t)) for t in to]),
        _header("Subject", [q_encode(_one_line(subject))]),
        _header("Content-Type", ["text/html; charset=UTF-8"]),
        _header("Content-Transfer-Encoding", ["quoted-printable"]),
        "\r\n",
    ]
    return "".join(head).encode("ascii") + quoted_printable(body)
