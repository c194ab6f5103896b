"""The verbs of the ``leyden`` CLI that run in this process instead of calling a server:
``serve``, ``replay``, ``vet``, ``fmt`` and ``discord-emulator``.

They load the server, the engine or the emulator, which the client verbs do not need: the
package's ``main`` imports this module only when the command is none of the client verbs, so
``leyden list tasks`` starts in a third of the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

import leyden.engine.nodes  # noqa: F401  (imported for its registrations: NODE_CLASSES complete)
from leyden import replay
from leyden.cli import serve
from leyden.cli._common import LocalCommand
from leyden.devtools import discord_emulator
from leyden.engine.node import NODE_CLASSES
from leyden.notify import INTEGRATIONS
from leyden.tick import vet

__all__ = ["COMMANDS"]


def _emulator(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    return discord_emulator.main(list(argv))


def _vet(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """``leyden vet`` told what this server runs (the language package imports no runtime)."""
    return vet.vet_main(
        argv, out, err, node_kinds=NODE_CLASSES, handler_kinds=INTEGRATIONS.tick_kinds()
    )


COMMANDS: dict[str, LocalCommand] = {
    "serve": serve.main,
    "replay": replay.main,
    "vet": _vet,
    "fmt": vet.fmt_main,
    "discord-emulator": _emulator,
}
