"""The verbs that look after a running server (``stats``, ``vars``, ``ping``, ``level``,
``logs``, ``watch``, ``backup``) and the ones that need none (``record``, ``completion``),
against a real server on loopback; ``logs`` and ``watch`` run as real processes, ended with
Ctrl-C (SIGINT) as a user ends them."""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from leyden import KAPACITOR_VERSION, log
from leyden.cli import main
from leyden.cli._help import VERBS
from leyden.cli.completion import zsh_script
from leyden.cli.record import MESSAGE
from leyden.logstream import LogStreams
from leyden.store import Store
from threaded_server import LiveServer

LOG_TASK = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
    |log()
"""


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server()


@pytest.fixture
def restore_level() -> Iterator[None]:
    """``leyden level`` changes the process's logging: put it back."""
    before = log.server_level()
    yield
    log._set(before)


def _write(server: LiveServer, body: str, query: str = "db=telegraf&rp=autogen") -> None:
    req = urllib.request.Request(f"{server.url}/write?{query}", data=body.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204


def _define_log_task(server: LiveServer, tmp_path: Path, task_id: str = "cpu") -> None:
    tick = tmp_path / f"{task_id}.tick"
    tick.write_text(LOG_TASK)
    assert server.cli("define", task_id, "-tick", str(tick)) == (0, "", "")
    assert server.cli("enable", task_id) == (0, "", "")


# --- stats, vars, ping -----------------------------------------------------------------------


def test_stats_general_is_kapacitors_table(server: LiveServer, tmp_path: Path) -> None:
    _define_log_task(server, tmp_path)
    code, out, err = server.cli("stats", "general")
    assert (code, err) == (0, "")
    ids = json.loads(server.cli("vars")[1])
    assert out.splitlines() == [
        f"{'ClusterID:':<30}{ids['cluster_id']:<30}",
        f"{'ServerID:':<30}{ids['server_id']:<30}",
        f"{'Host:':<30}{ids['host']:<30}",
        f"{'Tasks:':<30}{1:<30}",
        f"{'Enabled Tasks:':<30}{1:<30}",
        f"{'Subscriptions:':<30}{0:<30}",
        f"{'Platform:':<30}{'Leyden':<30}",
        f"{'Version:':<30}{KAPACITOR_VERSION:<30}",
    ]


def test_stats_ingress_counts_per_database_rp_and_measurement(server: LiveServer) -> None:
    _write(server, "cpu,host=a v=1\ncpu,host=b v=2\nmem,host=a v=3\n")
    _write(server, "a_rather_long_measurement_name v=1\n")
    _write(server, "disk v=1\n", "db=other")
    code, out, err = server.cli("stats", "ingress")
    assert (code, err) == (0, "")
    assert out == (
        "Database Retention Policy Measurement                    Points Received\n"
        "other                     disk                                         1\n"
        "telegraf autogen          a_rather_long_measurement_name               1\n"
        "telegraf autogen          cpu                                          2\n"
        "telegraf autogen          mem                                          1\n"
    )


def test_stats_needs_one_known_category(server: LiveServer) -> None:
    code, out, err = server.cli("stats")
    assert (code, out) == (2, "")
    assert err.startswith("Error: must provide a stats category\nUsage: leyden stats")
    code, _, err = server.cli("stats", "egress")
    assert code == 2 and 'unknown stats category "egress"' in err


def test_vars_prints_the_servers_json(server: LiveServer) -> None:
    code, out, err = server.cli("vars")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["product"] == "kapacitor" and doc["version"] == KAPACITOR_VERSION
    assert "kapacitor" in doc and "memstats" in doc


def test_ping(server: LiveServer) -> None:
    code, out, err = server.cli("ping")
    assert (code, err) == (0, "")
    assert out.startswith(f"{server.url} is up: version {KAPACITOR_VERSION}, ")
    code, out, err = server.cli("-url", "http://127.0.0.1:9", "ping")
    assert (code, out) == (3, "")
    assert err.startswith("Error: cannot reach http://127.0.0.1:9")


# --- level -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_level")
def test_level_changes_the_running_servers_level_and_is_audited(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="leyden")
    log.set_level("info")  # as `leyden serve` starts
    assert server.cli("level", "debug") == (0, "", "")
    assert log.server_level() == logging.DEBUG
    assert logging.getLogger("leyden.task").isEnabledFor(logging.DEBUG)
    audit = [r for r in caplog.records if r.name == "leyden.audit"]
    assert [(r.fields["action"], r.fields["level"]) for r in audit] == [  # type: ignore[attr-defined]
        ("set-log-level", "debug")
    ]
    assert server.cli("level", "ERROR") == (0, "", "")
    assert log.server_level() == logging.ERROR
    assert not logging.getLogger("leyden.task").isEnabledFor(logging.INFO)
    # going quieter, the change is said before it hides the audit line
    said = [r for r in caplog.records if r.getMessage() == "log level set"]
    assert [r.fields["level"] for r in said] == ["error"]  # type: ignore[attr-defined]
    assert [r.fields["user"] for r in said] == ["-"]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("restore_level")
def test_a_bad_level_is_kapacitors_400(server: LiveServer) -> None:
    assert server.cli("level", "loud") == (3, "", "Error: invalid log level\n")
    assert server.cli("level")[0] == 2
    req = urllib.request.Request(
        f"{server.url}/kapacitor/v1/loglevel", data=b"{nope", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=10)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"].startswith("invalid json: ")


# --- logs and watch --------------------------------------------------------------------------


def _streams() -> LogStreams | None:
    for handler in logging.getLogger("leyden").handlers:
        if isinstance(handler, LogStreams):
            return handler
    return None


def _sessions() -> int:
    streams = _streams()
    return len(streams.sessions) if streams is not None else 0


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


class Tail:
    """``leyden -url URL ARGV`` as a process; its stdout lines read as they come."""

    def __init__(self, server: LiveServer, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leyden", "-url", server.url, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def until(self, wanted: Callable[[str], bool]) -> list[str]:
        """The lines read up to and including the first ``wanted`` one."""
        seen: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=30)
            except queue.Empty:
                raise AssertionError(f"no such line; read {seen!r}") from None
            seen.append(line)
            if wanted(line):
                return seen

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: (exit code, stderr)."""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


@pytest.fixture
def tails() -> Iterator[list[Tail]]:
    started: list[Tail] = []
    yield started
    for tail in started:
        tail.kill()


def test_logs_streams_lines_until_ctrl_c(server: LiveServer, tails: list[Tail]) -> None:
    tail = Tail(server, "logs", "service=sessions")
    tails.append(tail)
    [line] = tail.until(lambda line: "created log session" in line)
    assert line.startswith("ts=") and " lvl=info " in line and " service=sessions " in line
    assert "tags=service=sessions" in line or 'tags="service=sessions"' in line
    assert tail.interrupt() == (0, "")
    _wait_for(lambda: _sessions() == 0, "the session to end")


def test_watch_follows_one_task(server: LiveServer, tmp_path: Path, tails: list[Tail]) -> None:
    _define_log_task(server, tmp_path, "cpu")
    _define_log_task(server, tmp_path, "other")
    tail = Tail(server, "watch", "cpu")
    tails.append(tail)
    _wait_for(lambda: _sessions() == 1, "the watch session")
    _write(server, "cpu,host=a usage_idle=5 1000000000\n")
    lines = tail.until(lambda line: "msg=point" in line)
    assert len(lines) == 1  # the other task's line (and the session's own) did not match
    line = lines[0]
    assert " task=cpu " in line and " node=log2 " in line and " service=task " in line
    assert tail.interrupt() == (0, "")


def test_watch_json_and_its_shape(server: LiveServer, tmp_path: Path, tails: list[Tail]) -> None:
    _define_log_task(server, tmp_path, "cpu")
    tail = Tail(server, "watch", "-json", "cpu", "node=log2")
    tails.append(tail)
    _wait_for(lambda: _sessions() == 1, "the watch session")
    _write(server, "cpu,host=a usage_idle=5 1000000000\n")
    [line] = tail.until(lambda line: '"point"' in line)
    entry = json.loads(line)
    assert list(entry)[:4] == ["ts", "lvl", "msg", "service"]
    assert (entry["lvl"], entry["msg"], entry["task"], entry["node"]) == (
        "info",
        "point",
        "cpu",
        "log2",
    )
    assert entry["field"] == "{'usage_idle': 5.0}" or "usage_idle" in str(entry["field"])
    assert tail.interrupt() == (0, "")


def test_watch_needs_a_task_and_pairs(server: LiveServer) -> None:
    assert server.cli("watch")[0] == 2
    code, _, err = server.cli("watch", "cpu", "nonsense")
    assert code == 2 and "bad keyvalue pair: 'nonsense'" in err


def test_a_parameter_given_twice_is_kapacitors_400(server: LiveServer) -> None:
    url = f"{server.url}/kapacitor/v1preview/logs?task=a&task=b"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=10)
    assert caught.value.code == 400
    body = json.loads(caught.value.read())
    assert body["error"] == "query params cannot contain duplicate params"


def test_secrets_stay_out_of_the_stream(
    server: LiveServer, tmp_path: Path, tails: list[Tail]
) -> None:
    """A delivery to a URL with a password and a token fails; its log line streams, without
    them."""
    script = (
        'dbrp "telegraf"."autogen"\n\nstream\n    |from()\n        .measurement(\'cpu\')\n'
        '    |alert()\n        .crit(lambda: "usage_idle" < 10)\n'
        "        .post('http://ops:pa55w0rd@127.0.0.1:9/hook?token=t0k3n')\n"
    )
    tick = tmp_path / "posted.tick"
    tick.write_text(script)
    assert server.cli("define", "posted", "-tick", str(tick)) == (0, "", "")
    assert server.cli("enable", "posted") == (0, "", "")
    tail = Tail(server, "watch", "posted")
    tails.append(tail)
    _wait_for(lambda: _sessions() == 1, "the watch session")
    _write(server, "cpu,host=a usage_idle=5 1000000000\n")
    lines = tail.until(lambda line: "alert delivery failed" in line or "handler failed" in line)
    assert tail.interrupt() == (0, "")
    text = "".join(lines)
    assert "pa55w0rd" not in text and "t0k3n" not in text
    assert "127.0.0.1" in text  # the destination is named, redacted


# --- backup ----------------------------------------------------------------------------------


def test_backup_is_a_sqlite_file_with_the_tasks(server: LiveServer, tmp_path: Path) -> None:
    _define_log_task(server, tmp_path, "cpu")
    target = tmp_path / "backup.db"
    assert server.cli("backup", str(target)) == (0, "", "")
    assert target.read_bytes()[:16] == b"SQLite format 3\x00"
    with closing(sqlite3.connect(target)) as conn:
        rows = conn.execute("SELECT id, status FROM tasks").fetchall()
    assert rows == [("cpu", "enabled")]
    assert not (tmp_path / "backup.db.partial").exists()
    assert target.stat().st_mode & 0o777 == 0o600  # it holds the handlers' tokens


def test_backup_restores(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    """Kapacitor's restore: stop the server, put the backup in place of its file, start."""
    first = tmp_path / "first"
    first.mkdir()
    server = live_server()
    _define_log_task(server, first, "kept")
    target = tmp_path / "backup.db"
    assert server.cli("backup", str(target)) == (0, "", "")
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored = tmp_path / "restored.db"
    shutil.copyfile(target, restored)
    with Store(restored) as store:
        assert [t.id for t in store.list_tasks()] == ["kept"]


def test_backup_to_a_file_that_cannot_be_made(server: LiveServer, tmp_path: Path) -> None:
    code, out, err = server.cli("backup", str(tmp_path / "no" / "such" / "dir" / "b.db"))
    assert (code, out) == (5, "")
    assert err.startswith("Error: ") and "No such file or directory" in err
    assert server.cli("backup")[0] == 2


# --- record, completion ----------------------------------------------------------------------


def test_record_says_what_to_use_instead_without_a_server() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["-url", "http://127.0.0.1:9", "record", "stream", "-task", "cpu"], out, err)
    assert (code, out.getvalue(), err.getvalue()) == (2, "", MESSAGE)
    assert "leyden replay" in MESSAGE


