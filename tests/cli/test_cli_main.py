"""The dispatch of ``leyden``: global flags, help, version and the exit codes, byte for byte
(Kapacitor's CLI conventions: ``Error: <msg>`` on stderr, 2 for usage, 3 for a failed command,
4 when the client cannot be set up)."""

from __future__ import annotations

import io

import pytest

from leyden import __version__
from leyden.cli import CLIENT_VERBS, LOCAL_VERBS, USAGE, _remote, main
from leyden.cli._common import load


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
        "(use one of: deliveries, service-tests, tasks, templates, topic-handlers, topics)\n",
    )
    assert run(*url, "delete", "things") == (
        2,
        "",
        'Error: leyden delete: cannot delete "things" (use one of: deliveries, tasks, templates, topic-handlers, topics)\n',
    )
    assert run(*url, "show") == (
        2,
        "",
        "Error: Must specify one task ID\nUsage: leyden show <task ID>\n",
    )
    assert run("serve", "-nope") == (
        2,
        "",
        "Error: leyden serve: unrecognized arguments: -nope\n",
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
        line.split()[0].rstrip(",")
        for line in USAGE.split("Commands:\n", 1)[1].splitlines()
        if line.startswith("  ") and not line.startswith("    ")
    }
    listed |= {"disable"}  # "enable, disable" share a line
    assert listed - {"help", "version"} == set(LOCAL_VERBS) | set(CLIENT_VERBS)
