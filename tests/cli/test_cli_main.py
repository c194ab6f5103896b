"""The dispatch of ``leyden``: global flags, help, version and the exit codes, byte for byte
(Kapacitor's CLI conventions: ``Error: <msg>`` on stderr, 2 for usage, 3 for a failed command,
4 when the client cannot be set up)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leyden import __version__
from leyden.cli import CLIENT_VERBS, LOCAL_VERBS, USAGE, _remote, main
from leyden.cli._common import load
from leyden.cli._help import VERBS
from threaded_server import LiveServer


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", [("help",), ("-h",), ("-help",), ("--help",), ("-url", "x", "-h")])
def test_help(argv: tuple[str, ...]) -> None:
    assert run(*argv) == (0, USAGE, "")


@pytest.mark.parametrize("argv", [("version",), ("-version",), ("--version",)])
def test_version(argv: tuple[str, ...]) -> None:
    assert run(*argv) == (0, f"Leyden {__version__}\n", "")


def test_no_command_prints_usage_on_stderr() -> None:
    assert run() == (2, "", USAGE)
    assert run("-skipVerify") == (2, "", USAGE)


def test_unknown_option_and_command() -> None:
    assert run("-frob") == (2, "", f"Error: unknown option -frob\n\n{USAGE}\n")
    assert run("frobnicate") == (2, "", f'Error: unknown command "frobnicate"\n\n{USAGE}\n')


def test_url_needs_a_value() -> None:
    assert run("-url") == (2, "", "Error: -url needs a value\n")


def test_bad_url_exits_4() -> None:
    assert run("-url", "not a url", "list", "tasks") == (
        4,
        "",
        'Error: invalid URL "not a url": want http(s)://host:port\n',
    )
    assert run("--url=ftp://x", "show", "t") == (
        4,
        "",
        'Error: invalid URL "ftp://x": want http(s)://host:port\n',
    )


def test_unreachable_server_exits_3() -> None:
    code, out, err = run("-url", "http://127.0.0.1:9", "list", "tasks")
    assert (code, out) == (3, "")
    assert err.startswith("Error: cannot reach http://127.0.0.1:9: ")


def test_usage_errors_exit_2_before_any_request() -> None:
    url = ("-url", "http://127.0.0.1:9")
    assert run(*url, "list") == (
        2,
        "",
        "Error: leyden list: what to list? "
        "(use one of: deliveries, service-tests, tasks, templates, topic-handlers, topics)\n"
        "Usage: leyden list KIND [ID|GLOB]...\n",
    )
    assert run(*url, "delete", "things") == (
        2,
        "",
        'Error: leyden delete: cannot delete "things" (use one of: deliveries, tasks, templates, topic-handlers, topics)\n'
        "Usage: leyden delete tasks|templates|topics ID|GLOB...\n"
        "       leyden delete topic-handlers TOPIC ID|GLOB...\n"
        "       leyden delete deliveries ID...\n",
    )
    assert run(*url, "show") == (
        2,
        "",
        "Error: Must specify one task ID\nUsage: leyden show ID\n",
    )
    assert run("serve", "-nope") == (
        2,
        "",
        "Error: leyden serve: unrecognized arguments: -nope\nUsage: leyden serve [-config FILE] "
        "[-hostname NAME] [-log-file FILE] [-log-level LEVEL]\n",
    )


def test_vet_runs_without_a_server() -> None:
    code, out, err = run("vet")
    assert code != 0 and out == "" and "no files given" in err


def test_every_verb_table_entry_names_a_function() -> None:
    """The tables import on use, so a misspelt entry would only fail when that verb runs."""
    tables = [LOCAL_VERBS, CLIENT_VERBS, _remote.LIST_KINDS, _remote.DELETE_KINDS]
    specs = [spec for table in tables for spec in table.values()]
    assert [s for s in specs if not callable(load(s))] == []


def test_every_verb_in_the_usage_has_an_entry() -> None:
    listed = {
        line.split()[0]
        for line in USAGE.split("Commands:\n", 1)[1].splitlines()
        if line.startswith("  ") and not line.startswith("    ")
    }
    assert listed == set(LOCAL_VERBS) | set(CLIENT_VERBS) | {"help", "version"}
    assert [v.name for v in VERBS] == sorted(listed, key=[v.name for v in VERBS].index)


@pytest.mark.parametrize("verb", [v.name for v in VERBS])
def test_every_verb_has_its_help_both_ways(verb: str) -> None:
    """``leyden help VERB`` and ``leyden VERB -h|-help|--help``: that verb's usage and
    examples on stdout, exit 0, no server asked (the URL points nowhere)."""
    code, text, err = run("-url", "http://127.0.0.1:9", "help", verb)
    assert (code, err) == (0, "")
    assert text != USAGE
    assert f"leyden {verb}" in text.split("\n", 3)[0] + text.split("\n", 3)[1]
    examples = text.split("\nExamples:\n", 1)[1].splitlines()
    assert examples and all(e.startswith(f"  leyden {verb}") for e in examples)
    for flag in ("-h", "-help", "--help"):
        assert run("-url", "http://127.0.0.1:9", verb, flag) == (0, text, "")
    if verb != "help":
        # after the verb's other arguments too, as Go's flag package stops at -h
        assert run("-url", "http://127.0.0.1:9", verb, "x", "-h") == (0, text, "")


def test_help_of_an_unknown_verb() -> None:
    assert run("help", "frob") == (2, "", f'Error: unknown command "frob"\n\n{USAGE}\n')


@pytest.mark.parametrize("verb", ["serve", "define", "enable", "replay", "discord-emulator"])
def test_verb_help_in_a_real_process(verb: str) -> None:
    """The forms the issue reported, run as a user runs them."""
    for argv in (["help", verb], [verb, "-h"], [verb, "--help"]):
        done = subprocess.run(
            [sys.executable, "-m", "leyden", "-url", "http://127.0.0.1:9", *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (done.returncode, done.stderr) == (0, ""), argv
        assert f"leyden {verb}" in done.stdout
        assert "\nExamples:\n" in done.stdout


def _leyden_into_a_closed_pipe(*argv: str) -> subprocess.CompletedProcess[str]:
    """``leyden ARGV`` with stdout a pipe whose reader has already gone (as after
    ``| head -1``): the first write fails, whatever the timing."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "leyden", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_quietly() -> None:
    done = _leyden_into_a_closed_pipe("help")
    assert (done.returncode, done.stderr) == (141, "")


def test_a_closed_pipe_after_a_long_list_ends_quietly(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server()
    tick = tmp_path / "t.tick"
    tick.write_text('dbrp "telegraf"."autogen"\n\nstream\n    |from()\n    |httpOut(\'o\')\n')
    for i in range(30):
        assert server.cli("define", f"task_{i:03}", "-tick", str(tick))[0] == 0
    done = _leyden_into_a_closed_pipe("-url", server.url, "list", "tasks")
    assert (done.returncode, done.stderr) == (141, "")


def test_an_unreadable_file_is_one_line_and_exit_5(tmp_path: Path) -> None:
    """A directory given as the TICKscript: the file is named, no traceback, before any
    request (the URL points nowhere)."""
    argv = ["-url", "http://127.0.0.1:9", "define", "t", "-tick", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "leyden", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (5, "")
    assert done.stderr == f"Error: failed to open TICKscript {tmp_path}: Is a directory\n"
