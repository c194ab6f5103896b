"""``python -m bench.fuzz`` (``make fuzz``): fuzz every parser and the HTTP API, print figures.

Three parts, in this order:

1. **property-based** (hypothesis, :mod:`bench.fuzz.props`): grammar-shaped inputs and
   round-trip properties (formatted line protocol and TICKscript parse back to the same thing);
2. **byte-level** (:mod:`bench.fuzz.run`): ``--inputs`` mutated corpus inputs per parser over
   ``--workers`` processes, with a per-input time limit; and, when atheris is installed,
   a short coverage-guided atheris run per parser (:mod:`bench.fuzz.atheris_run`);
3. **HTTP** (:mod:`bench.fuzz.api`): hostile requests to every route of a live ``leyden serve``.

``--seconds`` bounds the whole run (the CI slice is ``--seconds 60``: every part gets its share
and fewer inputs).  Exit status 1 when a property failed, a parser crashed in a way not listed in
``bench/fuzz/known.txt`` (crash classes found and owned elsewhere, still printed), a 5xx was
answered or the server died; crashing inputs are in ``--findings`` (``build/fuzz-findings``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

from bench.fuzz import api, props, run, targets


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    ap.add_argument("--seconds", type=float, default=1560.0, help="wall-clock budget")
    ap.add_argument("--inputs", type=int, default=1_000_000, help="byte-level inputs per parser")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--limit", type=float, default=2.0, help="seconds one input may take")
    ap.add_argument("--findings", type=Path, default=targets.ROOT / "build" / "fuzz-findings")
    ap.add_argument("--targets", default=",".join(targets.BUILDERS), help="comma-separated")
    ap.add_argument("--skip", default="", help="parts to skip: props,bytes,atheris,api")
    args = ap.parse_args(argv)
    names = [n for n in args.targets.split(",") if n]
    unknown = [n for n in names if n not in targets.BUILDERS]
    if unknown:
        ap.error(f"unknown target {unknown[0]!r}: one of {', '.join(targets.BUILDERS)}")
    skip = set(args.skip.split(","))
    have_atheris = importlib.util.find_spec("atheris") is not None and "atheris" not in skip
    shutil.rmtree(args.findings, ignore_errors=True)
    args.findings.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    # shares of the wall clock: the byte-level campaign gets most of it
    share = {"props": 0.05, "atheris": 0.05 if have_atheris else 0.0, "api": 0.08}
    share["bytes"] = 1.0 - sum(share.values())
    failed = False
    totals: dict[str, int] = dict.fromkeys(names, 0)

    if "props" not in skip:
        print(f"== property-based (hypothesis), {share['props'] * args.seconds:.0f}s", flush=True)
        for name, count, problems in props.run_all(names, share["props"] * args.seconds):
            totals[name] += count
            failed |= bool(problems)
            for p in problems:
                print(f"    FAILED {p}", flush=True)

    if "bytes" not in skip:
        budget = share["bytes"] * args.seconds
        print(f"== byte-level, {args.workers} workers, {budget:.0f}s", flush=True)
        results = run.campaign(
            names,
            args.inputs,
            budget,
            workers=args.workers,
            limit=args.limit,
            findings=args.findings,
        )
        known = run.known_signatures()
        for name, (tally, _) in results.items():
            totals[name] += tally.inputs
            new = [sig for sig in tally.signatures if not run.is_known(sig, known)]
            failed |= bool(new)
            if tally.signatures and not new:
                print(f"{name}: only known crash classes (bench/fuzz/known.txt)", flush=True)

    if have_atheris:
        from bench.fuzz import atheris_run

        budget = share["atheris"] * args.seconds
        print(f"== coverage-guided (atheris), {budget:.0f}s", flush=True)
        for name in names:
            count, crashed = atheris_run.campaign(name, budget / len(names), args.findings)
            totals[name] += count
            failed |= crashed
    elif "atheris" not in skip:
        print("== atheris is not installed: coverage-guided part skipped", flush=True)

    if "api" not in skip:
        budget = max(10.0, share["api"] * args.seconds)
        print(f"== HTTP API against a live server, {budget:.0f}s", flush=True)
        report = api.campaign(budget, args.findings / "api")
        print(report.summary(), flush=True)
        failed |= not report.ok

    print("== inputs per parser (all parts)")
    for name, count in totals.items():
        print(f"{name:<14}{count:>12,}")
    print(f"total {time.monotonic() - started:.0f}s; findings in {args.findings}")
    print("FAILED: new crashes or 5xx above" if failed else "OK: no new crashes, 0 5xx")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
