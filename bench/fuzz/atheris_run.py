"""Coverage-guided fuzzing with atheris (libFuzzer for Python), one parser per subprocess.

libFuzzer owns the process it runs in and exits when done, so each target runs as
``python -m bench.fuzz.atheris_run <target> <seconds> <findings>`` with the seeds as its
starting corpus, Leyden's modules instrumented, and only the target's documented errors
caught; an uncaught exception is a crash that libFuzzer writes under ``<findings>/<target>``.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def campaign(name: str, seconds: float, findings: Path) -> tuple[int, bool]:
    """Run atheris on ``name`` for ``seconds``; (inputs executed, crashed)."""
    out = findings / name
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "bench.fuzz.atheris_run", name, str(seconds), str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    runs = [int(n) for n in re.findall(r"Done (\d+) runs", proc.stderr)]
    execs = [int(n) for n in re.findall(r"#(\d+)\s", proc.stderr)]
    count = runs[-1] if runs else max(execs, default=0)
    crashed = proc.returncode != 0
    print(
        f"{name:<14}{count:>10,} inputs {seconds:>8.1f}s "
        f"{'CRASH (see ' + str(out) + ')' if crashed else '0 crashes'}",
        flush=True,
    )
    if crashed:
        print("\n".join(proc.stderr.strip().splitlines()[-15:]), flush=True)
    return count, crashed


def main(argv: list[str]) -> None:
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    name, seconds, out = argv[0], float(argv[1]), argv[2]
    with atheris.instrument_imports(include=["leyden"]):
        from bench.fuzz import targets

        target = targets.load(name)
    allowed = target.allowed

    def one(data: bytes) -> None:
        with contextlib.suppress(*allowed):
            target.run(data)

    corpus = tempfile.mkdtemp(prefix=f"leyden-atheris-{name}-")
    for i, seed in enumerate(target.seeds[:500]):
        Path(corpus, f"seed{i}").write_bytes(seed)
    sys.setrecursionlimit(1000)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={max(1, int(seconds))}",
            f"-artifact_prefix={out}/",
            "-timeout=5",
            "-rss_limit_mb=1536",
            "-max_len=16384",
            corpus,
        ],
        one,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
