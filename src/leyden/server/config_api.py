"""Kapacitor's ``/kapacitor/v1/config`` API for the ``[[discord]]`` section (semantics §5.4, §6.4).

The file's sections are the base; overrides made through the API are stored (``Store``) and
laid over that base, at start (unless ``skip-config-overrides``) and after every update. The
running :class:`~leyden.discord.service.DiscordService` gets the whole new list.

Where Leyden differs from Kapacitor, on purpose:

* **Webhook URLs are redacted** in every answer: ``url`` reads ``true``/``false`` ("is it set")
  and ``redacted`` is ``["url"]``. Kapacitor returns the URL, and with it the webhook token.
* **Every rule of the file applies** to an update: strict option types and names, each
  section's rules, and the cross-section rules (one default, global only on the default…) that
  Kapacitor checks only at start. An update that breaks any of them is refused with 400 and
  changes nothing.
* A failed save rolls the running service back, so what runs is always what is stored.

Answers have Kapacitor's shapes: compact JSON with a trailing newline; errors as
``{"error", "message"}``; a successful update is 204.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from leyden import API_BASE
from leyden.config import ConfigError, DiscordConfig, validate_discord_configs
from leyden.discord.service import DiscordError
from leyden.go.types import GoStruct
from leyden.model.records import OverrideRecord
from leyden.server._http import SERVICES_KEY, error_response, json_response, link
from leyden.server.services import Services
from leyden.store import Store, StoreError

__all__ = [
    "CONFIG_OVERRIDES_KEY",
    "ConfigOverrides",
    "OverrideError",
    "install",
]

log = logging.getLogger("leyden.config")

SECTION = "discord"
ELEMENT_KEY = "workspace"
CONFIG_PATH = f"{API_BASE}/config"
_VALID_NAME = re.compile(r"[-\w+]+")
_UPDATE_KEYS = ("set", "delete", "add", "remove")


class OverrideError(Exception):
    """An update or a stored override that cannot be applied; the text is safe to show."""


def _element_href(element: str) -> str:
    return f"{CONFIG_PATH}/{SECTION}/{element}"


def _label(element: str) -> str:
    return f"{SECTION}/{element}"


def apply_overrides(
    base: list[DiscordConfig], overrides: list[OverrideRecord]
) -> list[DiscordConfig]:
    """The ``[[discord]]`` list with ``overrides`` laid over ``base``, validated like the file.

    ``base`` is not modified. Raises OverrideError naming the override that does not apply.
    """
    configs = [dataclasses.replace(config) for config in base]
    for override in overrides:
        if override.section != SECTION:
            continue
        label = _label(override.element)
        where = f"config override {label}"
        if override.create:
            if any(config.workspace == override.element for config in configs):
                raise OverrideError(
                    f"cannot add element {label}: an element with workspace "
                    f'"{override.element}" already exists'
                )
            try:
                configs.append(DiscordConfig.from_options(override.options, where=where))
            except ConfigError as exc:
                raise OverrideError(str(exc)) from None
            continue
        index = next((i for i, c in enumerate(configs) if c.workspace == override.element), None)
        if index is None:
            raise OverrideError(f"unknown section/element: {label}")
        if ELEMENT_KEY in override.options:
            raise OverrideError(
                f"failed to override configuration {label}: cannot override element key "
                f"{ELEMENT_KEY}"
            )
        merged = {**configs[index].to_options(redact=False), **override.options}
        try:
            configs[index] = DiscordConfig.from_options(merged, where=where)
        except ConfigError as exc:
            raise OverrideError(str(exc)) from None
    if len(configs) == 1:
        configs[0].default = True  # as at load: a single section is the default
    for config in configs:
        problems = config.validate()
        if problems:
            label = _label(config.workspace)
            raise OverrideError(
                f"failed to override configuration {label}: failed validation: "
                + "; ".join(problems)
            )
    try:
        validate_discord_configs(configs, where="config overrides")
    except ConfigError as exc:
        raise OverrideError(str(exc)) from None
    return configs


class ConfigOverrides:
    """The file's ``[[discord]]`` list, the stored overrides, and the service they configure."""

    def __init__(self, services: Services, store: Store) -> None:
        self.services = services
        self.store = store
        self.enabled = services.config.config_override_enabled
        #: the file's sections (after the environment), never modified
        self.base = [dataclasses.replace(c) for c in services.config.discord]
        #: what the running DiscordService was last given (to roll back to)
        self.running = list(self.base)

    def current(self) -> list[DiscordConfig]:
        """The file's sections with every stored override applied."""
        return apply_overrides(self.base, self.store.list_overrides(SECTION))

    def apply_at_start(self) -> None:
        """Give the running service the stored overrides; on failure keep the file's config."""
        if not self.enabled or self.services.config.skip_config_overrides:
            return
        try:
            overrides = self.store.list_overrides(SECTION)
            if not overrides:
                return
            configs = apply_overrides(self.base, overrides)
            self.services.discord.update(configs)
            self.running = configs
        except (OverrideError, DiscordError, StoreError) as exc:
            log.error(
                "stored config overrides not applied; running with the configuration file's "
                "[[discord]] sections (fix them through the config API, or set "
                "skip-config-overrides = true)",
                extra={"fields": {"section": SECTION, "reason": str(exc)}},
            )
            return
        log.info(
            "config overrides applied",
            extra={"fields": {"section": SECTION, "overrides": len(overrides)}},
        )

    # --- answers -----------------------------------------------------------------------

    @staticmethod
    def element_json(config: DiscordConfig) -> GoStruct:
        return GoStruct(
            {
                "link": link(_element_href(config.workspace)),
                "options": config.to_options(redact=True),
                "redacted": sorted(DiscordConfig.REDACTED_KEYS),
            }
        )

    def section_json(self, configs: list[DiscordConfig]) -> GoStruct:
        return GoStruct(
            {
                "link": link(f"{CONFIG_PATH}/{SECTION}"),
                "elements": [self.element_json(c) for c in configs],
            }
        )

    # --- updates -----------------------------------------------------------------------

    def plan(
        self, element: str | None, action: Mapping[str, Any]
    ) -> tuple[list[OverrideRecord], list[OverrideRecord], list[str]]:
        """(overrides after the update, records to save, elements whose override to delete)."""
        existing = self.store.list_overrides(SECTION)
        if "remove" in action:
            names = set(action["remove"])
            kept = [o for o in existing if o.element not in names]
            return kept, [], [o.element for o in existing if o.element in names]
        if "add" in action:
            options = dict(action["add"])
            if ELEMENT_KEY not in options:
                raise OverrideError(f'missing key "{ELEMENT_KEY}" in "add" map')
            name = options[ELEMENT_KEY]
            if not isinstance(name, str):
                raise OverrideError(f'expected "{ELEMENT_KEY}" key to be a string')
            if name and not _VALID_NAME.fullmatch(name):
                raise OverrideError(f"invalid element name {json.dumps(name)}")
            if any(o.element == name for o in existing):
                raise OverrideError(
                    f"cannot add new override, override already exists for {_label(name)}"
                )
            record = OverrideRecord(SECTION, name, options, create=True)
            return [*existing, record], [record], []
        assert element is not None
        if ELEMENT_KEY in action.get("set", {}) or ELEMENT_KEY in action.get("delete", []):
            raise OverrideError(
                f"failed to override configuration {_label(element)}: cannot override element "
                f"key {ELEMENT_KEY}"
            )
        previous = next((o for o in existing if o.element == element), None)
        options = dict(previous.options) if previous is not None else {}
        options.update(action.get("set", {}))
        for key in action.get("delete", []):
            options.pop(key, None)
        create = previous is not None and previous.create
        record = OverrideRecord(SECTION, element, options, create=create)
        if not options and not create:
            # nothing left to override: forget the element's override
            kept = [o for o in existing if o.element != element]
            return kept, [], [element] if previous is not None else []
        if previous is None:
            return [*existing, record], [record], []
        return [record if o is previous else o for o in existing], [record], []

    def save(self, records: list[OverrideRecord], removed: list[str]) -> None:
        self.store.update_overrides(records, [(SECTION, name) for name in removed])


