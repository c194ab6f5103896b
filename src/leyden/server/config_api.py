"""Kapacitor's ``/kapacitor/v1/config`` API for the integrations' sections (semantics §5.4, §6.4).

Every section an integration owns (:data:`leyden.notify.INTEGRATIONS`; ``[[discord]]`` today),
and ``[[influxdb]]``, is served, generically: the file's sections are the base; overrides made through the API are
stored (``Store``) and laid over that base, at start (unless ``skip-config-overrides``) and
after every update.  The integration's running service gets the whole new list.

Where Leyden differs from Kapacitor, on purpose:

* **Secrets are redacted** in every answer: each section's ``REDACTED_KEYS`` (Discord's ``url``)
  read ``true``/``false`` ("is it set") and are listed in ``redacted``. Kapacitor returns the
  webhook URL, and with it the webhook token.
* **Every rule of the file applies** to an update: strict option types and names, each
  section's rules, and the cross-section rules (one default, global only on the default…) that
  Kapacitor checks only at start. An update that breaks any of them is refused with 400 and
  changes nothing.
* A failed save rolls the running service back, so what runs is always what is stored.

Answers have Kapacitor's shapes: compact JSON with a trailing newline; errors as
``{"error", "message"}``; a successful update is 204.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from leyden import API_BASE, limits
from leyden.config import INFLUXDB_SECTION, Config, ConfigError, Section, SectionSpec
from leyden.go.types import GoStruct
from leyden.model.records import OverrideRecord
from leyden.notify import INTEGRATIONS, IntegrationService
from leyden.notify.base import IntegrationError
from leyden.runtime import Runtime
from leyden.server._http import SERVICES_KEY, error_response, json_response, link
from leyden.store import StateStore, StoreError

__all__ = [
    "CONFIG_OVERRIDES_KEY",
    "ConfigOverrides",
    "OverrideError",
    "install",
]

log = logging.getLogger("leyden.config")

CONFIG_PATH = f"{API_BASE}/config"
_VALID_NAME = re.compile(r"[-\w+]+")
_UPDATE_KEYS = ("set", "delete", "add", "remove")


class OverrideError(Exception):
    """An update or a stored override that cannot be applied; the text is safe to show."""


def _element_href(section: str, element: str) -> str:
    return f"{CONFIG_PATH}/{section}/{element}"


def _element_name(config: Section, key: str) -> str:
    """An element's name; a ``[single]`` section (no element key) has the one named ``""``."""
    return str(getattr(config, key)) if key else ""


def _brackets(spec: SectionSpec) -> str:
    return f"[[{spec.name}]]" if spec.multiple else f"[{spec.name}]"


def _label(section: str, element: str) -> str:
    return f"{section}/{element}"


def apply_overrides(
    spec: SectionSpec, base: list[Section], overrides: list[OverrideRecord]
) -> list[Section]:
    """The section's elements with ``overrides`` laid over ``base``, validated like the file.

    ``base`` is not modified. Raises OverrideError naming the override that does not apply.
    """
    name, key = spec.name, spec.cls._ELEMENT_KEY
    configs = [config.copy() for config in base]
    for override in overrides:
        if override.section != name:
            continue
        label = _label(name, override.element)
        where = f"config override {label}"
        if override.create:
            if any(_element_name(config, key) == override.element for config in configs):
                raise OverrideError(
                    f"cannot add element {label}: an element with {key} "
                    f'"{override.element}" already exists'
                )
            try:
                configs.append(spec.cls.from_options(override.options, where=where))
            except ConfigError as exc:
                raise OverrideError(str(exc)) from None
            continue
        index = next(
            (i for i, c in enumerate(configs) if _element_name(c, key) == override.element), None
        )
        if index is None:
            raise OverrideError(f"unknown section/element: {label}")
        if key in override.options:
            raise OverrideError(
                f"failed to override configuration {label}: cannot override element key {key}"
            )
        merged = {**configs[index].to_options(redact=False), **override.options}
        try:
            configs[index] = spec.cls.from_options(merged, where=where)
        except ConfigError as exc:
            raise OverrideError(str(exc)) from None
    for config in configs:
        problems = config.validate()
        if problems:
            label = _label(name, _element_name(config, key))
            raise OverrideError(
                f"failed to override configuration {label}: failed validation: "
                + "; ".join(problems)
            )
    try:
        spec.cls.check_all(configs, where="config overrides")
    except ConfigError as exc:
        raise OverrideError(str(exc)) from None
    return configs


