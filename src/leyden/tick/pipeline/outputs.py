"""Output nodes: what leaves the graph (HTTP, InfluxDB, loopback) or acts on a system (autoscale).

Kapacitor's ``pipeline/http_out.go``, ``http_post.go``, ``influxdb_out.go``,
``kapacitor_loopback.go`` and ``k8s_autoscale.go``/``swarm_autoscale.go``/``ec2_autoscale.go``.
"""

from __future__ import annotations

from leyden.go.types import Duration
from leyden.tick.pipeline._sig import (
    NO_ARGS,
    NodeType,
    extend,
    field,
    flag,
    init_keys,
    method,
    props,
    put_map,
    set_list,
    sig,
)
from leyden.tick.pipeline.chains import NODE_CHAINS, node
from leyden.tick.pipeline.graph import NO_EDGE, PARENT, STREAM, NodeSpec

__all__ = ["TYPES"]


def _v_http_post(n: NodeSpec) -> str | None:
    urls = n.properties.get("urls", [])
    endpoints = n.properties.get("endpoints", [])
    if len(urls) >= 2:
        return f"httpPost expects 0 or 1 arguments, got {len(urls)}"
    if len(endpoints) > 1:
        return f"httpPost expects 0 or 1 endpoints, got {len(endpoints)}"
    if not urls and not endpoints:
        return "must provide url or endpoint"
    if urls and endpoints:
        return "only one endpoint and url may be specified"
    if any(k.upper() == "AUTHENTICATE" for k in n.properties.get("headers", {})):
        return "cannot set 'authenticate' header"
    return None


def _v_loopback(n: NodeSpec) -> str | None:
    if not n.properties.get("database"):
        return "must specify a database"
    if not n.properties.get("retentionPolicy"):
        return "must specify a retention policy"
    return None


TYPES: tuple[NodeType, ...] = (
    node(
        "httpOut",
        "http_out",
        "*pipeline.HTTPOutNode",
        sig("string"),
        init_keys("endpoint"),
        PARENT,
        PARENT,
        {},
    ),
    node(
        "httpPost",
        "http_post",
        "*pipeline.HTTPPostNode",
        sig(variadic="string"),
        set_list("urls"),
        PARENT,
        PARENT,
        props(
            method("endpoint", sig("string"), extend("endpoints")),
            method("header", sig("string", "string"), put_map("headers")),
            field("codeField", "string"),
            flag("captureResponse"),
            field("timeout", "duration"),
        ),
        validate=_v_http_post,
    ),
    node(
        "influxDBOut",
        "influxdb_out",
        "*pipeline.InfluxDBOutNode",
        NO_ARGS,
        None,
        PARENT,
        NO_EDGE,
        props(
            field("cluster", "string"),
            field("database", "string"),
            field("retentionPolicy", "string"),
            field("measurement", "string"),
            field("writeConsistency", "string"),
            field("precision", "string"),
            field("buffer", "int"),
            field("flushInterval", "duration"),
            method("tag", sig("string", "string"), put_map("tags")),
            flag("create"),
        ),
        chains=NODE_CHAINS,
        defaults={"buffer": 1000, "flushInterval": Duration(10_000_000_000)},
    ),
    node(
        "kapacitorLoopback",
        "kapacitor_loopback",
        "*pipeline.KapacitorLoopbackNode",
        NO_ARGS,
        None,
        PARENT,
        NO_EDGE,
        props(
            field("database", "string"),
            field("retentionPolicy", "string"),
            field("measurement", "string"),
            method("tag", sig("string", "string"), put_map("tags")),
        ),
        chains=NODE_CHAINS,
        validate=_v_loopback,
    ),
    node(
        "k8sAutoscale",
        "k8s_autoscale",
        "*pipeline.K8sAutoscaleNode",
        NO_ARGS,
        None,
        PARENT,
        STREAM,
        props(
            *(
                field(n, "string")
                for n in (
                    "cluster",
                    "namespace",
                    "kind",
                    "resourceName",
                    "resourceNameTag",
                    "currentField",
                    "namespaceTag",
                    "kindTag",
                    "resourceTag",
                )
            ),
            field("max", "int"),
            field("min", "int"),
            field("replicas", "lambda"),
            field("increaseCooldown", "duration"),
            field("decreaseCooldown", "duration"),
        ),
    ),
    node(
        "swarmAutoscale",
        "swarm_autoscale",
        "*pipeline.SwarmAutoscaleNode",
        NO_ARGS,
        None,
        PARENT,
        STREAM,
        props(
            *(
                field(n, "string")
                for n in (
                    "cluster",
                    "serviceName",
                    "serviceNameTag",
                    "outputServiceNameTag",
                    "currentField",
                )
            ),
            field("max", "int"),
            field("min", "int"),
            field("replicas", "lambda"),
            field("increaseCooldown", "duration"),
            field("decreaseCooldown", "duration"),
        ),
    ),
    node(
        "ec2Autoscale",
        "ec2_autoscale",
        "*pipeline.Ec2AutoscaleNode",
        NO_ARGS,
        None,
        PARENT,
        STREAM,
        props(
            *(
                field(n, "string")
                for n in (
                    "cluster",
                    "groupName",
                    "groupNameTag",
                    "outputGroupNameTag",
                    "currentField",
                )
            ),
            field("max", "int"),
            field("min", "int"),
            field("replicas", "lambda"),
            field("increaseCooldown", "duration"),
            field("decreaseCooldown", "duration"),
        ),
    ),
)
