"""Kafka: the ``[[kafka]]`` clusters and ``.kafka()`` / ``kind: kafka`` (Kapacitor's services/kafka).

``config`` is the section, ``partition`` Kapacitor's partitioners, ``service`` the producers
and the handler.  :data:`INTEGRATION` is its registry entry.  A cluster a handler names must be
configured when the task or handler is defined (Kapacitor refuses it only when the task
starts), and so must be a topic and a known partition algorithm.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from leyden.go.template import Template, TemplateError
from leyden.notify._registry import Integration, Problem
from leyden.notify.base import HandlerConfigError, HandlerContext, check_keys, option, service_of
from leyden.notify.kafka.config import SECTION, KafkaConfig
from leyden.notify.kafka.partition import ALGORITHMS
from leyden.notify.kafka.service import KafkaHandler, KafkaService

__all__ = ["INTEGRATION", "KafkaConfig", "KafkaHandler", "KafkaService"]

KIND = "kafka"
#: Kapacitor's HandlerConfig mapstructure names
OPTION_KEYS = ("cluster", "topic", "template", "disablePartitionById", "partitionAlgorithm")


def _settings(settings: Mapping[str, Any], tick: bool) -> dict[str, Any]:
    """The handler's settings from TICKscript properties or handler-file options."""
    if tick:
        return {
            "cluster": str(settings.get("cluster") or ""),
            "topic": str(settings.get("kafkaTopic") or ""),
            "template": str(settings.get("template") or ""),
            "algorithm": str(settings.get("partitionHashAlgorithm") or ""),
            "by_id": not settings.get("disablePartitionById", False),
        }
    check_keys(settings, KIND, OPTION_KEYS)
    return {
        "cluster": option(settings, KIND, "cluster", str, ""),
        "topic": option(settings, KIND, "topic", str, ""),
        "template": option(settings, KIND, "template", str, ""),
        "algorithm": option(settings, KIND, "partitionAlgorithm", str, ""),
        "by_id": not option(settings, KIND, "disablePartitionById", bool, False),
    }


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> KafkaHandler:
    """From ``.kafka().cluster('c').kafkaTopic('t').template().partitionHashAlgorithm()
    .disablePartitionById()``."""
    return KafkaHandler(service_of(ctx, KIND, KafkaService, "Kafka"), ctx, **_settings(props, True))


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> KafkaHandler:
    """From a ``kind: kafka`` handler file's options."""
    return KafkaHandler(
        service_of(ctx, KIND, KafkaService, "Kafka"), ctx, **_settings(options, False)
    )


def check(settings: Mapping[str, Any], service: KafkaService, tick: bool) -> Problem | None:
    """At definition: a configured cluster, a topic, a known algorithm, a template that parses."""
    problem = service.check_name(settings, "cluster")
    if problem is not None:
        return problem
    try:
        s = _settings(settings, tick)
    except HandlerConfigError as exc:
        return Problem(str(exc))
    if not s["topic"]:
        return Problem(
            "kafka handler: topic must not be empty"
            + (" (set .kafkaTopic('name'))" if tick else " (set the topic option)")
        )
    if s["algorithm"] not in ("", *ALGORITHMS):
        return Problem(
            f"invalid partition algorithm: {s['algorithm']!r}; one of {', '.join(ALGORITHMS)}",
            "partitionHashAlgorithm" if tick else "",
            s["algorithm"],
        )
    if s["template"]:
        try:
            Template.parse(s["template"], name="kafka alert template")
        except TemplateError as exc:
            return Problem(f"failed to parse template: {exc}", "template" if tick else "", "")
    return None


def _log_start(service: KafkaService, log: logging.Logger) -> None:
    for config in service.configs:
        if config.enabled:
            log.info(
                "kafka cluster configured",
                extra={"fields": {"cluster": config.id, "brokers": ",".join(config.brokers)}},
            )


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=KafkaService.from_config,
    check=check,
    service_test=True,
    log_start=_log_start,
)
