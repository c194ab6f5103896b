"""MQTT: the ``[[mqtt]]`` brokers and ``.mqtt('topic')`` / ``kind: mqtt`` (Kapacitor's services/mqtt).

``config`` is the section, ``service`` the brokers' connections and the handler.
:data:`INTEGRATION` is its registry entry.  A broker a handler names must be configured when
the task or handler is defined (Kapacitor accepts it and fails on every alert).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from leyden.go.template import Template, TemplateError
from leyden.notify._registry import Integration, Problem
from leyden.notify.base import HandlerConfigError, HandlerContext, check_keys, option, service_of
from leyden.notify.mqtt.config import SECTION, MQTTConfig
from leyden.notify.mqtt.service import MQTTHandler, MQTTService, parse_qos, topic_problem

__all__ = ["INTEGRATION", "MQTTConfig", "MQTTHandler", "MQTTService"]

KIND = "mqtt"
#: Kapacitor's HandlerConfig mapstructure names (topic-template is its own internal field)
OPTION_KEYS = ("broker-name", "topic", "qos", "retained")


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> MQTTHandler:
    """From ``.mqtt('topic').brokerName('b').qos(1).retained()``."""
    return MQTTHandler(
        service_of(ctx, KIND, MQTTService, "MQTT"),
        broker=str(props.get("brokerName") or ""),
        topic=str(props.get("topic") or ""),
        qos=parse_qos(props.get("qos", 0), ".mqtt()"),
        retained=bool(props.get("retained", False)),
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> MQTTHandler:
    """From a ``kind: mqtt`` handler file's options."""
    check_keys(options, KIND, OPTION_KEYS)
    qos = options.get("qos")
    return MQTTHandler(
        service_of(ctx, KIND, MQTTService, "MQTT"),
        broker=option(options, KIND, "broker-name", str, ""),
        topic=option(options, KIND, "topic", str, ""),
        qos=0 if qos is None else parse_qos(qos, "mqtt handler option"),
        retained=option(options, KIND, "retained", bool, False),
    )


def check(settings: Mapping[str, Any], service: MQTTService, tick: bool) -> Problem | None:
    """At definition: a configured broker, a valid QoS, a topic that can be published to."""
    key = "brokerName" if tick else "broker-name"
    problem = service.check_name(settings, key)
    if problem is not None:
        return problem
    try:
        if tick:
            parse_qos(settings.get("qos", 0), ".mqtt()")
        elif settings.get("qos") is not None:
            parse_qos(settings.get("qos"), "mqtt handler option")
    except HandlerConfigError as exc:
        return Problem(str(exc))
    topic = settings.get("topic")
    if isinstance(topic, str):
        if "{{" in topic:
            try:
                Template.parse(topic, name="topic")
            except TemplateError as exc:
                return Problem(f"mqtt handler: invalid topic template: {exc}", "mqtt", topic)
        elif topic_problem(topic):
            return Problem(topic_problem(topic), "mqtt" if tick else "", topic)
    return None


def _log_start(service: MQTTService, log: logging.Logger) -> None:
    for config in service.configs:
        if config.enabled:
            log.info("mqtt broker configured", extra={"fields": {"broker": config.name}})


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=MQTTService.from_config,
    check=check,
    service_test=True,
    log_start=_log_start,
)
