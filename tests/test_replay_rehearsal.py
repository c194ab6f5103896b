"""``leyden replay`` as a rehearsal: real services get nothing unless ``--send``, loopback capture
servers still get their deliveries, a summary line is printed, a failed delivery fails the
command, and plain line protocol replays with ``--dbrp``."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path

from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from leyden.rehearsal import Tally, config_is_local, destination_host, is_local
from leyden.replay import replay
from webhook_capture import Answer, webhook_capture

REAL = "http://203.0.113.7/hooks/secret-token-abc"  # TEST-NET-3: not loopback, never answers


def _script(*urls: str) -> str:
    posts = "".join(f"    .post('{u}')\n" for u in urls)
    return (
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n"
        "    .id('cpu:{{ index .Tags \"host\" }}')\n"
        "    .crit(lambda: \"v\" > 10)\n    .message('cpu is {{ .Level }}')\n" + posts
    )


def test_destinations_on_this_machine_are_loopback_or_local() -> None:
    assert destination_host("post:https://discord.com/… #1a2b3c4d") == "discord.com"
    assert destination_host("snmptrap:10.0.0.5:162") == "10.0.0.5"
    assert destination_host("tcp://[::1]:9000") == "::1"
    assert destination_host("log:/var/log/alerts.log") == ""
    assert destination_host("pagerduty2:1a2b3c") == ""
    assert is_local("post", "post:http://127.0.0.1:9999/… #00", False)
    assert is_local("post", "post:http://localhost/… #00", False)
    assert is_local("log", "log:/tmp/alerts.log", False)
    assert not is_local("slack", "https://hooks.slack.com/… #00", True)
    assert not is_local("pagerduty2", "pagerduty2:1a2b3c", False)
    assert is_local("pagerduty2", "pagerduty2:1a2b3c", True)
    assert config_is_local(['[smtp]\n host = "localhost"\n', 'url = "http://127.0.0.1:80/x"'])
    assert not config_is_local(['[sensu]\n addr = "sensu.example.com:3030"\n'])
    assert not config_is_local(['url = "https://events.pagerduty.com/v2/enqueue"'])


async def test_by_default_loopback_is_sent_and_a_real_host_is_written_down(tmp_path: Path) -> None:
    async with webhook_capture() as capture:
        script = tmp_path / "t.tick"
        script.write_text(_script(capture.url + "/hook", REAL))
        data = tmp_path / "d.srpl"
        data.write_text("db\nrp\ncpu,host=a v=50 1\ndb\nrp\ncpu,host=a v=1 2\n")
        config = load_config(None, {}, integrations=INTEGRATIONS.sections())
        sent = io.StringIO()
        tally = Tally()
        await replay(
            script,
            [data],
            config=config,
            name="t",
            dbrps=[],
            until=None,
            mode="auto",
            sent=sent,
            tally=tally,
        )
    assert [r["json"]["level"] for r in capture.requests] == ["CRITICAL", "OK"]
    lines = [json.loads(line) for line in sent.getvalue().splitlines()]
    assert [(x["kind"], x["id"], x["level"], x["message"]) for x in lines] == [
        ("post", "cpu:a", "CRITICAL", "cpu is CRITICAL"),
        ("post", "cpu:a", "OK", "cpu is OK"),
    ]
    assert lines[0]["destination"].startswith("post:http://203.0.113.7/")
    assert lines[0]["data"]["id"] == "cpu:a"
    assert "secret-token-abc" not in sent.getvalue()
    assert tally.points == 2
    assert tally.failed == 0
    assert tally.summary() == (
        "replay: 2 points read; events: 1 CRITICAL, 1 OK; deliveries: post (2 sent, 2 not sent)"
    )


async def test_no_send_keeps_even_loopback_deliveries(tmp_path: Path) -> None:
    async with webhook_capture() as capture:
        script = tmp_path / "t.tick"
        script.write_text(_script(capture.url + "/hook"))
        data = tmp_path / "d.srpl"
        data.write_text("db\nrp\ncpu,host=a v=50 1\n")
        config = load_config(None, {}, integrations=INTEGRATIONS.sections())
        sent = io.StringIO()
        tally = Tally()
        await replay(
            script,
            [data],
            config=config,
            name="t",
            dbrps=[],
            until=None,
            mode="no-send",
            sent=sent,
            tally=tally,
        )
    assert capture.requests == []
    assert len(sent.getvalue().splitlines()) == 1
    assert tally.deliveries == {"post": {"not sent": 1}}


async def _cli(*argv: str) -> tuple[int, str, str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leyden",
        "replay",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


DISCORD = """\
[[discord]]
  enabled = true
  default = true
  url = "https://discord.com/api/webhooks/100000000000000001/real-looking-token"
