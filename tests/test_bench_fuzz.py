"""The fuzz harness (``bench/fuzz``, ``make fuzz``) run tiny, so it cannot rot unnoticed: every
target loads its seeds and takes a few hundred mutated inputs, a crash is counted, signed and
saved, a hang is cut by the per-input limit, and the properties run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from bench.fuzz import props, run, targets


@pytest.mark.parametrize("name", sorted(targets.BUILDERS))
def test_each_target_loads_seeds_and_runs(name: str, tmp_path: Path) -> None:
    target = targets.load(name)
    assert len(target.seeds) >= 3, "the corpus seeds were not found"
    tally = run.run_chunk(name, 7, 200, time.time() + 120, 5.0, str(tmp_path))
    assert tally.inputs == 200


def _crashing() -> targets.Target:
    def parse(data: bytes) -> object:
        if data.startswith(b"b"):
            raise KeyError("undocumented")
        if data.startswith(b"h"):
            while True:
                pass
        raise ValueError("documented")

    return targets.Target("toy", parse, (ValueError,), [b"bad", b"hang", b"fine"], [b"x"])


def test_crashes_and_hangs_are_signed_and_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(targets.BUILDERS, "toy", _crashing)
    tally = run.run_chunk("toy", 1, 40, time.time() + 120, 0.05, str(tmp_path))
    assert tally.inputs == 40
    kinds = {sig.split(" at ")[0] for sig in tally.signatures}
    assert kinds <= {"KeyError", "Hang"} and "KeyError" in kinds
    assert tally.crashes == sum(n for n, _ in tally.signatures.values()) > 0
    saved = sorted((tmp_path / "toy").glob("*.bin"))
    assert saved and all(
        (p.with_suffix(".txt")).read_text().split(" at ")[0] in kinds for p in saved
    )


def test_properties_run_and_pass() -> None:
    results = list(props.run_all(["lineprotocol", "influxql"], 4.0))
    assert [name for name, _, _ in results] == ["lineprotocol", "influxql"]
    for name, count, problems in results:
        assert count > 0, name
        assert problems == [], problems


def test_known_crash_classes_match_without_line_numbers(tmp_path: Path) -> None:
    known_file = tmp_path / "known.txt"
    known_file.write_text("# comment\nValueError at leyden/tick/parser.py  # why\n\n")
    known = run.known_signatures(known_file)
    assert known == {"ValueError at leyden/tick/parser.py"}
    assert run.is_known("ValueError at leyden/tick/parser.py:516", known)
    assert not run.is_known("ValueError at leyden/tick/lexer.py:516", known)
    assert not run.is_known("KeyError at leyden/tick/parser.py:516", known)
    assert run.known_signatures(tmp_path / "missing.txt") == set()
