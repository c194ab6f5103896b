"""The alert node and ``|deadman()``, which builds one.

Kapacitor's ``pipeline/alert.go`` (its properties; the handlers it takes are
:mod:`leyden.tick.pipeline.handlers`) and ``deadman.go``. The default templates are Kapacitor's.
"""

from __future__ import annotations

from typing import Any

from leyden.tick.pipeline._sig import NO_ARGS, NodeType, field, flag, method, props, sig
from leyden.tick.pipeline.chains import node
from leyden.tick.pipeline.graph import PARENT, NodeSpec

__all__ = [
    "DEFAULT_DETAILS_TEMPLATE",
    "DEFAULT_ID_TEMPLATE",
    "DEFAULT_MESSAGE_TEMPLATE",
    "TYPES",
]

DEFAULT_ID_TEMPLATE = "{{ .Name }}:{{ .Group }}"
DEFAULT_MESSAGE_TEMPLATE = "{{ .ID }} is {{ .Level }}"
DEFAULT_DETAILS_TEMPLATE = "{{ json . }}"


def _state_changes_only(p: dict[str, Any], args: list[Any]) -> None:
    p["stateChangesOnly"] = True
    if len(args) == 1:
        p["stateChangesOnlyDuration"] = args[0]


def _flapping(p: dict[str, Any], args: list[Any]) -> None:
    p["flapping"] = True
    p["flapLow"], p["flapHigh"] = args


def _inhibit(p: dict[str, Any], args: list[Any]) -> None:
    p.setdefault("inhibitors", []).append({"category": args[0], "equalTags": list(args[1:])})


_PROPERTIES = props(
    field("category", "string"),
    field("topic", "string"),
    field("id", "string"),
    field("message", "string"),
    field("details", "string"),
    field("info", "lambda"),
    field("warn", "lambda"),
    field("crit", "lambda"),
    field("infoReset", "lambda"),
    field("warnReset", "lambda"),
    field("critReset", "lambda"),
    method("flapping", sig("float", "float"), _flapping),
    field("history", "int"),
    field("levelTag", "string"),
    field("levelField", "string"),
    field("messageField", "string"),
    field("durationField", "string"),
    field("idTag", "string"),
    field("idField", "string"),
    flag("all"),
    flag("noRecoveries"),
    method("stateChangesOnly", sig(variadic="duration", max_args=1), _state_changes_only),
    method("inhibit", sig("string", variadic="string"), _inhibit),
)


def _v_alert(n: NodeSpec) -> str | None:
    p = n.properties
    if p.get("flapping") and (p["flapLow"] > 1 or p["flapHigh"] > 1):
        return "alert flap thresholds are percentages and should be between 0 and 1"
    for h in n.handlers:
        if h.kind == "post" and any(
            k.upper() == "AUTHENTICATE" for k in h.properties.get("headers", {})
        ):
            return "invalid post: cannot set 'authenticate' header"
        if h.kind == "snmpTrap":
            oid = h.properties.get("trapOid", "")
            if not oid:
                return f'invalid SNMP trap "{oid}": you must supply a trap Oid'
            for d in h.properties.get("data", []):
                if d["type"] not in ("c", "i", "n", "s", "t"):
                    return (
                        f'invalid SNMP trap "{oid}": unsupported data type "{d["type"]}" '
                        f'for data entry "{d["oid"]}"'
                    )
    return None


TYPES: tuple[NodeType, ...] = (
    node(
        "alert",
        "alert",
        "*pipeline.AlertNode",
        NO_ARGS,
        None,
        PARENT,
        PARENT,
        _PROPERTIES,
        defaults={
            "id": DEFAULT_ID_TEMPLATE,
            "message": DEFAULT_MESSAGE_TEMPLATE,
            "details": DEFAULT_DETAILS_TEMPLATE,
            "history": 21,
        },
        validate=_v_alert,
    ),
    # ``|deadman()`` is sugar for stats|derivative|alert; this entry only types its arguments.
    node(
        "deadman",
        "alert",
        "*pipeline.AlertNode",
        sig("float", "duration", variadic="lambda"),
        None,
        PARENT,
        PARENT,
        {},
    ),
)
