"""The one description of each ``leyden`` verb: what the general usage lists, and what
``leyden help VERB`` and ``leyden VERB -h``/``-help``/``--help`` print (usage, what it does,
its flags, examples).

Kapacitor's CLI answers ``kapacitor help VERB`` with that verb's usage (``cmd/kapacitor/
main.go``: each ``doX`` has a ``xUsage``); here every verb's text lives in :data:`VERBS`, so the
general usage and the per-verb help cannot drift apart.  The verbs with a parser of their own
that documents every option (``replay``, ``discord-emulator``) keep it: their help is that
parser's, followed by the examples from this table.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

__all__ = [
    "HELP_FLAGS",
    "VERBS",
    "Verb",
    "general_usage",
    "verb_help",
    "verb_usage",
    "wants_help",
]

#: the spellings that ask a verb for its help (Go's flag package knows ``-h`` and ``-help``)
HELP_FLAGS = frozenset({"-h", "-help", "--help"})


@dataclass(frozen=True)
class Verb:
    """One verb: ``summary`` is its line in the general usage, ``usage`` its synopsis,
    ``details`` what it does and its flags, ``examples`` command lines to copy.  ``own_help``:
    the verb's own parser prints its options (asked with ``--help``)."""

    name: str
    summary: str
    usage: str
    details: str
    examples: tuple[str, ...]
    own_help: bool = False


