"""kapacitor.conf for Leyden: TOML, ``KAPACITOR_*`` / ``LEYDEN_*`` environment overrides, validation.

A user should be able to point Leyden at the ``kapacitor.conf`` they already have. So every
section Kapacitor knows is accepted: the ones Leyden implements are checked strictly (an unknown
key is an error with a "did you mean" hint, because a silently ignored typo in ``[[discord]]``
means alerts that never arrive), the ones it does not implement are skipped with one note each.
A top-level name that neither Kapacitor nor Leyden knows is an error for the same reason.

Order of application, as in Kapacitor: built-in defaults, then the TOML file, then environment
variables, then validation. Environment variables follow Kapacitor's naming (``KAPACITOR_`` +
the key path upper-cased, ``-`` → ``_``, list sections indexed: ``KAPACITOR_DISCORD_0_URL``);
``LEYDEN_`` is accepted as the same prefix and wins when both are set. They can only override
list elements that exist (from the file, or a section's built-in default element such as
Discord's single ``[[discord]]``).

Sections Leyden implements::

    hostname, data_dir, default-retention-policy, skip-config-overrides   (top level)
    [http]             bind-address, auth-enabled, log-enabled, https-enabled, https-certificate,
                       https-private-key, shared-secret, shutdown-timeout, allowed-origins (ours)
    [auth]             enabled, plus [[auth.users]] (below)
    [storage]          sqlite (ours; default <data_dir>/leyden.db), url (PostgreSQL instead), boltdb (accepted, never used:
                       Leyden never writes to a Kapacitor BoltDB file)
    [logging]          file (STDERR, STDOUT or a path), level (DEBUG, INFO, WARN, ERROR)
    [alert]            persist-topics, topic-buffer-length (accepted; it bounds nothing: the
                       outbox keeps every event), per-group-lambda-state, chronological-flapping
    [delivery]         max-age, retry-backoff, retry-max-backoff, discord-channel-limit,
                       digest-after, webhook-breaker, invalid-request-limit (Leyden's own: the
                       durable outbox's retries, pacing and broken-webhook protection)
    [engine]           workers (Leyden's own: engine processes; 1 = in the server's process,
                       0 = one per core, the default)
    [config-override]  enabled
    [[discord]] …      each integration's own section (leyden.notify: Discord's is
                       leyden.notify.discord.config); a single [x] table counts as one section
    [[httppost]]       see HTTPPostConfig; Leyden has no built-in element (Kapacitor's built-in
                       one posts to http://example.com, which we do not want to do by surprise)

Basic-auth users (Leyden's own section; Kapacitor keeps users in its BoltDB or an InfluxDB
Enterprise meta service, neither of which Leyden has)::

    [http]
      auth-enabled = true          # ask for credentials on every request
    [auth]
      enabled = true               # check them against the users below
      [[auth.users]]
        username = "ops"           # required, unique, no ':'
        password = "s3cret"        # required; never shown in logs, errors or the API
        permissions = ["all"]      # any of none, api, config_api, write_points, all (default all)

``[http] auth-enabled = true`` with ``[auth] enabled = false`` accepts any username and password
in Kapacitor, which is rarely what anyone meant (a README recipe that forgot ``[auth]`` let
everyone in): Leyden refuses such a config, unless ``[auth] accept-any-password = true`` says
it is meant, and then says so in a WARNING note. Environment
overrides work here too: ``KAPACITOR_AUTH_USERS_0_PASSWORD``; permissions as a comma-separated
list.

Secrets (Discord webhook URLs, whose path holds the webhook token; passwords; the JWT shared
secret) never appear in ConfigError messages, notes or reprs: messages name the key and at most
the URL's host. Values given through the environment are never echoed either.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from leyden.config._core import EMBEDDED_SOURCE, KAPACITOR_ONLY_SECTIONS, Config
from leyden.config._env import apply_env
from leyden.config._influxdb import INFLUXDB_SECTION
from leyden.config._schema import (
    ConfigError,
    Key,
    Section,
    SectionSpec,
    as_table_list,
    build,
    convert,
    element_label,
    quote,
    short,
    suggest,
    toml_type,
)

__all__ = ["load_config"]


def load_config(
    path: str | None,
    env: Mapping[str, str] | None = None,
    *,
    integrations: Iterable[SectionSpec] = (),
) -> Config:
    """Read ``path`` (None → built-in defaults), apply the environment, validate.

    ``env`` defaults to the process environment.  ``integrations`` are the sections the
    integrations own (``leyden.notify.INTEGRATIONS.sections()``); without them a file naming
    such a section is refused like any unknown section.  ``[[influxdb]]`` is a core section
    with the same machinery (:data:`INFLUXDB_SECTION`): read it with ``config.sections(…)``.
    """
    specs = {spec.name: spec for spec in (INFLUXDB_SECTION, *integrations)}
    source = EMBEDDED_SOURCE if path is None else path
    raw: dict[str, Any] = {} if path is None else _read_toml(path)
    for spec in specs.values():
        if spec.name not in raw:
            if spec.defaults:
                tables = [dict(table) for table in spec.defaults]
                raw[spec.name] = tables if spec.multiple else tables[0]
        elif spec.multiple and isinstance(raw[spec.name], Mapping):
            raw[spec.name] = [raw[spec.name]]
    applied = apply_env(raw, os.environ if env is None else env, _schema(specs))
    config = _decode(raw, source, specs)
    if applied:
        config.notes.append("environment overrides applied: " + ", ".join(applied))
    _validate(config, source, specs, env_used=bool(applied))
    return config


def _schema(specs: Mapping[str, SectionSpec]) -> tuple[Key, ...]:
    """Config's keys and the integrations' sections, as one table for the environment."""
    kind = {True: "table_list", False: "struct"}
    extra = tuple(Key(s.name, s.name, kind[s.multiple], s.cls) for s in specs.values())
    return Config._SCHEMA + extra


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if where:
            line, column = where.groups()
            message = message[: where.start()]
            raise ConfigError(f"{path}:{line}:{column}: invalid TOML: {message}") from None
        raise ConfigError(f"{path}: invalid TOML: {message}") from None


def _decode(raw: Mapping[str, Any], source: str, specs: Mapping[str, SectionSpec]) -> Config:
    config = Config(source=source)
    notes = config.notes
    schema = {key.name: key for key in Config._SCHEMA}
    for name, value in raw.items():
        spec = specs.get(name)
        if spec is not None:
            config.integrations[name] = _decode_integration(spec, value, source, notes)
            continue
        key = schema.get(name)
        if key is None:
            is_table = isinstance(value, Mapping) or (
                isinstance(value, list) and all(isinstance(item, Mapping) for item in value)
            )
            label = f"[[{name}]]" if isinstance(value, list) else f"[{name}]"
            if name in KAPACITOR_ONLY_SECTIONS:
                if not is_table:
                    raise ConfigError(f"{source}: {name}: expected a table, got {toml_type(value)}")
                notes.append(f"ignoring section {label}: not supported by Leyden")
                continue
            hint = suggest(name, set(schema) | set(specs) | KAPACITOR_ONLY_SECTIONS)
            what = f"unknown section {short(label)}" if is_table else f"{short(name)}: unknown key"
            raise ConfigError(f"{source}: {what}{hint}")
        if key.kind == "table_list":
            setattr(
                config,
                key.attr,
                [
                    build(
                        key.cls, item, f"{source}: {element_label(name, i, item, key.cls)}", notes
                    )
                    for i, item in enumerate(as_table_list(value, f"{source}: [[{name}]]"))
                ],
            )
        elif key.kind == "struct":
            section = build(key.cls, value, f"{source}: [{name}]", notes)
            if name == "config-override":
                section = section.enabled
            setattr(config, key.attr, section)
        else:
            setattr(config, key.attr, convert(key, value, source))
    return config


def _decode_integration(spec: SectionSpec, value: Any, source: str, notes: list[str]) -> list[Any]:
    if not spec.multiple:
        return [build(spec.cls, value, f"{source}: [{spec.name}]", notes)]
    return [
        build(spec.cls, item, f"{source}: {element_label(spec.name, i, item, spec.cls)}", notes)
        for i, item in enumerate(as_table_list(value, f"{source}: [[{spec.name}]]"))
    ]


def _raise_problems(where: str, problems: list[str], env_used: bool) -> None:
    if problems:
        suffix = " (after environment overrides)" if env_used else ""
        raise ConfigError(f"{where}: {'; '.join(problems)}{suffix}")


def _validate(
    config: Config, source: str, specs: Mapping[str, SectionSpec], *, env_used: bool
) -> None:
    top: list[str] = []
    if not config.hostname:
        top.append("hostname: must not be empty")
    if not config.data_dir:
        top.append("data_dir: must not be empty")
    _raise_problems(source, top, env_used)

    _raise_problems(f"{source}: [http]", config.http.validate(), env_used)
    _raise_problems(f"{source}: [logging]", config.logging.validate(), env_used)
    config.logging.level = config.logging.level.upper()
    _raise_problems(f"{source}: [alert]", config.alert.validate(), env_used)
    _raise_problems(f"{source}: [delivery]", config.delivery.validate(), env_used)
    _raise_problems(f"{source}: [engine]", config.engine.validate(), env_used)
    _validate_auth(config, source, env_used)
    _validate_storage(config, source)

    for spec in specs.values():
        sections = config.integrations.get(spec.name, [])
        for i, section in enumerate(sections):
            _raise_problems(f"{source}: {spec.label(i, section)}", section.validate(), env_used)
        spec.cls.check_all(sections, where=source)
        for i, section in enumerate(sections):
            config.notes.extend(
                f"WARNING: {spec.label(i, section)}: {text}" for text in section.warnings()
            )

    _validate_elements(
        "httppost", config.httppost, source, env_used, "; each endpoint needs a unique name"
    )


def _validate_elements(
    name: str, elements: Sequence[Section], source: str, env_used: bool, hint: str = ""
) -> None:
    """Each ``[[name]]`` element's own rules, then: no two share their name (its element key)."""
    first: dict[str, int] = {}
    for i, element in enumerate(elements):
        key = element._ELEMENT_KEY
        value = getattr(element, key)
        label = element_label(name, i, {key: value}, type(element))
        _raise_problems(f"{source}: {label}", element.validate(), env_used)
        if value in first:
            raise ConfigError(
                f"{source}: [[{name}]] #{first[value]} and #{i}: {key} {quote(value)} "
                f"is used twice{hint}"
            )
        first[value] = i


