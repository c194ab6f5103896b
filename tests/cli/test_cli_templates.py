"""The template verbs of the CLI (``define-template``, ``list templates``, ``show-template``,
``delete templates``, ``define -template -vars``) against a real server on loopback, the
output in Kapacitor's formats (``cmd/kapacitor/main.go``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from threaded_server import LiveServer

TEMPLATE = """// the measurement to watch
var measurement = 'cpu'
// below this the host is critical
var crit = 10.0
var every duration

stream
    |from()
        .measurement(measurement)
        .groupBy('host')
    |alert()
        .id('{{ .TaskName }}:{{ index .Tags "host" }}')
        .crit(lambda: "usage_idle" < crit)
        .topic('cpu')
"""


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server()


@pytest.fixture
def tick(tmp_path: Path) -> Path:
    path = tmp_path / "cpu_template.tick"
    path.write_text(TEMPLATE)
    return path


def _level(server: LiveServer, topic: str, event_id: str) -> str:
    """The level of one event of ``topic`` as ``leyden show-topic`` prints it ("" if none)."""
    code, out, err = server.cli("show-topic", topic)
    assert code == 0, err
    for line in out.splitlines():
        if line.startswith(event_id + " ") or line.split()[:1] == [event_id]:
            return line.split()[1]
    return ""


def test_define_list_show_delete_template(server: LiveServer, tick: Path, tmp_path: Path) -> None:
    assert server.cli("define-template", "cpu_tpl", "-tick", str(tick)) == (0, "", "")
    other = tmp_path / "mem.tick"
    other.write_text("var m string\nstream\n    |from()\n        .measurement(m)\n")
    assert server.cli("define-template", "m", "-tick", str(other), "-type", "stream")[0] == 0
    code, out, _ = server.cli("list", "templates")
    assert code == 0
    assert out == (
        f"{'ID':<8}{'Type':<10}{'Vars':<40}\n"
        f"{'cpu_tpl':<8}{'stream':<10}{'crit,every,measurement':<40}\n"
        f"{'m':<8}{'stream':<10}{'m':<40}\n"
    )
    assert server.cli("list", "templates", "c*")[1].count("\n") == 2

    code, out, _ = server.cli("show-template", "cpu_tpl")
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == ["ID: cpu_tpl", "Error: ", "Type: stream"]
    assert lines[3].startswith("Created: ") and lines[3].endswith(" UTC")
    assert lines[4].startswith("Modified: ")
    assert lines[5] == "TICKscript:"
    table = out[out.index("Vars:\n") : out.index("DOT:")].splitlines()
    assert table == [
        "Vars:",
        f"{'Name':<30}{'Type':<10}{'Default Value':<40}{'Description':<40}",
        f"{'crit':<30}{'float':<10}{'10':<40}{'below this the host is critical':<40}",
        f"{'every':<30}{'duration':<10}{'<required>':<40}{'':<40}",
        f"{'measurement':<30}{'string':<10}{'cpu':<40}{'the measurement to watch':<40}",
    ]
    assert lines[lines.index("DOT:") + 1] == "digraph cpu_tpl {"

    assert server.cli("delete", "templates", "c*", "nothing") == (0, "", "")
    assert [line.split()[0] for line in server.cli("list", "templates")[1].splitlines()] == [
        "ID",
        "m",
    ]
    code, _, err = server.cli("show-template", "cpu_tpl")
    assert (code, err) == (3, "Error: no template exists\n")


def test_template_errors_are_shown_at_the_file(server: LiveServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tick"
    bad.write_text("var x int\nstream\n    |from()\n        .measurement(x)\n")
    code, _, err = server.cli("define-template", "bad", "-tick", str(bad))
    assert code == 3
    assert err.startswith(f"Error: invalid TICKscript: {bad}:4:")
    assert "        .measurement(x)\n" in err and "^" in err
    code, _, err = server.cli("define-template", "bad", "-tick", str(bad), "-type", "flow")
    assert code == 2
    code, _, err = server.cli("show-template")
    assert (code, err.splitlines()[0]) == (2, "Error: Must specify one template ID")


def test_define_from_template_with_json_and_yaml_vars(
    server: LiveServer, tick: Path, tmp_path: Path
) -> None:
    assert server.cli("define-template", "cpu_tpl", "-tick", str(tick))[0] == 0
    vars_json = tmp_path / "vars.json"
    vars_json.write_text(json.dumps({"every": {"type": "duration", "value": "1m"}}))
    code, _, err = server.cli(
        "define", "a", "-template", "cpu_tpl", "-vars", str(vars_json), "-dbrp", "telegraf.autogen"
    )
    assert (code, err) == (0, "")
    vars_yaml = tmp_path / "vars.yaml"
    vars_yaml.write_text(
        "vars:\n  every:\n    type: duration\n    value: 10s\n"
        "  crit:\n    type: float\n    value: 50.5\n"
    )
    code, _, err = server.cli(
        "define", "b", "-template", "cpu_tpl", "-vars", str(vars_yaml), "-dbrp", "telegraf.autogen"
    )
    assert (code, err) == (0, "")
    out = server.cli("show", "b")[1]
    assert "Template: cpu_tpl" in out.splitlines()
    table = out[out.index("Vars:\n") : out.index("DOT:")].splitlines()
    assert table[2:] == [
        f"{'crit':<30}{'float':<10}{'50.5':<40}",
        f"{'every':<30}{'duration':<10}{'10s':<40}",
    ]
    # a var that does not fit its declaration, or a template var without a value, is named
    vars_yaml.write_text("every: {type: string, value: 1m}\n")
    code, _, err = server.cli("define", "c", "-template", "cpu_tpl", "-vars", str(vars_yaml))
    assert code == 3 and "invalid type supplied for every, got string exp duration" in err
    code, _, err = server.cli("define", "c", "-template", "cpu_tpl", "-dbrp", "db.rp")
    assert code == 3 and 'missing value for var "every".' in err
    vars_yaml.write_text("every: [\n")
    code, _, err = server.cli("define", "c", "-template", "cpu_tpl", "-vars", str(vars_yaml))
    assert code == 3 and err.startswith(f"Error: invalid YAML in file {vars_yaml}:")


def test_a_template_update_redefines_an_enabled_task_with_the_new_threshold(
    server: LiveServer, tick: Path, tmp_path: Path
) -> None:
    assert server.cli("define-template", "cpu_tpl", "-tick", str(tick))[0] == 0
    vars_json = tmp_path / "vars.json"
    vars_json.write_text(json.dumps({"every": {"type": "duration", "value": "1m"}}))
    assert server.cli(
        "define",
        "cpu",
        "-template",
        "cpu_tpl",
        "-vars",
        str(vars_json),
        "-dbrp",
        "telegraf.autogen",
    ) == (0, "", "")
    assert server.cli("enable", "cpu") == (0, "", "")
    server.write("cpu,host=a usage_idle=20 1000000000\n")
    assert _level(server, "cpu", "cpu:a") == ""  # 20 is above the critical 10: OK

    tick.write_text(TEMPLATE.replace("var crit = 10.0", "var crit = 50.0"))
    assert server.cli("define-template", "cpu_tpl", "-tick", str(tick)) == (0, "", "")
    code, out, _ = server.cli("list", "tasks")
    assert out.splitlines()[1].split()[:4] == ["cpu", "stream", "enabled", "true"]
    server.write("cpu,host=a usage_idle=20 2000000000\n")
    assert _level(server, "cpu", "cpu:a") == "CRITICAL"  # the new threshold, 50

    # an update its task cannot take is refused, naming the task, and the task keeps running
    tick.write_text(TEMPLATE.replace("var crit = 10.0", "var crit = 50.0\nvar window duration"))
    code, _, err = server.cli("define-template", "cpu_tpl", "-tick", str(tick))
    assert code == 3
    assert err == 'Error: error reloading associated task cpu: missing value for var "window".\n'
    assert "var window" not in server.cli("show", "cpu")[1]
    assert server.services.tasks.running("cpu") is not None