VERBS: tuple[Verb, ...] = (
    Verb(
        "serve",
        "run the server (Leyden's kapacitord)",
        "leyden serve [-config FILE] [-hostname NAME] [-log-file FILE] [-log-level LEVEL]",
        """\
Run the server in the foreground. Without -config the file comes from $LEYDEN_CONFIG_PATH,
then $KAPACITOR_CONFIG_PATH, else the built-in defaults; KAPACITOR_* variables override it.

Options:
  -config FILE      the kapacitor.conf (TOML) to load
  -hostname NAME    the hostname the server reports, overriding [hostname]
  -log-file FILE    write the log to FILE (STDOUT, STDERR or a path)
  -log-level LEVEL  debug, info, warn, error or off""",
        ("leyden serve -config /etc/kapacitor/kapacitor.conf", "leyden serve -log-level debug"),
    ),
    Verb(
        "service-tests",
        "test services (send a test message)",
        "leyden service-tests [-workspace W]... [SERVICE|GLOB]...",
        """\
Run each matching service's test on the server and print its outcome. Exits 3 when a test
fails.

Options:
  -workspace W  test the discord workspace named W (repeatable); discord only""",
        ("leyden service-tests discord", "leyden service-tests -workspace ops discord"),
    ),
    Verb(
        "list",
        "list service-tests|tasks|templates|topics|topic-handlers|deliveries",
        "leyden list KIND [ID|GLOB]...",
        """\
List the objects of one kind, those matching the patterns (all without one). KIND is one of
service-tests, tasks, templates, topics, topic-handlers or deliveries. A task whose start
failed is listed with status "failed", and its error is printed under the table.""",
        ("leyden list tasks", "leyden list topic-handlers 'main:*'"),
    ),
    Verb(
        "define",
        "define or update a task",
        "leyden define ID [-tick FILE] [-type stream|batch] [-dbrp DB.RP]...\n"
        "                     [-template ID -vars FILE.json|yaml] [-file FILE.yaml|json] [-no-reload]",
        """\
Create the task ID, or update what the flags give of an existing one. An enabled task is
reloaded unless -no-reload is given. A new task starts disabled: enable it with leyden enable.

Options:
  -tick FILE        the TICKscript
  -type TYPE        stream or batch (default: what the script says)
  -dbrp DB.RP       a database and retention policy the task reads (repeatable)
  -template ID      define the task from a template
  -vars FILE        the template's vars (JSON, or YAML for .yaml/.yml)
  -file FILE        id, template-id, dbrps and vars in one YAML or JSON file
  -no-reload        do not reload an enabled task""",
        (
            "leyden define cpu_alert -tick cpu_alert.tick -dbrp telegraf.autogen",
            "leyden define cpu_alert -template generic_mean -vars cpu_vars.json",
        ),
    ),
    Verb(
        "define-template",
        "define or update a template (its tasks follow)",
        "leyden define-template ID [-tick FILE] [-type stream|batch]",
        """\
Create the template ID, or update an existing one: every task made from it is defined again
with the new script.

Options:
  -tick FILE  the template's TICKscript (its vars declared with var)
  -type TYPE  stream or batch""",
        ("leyden define-template generic_mean -tick generic_mean.tick",),
    ),
    Verb(
        "enable",
        "start tasks",
        "leyden enable ID|GLOB...",
        "Start the tasks named or matched. A pattern that matches no task is an error.",
        ("leyden enable cpu_alert", "leyden enable 'cpu_*'"),
    ),
    Verb(
        "disable",
        "stop tasks",
        "leyden disable ID|GLOB...",
        "Stop the tasks named or matched. A pattern that matches no task is an error.",
        ("leyden disable cpu_alert", "leyden disable '*'"),
    ),
    Verb(
        "reload",
        "stop then start tasks",
        "leyden reload ID|GLOB...",
        "Disable then enable the tasks named or matched (their state starts afresh).",
        ("leyden reload cpu_alert",),
    ),
    Verb(
        "show",
        "show a task",
        "leyden show ID",
        "Print a task: its status, error, dbrps, TICKscript, vars and DOT graph with stats.",
        ("leyden show cpu_alert",),
    ),
    Verb(
        "show-template",
        "show a template and its vars",
        "leyden show-template ID",
        "Print a template: its type, TICKscript, vars and DOT graph.",
        ("leyden show-template generic_mean",),
    ),
    Verb(
        "delete",
        "delete tasks, templates, topics, topic handlers or deliveries",
        "leyden delete tasks|templates|topics ID|GLOB...\n"
        "       leyden delete topic-handlers TOPIC ID|GLOB...\n"
        "       leyden delete deliveries ID...",
        "Delete the objects named or matched; a pattern that matches nothing is not an error.",
        ("leyden delete tasks cpu_alert", "leyden delete topic-handlers main discord_ops"),
    ),
    Verb(
        "define-topic-handler",
        "create or update a topic handler",
        "leyden define-topic-handler FILE.yaml|json",
        """\
Create or replace the topic handler the file describes: its topic, id, kind, options and
match expression (Kapacitor's handler file format).""",
        ("leyden define-topic-handler discord_ops.yaml",),
    ),
    Verb(
        "show-topic",
        "show a topic, its handlers and events",
        "leyden show-topic TOPIC",
        "Print a topic's level, its handlers and the latest event of each alert in it.",
        ("leyden show-topic main",),
    ),
    Verb(
        "show-topic-handler",
        "show a topic handler",
        "leyden show-topic-handler TOPIC ID",
        "Print a topic handler: its kind, match expression and options (secrets redacted).",
        ("leyden show-topic-handler main discord_ops",),
    ),
    Verb(
        "show-delivery",
        "show a queued or dead alert delivery",
        "leyden show-delivery ID",
        "Print one delivery of the outbox: its handler, attempts, last error and event.",
        ("leyden show-delivery 42",),
    ),
    Verb(
        "retry-delivery",
        "send a delivery now",
        "leyden retry-delivery ID... | -all",
        """\
Send the deliveries now, dead or waiting.

Options:
  -all  queue every dead delivery again (and try broken webhooks again)""",
        ("leyden retry-delivery 42 43", "leyden retry-delivery -all"),
    ),
    Verb(
        "watch",
        "follow a task's log lines",
        "leyden watch [-json] TASK [KEY=VALUE]...",
        """\
Print the server's log lines of task TASK as they are written (log() nodes, errors, alerts
handled), those that also have every KEY=VALUE given, until Ctrl-C. Lines are logfmt as in
the server's log; a session sees debug lines too unless it asks lvl=info+.

Options:
  -json  print each line as a JSON object (ts, lvl, msg, then its keys)""",
        ("leyden watch cpu_alert", "leyden watch cpu_alert node=log5", "leyden watch -json cpu"),
    ),
    Verb(
        "logs",
        "follow the server's log",
        "leyden logs [-json] [KEY=VALUE]...",
        """\
Print the server's log lines as they are written, those with every KEY=VALUE given, until
Ctrl-C. msg= and lvl= match the message and the level (debug, info, warning, error);
lvl=LEVEL+ asks for that level and above (without it, debug lines are sent too); any other
key matches the line's key of that name (service=http, task=cpu, node=alert2 ...).

Options:
  -json  print each line as a JSON object (ts, lvl, msg, then its keys)""",
        ("leyden logs service=http lvl=error", "leyden logs lvl=info+", "leyden logs task=cpu"),
    ),
    Verb(
        "level",
        "set the server's log level",
        "leyden level debug|info|warn|error",
        """\
Set the level the running server (and its engine workers) logs at, until it stops. The
change is written to the audit log.""",
        ("leyden level debug", "leyden level info"),
    ),
    Verb(
        "stats",
        "show the server's statistics",
        "leyden stats general|ingress",
        """\
general: the server's IDs, host, task and subscription counts, platform and version.
ingress: the points received per database, retention policy and measurement.""",
        ("leyden stats general", "leyden stats ingress"),
    ),
    Verb(
        "vars",
        "print the server's debug vars (JSON)",
        "leyden vars",
        "Print /kapacitor/v1/debug/vars: the server's statistics as Kapacitor's expvar JSON.",
        ("leyden vars", "leyden vars | python3 -m json.tool"),
    ),
    Verb(
        "ping",
        "check that the server answers",
        "leyden ping",
        """\
Ask the server's /kapacitor/v1/ping and print its version and the time the answer took.
Exits 3 when the server cannot be reached or refuses (Leyden's; Kapacitor's CLI has no ping).""",
        ("leyden ping",),
    ),
    Verb(
        "backup",
        "save a copy of the server's database",
        "leyden backup FILE",
        """\
Save a consistent copy of the server's SQLite database (tasks, templates, topic handlers,
alert states, the outbox) to FILE (mode 0600: it holds webhook tokens), taken while the
server runs. To restore: stop the server, delete leyden.db-wal and leyden.db-shm (a crash
leaves them, and SQLite would replay them onto the backup), put FILE in place of its
database file ([storage] sqlite, by default <data_dir>/leyden.db), start it again.""",
        ("leyden backup leyden-backup.db",),
    ),
    Verb(
        "record",
        "not supported: use replay with recorded files",
        "leyden record stream|batch|query ...",
        """\
Leyden has no recordings API: this verb says what to use instead (leyden replay with line
protocol, .srpl or .brpl files) and exits 2 without asking the server.""",
        ("leyden record stream -task cpu -duration 1m",),
    ),
    Verb(
        "replay",
        "run a TICKscript over recorded data",
        "leyden replay TASK.tick --data FILE...",
        "Run a task offline over recorded points, through the configured handlers.",
        (
            "leyden replay cpu_alert.tick --data cpu.srpl --dbrp telegraf.autogen",
            "leyden replay cpu.tick --data cpu.srpl --config kapacitor.conf --until 1h",
            "leyden replay cpu.tick --data cpu.txt --dbrp telegraf.autogen --sent would-send.jsonl",
            "leyden replay cpu.tick --data cpu.srpl --config emulator.conf --send",
        ),
        own_help=True,
    ),
    Verb(
        "vet",
        "check TICKscripts offline",
        "leyden vet [-dot] FILE...",
        """\
Parse and build each TICKscript as defining a task would, without a server, and report
errors, warnings and what this server cannot run. Exits 1 when a file is invalid.

Options:
  -dot  print each valid script's DOT graph""",
        ("leyden vet *.tick", "leyden vet -dot cpu_alert.tick"),
    ),
    Verb(
        "fmt",
        "print TICKscripts in canonical form",
        "leyden fmt [-w] FILE...",
        """\
Print each TICKscript formatted as Kapacitor formats it.

Options:
  -w  rewrite the files in place instead of printing them""",
        ("leyden fmt cpu_alert.tick", "leyden fmt -w *.tick"),
    ),
    Verb(
        "discord-emulator",
        "run a local Discord webhook emulator",
        "leyden discord-emulator [--host H] [--port N]",
        "Serve Discord's webhook API locally and print what it receives.",
        ("leyden discord-emulator --port 9093",),
        own_help=True,
    ),
    Verb(
        "completion",
        "print a shell completion script",
        "leyden completion bash|zsh",
        """\
Print the completion script for bash or zsh: verbs, list/delete kinds, flags, and task IDs
asked of the server (with the -url on the command line).

    source <(leyden completion bash)    # in ~/.bashrc
    source <(leyden completion zsh)     # in ~/.zshrc, after compinit""",
        ("leyden completion bash", "leyden completion zsh > ~/.zfunc/_leyden"),
    ),
    Verb(
        "version",
        "print the version",
        "leyden version",
        "Print Leyden's version.",
        ("leyden version",),
    ),
    Verb(
        "help",
        "print this help, or a verb's",
        "leyden help [VERB]",
        "Print the general usage, or VERB's usage, flags and examples (as leyden VERB -h).",
        ("leyden help", "leyden help define"),
    ),
)

