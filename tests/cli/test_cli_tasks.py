"""The task verbs of the CLI against a real server (an in-process aiohttp server on a free
loopback port, running in its own thread; the CLI's urllib client talks to it over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from leyden.cli.tasks import format_dbrps, parse_dbrp, rfc822
from leyden.model.records import TaskRecord
from seed_page import ERRORS_500_TICK
from threaded_server import LiveServer

SCRIPT = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
    |httpOut('out')
"""


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server()


def stored(server: LiveServer, task_id: str) -> TaskRecord | None:
    """The stored task, read on the server's thread (SQLite connections are per thread)."""

    async def get() -> TaskRecord | None:
        return server.services.store.get_task(task_id)

    return server.call(get)


@pytest.fixture
def tick(tmp_path: Path) -> Path:
    path = tmp_path / "cpu.tick"
    path.write_text(SCRIPT)
    return path


# --- define, list, show ---------------------------------------------------------------------


def test_define_list_enable_show_delete(server: LiveServer, tick: Path) -> None:
    assert server.cli("define", "cpu_alert", "-tick", str(tick)) == (0, "", "")
    explicit = tick.with_name("mem.tick")
    explicit.write_text(SCRIPT.replace('dbrp "telegraf"."autogen"\n\n', ""))
    code, _, err = server.cli("define", "m", "-tick", str(explicit), "-dbrp", '"db"."rp"')
    assert (code, err) == (0, "")
    code, out, _ = server.cli("list", "tasks")
    assert code == 0
    assert out == (
        "ID        Type      Status    Executing Databases and Retention Policies\n"
        'cpu_alert stream    disabled  false     ["telegraf"."autogen"]\n'
        'm         stream    disabled  false     ["db"."rp"]\n'
    )
    assert server.cli("enable", "cpu_*") == (0, "", "")
    code, out, _ = server.cli("list", "tasks", "cpu*")
    assert out.splitlines()[1] == 'cpu_alert stream    enabled   true      ["telegraf"."autogen"]'

    code, out, _ = server.cli("show", "cpu_alert")
    assert code == 0
    lines = out.splitlines()
    assert lines[:6] == [
        "ID: cpu_alert",
        "Error: ",
        "Template: ",
        "Type: stream",
        "Status: enabled",
        "Executing: true",
    ]
    assert lines[6].startswith("Created: ") and lines[6].endswith(" UTC")
    assert lines[9] == 'Databases Retention Policies: ["telegraf"."autogen"]'
    assert lines[10] == "TICKscript:"
    assert "\n".join(lines[11:17]) + "\n" == SCRIPT
    assert lines[lines.index("DOT:") + 1] == "digraph cpu_alert {"
    assert 'graph [throughput="0.00 points/s"];' in out

    assert server.cli("disable", "cpu_alert") == (0, "", "")
    assert server.services.tasks.running("cpu_alert") is None
    assert server.cli("delete", "tasks", "*") == (0, "", "")
    assert server.cli("list", "tasks")[1] == (
        "ID Type      Status    Executing Databases and Retention Policies\n"
    )