CONFIG_OVERRIDES_KEY = web.AppKey("config_overrides", ConfigOverrides)


def _json_answer(data: Any) -> web.Response:
    """Kapacitor encodes config answers with Go's ``json.Encoder``: compact, newline-ended."""
    return json_response(data, newline=True)


def _disabled() -> web.Response:
    return error_response("config override service is not enabled", 403)


async def get_config(request: web.Request) -> web.Response:
    overrides = request.app[CONFIG_OVERRIDES_KEY]
    if not overrides.enabled:
        return _disabled()
    try:
        configs = overrides.current()
    except (OverrideError, StoreError) as exc:
        return error_response(f"failed to resolve current config: {exc}", 500)
    return _json_answer(
        GoStruct(
            {
                "link": link(CONFIG_PATH),
                "sections": {SECTION: overrides.section_json(configs)},
            }
        )
    )


async def get_no_section(request: web.Request) -> web.Response:
    if not request.app[CONFIG_OVERRIDES_KEY].enabled:
        return _disabled()
    return error_response("section not specified, do you have an extra trailing '/'?", 400)


async def get_section(request: web.Request) -> web.Response:
    overrides = request.app[CONFIG_OVERRIDES_KEY]
    if not overrides.enabled:
        return _disabled()
    section = request.match_info["section"]
    if section != SECTION:
        return error_response(f"unknown section: {section}", 404)
    try:
        configs = overrides.current()
    except (OverrideError, StoreError) as exc:
        return error_response(f"failed to resolve current config: {exc}", 500)
    return _json_answer(overrides.section_json(configs))