_BY_NAME = {v.name: v for v in VERBS}

_HEAD = """\
Usage: leyden [options] [command] [args]

Options:
  -url URL        Leyden (or Kapacitor) API URL; default $LEYDEN_URL, $KAPACITOR_URL, then
                  http://localhost:9092
  -skipVerify     do not verify the server's TLS certificate

Commands:
"""


def general_usage() -> str:
    """``leyden help``: the global flags and one line per verb."""
    width = max(len(v.name) for v in VERBS) + 2
    lines = [f"  {v.name:<{width}}{v.summary}\n" for v in VERBS]
    tail = "\nRun 'leyden help VERB' (or 'leyden VERB -h') for a verb's flags and examples.\n"
    return _HEAD + "".join(lines) + tail


def verb_usage(name: str) -> str | None:
    """A verb's synopsis, printed under its usage errors; None for an unknown verb."""
    verb = _BY_NAME.get(name)
    return verb.usage if verb is not None else None


def wants_help(argv: list[str]) -> bool:
    """Whether a verb's arguments ask for its help (before any ``--``)."""
    for arg in argv:
        if arg == "--":
            return False
        if arg in HELP_FLAGS:
            return True
    return False


def _own_help(run: Callable[[list[str], TextIO, TextIO], int]) -> str:
    """What a verb with its own parser prints for ``--help`` (argparse writes to sys.stdout
    and exits)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        run(["--help"], buf, buf)
    return buf.getvalue()


def verb_help(name: str, out: TextIO, run: Callable[[list[str], TextIO, TextIO], int]) -> bool:
    """Print ``name``'s help on ``out``; False when there is no such verb.  ``run`` runs the
    verb (for a verb whose options its own parser documents)."""
    verb = _BY_NAME.get(name)
    if verb is None:
        return False
    if verb.own_help:
        text = _own_help(run).rstrip("\n") + "\n"
    else:
        text = f"Usage: {verb.usage}\n\n{verb.details}\n"
    examples = "".join(f"  {e}\n" for e in verb.examples)
    out.write(f"{text}\nExamples:\n{examples}")
    return True
