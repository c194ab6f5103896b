"""The topic verbs of the CLI against a real server (an in-process aiohttp server on a free
loopback port in its own thread; the CLI's urllib client talks to it over HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leyden.cli.topics import local_rfc822, read_handler_file
from leyden.client import Client, ClientError
from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from leyden.notify.discord.config import DiscordConfig
from seed_page import AGGREGATE_24H, DISCORD_500_ERRORS_DAILY, DISCORD_CPU_HANDLER
from threaded_server import LiveServer

CPU_SCRIPT = (
    "stream|from().measurement('cpu').groupBy('host')"
    '|alert().warn(lambda: "v" > 5).crit(lambda: "v" > 10).topic(\'cpu\')'
)


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    config.integrations["discord"] = [
        DiscordConfig(
            enabled=True, default=True, workspace="guild-alerts", url="http://127.0.0.1:9/a/b"
        ),
        DiscordConfig(enabled=True, workspace="guild-errors", url="http://127.0.0.1:9/c/d"),
    ]
    return live_server(config)


def handler_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """show-topic prints dates in local time: make local time UTC for the test."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def define_cpu_task(server: LiveServer) -> None:
    Client(server.url).create_task(
        {
            "id": "cpu_alert",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": CPU_SCRIPT,
            "status": "enabled",
        }
    )


# --- define-topic-handler, list, show -------------------------------------------------------


def test_seed_handler_files(server: LiveServer, tmp_path: Path) -> None:
    for name, text in (
        ("discord_cpu_handler.yaml", DISCORD_CPU_HANDLER),
        ("500_errors_24h.yaml", AGGREGATE_24H),
        ("discord_500_errors_daily.yaml", DISCORD_500_ERRORS_DAILY),
    ):
        assert server.cli("define-topic-handler", handler_file(tmp_path, name, text)) == (
            0,
            "",
            "",
        )
    code, out, err = server.cli("list", "topic-handlers")
    assert (code, err) == (0, "")
    assert out == (
        "Topic          ID                       Kind       \n"
        "500-errors     500-errors-24h           aggregate  \n"
        "500-errors-24h discord-500-errors-daily discord    \n"
        "cpu            discord-cpu-alert        discord    \n"
    )
    code, out, _ = server.cli("list", "topic-handlers", "500*", "*daily")
    assert out == (
        "Topic          ID                       Kind       \n"
        "500-errors-24h discord-500-errors-daily discord    \n"
    )
    code, out, _ = server.cli("show-topic-handler", "500-errors", "500-errors-24h")
    assert (code, out) == (
        0,
        "ID: 500-errors-24h\n"
        "Topic: 500-errors\n"
        "Kind: aggregate\n"
        "Match: \n"
        'Options: {"interval":"24h","message":"{{ .Count }} 500 errors last 24 hours.",'
        '"topic":"500-errors-24h"}\n',
    )


def test_define_again_replaces(server: LiveServer, tmp_path: Path) -> None:
    path = handler_file(tmp_path, "cpu.yml", DISCORD_CPU_HANDLER)
    assert server.cli("define-topic-handler", path)[0] == 0
    changed = DISCORD_CPU_HANDLER.replace("'Hey, Listen!'", "'Listen <now>'") + "match: changed()\n"
    Path(path).write_text(changed)
    assert server.cli("define-topic-handler", path) == (0, "", "")
    _, out, _ = server.cli("show-topic-handler", "cpu", "discord-cpu-alert")
    assert out.splitlines()[3:] == [
        "Match: changed()",
        'Options: {"embed-title":"Listen \\u003cnow\\u003e","workspace":"guild-alerts"}',
    ]


def test_define_from_json(server: LiveServer, tmp_path: Path) -> None:
    spec = {"id": "log", "topic": "cpu", "kind": "log", "options": {"path": str(tmp_path / "l")}}
    path = handler_file(tmp_path, "log.json", json.dumps(spec))
    assert server.cli("define-topic-handler", path) == (0, "", "")
    assert server.cli("show-topic-handler", "cpu", "log")[1].startswith("ID: log\nTopic: cpu\n")


