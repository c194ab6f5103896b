"""``leyden replay`` as a library call: what a replay leaves unsent is said, not lost silently."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from leyden.replay import replay

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