def test_define_bad_tickscript_points_at_the_file(server: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "500_errors.tick"
    path.write_text(ERRORS_500_TICK)
    code, out, err = server.cli("define", "500_errors", "-tick", str(path), "-dbrp", "db.rp")
    assert (code, out) == (3, "")
    first, source, caret = err.rstrip("\n").split("\n")
    assert first.startswith(f"Error: invalid TICKscript: {path}:6:11: parser: ")
    assert first.endswith('(did you mean "lambda:"?)')
    assert source == "        .info(lamda: 'count' > 0)"
    assert caret == "              ^^^^^^"
    assert stored(server, "500_errors") is None


def test_define_shows_warnings_on_stderr(server: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "500_errors.tick"
    path.write_text(ERRORS_500_TICK.replace("lamda", "lambda"))
    code, out, err = server.cli("define", "500_errors", "-tick", str(path), "-dbrp", "db.rp")
    assert (code, out) == (0, "")
    assert err.startswith(f"{path}:6:19: warning: 'count' is a string literal")


def test_define_again_reloads_an_enabled_task(server: LiveServer, tick: Path) -> None:
    server.cli("define", "cpu", "-tick", str(tick))
    server.cli("enable", "cpu")
    before = server.services.tasks.running("cpu")
    assert server.cli("define", "cpu", "-tick", str(tick), "-no-reload") == (0, "", "")
    assert server.services.tasks.running("cpu") is before
    assert server.cli("define", "cpu", "-tick", str(tick)) == (0, "", "")
    after = server.services.tasks.running("cpu")
    assert after is not None and after is not before
    assert server.cli("reload", "cpu") == (0, "", "")
    assert server.services.tasks.running("cpu") not in (None, after)


def test_define_with_vars_and_file(server: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "t.tick"
    path.write_text(
        "var m string\nvar every duration\nvar tags list\nvar limit float\n"
        "stream\n    |from()\n        .measurement(m)\n        .groupBy(tags)\n"
        "    |window().period(every).every(every)\n    |httpOut('out')\n"
    )
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(
        json.dumps(
            {
                "m": {"type": "string", "value": "cpu"},
                "every": {"type": "duration", "value": "1m"},
                "tags": {"type": "list", "value": [{"type": "string", "value": "host"}]},
                "limit": {"type": "float", "value": 1e6},
            }
        )
    )
    code, _, err = server.cli(
        "define", "v", "-tick", str(path), "-vars", str(vars_file), "-dbrp", "db.rp"
    )
    assert (code, err) == (0, "")
    out = server.cli("show", "v")[1]
    table = out[out.index("Vars:\n") : out.index("DOT:")].splitlines()
    assert table == [
        "Vars:",
        f"{'Name':<30}{'Type':<10}{'Value':<40}",
        f"{'every':<30}{'duration':<10}{'1m0s':<40}",
        f"{'limit':<30}{'float':<10}{'1e+06':<40}",
        f"{'m':<30}{'string':<10}{'cpu':<40}",
        f"{'tags':<30}{'list':<10}{'[host]':<40}",
    ]
    spec = tmp_path / "v.yaml"
    spec.write_text("id: v\ndbrps:\n  - db: other\n    rp: autogen\n")
    assert server.cli("define", "v", "-file", str(spec)) == (0, "", "")
    assert stored(server, "v").dbrps == (("other", "autogen"),)  # type: ignore[union-attr]
    spec.write_text("id: w\n")
    code, _, err = server.cli("define", "v", "-file", str(spec))
    assert (code, err) == (3, f"Error: Task id given on command line does not match id in {spec}\n")


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["define"], "Must provide a task ID."),
        (["define", "x", "-dbrp", "nodot"], "invalid value \"nodot\" for flag -dbrp"),
        (["enable"], "Must pass at least one task ID"),
        (["show"], "Must specify one task ID"),
        (["delete", "tasks"], "Must pass at least one ID"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(server: LiveServer, argv: list[str], message: str) -> None:
    code, out, err = server.cli(*argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"Error: {message}")


def test_command_errors_exit_3(server: LiveServer, tick: Path) -> None:
    assert server.cli("enable", "nope") == (3, "", 'Error: no task is named "nope"\n')
    assert server.cli("disable", "no*") == (3, "", 'Error: no task matches "no*"\n')
    assert server.cli("show", "nope") == (3, "", "Error: no task exists\n")
    assert server.cli("delete", "tasks", "nope") == (0, "", "")
    code, _, err = server.cli("define", "x", "-tick", str(tick.with_name("missing.tick")))
    assert code == 5 and err.startswith("Error: failed to open TICKscript ")
    code, _, err = server.cli("define", "x", "-tick", str(tick), "-dbrp", "a.b")
    assert (code, err) == (3, "Error: cannot specify dbrp in both implicitly and explicitly\n")


def test_list_other_kinds_still_work(server: LiveServer) -> None:
    code, out, _ = server.cli("list", "service-tests")
    assert (code, out.splitlines()[0]) == (0, "Service Name")


# --- helpers --------------------------------------------------------------------------------


def test_parse_dbrp() -> None:
    assert parse_dbrp("telegraf.autogen") == ("telegraf", "autogen")
    assert parse_dbrp('"tele.graf"."auto"') == ("tele.graf", "auto")
    assert parse_dbrp('"a\\"b".rp') == ('a"b', "rp")
    with pytest.raises(ValueError, match=r"does not contain a '\.'"):
        parse_dbrp("telegraf")
    with pytest.raises(ValueError, match="must specify retention policy"):
        parse_dbrp('"db"x')


def test_format_helpers() -> None:
    assert format_dbrps([{"db": "a", "rp": "b"}, {"db": "c", "rp": "d"}]) == '["a"."b" "c"."d"]'
    assert format_dbrps([]) == "[]"
    assert rfc822("2024-03-05T07:08:09.123Z") == "05 Mar 24 07:08 UTC"
    assert rfc822("0001-01-01T00:00:00Z") == "01 Jan 01 00:00 UTC"
    assert rfc822("2024-03-05T07:08:09+01:00") == "05 Mar 24 07:08 +0100"


def test_a_task_whose_start_failed_is_listed_failed_with_its_error(
    server: LiveServer, tmp_path: Path
) -> None:
    """A batch task with no [[influxdb]] cluster cannot start: enable says so (exit 3), and
    list tasks reads "failed" with the error that show prints, not "enabled"."""
    batch = tmp_path / "b.tick"
    batch.write_text(
        'batch\n    |query(\'SELECT mean(usage_idle) FROM "telegraf"."autogen"."cpu"\')\n'
        "        .period(5m)\n        .every(5m)\n    |httpOut('out')\n"
    )
    assert server.cli("define", "b", "-tick", str(batch), "-dbrp", "telegraf.autogen")[0] == 0
    assert server.cli("define", "ok", "-tick", str(tmp_path / "b.tick"), "-dbrp", "x.y")[0] == 0
    code, _, err = server.cli("enable", "b")
    assert code == 3 and "no [[influxdb]] cluster is enabled" in err
    code, out, _ = server.cli("show", "b")
    error = out.splitlines()[1].removeprefix("Error: ")
    assert error.endswith("no [[influxdb]] cluster is enabled")
    assert server.cli("list", "tasks") == (
        0,
        "ID Type      Status    Executing Databases and Retention Policies\n"
        'b  batch     failed    false     ["telegraf"."autogen"]\n'
        'ok batch     disabled  false     ["x"."y"]\n'
        "\n"
        f"b: Error: {error}\n",
        "",
    )
    assert server.cli("disable", "b")[0] == 0
    code, out, _ = server.cli("list", "tasks", "b")
    assert out.splitlines()[1:] == ['b  batch     disabled  false     ["telegraf"."autogen"]']
