"""Points of one series share a single tags dict (``lineprotocol``): no node may modify it.

The parser's debug mode makes shared tags dicts refuse changes; every node family that
derives new tags runs here on parsed points, so an in-place change would fail the task.
"""

from __future__ import annotations

import pytest
from engine_support import context

from leyden import lineprotocol
from leyden.alerting.service import AlertService
from leyden.clock import SimulatedClock
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import MemoryOutbox
from leyden.engine.router import Router
from leyden.engine.task import Task
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
SRC = "stream|from().measurement('m')"
WIN = "|window().period(2s).every(2s)"
SCRIPTS = {
    "eval tags": f"{SRC}|eval(lambda: string(\"v\")).as('t').tags('t')",
    "eval keep": f"{SRC}|eval(lambda: \"v\" * 2.0).as('w').keep()",
    "default tag": f"{SRC}|default().tag('h', 'x').tag('new', 'y').field('f', 1)",
    "delete tag": f"{SRC}.groupBy('h')|delete().tag('h').field('v')",
    "alert tags": f"{SRC}.groupBy('h')|alert().crit(lambda: TRUE).levelTag('l').idTag('i')",
    "alert batch tags": (
        f"{SRC}.groupBy('h'){WIN}|alert().crit(lambda: TRUE).levelTag('l').idTag('i')"
    ),
    "groupBy star": f"{SRC}|groupBy(*)|window().period(2s).every(2s)|count('v')",
    "batch eval tags": f"{SRC}{WIN}|eval(lambda: string(\"v\")).as('t').tags('t')",
    "batch default": f"{SRC}{WIN}|default().tag('new', 'y')",
    "batch delete": f"{SRC}.groupBy('h'){WIN}|delete().tag('h')",
    "top": f"{SRC}{WIN}|top(2, 'v', 'h')",
    "max": f"{SRC}.groupBy('h'){WIN}|max('v')",
    "combine": f"{SRC}|combine(lambda: TRUE, lambda: TRUE).as('a', 'b')",
    "flatten": (
        f"{SRC}.groupBy('k')|where(lambda: isPresent(\"h\"))|flatten().on('h', 'k').tolerance(1s)"
    ),
    "join": (
        f"var a = {SRC}.groupBy('k')\nvar b = {SRC}.groupBy('k')\n"
        "a|join(b).as('a', 'b').tolerance(1s)"
    ),
    "state": f'{SRC}|stateDuration(lambda: "v" > 1.0)|stateCount(lambda: "v" > 1.0)',
    "shift+sample": f"{SRC}|shift(1s)|sample(2)|derivative('v')",
}


@pytest.fixture(autouse=True)
def frozen_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lineprotocol, "FREEZE_SHARED_TAGS", True)
    monkeypatch.setattr(lineprotocol, "_KEY_CACHE", {})


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_nodes_leave_shared_tags_alone(script: str) -> None:
    router = Router()
    ctx = context(
        "t",
        SimulatedClock(0),
        alerts=AlertService(services={}, dispatcher=Dispatcher(MemoryOutbox())),
    )
    task = Task("t", build_pipeline(script), ctx, [("db", "rp")])
    task.start(router)
    body = "".join(
        f"m,h=h{i % 2},k=k v={i}.5 {i}\n" if i % 3 else f"m,k=k v={i}.5 {i}\n" for i in range(1, 20)
    )
    parsed = lineprotocol.parse(body, precision="s", now_ns=0)
    assert all(type(p.tags) is lineprotocol._FrozenTags for p in parsed.points)
    router.write_points("db", "rp", parsed.points)
    assert task.failures == 0
    assert [n.name for n in task.nodes.values() if n.stats.errors] == []
    assert parsed.points[0].tags == {"k": "k", "h": "h1"}
    task.stop(router)
