"""What every verb of the ``leyden`` CLI shares: the exit codes, the usage error, the
argument parser that raises it, and :func:`load`, which imports a verb's module when it runs.

Kapacitor's CLI (``cmd/kapacitor/main.go``) prints ``Error: <msg>`` on stderr and exits 2 for
a usage error, 3 for a command that failed, 4 when the client cannot be set up; ``kapacitord``
exits 1 when it cannot start.  Leyden adds 5 for a file that cannot be read and 141 when the
reader of its output went away, each told in one line, never a traceback.  Its flags are Go's single-dash ones, so no abbreviations and no
``-h`` of argparse's own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

if TYPE_CHECKING:  # the client verbs' modules import it; vet, fmt and serve never need it
    from leyden.client import Client

__all__ = [
    "EXIT_CLIENT",
    "EXIT_ERROR",
    "EXIT_FILE",
    "EXIT_PIPE",
    "EXIT_START",
    "EXIT_USAGE",
    "ClientCommand",
    "FileError",
    "KindHandler",
    "LocalCommand",
    "UsageError",
    "load",
    "parser",
]

#: the server (``leyden serve``) cannot start: a bad config, a log file it cannot open
EXIT_START = 1
#: bad flags or arguments
EXIT_USAGE = 2
#: the command failed (the server refused it, or could not be reached)
EXIT_ERROR = 3
#: the client cannot be set up (a bad ``-url``)
EXIT_CLIENT = 4
#: an operating-system error: a file that cannot be read (Leyden's; Kapacitor exits 3)
EXIT_FILE = 5
#: stdout was closed by its reader (``leyden list tasks | head -1``): what a shell reports for
#: a process that SIGPIPE ended, 128 + 13
EXIT_PIPE = 141

#: a verb that talks to a server: (client, its arguments, stdout, stderr) → exit code
ClientCommand = Callable[["Client", Sequence[str], TextIO, TextIO], int]
#: a verb that runs here (serve, replay, vet …): (its arguments, stdout, stderr) → exit code
LocalCommand = Callable[[Sequence[str], TextIO, TextIO], int]
#: one kind of ``leyden list KIND …`` or ``leyden delete KIND …``: (client, arguments, stdout)
KindHandler = Callable[["Client", list[str], TextIO], None]


class UsageError(Exception):
    """Bad flags or arguments: ``Error: <message>`` and exit 2."""


class FileError(Exception):
    """A file the user named cannot be read: ``Error: <message naming it>`` and exit 5."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as exceptions instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def parser(prog: str) -> argparse.ArgumentParser:
    """A parser for one verb's flags: no ``-h`` of its own, no abbreviations, errors raised
    as :class:`UsageError`."""
    return _Parser(prog=prog, add_help=False, allow_abbrev=False)


def load(spec: str) -> Any:
    """The function a ``"module:function"`` spec names, its module imported now: how the CLI's
    verb tables defer each verb's imports until that verb runs."""
    module, _, name = spec.partition(":")
    return getattr(import_module(module), name)