class SectionOverrides:
    """One section's elements from the file, its stored overrides, and the service they run."""

    def __init__(self, spec: SectionSpec, service: IntegrationService, config: Config) -> None:
        self.spec = spec
        self.name = spec.name
        self.key = spec.cls._ELEMENT_KEY
        self.service = service
        #: the file's sections (after the environment), never modified
        self.base: list[Section] = [c.copy() for c in config.sections(spec)]
        #: what the running service was last given (to roll back to)
        self.running = list(self.base)

    def apply(self, overrides: list[OverrideRecord]) -> list[Section]:
        return apply_overrides(self.spec, self.base, overrides)

    def element_json(self, config: Section) -> GoStruct:
        return GoStruct(
            {
                "link": link(_element_href(self.name, _element_name(config, self.key))),
                "options": config.to_options(redact=True),
                "redacted": sorted(self.spec.cls.REDACTED_KEYS),
            }
        )

    def section_json(self, configs: list[Section]) -> GoStruct:
        return GoStruct(
            {
                "link": link(f"{CONFIG_PATH}/{self.name}"),
                "elements": [self.element_json(c) for c in configs],
            }
        )


class ConfigOverrides:
    """Every integration section the API serves, the stored overrides and the services."""

    def __init__(self, services: Runtime, store: StateStore) -> None:
        self.services = services
        self.store = store
        self.enabled = services.config.config_override_enabled
        self.sections: dict[str, SectionOverrides] = {}
        for integration in INTEGRATIONS:
            service = services.integrations.get(integration.kind)
            if integration.section is not None and service is not None:
                section = SectionOverrides(integration.section, service, services.config)
                self.sections[integration.section.name] = section
        # [[influxdb]] is core, not an integration, but overridden the same way (issue 13)
        self.sections[INFLUXDB_SECTION.name] = SectionOverrides(
            INFLUXDB_SECTION, services.influxdb, services.config
        )

    def current(self, section: SectionOverrides) -> list[Section]:
        """The file's sections with every stored override applied."""
        return section.apply(self.store.list_overrides(section.name))

    def apply_at_start(self) -> None:
        """Give the running services the stored overrides; on failure keep the file's config."""
        if not self.enabled or self.services.config.skip_config_overrides:
            return
        for section in self.sections.values():
            self._apply_at_start(section)

    def _apply_at_start(self, section: SectionOverrides) -> None:
        try:
            overrides = self.store.list_overrides(section.name)
            if not overrides:
                return
            configs = section.apply(overrides)
            section.service.update(configs)
            section.running = configs
        except (OverrideError, IntegrationError, StoreError) as exc:
            log.error(
                "stored config overrides not applied; running with the configuration file's "
                f"{_brackets(section.spec)} sections (fix them through the config API, or set "
                "skip-config-overrides = true)",
                extra={"fields": {"section": section.name, "reason": str(exc)}},
            )
            return
        log.info(
            "config overrides applied",
            extra={"fields": {"section": section.name, "overrides": len(overrides)}},
        )

    # --- updates -----------------------------------------------------------------------

    def plan(
        self, section: SectionOverrides, element: str | None, action: Mapping[str, Any]
    ) -> tuple[list[OverrideRecord], list[OverrideRecord], list[str]]:
        """(overrides after the update, records to save, elements whose override to delete)."""
        name, key = section.name, section.key
        existing = self.store.list_overrides(name)
        if not key and ("add" in action or "remove" in action):
            raise OverrideError(
                f"[{name}] is a single section: elements cannot be added or removed"
            )
        if "remove" in action:
            names = set(action["remove"])
            kept = [o for o in existing if o.element not in names]
            return kept, [], [o.element for o in existing if o.element in names]
        if "add" in action:
            options = dict(action["add"])
            if key not in options:
                raise OverrideError(f'missing key "{key}" in "add" map')
            element_name = options[key]
            if not isinstance(element_name, str):
                raise OverrideError(f'expected "{key}" key to be a string')
            if element_name and not _VALID_NAME.fullmatch(element_name):
                raise OverrideError(f"invalid element name {json.dumps(element_name)}")
            if any(o.element == element_name for o in existing):
                raise OverrideError(
                    "cannot add new override, override already exists for "
                    + _label(name, element_name)
                )
            record = OverrideRecord(name, element_name, options, create=True)
            return [*existing, record], [record], []
        assert element is not None
        if key in action.get("set", {}) or key in action.get("delete", []):
            raise OverrideError(
                f"failed to override configuration {_label(name, element)}: cannot override "
                f"element key {key}"
            )
        previous = next((o for o in existing if o.element == element), None)
        options = dict(previous.options) if previous is not None else {}
        options.update(action.get("set", {}))
        for option in action.get("delete", []):
            options.pop(option, None)
        create = previous is not None and previous.create
        record = OverrideRecord(name, element, options, create=create)
        if not options and not create:
            # nothing left to override: forget the element's override
            kept = [o for o in existing if o.element != element]
            return kept, [], [element] if previous is not None else []
        if previous is None:
            return [*existing, record], [record], []
        return [record if o is previous else o for o in existing], [record], []

    def save(self, section: str, records: list[OverrideRecord], removed: list[str]) -> None:
        self.store.update_overrides(records, [(section, name) for name in removed])