"""

DISCORD_SCRIPT = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .warn(lambda: "usage_idle" < 20)
    .message('Hey, check your CPU')
    .discord()
"""


async def test_cli_a_real_discord_webhook_gets_nothing_and_plain_line_protocol_replays(
    tmp_path: Path,
) -> None:
    (tmp_path / "cpu.tick").write_text(DISCORD_SCRIPT)
    (tmp_path / "kapacitor.conf").write_text(DISCORD)
    (tmp_path / "cpu.txt").write_text(
        "# telegraf's cpu\n"
        "cpu,host=a usage_idle=55 1000000000\n"
        "cpu,host=a usage_idle=12 2000000000\n"
        "cpu,host=a usage_idle=60 3000000000\n"
    )
    out_file = tmp_path / "sent.jsonl"
    code, out, err = await _cli(
        str(tmp_path / "cpu.tick"),
        "--data",
        str(tmp_path / "cpu.txt"),
        "--dbrp",
        "telegraf.autogen",
        "--config",
        str(tmp_path / "kapacitor.conf"),
        "--sent",
        str(out_file),
    )
    assert code == 0, err
    assert out == ""
    lines = [json.loads(x) for x in out_file.read_text().splitlines()]
    assert [(x["kind"], x["level"]) for x in lines] == [("discord", "WARNING"), ("discord", "OK")]
    assert "real-looking-token" not in out_file.read_text() + err
    assert err.strip().splitlines()[-1] == (
        "replay: 3 points read; events: 1 OK, 1 WARNING; deliveries: discord 2 not sent"
    )
    # without --sent the lines go to stdout
    code, out, err = await _cli(
        str(tmp_path / "cpu.tick"),
        "--data",
        str(tmp_path / "cpu.txt"),
        "--dbrp",
        "telegraf.autogen",
        "--config",
        str(tmp_path / "kapacitor.conf"),
    )
    assert code == 0, err
    assert len(out.splitlines()) == 2


async def test_cli_plain_line_protocol_without_dbrp_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cpu.tick").write_text(DISCORD_SCRIPT)
    (tmp_path / "cpu.txt").write_text("cpu usage_idle=5 1\n")
    code, _, err = await _cli(str(tmp_path / "cpu.tick"), "--data", str(tmp_path / "cpu.txt"))
    assert code == 1
    assert "plain line protocol needs --dbrp" in err
    assert "Traceback" not in err


async def test_cli_a_failed_delivery_fails_the_replay(tmp_path: Path) -> None:
    async with webhook_capture() as capture:
        capture.responses = [Answer(status=400, body="bad request")]
        (tmp_path / "t.tick").write_text(_script(capture.url + "/hook"))
        (tmp_path / "d.srpl").write_text("db\nrp\ncpu,host=a v=50 1\n")
        code, _, err = await _cli(
            str(tmp_path / "t.tick"), "--data", str(tmp_path / "d.srpl"), "--send"
        )
    assert len(capture.requests) == 1
    assert code == 3, err
    assert err.strip().splitlines()[-1] == (
        "replay: 1 points read; events: 1 CRITICAL; deliveries: post 1 failed"
    )


async def test_cli_help_describes_every_option() -> None:
    code, out, _ = await _cli("--help")
    assert code == 0
    for option in (
        "--data",
        "--config",
        "--name",
        "--dbrp",
        "--until",
        "--http-out",
        "--events",
        "--send",
        "--no-send",
        "--sent",
    ):
        assert option in out
    assert "Examples:" in out and "Exit status" in out
