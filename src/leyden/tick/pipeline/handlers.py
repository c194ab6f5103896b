"""The alert handlers a TICKscript can name (``.discord()``, ``.post(url)`` …) and their options.

Kapacitor's ``pipeline/alert.go`` handler types (``AlertHTTPPostHandler``, ``DiscordHandler`` …):
every handler Kapacitor's language has is here, whether or not this server can run it; which ones
it can is the alert service's registry, asked through
:meth:`leyden.tick.pipeline.Pipeline.unsupported`. Leyden adds the spellings Kapacitor's
documentation promises (``.avatarUrl()``, ``.timestamp()`` on ``.discord()``); see
``reference/compatibility.md``; and the properties of its own Discord features
(``.threadId()``, ``.mentionRoles()`` …).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.tick.pipeline._sig import (
    NO_ARGS,
    HandlerType,
    Init,
    PropertySpec,
    Sig,
    capitalize_first,
    extend,
    field,
    flag,
    init_keys,
    method,
    props,
    put_map,
    set_,
    set_list,
    sig,
    strings,
)

__all__ = ["HANDLER_TYPES"]


def _h(
    kind: str,
    go_type: str,
    args: Sig,
    init: Init | None,
    *specs: PropertySpec,
    defaults: Mapping[str, Any] | None = None,
) -> HandlerType:
    return HandlerType(kind, go_type, args, init, props(*specs), dict(defaults or {}))


def _init_post(p: dict[str, Any], args: list[Any]) -> None:
    if args:
        p["url"] = args[0]


def _pd2_link(p: dict[str, Any], args: list[Any]) -> None:
    p.setdefault("links", []).append({"href": args[0], "text": args[1] if len(args) > 1 else ""})


def _snmp_data(p: dict[str, Any], args: list[Any]) -> None:
    p.setdefault("data", []).append({"oid": args[0], "type": args[1], "value": args[2]})


_HANDLERS: tuple[HandlerType, ...] = (
    _h(
        "post",
        "*pipeline.AlertHTTPPostHandler",
        sig(variadic="string"),
        _init_post,
        field("uRL", "string", "url"),
        field("endpoint", "string"),
        method("header", sig("string", "string"), put_map("headers")),
        flag("captureResponse"),
        field("timeout", "duration"),
        flag("skipSSLVerification"),
    ),
    _h(
        "tcp",
        "*pipeline.TcpHandler",
        sig("string"),
        init_keys("address"),
        field("address", "string"),
    ),
    _h(
        "log",
        "*pipeline.LogHandler",
        sig("string"),
        init_keys("path"),
        field("filePath", "string", "path"),
        field("mode", "int"),
    ),
    _h(
        "exec",
        "*pipeline.ExecHandler",
        sig("string", variadic="string"),
        set_list("command"),
        method("command", sig(variadic="string"), set_list("command")),
    ),
    _h(
        "discord",
        "*pipeline.DiscordHandler",
        NO_ARGS,
        None,
        *strings("workspace", "username", "avatarURL", "embedTitle"),
        # Leyden: the documented spelling and the documented timestamp option (compatibility.md).
        field("avatarUrl", "string", "avatarURL"),
        field("timestamp", "bool"),
        # Leyden's own Discord features (README "Discord"): each is also a [[discord]] key and
        # a handler option; their values are checked when the task is defined.
        field("editInPlace", "bool"),
        field("threadId", "string"),
        field("forumThread", "bool"),
        method("mentionRoles", sig("string", variadic="string"), extend("mentionRoles")),
        method("mentionUsers", sig("string", variadic="string"), extend("mentionUsers")),
        field("mentionLevel", "string"),
        field("silentBelow", "string"),
        field("tagsAsFields", "bool"),
        field("link", "string"),
    ),
    _h(
        "email",
        "*pipeline.EmailHandler",
        sig(variadic="string"),
        set_list("to"),
        method("to", sig(variadic="string"), extend("to")),
        method("toTemplates", sig(variadic="string"), extend("toTemplates")),
    ),
    _h("victorOps", "*pipeline.VictorOpsHandler", NO_ARGS, None, *strings("routingKey")),
    _h("pagerDuty", "*pipeline.PagerDutyHandler", NO_ARGS, None, *strings("serviceKey")),
    _h(
        "pagerDuty2",
        "*pipeline.PagerDuty2Handler",
        NO_ARGS,
        None,
        field("routingKey", "string"),
        method("serviceKey", sig("string"), set_("routingKey")),
        method("link", sig("string", variadic="string", max_args=2), _pd2_link),
    ),
    _h(
        "pushover",
        "*pipeline.PushoverHandler",
        NO_ARGS,
        None,
        *strings("userKey", "device", "title", "uRL", "uRLTitle", "sound"),
    ),
    _h(
        "sensu",
        "*pipeline.SensuHandler",
        NO_ARGS,
        None,
        field("source", "string"),
        method("handlers", sig(variadic="string"), set_list("handlers")),
        method("metadata", sig("string", "any"), put_map("metadata")),
    ),
    _h(
        "slack",
        "*pipeline.SlackHandler",
        NO_ARGS,
        None,
        *strings("workspace", "channel", "username", "iconEmoji"),
    ),
    _h(
        "bigPanda",
        "*pipeline.BigPandaHandler",
        NO_ARGS,
        None,
        *strings("appKey", "host", "primaryProperty", "secondaryProperty"),
        method("attribute", sig("string", "any"), put_map("attributes")),
    ),
    _h(
        "telegram",
        "*pipeline.TelegramHandler",
        NO_ARGS,
        None,
        *strings("chatId", "parseMode"),
        flag("disableWebPagePreview"),
        flag("disableNotification"),
    ),
    _h("hipChat", "*pipeline.HipChatHandler", NO_ARGS, None, *strings("room", "token")),
    _h(
        "alerta",
        "*pipeline.AlertaHandler",
        NO_ARGS,
        None,
        *strings("token", "resource", "event", "environment", "group", "value", "origin"),
        method("services", sig(variadic="string"), set_list("services")),
        method("correlated", sig(variadic="string"), set_list("correlated")),
        method("attribute", sig("string", "any"), put_map("attributes")),
        field("timeout", "duration"),
    ),
    _h(
        "opsGenie",
        "*pipeline.OpsGenieHandler",
        NO_ARGS,
        None,
        method("teams", sig(variadic="string"), set_list("teams")),
        method("recipients", sig(variadic="string"), set_list("recipients")),
    ),
    _h(
        "opsGenie2",
        "*pipeline.OpsGenie2Handler",
        NO_ARGS,
        None,
        method("teams", sig(variadic="string"), set_list("teams")),
        method("recipients", sig(variadic="string"), set_list("recipients")),
        method("recoveryAction", sig("string"), set_("recoveryAction")),
        flag("details"),
    ),
    _h("talk", "*pipeline.TalkHandler", NO_ARGS, None),
    _h(
        "mqtt",
        "*pipeline.MQTTHandler",
        sig("string"),
        init_keys("topic"),
        *strings("brokerName", "topic"),
        field("qos", "int"),
        field("retained", "bool"),
    ),
    _h(
        "snmpTrap",
        "*pipeline.SNMPTrapHandler",
        sig("string"),
        init_keys("trapOid"),
        field("trapOid", "string"),
        method("data", sig("string", "string", "string"), _snmp_data),
    ),
    _h(
        "kafka",
        "*pipeline.KafkaHandler",
        NO_ARGS,
        None,
        *strings("cluster", "kafkaTopic", "partitionHashAlgorithm", "template"),
        flag("disablePartitionById"),
    ),
    _h("teams", "*pipeline.TeamsHandler", NO_ARGS, None, *strings("channelURL")),
    _h(
        "serviceNow",
        "*pipeline.ServiceNowHandler",
        NO_ARGS,
        None,
        *strings(
            "uRL",
            "username",
            "password",
            "source",
            "node",
            "type",
            "resource",
            "metricName",
            "messageKey",
        ),
        method("additionalInfo", sig("string", "any"), put_map("additionalInfo")),
    ),
    _h(
        "zenoss",
        "*pipeline.ZenossHandler",
        NO_ARGS,
        None,
        *strings(
            "uRL",
            "username",
            "password",
            "action",
            "method",
            "type",
            "collector",
            "summary",
            "device",
            "component",
            "eventClassKey",
            "eventClass",
            "message",
        ),
        field("tid", "int"),
        method("customField", sig("string", "any"), put_map("customFields")),
        defaults={"summary": "{{ .Message }}"},
    ),
)

HANDLER_TYPES: dict[str, HandlerType] = {capitalize_first(h.kind): h for h in _HANDLERS}
"""Every handler type, by Kapacitor's lookup key (``Discord``)."""
