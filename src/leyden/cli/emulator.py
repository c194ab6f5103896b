"""``leyden discord-emulator``: the local Discord webhook emulator of :mod:`leyden.devtools`,
run in the foreground with its own flags (``--host``, ``--port``, the limits)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from leyden.devtools import discord_emulator

__all__ = ["main"]


def main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    return discord_emulator.main(list(argv))
