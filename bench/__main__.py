"""Run every benchmark module in this folder and print one table.

Each ``bench/bench_*.py`` exposes ``run() -> dict[str, object]`` returning named figures; this
runner imports them in name order and prints ``module  figure  value``.  Speed targets live
here, never in unit tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    failed = 0
    print(f"{'benchmark':<24}{'figure':<44}value")
    for name in names:
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            figures = module.run()
        except Exception as exc:  # a broken benchmark must not hide the others
            failed += 1
            print(f"{name:<24}{'ERROR':<44}{type(exc).__name__}: {exc}")
            continue
        for key, value in figures.items():
            shown = (
                f"{value:,.3f}"
                if isinstance(value, float)
                else f"{value:,}"
                if isinstance(value, int)
                else str(value)
            )
            print(f"{name:<24}{key:<44}{shown}")
        print(f"{name:<24}{'(seconds to run)':<44}{time.perf_counter() - start:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
