"""The ``leyden`` command: Kapacitor's CLI verbs, plus ``serve`` (kapacitord) and our tools.

Kapacitor's conventions are kept: global flags before the command (``-url``, ``-skipVerify``),
single-dash flags, ``Error: <msg>`` on stderr, exit 2 for usage errors, 3 for failed
commands, 4 when the client cannot be set up; Leyden adds 5 for a file that cannot be read and
141 when the reader of stdout went away (a pipe to ``head``), never a traceback.  ``--flag``
spellings are accepted too.

This module only dispatches, through two tables of verb → ``"module:function"``: a verb's
module is imported when that verb runs, never before, so each verb loads only what it needs
(``leyden vet`` and ``leyden fmt`` never load the server, aiohttp or the HTTP client, and
``leyden serve`` none of the client verbs).  The verbs that run here take ``(argv, out, err)``;
the verbs that talk to a server take a :class:`~leyden.client.Client` first and are run by
:mod:`leyden.cli._remote`, which makes the client.  What they share is in ``_common``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from leyden import __version__
from leyden.cli._common import EXIT_FILE, EXIT_PIPE, EXIT_USAGE, FileError, UsageError, load
from leyden.cli._help import general_usage, verb_help, verb_usage, wants_help

__all__ = ["CLIENT_VERBS", "LOCAL_VERBS", "USAGE", "main"]

#: the general usage, one line per verb from the verb table
USAGE = general_usage()

#: the verbs that run in this process: ``(argv, out, err) -> exit code``
LOCAL_VERBS: dict[str, str] = {
    "serve": "leyden.cli.serve:main",
    "replay": "leyden.replay:main",
    "vet": "leyden.cli.vet:vet_main",
    "fmt": "leyden.cli.vet:fmt_main",
    "discord-emulator": "leyden.cli.emulator:main",
    "record": "leyden.cli.record:main",
    "completion": "leyden.cli.completion:main",
}
#: the verbs that talk to a server: ``(client, argv, out, err) -> exit code``
CLIENT_VERBS: dict[str, str] = {
    "service-tests": "leyden.cli.service_tests:cmd_service_tests",
    "list": "leyden.cli._remote:cmd_list",
    "delete": "leyden.cli._remote:cmd_delete",
    "define": "leyden.cli.tasks:cmd_define",
    "enable": "leyden.cli.tasks:cmd_enable",
    "disable": "leyden.cli.tasks:cmd_disable",
    "reload": "leyden.cli.tasks:cmd_reload",
    "show": "leyden.cli.tasks:cmd_show",
    "define-template": "leyden.cli.templates:cmd_define_template",
    "show-template": "leyden.cli.templates:cmd_show_template",
    "define-topic-handler": "leyden.cli.topics:cmd_define_topic_handler",
    "show-topic": "leyden.cli.topics:cmd_show_topic",
    "show-topic-handler": "leyden.cli.topics:cmd_show_topic_handler",
    "show-delivery": "leyden.cli.deliveries:cmd_show_delivery",
    "retry-delivery": "leyden.cli.deliveries:cmd_retry_delivery",
    "stats": "leyden.cli.server_ops:cmd_stats",
    "vars": "leyden.cli.server_ops:cmd_vars",
    "ping": "leyden.cli.server_ops:cmd_ping",
    "level": "leyden.cli.server_ops:cmd_level",
    "logs": "leyden.cli.server_ops:cmd_logs",
    "watch": "leyden.cli.server_ops:cmd_watch",
    "backup": "leyden.cli.server_ops:cmd_backup",
}


def _global_flags(argv: list[str], out: TextIO, err: TextIO) -> tuple[str | None, bool] | int:
    """Take the global flags off the front of ``argv`` (they come before the command, as in
    Kapacitor's CLI): the URL (None: the client's default) and whether to skip TLS
    verification, or an exit code when a flag already answered (help, version) or is bad."""
    url = os.environ.get("LEYDEN_URL") or os.environ.get("KAPACITOR_URL") or None
    skip_verify = bool(os.environ.get("KAPACITOR_UNSAFE_SSL"))
    while argv and argv[0].startswith("-"):
        flag = argv.pop(0)
        name, _, value = flag.lstrip("-").partition("=")
        if name == "url":
            if not value:
                if not argv:
                    print("Error: -url needs a value", file=err)
                    return EXIT_USAGE
                value = argv.pop(0)
            url = value
        elif name == "skipVerify":
            skip_verify = True
        elif name in ("h", "help"):
            out.write(USAGE)
            return 0
        elif name == "version":
            out.write(f"Leyden {__version__}\n")
            return 0
        else:
            print(f"Error: unknown option {flag}\n\n{USAGE}", file=err)
            return EXIT_USAGE
    return url, skip_verify


def _help(verb: str, out: TextIO, err: TextIO) -> int:
    """``leyden help VERB`` and ``leyden VERB -h``: that verb's usage and examples."""

    def run(argv: list[str], out: TextIO, err: TextIO) -> int:
        code: int = load(LOCAL_VERBS[verb])(argv, out, err)
        return code

    if verb_help(verb, out, run):
        return 0
    print(f'Error: unknown command "{verb}"\n\n{USAGE}', file=err)
    return EXIT_USAGE


def _dispatch(
    command: str, argv: Sequence[str], target: tuple[str | None, bool], out: TextIO, err: TextIO
) -> int:
    if command in ("help", "-h"):
        if not argv:
            out.write(USAGE)
            return 0
        return _help("help" if wants_help(list(argv[:1])) else argv[0], out, err)
    known = command in LOCAL_VERBS or command in CLIENT_VERBS or command == "version"
    if known and wants_help(list(argv)):
        return _help(command, out, err)
    if command == "version":
        out.write(f"Leyden {__version__}\n")
        return 0
    if command in LOCAL_VERBS:
        code: int = load(LOCAL_VERBS[command])(argv, out, err)
        return code
    if command in CLIENT_VERBS:
        url, skip_verify = target
        code = load("leyden.cli._remote:run")(
            CLIENT_VERBS[command], url, skip_verify, argv, out, err
        )
        return code
    print(f'Error: unknown command "{command}"\n\n{USAGE}', file=err)
    return EXIT_USAGE


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``leyden [global flags] COMMAND [args]``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    target = _global_flags(args, out, err)
    if isinstance(target, int):
        return target
    if not args:
        err.write(USAGE)
        return EXIT_USAGE
    try:
        code = _dispatch(args[0], args[1:], target, out, err)
        out.flush()  # a closed pipe shows here, not at exit past our handlers
        return code
    except UsageError as exc:
        usage = verb_usage(args[0])
        print(f"Error: {exc}" + (f"\nUsage: {usage}" if usage else ""), file=err)
        return EXIT_USAGE
    except BrokenPipeError:
        _quiet_stdout(out)
        return EXIT_PIPE
    except FileError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_FILE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"Error: {where}{exc.strerror or exc}", file=err)
        return EXIT_FILE
    except KeyboardInterrupt:
        return 130


def _quiet_stdout(out: TextIO) -> None:
    """The reader of stdout went away: point the descriptor at /dev/null so that the flush
    at interpreter exit does not report the broken pipe again."""
    if out is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
