"""Line protocol parse speed: ``python bench/bench_lineprotocol.py``.

Prints lines per second for a body of 200,000 simple lines (the engine's headline shape), a
Telegraf-sized body of 5,000 such lines parsed repeatedly, and a mixed body (strings, escapes,
unsigned, unsorted tags, comments, a bad line) that exercises the exact path. If the C package
``line-protocol-parser`` is installed, its bare per-line speed is shown for comparison (it does
no conversion to points, so it is a floor for that design rather than a like-for-like figure).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from leyden.lineprotocol import parse

SIMPLE = "cpu,host=serverA,region=us value=97.1,count=3i 1000000000"

MIXED_LINES = [
    "cpu,host=serverA,region=us value=97.1,count=3i 1000000000",
    "cpu,region=eu,host=serverB usage_idle=12.5,usage_user=3.25 1000000001",
    'syslog,host=a,appname=sshd message="Accepted key for root from 10.0.0.1 port 22",severity=6i',
    r"disk,path=/var/lib,fs\ type=ext4 free=123456789u,used_percent=41.7 1000000002",
    "# a comment line",
    "net,iface=eth0 up=true,bytes_recv=99887766i,drop=0i 1000000003",
    "cpu value=oops 1000000004",
]


def _rate(fn: Callable[[], int], repeat: int) -> float:
    """Best of ``repeat`` runs, in lines per second; best-of filters out a busy machine."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        lines = fn()
        best = max(best, lines / (time.perf_counter() - start))
    return best


def run(repeat: int = 5) -> dict[str, float]:
    """Lines per second per scenario, for the lead's ``bench`` runner."""
    results: dict[str, float] = {}

    simple_body = ((SIMPLE + "\n") * 200_000).encode()

    def simple() -> int:
        result = parse(simple_body, now_ns=0)
        assert len(result.points) == 200_000
        return 200_000

    results["simple_200k_lines_per_s"] = _rate(simple, repeat)

    batch_body = ((SIMPLE + "\n") * 5_000).encode()

    def batches() -> int:
        for _ in range(40):
            parse(batch_body, now_ns=0)
        return 200_000

    results["simple_5k_batches_lines_per_s"] = _rate(batches, repeat)

    mixed_body = ("\n".join(MIXED_LINES * 5_000) + "\n").encode()
    n_mixed = len(MIXED_LINES) * 5_000

    def mixed() -> int:
        result = parse(mixed_body, now_ns=0)
        assert len(result.errors) == 5_000
        return n_mixed

    results["mixed_35k_lines_per_s"] = _rate(mixed, repeat)

    try:
        from line_protocol_parser import parse_line
    except ImportError:
        pass
    else:
        lines = [SIMPLE] * 200_000

        def c_bare() -> int:
            for line in lines:
                parse_line(line)
            return len(lines)

        results["c_line_protocol_parser_bare_lines_per_s"] = _rate(c_bare, repeat)
    return results


def main() -> None:
    for name, value in run().items():
        print(f"{name:45s} {value:>12,.0f}")


if __name__ == "__main__":
    main()
