"""``leyden vet`` and ``leyden fmt``: TICKscripts checked and formatted offline, without
loading the server.

``vet`` reports what a script uses that this server cannot run (Kapacitor has no such check:
it runs every node it parses).  What the server runs is owned by the runtime's registries —
:data:`leyden.engine.node.NODE_CLASSES` (complete once :mod:`leyden.engine.nodes` is
imported) and :data:`leyden.notify.INTEGRATIONS` — but importing them loads the engine, the
alert service and aiohttp, which is most of ``vet``'s time for a one-script check.  So the
kinds are listed here, and ``tests/cli/test_cli_startup.py`` fails the moment they differ from the
registries: a node kind or integration added there must be added here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from leyden.tick import vet

__all__ = ["HANDLER_KINDS", "NODE_KINDS", "fmt_main", "vet_main"]

#: the pipeline node kinds the engine runs: the keys of ``NODE_CLASSES``
NODE_KINDS = frozenset(
    {
        "alert",
        "barrier",
        "batch",
        "bottom",
        "changeDetect",
        "combine",
        "count",
        "cumulativeSum",
        "default",
        "delete",
        "derivative",
        "difference",
        "distinct",
        "elapsed",
        "eval",
        "first",
        "flatten",
        "from",
        "groupBy",
        "holtWinters",
        "holtWintersWithFit",
        "httpOut",
        "httpPost",
        "influxDBOut",
        "join",
        "kapacitorLoopback",
        "last",
        "log",
        "max",
        "mean",
        "median",
        "min",
        "mode",
        "movingAverage",
        "noop",
        "percentile",
        "query",
        "sample",
        "shift",
        "sideload",
        "spread",
        "stateCount",
        "stateDuration",
        "stats",
        "stddev",
        "stream",
        "sum",
        "top",
        "trickle",
        "union",
        "where",
        "window",
    }
)
#: the alert handler kinds a TICKscript may use, in ``INTEGRATIONS.tick_kinds()`` order
HANDLER_KINDS = (
    "post",
    "tcp",
    "log",
    "exec",
    "discord",
    "slack",
    "teams",
    "talk",
    "alerta",
    "serviceNow",
    "zenoss",
    "email",
    "sensu",
    "telegram",
    "pushover",
    "bigPanda",
    "hipChat",
    "pagerDuty",
    "pagerDuty2",
    "victorOps",
    "opsGenie",
    "opsGenie2",
    "mqtt",
    "snmpTrap",
    "kafka",
)


def vet_main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """``leyden vet`` told what this server runs."""
    return vet.vet_main(argv, out, err, node_kinds=NODE_KINDS, handler_kinds=HANDLER_KINDS)


fmt_main = vet.fmt_main
