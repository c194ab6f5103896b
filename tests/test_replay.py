"""``leyden replay`` as a library call and as a command: stream and batch recordings, and what a
replay leaves unsent is said, not lost silently."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leyden.config import load_config
from leyden.go.types import Time
from leyden.notify import INTEGRATIONS
from leyden.replay import REPLAY_ZERO_NS, ReplayError, read_brpl, rebased_batches, replay

SCRIPT = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: TRUE)
    .post('http://127.0.0.1:1/hook')
"""


async def test_deliveries_left_unsent_at_the_end_are_counted_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The outbox of a replay is in memory: a delivery still waiting for its retry when the
    recording ends goes with it, so the replay says how many (issue 10: no silent loss)."""
    script = tmp_path / "t.tick"
    script.write_text(SCRIPT)
    data = tmp_path / "d.srpl"
    data.write_text("db\nrp\ncpu v=1 0\n")
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    with caplog.at_level(logging.WARNING, logger="leyden"):
        await replay(script, [data], config=config, name="t", dbrps=[], until=None)
    left = [r for r in caplog.records if "not sent" in r.getMessage()]
    assert len(left) == 1
    assert left[0].fields["undelivered"] == 1  # type: ignore[attr-defined]


# --- batch recordings (.brpl) -----------------------------------------------------------------

BATCH_SCRIPT = """\
batch
  |query('SELECT mean(v) FROM "db"."rp"."cpu"')
    .period(10s)
    .every(10s)
  |httpOut('out')
"""

S = 1_000_000_000


def test_brpl_batches_are_retimed_per_file_as_kapacitor_replays_them(tmp_path: Path) -> None:
    """The first point lands on 1971-01-01; a batch's time is the later of its recorded tmax
    and its last point; an empty batch keeps the previous batch's time; the clock waits for
    the last point (Kapacitor's replayBatchFromChan)."""
    rec = tmp_path / "r.brpl"
    rec.write_text(
        '{"name":"cpu","tags":{"h":"a"},"points":[\n'
        '  {"fields":{"v":1},"time":"2015-10-18T00:00:10Z"},\n'
        '  {"fields":{"v":2},"tags":{"h":"b"},"time":"2015-10-18T00:00:12Z"}]}\n'
        '{"name":"cpu","points":[]}\n'
        '{"name":"cpu","tmax":"2015-10-18T00:01:00Z","points":'
        '[{"fields":{"v":3},"time":"2015-10-18T00:00:20Z"}]}\n'
    )
    out = list(rebased_batches(read_brpl(rec)))
    zero = REPLAY_ZERO_NS
    assert [(wait, b.tmax) for wait, b in out] == [
        (zero + 2 * S, zero + 2 * S),
        (zero + 2 * S, zero + 2 * S),
        (zero + 10 * S, int(Time.parse_rfc3339("2015-10-18T00:01:00Z"))),
    ]
    first = out[0][1]
    assert [(p.time - zero, p.fields, p.tags) for p in first.points] == [
        (0, {"v": 1.0}, {"h": "a"}),
        (2 * S, {"v": 2.0}, {"h": "b"}),
    ]


def test_a_broken_brpl_names_file_and_line(tmp_path: Path) -> None:
    rec = tmp_path / "r.brpl"
    rec.write_text('{"name":"cpu","points":[]}\n{"name": cpu}\n')
    with pytest.raises(ReplayError, match=r"r\.brpl:2: not a JSON batch"):
        list(read_brpl(rec))


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    return subprocess.run(
        [sys.executable, "-m", "leyden", "replay", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_leyden_replay_runs_a_batch_task_over_a_brpl(tmp_path: Path) -> None:
    script = tmp_path / "t.tick"
    script.write_text(BATCH_SCRIPT)
    rec = tmp_path / "r.brpl"
    rec.write_text(
        '{"name":"cpu","tags":{"h":"a"},"points":[{"fields":{"mean":1},"time":"2015-10-18T00:00:00Z"},'
        '{"fields":{"mean":2},"time":"2015-10-18T00:00:02Z"}]}\n'
        '{"name":"cpu","tags":{"h":"a"},"points":[{"fields":{"mean":5},"time":"2015-10-18T00:00:30Z"}]}\n'
    )
    out = tmp_path / "out.json"
    proc = _cli(str(script), "--data", str(rec), "--until", "10s", "--http-out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == {
        "out": {
            "series": [
                {
                    "name": "cpu",
                    "tags": {"h": "a"},
                    "columns": ["time", "mean"],
                    "values": [["1971-01-01T00:00:00Z", 1], ["1971-01-01T00:00:02Z", 2]],
                }
            ]
        }
    }


def test_replay_refuses_a_stream_recording_for_a_batch_task(tmp_path: Path) -> None:
    script = tmp_path / "t.tick"
    script.write_text(BATCH_SCRIPT)
    rec = tmp_path / "r.brpl"
    rec.write_text('{"name":"cpu","points":[]}\n')
    srpl = tmp_path / "s.srpl"
    srpl.write_text("db\nrp\ncpu v=1 0\n")
    proc = _cli(str(script), "--data", str(rec), "--data", str(srpl))
    assert proc.returncode == 1
    assert "a batch task replays .brpl recordings, not .srpl" in proc.stderr
    proc = _cli(str(script), "--data", str(rec), "--data", str(rec))
    assert proc.returncode == 1
    assert "1 query node(s) and 2 --data recording(s)" in proc.stderr
    assert "Traceback" not in proc.stderr