CONFIG_OVERRIDES_KEY = web.AppKey("config_overrides", ConfigOverrides)


def _json_answer(data: Any) -> web.Response:
    """Kapacitor encodes config answers with Go's ``json.Encoder``: compact, newline-ended."""
    return json_response(data, newline=True)


def _disabled() -> web.Response:
    return error_response("config override service is not enabled", 403)


def _answer_error(exc: Exception) -> web.Response:
    return error_response(f"failed to resolve current config: {exc}", 500)


async def get_config(request: web.Request) -> web.Response:
    overrides = request.app[CONFIG_OVERRIDES_KEY]
    if not overrides.enabled:
        return _disabled()
    sections: dict[str, GoStruct] = {}
    for name, section in overrides.sections.items():
        try:
            sections[name] = section.section_json(overrides.current(section))
        except (OverrideError, StoreError) as exc:
            return _answer_error(exc)
    return _json_answer(GoStruct({"link": link(CONFIG_PATH), "sections": sections}))


async def get_no_section(request: web.Request) -> web.Response:
    if not request.app[CONFIG_OVERRIDES_KEY].enabled:
        return _disabled()
    return error_response("section not specified, do you have an extra trailing '/'?", 400)


async def get_section(request: web.Request) -> web.Response:
    overrides = request.app[CONFIG_OVERRIDES_KEY]
    if not overrides.enabled:
        return _disabled()
    name = request.match_info["section"]
    section = overrides.sections.get(name)
    if section is None:
        return error_response(f"unknown section: {name}", 404)
    try:
        configs = overrides.current(section)
    except (OverrideError, StoreError) as exc:
        return _answer_error(exc)
    return _json_answer(section.section_json(configs))


async def get_element(request: web.Request) -> web.Response:
    overrides = request.app[CONFIG_OVERRIDES_KEY]
    if not overrides.enabled:
        return _disabled()
    name, element = request.match_info["section"], request.match_info["element"]
    section = overrides.sections.get(name)
    if section is None:
        return error_response(f"unknown section: {name}", 404)
    try:
        configs = overrides.current(section)
    except (OverrideError, StoreError) as exc:
        return _answer_error(exc)
    for config in configs:
        if _element_name(config, section.key) == element:
            return _json_answer(section.element_json(config))
    return error_response(f"unknown section/element: {name}/{element}", 404)


