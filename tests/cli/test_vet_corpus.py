"""``leyden vet`` on every valid script of the shared corpus warns of no handler it cannot run:
every alert handler Kapacitor ships is an integration here (issue 14)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from leyden import cli

CORPUS = Path(
    os.environ.get(
        "LEYDEN_TICK_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "tick-corpus"
    )
)


def test_no_handler_in_the_corpus_is_one_leyden_cannot_run() -> None:
    scripts = sorted(str(p) for p in (CORPUS / "valid").rglob("*.tick"))
    if not scripts:
        pytest.skip(f"no tick corpus at {CORPUS}")
    out, err = io.StringIO(), io.StringIO()
    cli.main(["vet", *scripts], out, err)
    refused = [line for line in err.getvalue().splitlines() if "warning: handler " in line]
    assert refused == []
    handlers = sum("|alert()" in Path(p).read_text(encoding="utf-8") for p in scripts)
    assert handlers > 50  # the corpus really has alert nodes to check
