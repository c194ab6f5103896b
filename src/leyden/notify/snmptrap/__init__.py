"""SNMP traps: ``[snmptrap]`` and ``.snmpTrap('oid').data(oid, type, value)`` / ``kind: snmptrap``
(Kapacitor's services/snmptrap).  ``config`` is the section, ``service`` the trap encoding, the
socket and the handler; :data:`INTEGRATION` is its registry entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from leyden.go.template import Template, TemplateError
from leyden.notify._registry import Integration, Problem
from leyden.notify.base import HandlerConfigError, HandlerContext, check_keys, service_of
from leyden.notify.snmptrap.config import SECTION, SNMPTrapConfig
from leyden.notify.snmptrap.service import (
    SNMPData,
    SNMPTrapHandler,
    SNMPTrapService,
    data_problem,
    oid_problem,
    parse_data,
)

__all__ = ["INTEGRATION", "SNMPTrapConfig", "SNMPTrapHandler", "SNMPTrapService"]

KIND = "snmptrap"
OPTION_KEYS = ("trap-oid", "data-list")


def _tick_data(props: Mapping[str, Any]) -> tuple[str, list[SNMPData]]:
    data = [SNMPData(str(d["oid"]), str(d["type"]), str(d["value"])) for d in props.get("data", [])]
    return str(props.get("trapOid") or ""), data


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> SNMPTrapHandler:
    """From ``.snmpTrap('1.1.1').data('1.1.1.2', 's', '{{.Message}}')``."""
    trap_oid, data = _tick_data(props)
    return SNMPTrapHandler(service_of(ctx, KIND, SNMPTrapService, "SNMP trap"), trap_oid, data)


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> SNMPTrapHandler:
    """From a ``kind: snmptrap`` handler file's ``trap-oid`` and ``data-list``."""
    check_keys(options, KIND, OPTION_KEYS)
    trap_oid, data = parse_data(
        options.get("trap-oid", ""), options.get("data-list"), "snmptrap handler"
    )
    return SNMPTrapHandler(service_of(ctx, KIND, SNMPTrapService, "SNMP trap"), trap_oid, data)


def check(settings: Mapping[str, Any], service: SNMPTrapService, tick: bool) -> Problem | None:
    """At definition: a trap OID, types Kapacitor can send, OIDs, templates that parse."""
    try:
        if tick:
            trap_oid, data = _tick_data(settings)
        else:
            trap_oid, data = parse_data(
                settings.get("trap-oid", ""), settings.get("data-list"), "snmptrap handler"
            )
    except HandlerConfigError as exc:
        return Problem(str(exc))
    where = f"invalid SNMP trap {trap_oid!r}: "
    if not trap_oid:
        return Problem(where + "you must supply a trap Oid", "snmpTrap" if tick else "", "")
    problem = oid_problem(trap_oid, "trap")
    if problem:
        return Problem(where + problem, "snmpTrap" if tick else "", trap_oid)
    for d in data:
        problem = data_problem(d)
        if problem:
            return Problem(where + problem, "data" if tick else "", d.oid)
        try:
            Template.parse(d.value, name="data")
        except TemplateError as exc:
            return Problem(f"{where}invalid data template: {exc}", "data" if tick else "", d.oid)
    return None


def _log_start(service: SNMPTrapService, log: logging.Logger) -> None:
    config = service.default()
    if config is not None and config.enabled:
        log.info("snmptrap configured", extra={"fields": {"addr": config.addr}})


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=SNMPTrapService.from_config,
    check=check,
    service_test=True,
    log_start=_log_start,
    tick_name="snmpTrap",
)
