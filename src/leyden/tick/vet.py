"""``leyden vet`` and ``leyden fmt``: check and format TICKscripts without a server.

``vet`` parses and builds each file exactly as defining a task would (template vars may stay
unset), so a script that passes ``vet`` defines; errors come out as ``file:line:col: message``
(with the offending line and a caret when stderr is a terminal), warnings as
``file:line:col: warning: …``, including each node or handler this server cannot run. What it
can run is the runtime's to say: the caller (the ``leyden`` command) hands in the engine's node
kinds and the alert service's handler kinds, so the language package imports nothing of the
runtime. Exit status: 0 all valid, 1 some file invalid, 2 usage error.
"""

from __future__ import annotations

import os
from collections.abc import Container, Sequence
from pathlib import Path
from typing import TextIO

from leyden.tick.builder import build_pipeline
from leyden.tick.dot import to_dot
from leyden.tick.errors import TickError
from leyden.tick.fmt import format_script

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

VET_USAGE = "usage: leyden vet [-dot] FILE...\n"
FMT_USAGE = "usage: leyden fmt [-w] FILE...\n"


def _split(argv: Sequence[str], flag: str) -> tuple[bool, list[str], str | None]:
    """(flag given, files, unknown option) — single or double dash, as the rest of the CLI."""
    on = False
    files: list[str] = []
    for i, a in enumerate(argv):
        if a == "--":
            files.extend(argv[i + 1 :])
            break
        if a in (f"-{flag}", f"--{flag}"):
            on = True
        elif a.startswith("-") and a != "-":
            return on, files, a
        else:
            files.append(a)
    return on, files, None


def _read(path: str, err: TextIO) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        err.write(f"{path}: cannot read: {reason}\n")
        return None


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def vet_main(
    argv: Sequence[str],
    out: TextIO,
    err: TextIO,
    *,
    node_kinds: Container[str],
    handler_kinds: Container[str],
) -> int:
    """``leyden vet``; ``node_kinds``/``handler_kinds``: what the runtime can run."""
    dot, files, bad = _split(argv, "dot")
    if bad or not files:
        err.write((f"unknown option {bad}\n" if bad else "no files given\n") + VET_USAGE)
        return EXIT_USAGE
    status = EXIT_OK
    for path in files:
        text = _read(path, err)
        if text is None:
            status = EXIT_INVALID
            continue
        try:
            pipeline = build_pipeline(text, filename=path, ignore_missing_vars=True)
        except TickError as e:
            err.write((e.render() if _is_tty(err) else str(e)) + "\n")
            status = EXIT_INVALID
            continue
        for w in pipeline.warnings:
            err.write(f"{w}\n")
        for use in pipeline.unsupported(node_kinds, handler_kinds):
            line, col = (use.pos.line, use.pos.col) if use.pos else (1, 1)
            err.write(
                f"{path}:{line}:{col}: warning: {use.what} is accepted but Leyden cannot run it "
                f"({use.node})\n"
            )
        if dot:
            name = os.path.splitext(os.path.basename(path))[0] or "task"
            out.write(to_dot(pipeline, name) + "\n")
    return status


def fmt_main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    write, files, bad = _split(argv, "w")
    if bad or not files:
        err.write((f"unknown option {bad}\n" if bad else "no files given\n") + FMT_USAGE)
        return EXIT_USAGE
    status = EXIT_OK
    for path in files:
        text = _read(path, err)
        if text is None:
            status = EXIT_INVALID
            continue
        try:
            formatted = format_script(text, path)
        except TickError as e:
            err.write((e.render() if _is_tty(err) else str(e)) + "\n")
            status = EXIT_INVALID
            continue
        if not write:
            out.write(formatted)
        elif formatted != text:
            try:
                Path(path).write_text(formatted, encoding="utf-8")
            except OSError as e:
                err.write(f"{path}: cannot write: {e.strerror or e}\n")
                status = EXIT_INVALID
    return status