def test_list_and_show_topic(server: LiveServer, tmp_path: Path, utc: None) -> None:
    define_cpu_task(server)
    path = handler_file(
        tmp_path,
        "log.yaml",
        f"id: log\ntopic: cpu\nkind: log\noptions:\n  path: {tmp_path / 'l'}\n",
    )
    assert server.cli("define-topic-handler", path)[0] == 0
    server.write("cpu,host=a v=12 60000000000\ncpu,host=b v=7 1000000000\n")
    code, out, err = server.cli("list", "topics")
    assert (code, err) == (0, "")
    assert out == ("ID  Level     Collected\ncpu CRITICAL          2\n")
    code, out, _ = server.cli("list", "topics", "m*", "c*")
    assert out == ("ID  Level     Collected\ncpu CRITICAL          2\n")
    code, out, _ = server.cli("show-topic", "cpu")
    assert (code, out) == (
        0,
        "ID: cpu\n"
        "Level: CRITICAL\n"
        "Collected: 2\n"
        "Handlers: [log]\n"
        "Events:\n"
        "Event      Level    Message                Date                   \n"
        "cpu:host=b WARNING  cpu:host=b is WARNING  01 Jan 70 00:00 UTC    \n"
        "cpu:host=a CRITICAL cpu:host=a is CRITICAL 01 Jan 70 00:01 UTC    \n",
    )
    code, _, err = server.cli("show-topic", "nope")
    assert (code, err) == (3, 'Error: unknown topic: "nope"\n')


def test_delete_topic_handlers_and_topics(server: LiveServer, tmp_path: Path) -> None:
    define_cpu_task(server)
    for hid in ("log-a", "log-b", "keep"):
        text = f"id: {hid}\ntopic: cpu\nkind: log\noptions:\n  path: {tmp_path / hid}\n"
        assert (
            server.cli("define-topic-handler", handler_file(tmp_path, f"{hid}.yaml", text))[0] == 0
        )
    assert server.cli("delete", "topic-handlers", "cpu", "log-*", "nothing") == (0, "", "")
    assert server.cli("list", "topic-handlers", "cpu")[1].splitlines()[1:] == [
        "cpu        keep       log        "
    ]
    server.write("cpu,host=a v=12 1000000000\n")
    server.write("mem,host=a v=12 1000000000\n")  # no task reads mem
    assert server.cli("delete", "topics", "c*") == (0, "", "")
    # The topic is gone, as in Kapacitor; its handler stays attached (Leyden keeps handlers)
    # and it is listed again at its next event.
    _, out, _ = server.cli("list", "topics")
    assert "cpu" not in out
    # the CLI lists handlers per listed topic, as Kapacitor's does
    assert server.cli("list", "topic-handlers")[1].splitlines()[1:] == []
    server.write("cpu,host=a v=13 2000000000\n")
    _, out, _ = server.cli("list", "topics")
    assert out.splitlines()[1].split() == ["cpu", "CRITICAL", "1"]
    assert server.cli("list", "topic-handlers")[1].splitlines()[1:] == [
        "cpu        keep       log        "
    ]
    assert (tmp_path / "keep").read_text().count("\n") == 2  # both events reached the handler


# --- errors ---------------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_column(server: LiveServer, tmp_path: Path) -> None:
    path = handler_file(
        tmp_path, "bad.yaml", "id: x\ntopic: cpu\noptions:\n  a: [1, 2\nkind: log\n"
    )
    code, out, err = server.cli("define-topic-handler", path)
    assert (code, out) == (3, "")
    assert err.startswith(f'Error: failed to unmarshal yaml handler file "{path}": {path}:5:')
    assert "expected ',' or ']'" in err


def test_yaml_error_also_names_where_the_construct_started(tmp_path: Path) -> None:
    path = handler_file(
        tmp_path, "q.yaml", "id: x\ntopic: cpu\nkind: discord\noptions:\n  workspace: 'guild\n"
    )
    with pytest.raises(ClientError) as info:
        read_handler_file(path)
    assert str(info.value) == (
        f'failed to unmarshal yaml handler file "{path}": {path}:6:1: found unexpected end of '
        "stream (while scanning a quoted scalar at line 5, column 14)"
    )


