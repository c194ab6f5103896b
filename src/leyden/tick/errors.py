"""Errors raised by the TICKscript front end, and the shared "did you mean" helper.

Messages keep Kapacitor's wording verbatim (``parser: unexpected ) line 4 char 34 in …``) so that
users who search for a Kapacitor error, and tests written against Kapacitor's corpus, still find
it; we only put ``file:line:col:`` in front and, where it helps, a hint after it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TickError(Exception):
    """A lexer or parser error located in the script text.

    ``line`` is 1-based and ``col`` is Kapacitor's "char": the byte offset since the last newline
    plus one, so it matches the ``line L char C`` inside Kapacitor's own message.
    """

    def __init__(
        self,
        message: str,
        *,
        filename: str = "<tickscript>",
        line: int = 1,
        col: int = 1,
        offset: int = 0,
        source_line: str = "",
        length: int = 1,
        caret_col: int | None = None,
    ) -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.col = col
        self.offset = offset
        self.source_line = source_line
        # Width of the offending text and its column in characters (not bytes) for the caret.
        self.length = max(1, length)
        self.caret_col = caret_col if caret_col is not None else col
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: {self.message}"

    def render(self, *, caret: bool = True) -> str:
        """The error, the offending source line and a caret line under the offending text."""
        out = [str(self)]
        if self.source_line:
            out.append("    " + self.source_line)
            if caret:
                # Keep tabs so the caret lines up under tab-indented scripts.
                prefix = "".join(
                    ch if ch == "\t" else " " for ch in self.source_line[: self.caret_col - 1]
                )
                width = min(self.length, max(1, len(self.source_line) - (self.caret_col - 1)))
                out.append("    " + prefix + "^" * width)
        return "\n".join(out)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` (e.g. ``lamda`` → ``lambda``), or None if none is close.

    Shared with the pipeline builder so unknown nodes, properties and functions all get the same
    quality of hint.
    """
    pool = [c for c in candidates if c != name]
    if not pool:
        return None
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return lowered[name.lower()]
    found = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if found:
        return found[0]
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None