def _decode_action(raw: bytes) -> dict[str, Any]:
    """The update body, checked strictly: an object with set/delete or add/remove."""
    try:
        body = limits.loads_json(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise OverrideError(f"failed to decode JSON: {exc}") from None
    if not isinstance(body, dict):
        raise OverrideError("failed to decode JSON: the body must be a JSON object")
    unknown = sorted(str(k) for k in body if k not in _UPDATE_KEYS)
    if unknown:
        raise OverrideError(
            f"failed to decode JSON: unknown key(s) {', '.join(unknown)}; "
            f"expected any of {', '.join(_UPDATE_KEYS)}"
        )
    action: dict[str, Any] = {}
    for key in ("set", "add"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise OverrideError(f'failed to decode JSON: "{key}" must be an object')
        if value:
            action[key] = value
    for key in ("delete", "remove"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise OverrideError(f'failed to decode JSON: "{key}" must be a list of strings')
        if value:
            action[key] = value
    return action


def _check_action(
    section: str, element: str | None, action: Mapping[str, Any], known: Mapping[str, Any]
) -> None:
    """Kapacitor's ``updateAction.Validate`` rules, with its texts."""

    def invalid(text: str) -> OverrideError:
        return OverrideError(f"failed to apply update: invalid update action: {text}")

    if not section:
        raise invalid("must provide section name")
    if not _VALID_NAME.fullmatch(section):
        raise invalid(f"invalid section name {json.dumps(section)}")
    if element and not _VALID_NAME.fullmatch(element):
        raise invalid(f"invalid element name {json.dumps(element)}")
    set_delete = "set" in action or "delete" in action
    add_remove = "add" in action or "remove" in action
    if set_delete and add_remove:
        raise invalid("cannot provide both set/delete and add/remove actions in the same update")
    if "add" in action and "remove" in action:
        raise invalid("cannot provide both add and remove actions in the same update")
    if "add" in action and element:
        raise invalid("must not provide an element name when adding an a new override")
    if "remove" in action and element:
        raise invalid("must not provide element when removing an override")
    if not add_remove and element is None:
        raise invalid("element not specified, are you missing a trailing '/'?")
    if section not in known:
        raise OverrideError(f"failed to apply update: unknown section {json.dumps(section)}")


async def update(request: web.Request) -> web.Response:
    """``POST /config/<section>`` (add/remove) and ``POST /config/<section>/<element>`` (set/delete)."""
    overrides = request.app[CONFIG_OVERRIDES_KEY]
    if not overrides.enabled:
        return _disabled()
    section = request.match_info.get("section", "")
    element = request.match_info.get("element")  # None: no trailing slash after the section
    try:
        action = _decode_action(await request.read())
        _check_action(section, element, action, overrides.sections)
        target = overrides.sections[section]
        planned, records, removed = overrides.plan(target, element, action)
        configs = target.apply(planned)
    except OverrideError as exc:
        return error_response(str(exc), 400)
    except StoreError as exc:
        return error_response(f"failed to apply update: {exc}", 500)
    label = _label(section, element or "")
    try:
        target.service.update(configs)
    except IntegrationError as exc:
        return error_response(f"failed to update configuration {label}: {exc}", 400)
    try:
        overrides.save(section, records, removed)
    except StoreError as exc:
        target.service.update(target.running)  # what runs stays what is stored
        return error_response(f"failed to save override {label}: {exc}", 500)
    target.running = configs
    # a broken webhook whose URL just changed is tried again now, not at the next rescan
    request.app[SERVICES_KEY].alerts.dispatcher.rescan()
    changed = sorted({*action.get("set", {}), *action.get("delete", []), *action.get("add", {})})
    log.info(
        "config updated",
        extra={
            "fields": {
                "section": section,
                "element": element if element is not None else "",
                "action": ",".join(k for k in _UPDATE_KEYS if k in action) or "none",
                "options": ",".join(changed),  # option names only: values may be secrets
                "removed": ",".join(action.get("remove", [])),
            }
        },
    )
    return web.Response(status=204)


def install(app: web.Application) -> None:
    """Add the config routes to ``app`` and apply the stored overrides to the running service.

    Overrides live in the runtime's store (an in-memory one lasts for the life of the process).
    """
    services = app[SERVICES_KEY]
    overrides = ConfigOverrides(services, services.store)
    overrides.apply_at_start()
    app[CONFIG_OVERRIDES_KEY] = overrides
    r = app.router
    r.add_get(CONFIG_PATH, get_config)
    r.add_get(f"{CONFIG_PATH}/", get_no_section)
    r.add_get(f"{CONFIG_PATH}/{{section}}", get_section)
    r.add_get(f"{CONFIG_PATH}/{{section}}/{{element:.*}}", get_element)
    r.add_post(f"{CONFIG_PATH}/", update)
    r.add_post(f"{CONFIG_PATH}/{{section}}", update)
    r.add_post(f"{CONFIG_PATH}/{{section}}/{{element:.*}}", update)