def _validate_auth(config: Config, source: str, env_used: bool) -> None:
    _validate_elements("auth.users", config.auth.users, source, env_used)
    if config.http.auth_enabled and not config.auth.enabled:
        if not config.auth.accept_any_password:
            raise ConfigError(
                f"{source}: [auth]: enabled: [http] auth-enabled = true but [auth] enabled = "
                "false: any username and password would be accepted (Kapacitor's noauth); set "
                "[auth] enabled = true to check [[auth.users]], or [auth] accept-any-password = "
                "true if that is what you want"
            )
        config.notes.append(
            "WARNING: [http] auth-enabled = true but [auth] enabled = false: any username and "
            "password is accepted ([auth] accept-any-password = true); set [auth] enabled = "
            "true to check [[auth.users]]"
        )
    elif config.http.auth_enabled and not config.auth.users:
        config.notes.append(
            "WARNING: authentication is on but no [[auth.users]] are configured: "
            "every request will be refused"
        )
    elif config.auth.enabled and not config.http.auth_enabled:
        config.notes.append("[auth] enabled has no effect while [http] auth-enabled = false")


def _validate_storage(config: Config, source: str) -> None:
    _raise_problems(f"{source}: [storage]", config.storage.validate(), False)
    if not config.storage.boltdb:
        return
    if config.storage.url:
        config.notes.append(
            "[storage] boltdb is not used by Leyden; its state lives in PostgreSQL at "
            f"{quote(config.storage.redacted_url())}"
        )
        return
    same = os.path.abspath(config.storage.boltdb) == os.path.abspath(config.sqlite_path())
    if same:
        raise ConfigError(
            f"{source}: [storage]: sqlite: must not be the Kapacitor BoltDB file "
            f"{quote(config.storage.boltdb)}; Leyden never writes to it"
        )
    config.notes.append(
        f"[storage] boltdb is not used by Leyden; its state lives in SQLite at "
        f"{quote(config.sqlite_path())}"
    )
