"""The ``leyden`` command: Kapacitor's CLI verbs, plus ``serve`` (kapacitord) and our tools.

Kapacitor's conventions are kept: global flags before the command (``-url``, ``-skipVerify``),
single-dash flags, ``Error: <msg>`` on stderr, exit 2 for usage errors, 3 for failed
commands, 4 when the client cannot be set up.  ``--flag`` spellings are accepted too.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from leyden import __version__
from leyden.client import DEFAULT_URL, Client, ClientError

EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_CLIENT = 4

USAGE = """\
Usage: leyden [options] [command] [args]

Options:
  -url URL        Leyden (or Kapacitor) API URL; default $LEYDEN_URL, $KAPACITOR_URL, then
                  http://localhost:9092
  -skipVerify     do not verify the server's TLS certificate

Commands:
  serve               run the server (Leyden's kapacitord): leyden serve [-config FILE]
  service-tests       test services: leyden service-tests [-workspace W]... discord
  list                list service-tests|tasks|topics|topic-handlers [patterns]
  define              define or update a task: leyden define ID -tick F [-dbrp DB.RP]...
                      [-vars F.json] [-file F.yaml] [-no-reload]
  enable, disable     start or stop tasks: leyden enable ID|GLOB...
  reload              stop then start tasks: leyden reload ID|GLOB...
  show                show a task: leyden show ID
  delete              delete tasks|topics ID|GLOB... or topic-handlers TOPIC ID|GLOB...
  define-topic-handler  create or update a topic handler: leyden define-topic-handler F.yaml
  show-topic          show a topic, its handlers and events: leyden show-topic TOPIC
  show-topic-handler  show a topic handler: leyden show-topic-handler TOPIC ID
  replay              run a TICKscript over recorded data: leyden replay TASK.tick --data F.srpl
  vet                 check TICKscripts offline: leyden vet [-dot] FILE...
  fmt                 print TICKscripts in canonical form: leyden fmt [-w] FILE...
  discord-emulator    run a local Discord webhook emulator: [--host H] [--port N]
  version             print the version
  help                print this help
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as exceptions instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _parser(prog: str) -> _Parser:
    return _Parser(prog=prog, add_help=False, allow_abbrev=False)


# --- serve ----------------------------------------------------------------------------------


def cmd_serve(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    from leyden.config import ConfigError, load_config
    from leyden.log import setup_logging
    from leyden.server.serve import ServeError, serve

    p = _parser("leyden serve")
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
        config = load_config(path, os.environ)
    except ConfigError as exc:
        print(f"Error: {exc}", file=err)
        return 1
    if args.hostname:
        config.hostname = args.hostname
    if args.log_file:
        config.logging.file = args.log_file
    if args.log_level:
        config.logging.level = args.log_level.upper()
    problems = config.logging.validate()
    if problems:
        print(f"Error: -log-level/-log-file: {problems[0]}", file=err)
        return 1
    try:
        setup_logging(config.logging.file, config.logging.level)
    except OSError as exc:
        print(f"Error: cannot open log file {config.logging.file}: {exc.strerror}", file=err)
        return 1
    import logging

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
        return 1
    except KeyboardInterrupt:
        pass
    return 0


# --- client commands ------------------------------------------------------------------------


def cmd_service_tests(client: Client, argv: Sequence[str], out: TextIO) -> int:
    p = _parser("leyden service-tests")
    p.add_argument("-workspace", "--workspace", action="append", default=[])
    p.add_argument("patterns", nargs="*")
    args = p.parse_args(argv)
    patterns = args.patterns or ["*"]
    names = sorted(
        {
            s["name"]
            for s in client.list_service_tests()
            if any(fnmatch.fnmatchcase(s["name"], pat) for pat in patterns)
        }
    )
    if not names:
        raise ClientError(f"no service matches {' '.join(patterns)}")
    if args.workspace and names != ["discord"]:
        raise UsageError(
            "-workspace applies to the discord service only: "
            "leyden service-tests -workspace W discord"
        )
    out.write(f"{'Service':<20}{'Success':<10}Message\n")
    for name in names:
        runs: list[tuple[str, dict[str, str]]] = [(name, {})]
        if args.workspace:
            runs = [(f"{name}[{ws}]", {"workspace": ws}) for ws in args.workspace]
        for label, options in runs:
            result = client.test_service(name, options)
            success = "true" if result.get("success") else "false"
            out.write(f"{label:<20}{success:<10}{result.get('message', '')}\n")
    return 0


def list_service_tests(client: Client, patterns: Sequence[str], out: TextIO) -> None:
    names = sorted(s["name"] for s in client.list_service_tests())
    out.write("Service Name\n")
    for name in names:
        if any(fnmatch.fnmatchcase(name, pat) for pat in patterns or ["*"]):
            out.write(f"{name}\n")


#: ``leyden list KIND …`` and ``leyden delete KIND …``: the verb modules add their kinds here.
KindHandler = Callable[[Client, list[str], TextIO], None]
LIST_KINDS: dict[str, KindHandler] = {"service-tests": list_service_tests}
DELETE_KINDS: dict[str, KindHandler] = {}


def _kind_verb(verb: str, kinds: dict[str, KindHandler]) -> Callable[..., int]:
    def command(client: Client, argv: Sequence[str], out: TextIO) -> int:
        if not argv or argv[0] not in kinds:
            what = f'cannot {verb} "{argv[0]}"' if argv else f"what to {verb}?"
            raise UsageError(f"leyden {verb}: {what} (use one of: {', '.join(sorted(kinds))})")
        kinds[argv[0]](client, list(argv[1:]), out)
        return 0

    return command


ClientCommand = Callable[[Client, Sequence[str], TextIO], int]
CLIENT_COMMANDS: dict[str, ClientCommand] = {
    "service-tests": cmd_service_tests,
    "list": _kind_verb("list", LIST_KINDS),
    "delete": _kind_verb("delete", DELETE_KINDS),
}

from leyden import cli_tasks  # noqa: E402  (it reads UsageError and _parser from here)

cli_tasks.register(CLIENT_COMMANDS, LIST_KINDS, DELETE_KINDS)

from leyden import cli_topics  # noqa: E402  (it reads UsageError from here)

cli_topics.register(CLIENT_COMMANDS, LIST_KINDS, DELETE_KINDS)


def _default_url() -> str:
    return os.environ.get("LEYDEN_URL") or os.environ.get("KAPACITOR_URL") or DEFAULT_URL


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    url = _default_url()
    skip_verify = bool(os.environ.get("KAPACITOR_UNSAFE_SSL"))
    # Global flags come before the command, as in Kapacitor's CLI.
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
    if not argv:
        err.write(USAGE)
        return EXIT_USAGE
    command, rest = argv[0], argv[1:]
    try:
        if command in ("help", "-h"):
            out.write(USAGE)
            return 0
        if command == "version":
            out.write(f"Leyden {__version__}\n")
            return 0
        if command == "serve":
            return cmd_serve(rest, out, err)
        if command == "replay":
            from leyden import replay

            return replay.main(rest, out, err)
        if command in ("vet", "fmt"):
            from leyden.tick import vet

            return (vet.vet_main if command == "vet" else vet.fmt_main)(rest, out, err)
        if command == "discord-emulator":
            from leyden.devtools import discord_emulator as emulator

            return emulator.main(rest)
        handler = CLIENT_COMMANDS.get(command)
        if handler is None:
            print(f'Error: unknown command "{command}"\n\n{USAGE}', file=err)
            return EXIT_USAGE
        try:
            client = Client(url, skip_verify=skip_verify)
        except ValueError as exc:
            print(f"Error: {exc}", file=err)
            return EXIT_CLIENT
        if getattr(handler, "takes_stderr", False):  # verbs that also warn (cli_tasks)
            return handler(client, rest, out, err)
        return handler(client, rest, out)
    except UsageError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_USAGE
    except ClientError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