def _bash(script: str) -> str:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    leyden = f"{sys.executable} -m leyden"
    prelude = f'leyden() {{ {leyden} "$@"; }}\nsource <({leyden} completion bash)\n'
    done = subprocess.run(
        [bash, "-c", prelude + script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bash_completion_is_registered() -> None:
    assert _bash("complete -p leyden") == "complete -o default -F _leyden leyden\n"


@pytest.mark.parametrize(
    ("words", "wanted"),
    [
        ("leyden li", "list"),
        ("leyden -url http://x:9092 st", "stats"),
        ("leyden -url=http://x:9092 stats ", "general ingress"),
        ("leyden list t", "tasks templates topic-handlers topics"),
        ("leyden delete topic", "topic-handlers topics"),
        ("leyden stats ", "general ingress"),
        ("leyden level d", "debug"),
        ("leyden completion ", "bash zsh"),
        ("leyden define cpu -t", "-tick -type -template"),
        ("leyden help wa", "watch"),
        ("leyden -sk", "-skipVerify"),
    ],
)
def test_bash_completion_words(words: str, wanted: str) -> None:
    assert sorted(_complete(words.split(" ")).split()) == sorted(wanted.split())


def _complete(parts: list[str], prelude: str = "") -> str:
    """``_leyden`` for a command line split as bash splits it (its default COMP_WORDBREAKS
    has ``:`` and ``=``: each is a word of its own)."""
    words: list[str] = []
    for part in parts:
        pieces = re.split(r"([:=])", part)
        for i, piece in enumerate(pieces):
            if piece or len(pieces) == 1 or i % 2:
                words.append(piece)
    array = " ".join(f"'{w}'" for w in words)
    line = " ".join(parts)
    return _bash(
        f"{prelude}COMP_LINE='{line}'; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; "
        '_leyden; printf "%s\\n" "${COMPREPLY[@]}"'
    )


def test_bash_completion_asks_the_server_for_task_ids(server: LiveServer, tmp_path: Path) -> None:
    for task in ("cpu_a", "cpu_b", "mem"):
        _define_log_task(server, tmp_path, task)
    assert _complete(["leyden", "-url", server.url, "enable", "cpu"]).split() == ["cpu_a", "cpu_b"]
    assert _complete(["leyden", f"-url={server.url}", "show", ""]).split() == [
        "cpu_a",
        "cpu_b",
        "mem",
    ]
    assert _complete(["leyden", "-url", server.url, "list", "tasks", "m"]).split() == ["mem"]


def test_zsh_completion_loads() -> None:
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed")
    leyden = f"{sys.executable} -m leyden"
    script = f"autoload -U compinit && compinit -u && source <({leyden} completion zsh) && "
    script += "print -r -- ${_comps[leyden]}"
    done = subprocess.run(
        [zsh, "-f", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": os.environ.get("TMPDIR", "/tmp")},
    )
    assert (done.returncode, done.stdout.strip()) == (0, "_leyden"), done.stderr


def test_completion_needs_a_shell() -> None:
    err = io.StringIO()
    assert main(["completion", "fish"], io.StringIO(), err) == 2
    assert "bash|zsh" in err.getvalue()


def test_zsh_script_describes_every_verb_once() -> None:
    """Without zsh here, the generated script is checked as text: one ``name:summary`` per
    verb for ``_describe``, split at its one unescaped colon."""
    script = zsh_script()
    described = script.split("verbs=(\n", 1)[1].split("\n            )", 1)[0].splitlines()
    names = []
    for line in described:
        parts = re.split(r"(?<!\\):", line.strip().strip("'"))
        assert len(parts) == 2, line
        names.append(parts[0])
    assert names == [v.name for v in VERBS]
    assert script.startswith("#compdef leyden\n") and "compdef _leyden leyden" in script
