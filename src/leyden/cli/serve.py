"""``leyden serve``: Leyden's ``kapacitord``.

Flags and their environment fall-backs are kapacitord's (``-config``, then
``KAPACITOR_CONFIG_PATH``; ``-hostname``, ``-log-file``, ``-log-level``); ``LEYDEN_CONFIG_PATH``
is read first.  A config that does not load, or a log file that cannot be opened, is one
``Error:`` line on stderr and exit 1; the notes the config loader made (ignored Kapacitor
sections, warnings) are logged once logging is set up.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import TextIO

from leyden.cli._common import EXIT_START, parser
from leyden.config import ConfigError, load_config
from leyden.log import setup_logging
from leyden.notify import INTEGRATIONS
from leyden.server.serve import ServeError, serve

__all__ = ["main"]


def main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    p = parser("leyden serve")
    p.add_argument("-config", "--config", default=None)
    p.add_argument("-hostname", "--hostname", default=None)
    p.add_argument("-log-file", "--log-file", default=None)
    p.add_argument("-log-level", "--log-level", default=None)
    args = p.parse_args(argv)
    path = (
        args.config
        or os.environ.get("LEYDEN_CONFIG_PATH")
        or os.environ.get("KAPACITOR_CONFIG_PATH")
        or None
    )
    try:
        config = load_config(path, os.environ, integrations=INTEGRATIONS.sections())
    except ConfigError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_START
    if args.hostname:
        config.hostname = args.hostname
    if args.log_file:
        config.logging.file = args.log_file
    if args.log_level:
        config.logging.level = args.log_level.upper()
    problems = config.logging.validate()
    if problems:
        print(f"Error: -log-level/-log-file: {problems[0]}", file=err)
        return EXIT_START
    try:
        setup_logging(config.logging.file, config.logging.level)
    except OSError as exc:
        print(f"Error: cannot open log file {config.logging.file}: {exc.strerror}", file=err)
        return EXIT_START
    startup = logging.getLogger("leyden.config")
    for note in config.notes:
        if note.startswith("WARNING: "):
            startup.warning(note.removeprefix("WARNING: "))
        else:
            startup.info(note)
    try:
        asyncio.run(serve(config))
    except ServeError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_START
    except KeyboardInterrupt:
        pass
    return 0