def test_json_syntax_error_names_file_line_and_column(server: LiveServer, tmp_path: Path) -> None:
    path = handler_file(tmp_path, "bad.json", '{\n  "id": "x",\n  "topic" "cpu"\n}')
    code, _, err = server.cli("define-topic-handler", path)
    assert code == 3
    assert err == (
        f'Error: failed to unmarshal json handler file "{path}": {path}:3:11: '
        "Expecting ':' delimiter\n"
    )


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("h.txt", "id: x", 'unknown extension ".txt": use .yaml, .yml or .json'),
        ("h.yaml", "- 1\n", "expected a mapping of id, topic, kind, match, options"),
        ("h.yaml", "id: x\ntopic: cpu\nkind: log\noption:\n  path: /x\n", 'unknown key "option"'),
        ("h.yaml", "id: 500\ntopic: cpu\nkind: log\n", '"id" must be a string, got 500 (quote it)'),
        ("h.yaml", "id: x\nkind: log\n", '"topic" is missing'),
        ("h.yaml", "id: x\ntopic: cpu\nkind: log\noptions: [1]\n", '"options" must be a mapping'),
    ],
)
def test_bad_handler_files(tmp_path: Path, name: str, text: str, error: str) -> None:
    path = handler_file(tmp_path, name, text)
    with pytest.raises(ClientError) as info:
        read_handler_file(path)
    assert str(info.value).startswith(f'handler file "{path}": {error}')


def test_missing_handler_file(server: LiveServer, tmp_path: Path) -> None:
    path = str(tmp_path / "nope.yaml")
    code, _, err = server.cli("define-topic-handler", path)
    assert (code, err) == (
        5,
        f'Error: failed to open handler spec file "{path}": No such file or directory\n',
    )


def test_server_refusal_is_reported(server: LiveServer, tmp_path: Path) -> None:
    text = DISCORD_CPU_HANDLER.replace("guild-alerts", "guild-typo")
    code, _, err = server.cli("define-topic-handler", handler_file(tmp_path, "d.yaml", text))
    assert (code, err) == (
        3,
        'Error: failed to create handler: discord workspace "guild-typo" is not configured; '
        "configured workspaces: guild-alerts, guild-errors\n",
    )
    text = AGGREGATE_24H.replace("interval: 24h", "interval: 0s")
    code, _, err = server.cli("define-topic-handler", handler_file(tmp_path, "a.yaml", text))
    assert (code, err) == (
        3,
        "Error: failed to create handler: aggregate handler option 'interval' must be positive, "
        "got 0s\n",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("define-topic-handler",),
        ("define-topic-handler", "a.yaml", "b.yaml"),
        ("show-topic",),
        ("show-topic-handler", "cpu"),
        ("delete", "topics"),
        ("delete", "topic-handlers"),
    ],
)
def test_usage_errors(server: LiveServer, argv: tuple[str, ...]) -> None:
    code, out, err = server.cli(*argv)
    assert (code, out) == (2, "")
    assert err.startswith("Error: ")


def test_other_list_kinds_still_work(server: LiveServer) -> None:
    code, out, _ = server.cli("list", "service-tests")
    assert code == 0 and out.startswith("Service Name\n") and "discord" in out.split("\n")
    code, out, _ = server.cli("list", "tasks")
    assert code == 0 and out.startswith("ID")


def test_local_rfc822(utc: None) -> None:
    assert local_rfc822("2015-10-30T17:14:12.5Z") == "30 Oct 15 17:14 UTC"
    assert local_rfc822("not a time") == "not a time"


@pytest.mark.parametrize("value", ["2011-01-00", "2011-02-30 10:00:00"])
def test_handler_file_with_an_impossible_date_is_a_clear_error(tmp_path: Path, value: str) -> None:
    # Found by `make fuzz`: PyYAML's date constructor raised a bare ValueError.
    path = tmp_path / "h.yaml"
    path.write_text(f"id: h\ntopic: t\nkind: log\nmatch: {value}\n")
    with pytest.raises(ClientError, match="invalid value: day is out of range for month"):
        read_handler_file(str(path))


def test_handler_file_with_a_yaml_alias_containing_itself_is_refused(tmp_path: Path) -> None:
    # Found by `make fuzz` (atheris): the depth check walked the cycle forever.
    path = tmp_path / "h.yaml"
    path.write_text("id: &a\n  topic: *a\nkind: log\n")
    with pytest.raises(ClientError, match="nests deeper than"):
        read_handler_file(str(path))
