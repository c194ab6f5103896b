"""The seed's ``discord-cpu-alert.tick`` replayed over recorded data, delivered to the emulator.

usage_idle dips below 20 twice: exactly two WARNING messages and two recoveries arrive, titled
"Uh Oh!", sent as the default workspace's username, through a real ``leyden replay`` process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from leyden.devtools.discord_emulator import DiscordEmulator

SCRIPT = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .warn(lambda: "usage_idle" < 20)
    .stateChangesOnly()
    .message('Hey, check your CPU')
    .discord()
      .embedTitle('Uh Oh!')
"""

CONFIG = """\
[[discord]]
  enabled = true
  default = true
  url = "{alerts}"
  workspace = "guild-alerts"
  timestamp = true
  username = "AlertBot"
  avatar-url = "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
  embed-title = "Alert"

[[discord]]
  enabled = true
  default = false
  url = "{errors}"
  workspace = "guild-errors"
  timestamp = true
  username = "StatsBot"
  embed-title = "Errors"
"""

IDLE = [55.0, 42.0, 18.5, 12.0, 15.0, 35.0, 60.0, 19.0, 17.0, 48.0, 52.0]


async def test_seed_discord_cpu_alert_replay(tmp_path: Path) -> None:
    emulator = DiscordEmulator()
    await emulator.start()
    try:
        (tmp_path / "discord-cpu-alert.tick").write_text(SCRIPT)
        (tmp_path / "kapacitor.conf").write_text(
            CONFIG.format(
                alerts=emulator.webhook_url("100000000000000001", "alerts-token"),
                errors=emulator.webhook_url("100000000000000002", "errors-token"),
            )
        )
        (tmp_path / "cpu.srpl").write_text(
            "".join(
                f"telegraf\nautogen\ncpu,host=serverA,cpu=cpu-total usage_idle={v} {i + 1}\n"
                for i, v in enumerate(IDLE)
            )
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "leyden",
            "replay",
            str(tmp_path / "discord-cpu-alert.tick"),
            "--data",
            str(tmp_path / "cpu.srpl"),
            "--config",
            str(tmp_path / "kapacitor.conf"),
            "--dbrp",
            "telegraf.autogen",
            "--until",
            "1m",
            "--events",
            str(tmp_path / "ev.jsonl"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, out.decode()
    finally:
        await emulator.stop()

    got = [(m.webhook_id, m.payload) for m in emulator.messages]
    assert [w for w, _ in got] == ["100000000000000001"] * 4
    embeds = [p["embeds"][0] for _, p in got]
    assert [e["color"] for e in embeds] == [0xF48D38, 0x2ECC71, 0xF48D38, 0x2ECC71]
    assert {e["title"] for e in embeds} == {"Uh Oh!"}
    assert {e["description"] for e in embeds} == {"Hey, check your CPU"}
    assert {p["username"] for _, p in got} == {"AlertBot"}
    # timestamp = true in the workspace: the event times, rebased to 1971-01-01
    assert [e["timestamp"] for e in embeds] == [
        "1971-01-01T00:00:02Z",
        "1971-01-01T00:00:05Z",
        "1971-01-01T00:00:07Z",
        "1971-01-01T00:00:09Z",
    ]
    events = (tmp_path / "ev.jsonl").read_text().splitlines()
    assert len(events) == 4