async def get_element(request: web.Request) -> web.Response:
    overrides = request.app[CONFIG_OVERRIDES_KEY]
    if not overrides.enabled:
        return _disabled()
    section, element = request.match_info["section"], request.match_info["element"]
    if section != SECTION:
        return error_response(f"unknown section: {section}", 404)
    try:
        configs = overrides.current()
    except (OverrideError, StoreError) as exc:
        return error_response(f"failed to resolve current config: {exc}", 500)
    for config in configs:
        if config.workspace == element:
            return _json_answer(overrides.element_json(config))
    return error_response(f"unknown section/element: {section}/{element}", 404)


def _decode_action(raw: bytes) -> dict[str, Any]:
    """The update body, checked strictly: an object with set/delete or add/remove."""
    try:
        body = json.loads(raw) if raw.strip() else {}
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


def _check_action(section: str, element: str | None, action: Mapping[str, Any]) -> None:
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
    if section != SECTION:
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
        _check_action(section, element, action)
        planned, records, removed = overrides.plan(element, action)
        configs = apply_overrides(overrides.base, planned)
    except OverrideError as exc:
        return error_response(str(exc), 400)
    except StoreError as exc:
        return error_response(f"failed to apply update: {exc}", 500)
    label = _label(element or "")
    discord = overrides.services.discord
    try:
        discord.update(configs)
    except DiscordError as exc:
        return error_response(f"failed to update configuration {label}: {exc}", 400)
    try:
        overrides.save(records, removed)
    except StoreError as exc:
        discord.update(overrides.running)  # what runs stays what is stored
        return error_response(f"failed to save override {label}: {exc}", 500)
    overrides.running = configs
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

    Overrides live in ``services.store``; without one they are kept in memory for the life of
    the process (and a note says so).
    """
    services = app[SERVICES_KEY]
    store: Store | None = getattr(services, "store", None)
    if store is None:
        store = Store(":memory:")
        log.info("no database configured: config overrides last until the server stops")

        async def _close_memory_store(app: web.Application) -> None:
            app[CONFIG_OVERRIDES_KEY].store.close()

        app.on_cleanup.append(_close_memory_store)
    overrides = ConfigOverrides(services, store)
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
