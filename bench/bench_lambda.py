"""Compiled lambda vs a hand-written Python predicate on the per-point path.

The hand-written function is the floor: the same lookups and comparisons with none of
TICKscript's type rules. The ratio shows what the rules cost on the common case.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from leyden.tick.lambdas import compile_lambda
from leyden.tick.parser import parse_lambda

EXPRESSION = '"value" > 10 AND "host" == \'a\''


def _hand(time_ns: int, fields: dict[str, Any], tags: dict[str, Any]) -> bool:
    v = fields.get("value")
    return v > 10 and tags.get("host") == "a"


def _points(n: int) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
    hosts = ("a", "b")
    return [
        (i, {"value": float(i % 20) if i % 3 else i % 20}, {"host": hosts[i % 2]}) for i in range(n)
    ]


def _time(
    f: Callable[[int, dict[str, Any], dict[str, Any]], bool], points: list[Any], rounds: int
) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for t, fields, tags in points:
            f(t, fields, tags)
        best = min(best, time.perf_counter() - start)
    return best / len(points)


def run(n: int = 100_000, rounds: int = 5) -> dict[str, float]:
    compiled = compile_lambda(parse_lambda(EXPRESSION), source=EXPRESSION)
    points = _points(n)
    for t, fields, tags in points[:100]:
        assert compiled.eval_point_bool(t, fields, tags) == _hand(t, fields, tags)
    lam = _time(compiled.eval_point_bool, points, rounds)
    hand = _time(_hand, points, rounds)
    return {"lambda_ns_per_point": lam * 1e9, "hand_ns_per_point": hand * 1e9, "ratio": lam / hand}


if __name__ == "__main__":
    r = run()
    print(f"expression: {EXPRESSION}")
    print(f"compiled lambda: {r['lambda_ns_per_point']:.0f} ns/point")
    print(f"hand-written:    {r['hand_ns_per_point']:.0f} ns/point")
    print(f"ratio:           {r['ratio']:.2f}x")
