"""The ``leyden`` command: Kapacitor's CLI verbs, plus ``serve`` (kapacitord) and our tools.

Kapacitor's conventions are kept: global flags before the command (``-url``, ``-skipVerify``),
single-dash flags, ``Error: <msg>`` on stderr, exit 2 for usage errors, 3 for failed
commands, 4 when the client cannot be set up.  ``--flag`` spellings are accepted too.

This module only dispatches: the verbs live in ``tasks``, ``topics``, ``deliveries`` and
``service_tests`` (against a server, through :class:`~leyden.client.Client`) and in ``serve``
and ``_local`` (in this process); what they share is in ``_common``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from leyden import __version__
from leyden.cli import deliveries, service_tests, tasks, topics
from leyden.cli._common import (
    EXIT_CLIENT,
    EXIT_ERROR,
    EXIT_USAGE,
    ClientCommand,
    KindHandler,
    UsageError,
)
from leyden.client import DEFAULT_URL, Client, ClientError

__all__ = ["USAGE", "main"]

USAGE = """\
Usage: leyden [options] [command] [args]

Options:
  -url URL        Leyden (or Kapacitor) API URL; default $LEYDEN_URL, $KAPACITOR_URL, then
                  http://localhost:9092
  -skipVerify     do not verify the server's TLS certificate

Commands:
  serve               run the server (Leyden's kapacitord): leyden serve [-config FILE]
  service-tests       test services: leyden service-tests [-workspace W]... discord
  list                list service-tests|tasks|topics|topic-handlers|deliveries [patterns]
  define              define or update a task: leyden define ID -tick F [-dbrp DB.RP]...
                      [-vars F.json] [-file F.yaml] [-no-reload]
  enable, disable     start or stop tasks: leyden enable ID|GLOB...
  reload              stop then start tasks: leyden reload ID|GLOB...
  show                show a task: leyden show ID
  delete              delete tasks|topics ID|GLOB... or topic-handlers TOPIC ID|GLOB...
                      or deliveries ID...
  define-topic-handler  create or update a topic handler: leyden define-topic-handler F.yaml
  show-topic          show a topic, its handlers and events: leyden show-topic TOPIC
  show-topic-handler  show a topic handler: leyden show-topic-handler TOPIC ID
  show-delivery       show a queued or dead alert delivery: leyden show-delivery ID
  retry-delivery      send a delivery now: leyden retry-delivery ID... | -all (every dead one)
  replay              run a TICKscript over recorded data: leyden replay TASK.tick --data F.srpl
  vet                 check TICKscripts offline: leyden vet [-dot] FILE...
  fmt                 print TICKscripts in canonical form: leyden fmt [-w] FILE...
  discord-emulator    run a local Discord webhook emulator: [--host H] [--port N]
  version             print the version
  help                print this help
"""


#: ``leyden list KIND …``
LIST_KINDS: dict[str, KindHandler] = {
    "service-tests": service_tests.list_service_tests,
    "tasks": tasks.list_tasks,
    "topics": topics.list_topics,
    "topic-handlers": topics.list_topic_handlers,
    "deliveries": deliveries.list_deliveries,
}
#: ``leyden delete KIND …``
DELETE_KINDS: dict[str, KindHandler] = {
    "tasks": tasks.delete_tasks,
    "topics": topics.delete_topics,
    "topic-handlers": topics.delete_topic_handlers,
    "deliveries": deliveries.delete_deliveries,
}


def _kind_verb(verb: str, kinds: dict[str, KindHandler]) -> ClientCommand:
    def command(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
        if not argv or argv[0] not in kinds:
            what = f'cannot {verb} "{argv[0]}"' if argv else f"what to {verb}?"
            raise UsageError(f"leyden {verb}: {what} (use one of: {', '.join(sorted(kinds))})")
        kinds[argv[0]](client, list(argv[1:]), out)
        return 0

    return command


#: the verbs that talk to a server
CLIENT_COMMANDS: dict[str, ClientCommand] = {
    "service-tests": service_tests.cmd_service_tests,
    "list": _kind_verb("list", LIST_KINDS),
    "delete": _kind_verb("delete", DELETE_KINDS),
    "define": tasks.cmd_define,
    "enable": tasks.cmd_enable,
    "disable": tasks.cmd_disable,
    "reload": tasks.cmd_reload,
    "show": tasks.cmd_show,
    "define-topic-handler": topics.cmd_define_topic_handler,
    "show-topic": topics.cmd_show_topic,
    "show-topic-handler": topics.cmd_show_topic_handler,
    "show-delivery": deliveries.cmd_show_delivery,
    "retry-delivery": deliveries.cmd_retry_delivery,
}


@dataclass(frozen=True, slots=True)
class _Target:
    """Where the client verbs go: the global flags ``-url`` and ``-skipVerify``."""

    url: str
    skip_verify: bool


def _global_flags(argv: list[str], out: TextIO, err: TextIO) -> _Target | int:
    """Take the global flags off the front of ``argv`` (they come before the command, as in
    Kapacitor's CLI); an exit code when a flag already answered (help, version) or is bad."""
    url = os.environ.get("LEYDEN_URL") or os.environ.get("KAPACITOR_URL") or DEFAULT_URL
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
    return _Target(url, skip_verify)


def _run_local(command: str, argv: Sequence[str], out: TextIO, err: TextIO) -> int | None:
    """Run a verb of this process (serve, replay, vet …); None when ``command`` is none."""
    # Imported on use: it loads the server, engine and emulator, which client verbs never need.
    from leyden.cli import _local

    verb = _local.COMMANDS.get(command)
    return None if verb is None else verb(argv, out, err)


def _dispatch(command: str, argv: Sequence[str], target: _Target, out: TextIO, err: TextIO) -> int:
    if command in ("help", "-h"):
        out.write(USAGE)
        return 0
    if command == "version":
        out.write(f"Leyden {__version__}\n")
        return 0
    handler = CLIENT_COMMANDS.get(command)
    if handler is None:
        code = _run_local(command, argv, out, err)
        if code is None:
            print(f'Error: unknown command "{command}"\n\n{USAGE}', file=err)
            return EXIT_USAGE
        return code
    try:
        client = Client(target.url, skip_verify=target.skip_verify)
    except ValueError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_CLIENT
    return handler(client, argv, out, err)


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
        return _dispatch(args[0], args[1:], target, out, err)
    except UsageError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_USAGE
    except ClientError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
