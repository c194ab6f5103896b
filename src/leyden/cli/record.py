"""``leyden record``: Kapacitor's recordings are not supported; say what to use instead.

Kapacitor's ``record stream|batch|query`` store data on the server for ``replay`` later
(``/kapacitor/v1/recordings``).  Leyden has no recordings API: ``leyden replay`` runs a
TICKscript over data kept in files (line protocol, Kapacitor's ``.srpl`` and ``.brpl``
recordings).  The verb exists so that a Kapacitor user's habit gets that answer, not
"unknown command"; it asks nothing of the server and exits 2 (:data:`EXIT_UNSUPPORTED`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from leyden.cli._common import EXIT_USAGE

__all__ = ["EXIT_UNSUPPORTED", "MESSAGE", "main"]

#: ``leyden record`` always exits with this (a usage error: the verb cannot be used here)
EXIT_UNSUPPORTED = EXIT_USAGE

MESSAGE = """\
Error: recording is not supported by Leyden (it has no recordings API).
To try a task on data, keep the data in a file and replay it offline:
  leyden replay TASK.tick --data FILE --dbrp DB.RP
For a stream task FILE is line protocol (as written to /write) or a Kapacitor .srpl
recording; a batch task replays .brpl recordings (JSON batches: {"name", "tags", "points":
[{"fields", "time"}]}), which an InfluxDB query's answer can be turned into.
See: leyden help replay
"""


def main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    err.write(MESSAGE)
    return EXIT_UNSUPPORTED
