"""Tests for leyden.config: kapacitor.conf loading, environment overrides and validation."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest

from leyden.config import (
    EMBEDDED_SOURCE,
    KAPACITOR_ONLY_SECTIONS,
    Config,
    ConfigError,
    HTTPPostConfig,
    load_config,
)
from leyden.notify import INTEGRATIONS
from leyden.notify.discord.config import (
    SECTION,
    DiscordConfig,
    by_workspace,
    validate_discord_configs,
)
from seed_page import AVATAR, discord_sections

TOKEN = "tOkEn-SeCrEt_0123456789abcdefABCDEF"
WEBHOOK = f"https://discord.com/api/webhooks/112233445566778899/{TOKEN}"
SEED_URL = (
    "https://discordapp.com/api/webhooks/xxxxxxxxxxxxxxxxxx/"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
)

# The two example blocks of the seed page (Kapacitor's Discord event handler docs).
SEED_SINGLE = f"""
[[discord]]
  enabled = false
  default = true
  url = "{SEED_URL}"
  workspace = "guild-channel"
  timestamp = true
  username = "Kapacitor"
  avatar-url = "{AVATAR}"
  embed-title = "Kapacitor Alert"
  global = false
  state-changes-only = false
  ssl-ca = "/path/to/ca.crt"
  ssl-cert = "/path/to/cert.crt"
  ssl-key = "/path/to/private-key.key"
  insecure-skip-verify = false
"""

SEED_TWO = discord_sections(SEED_URL, SEED_URL)


def write(tmp_path: Path, text: str, name: str = "kapacitor.conf") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env or {}, integrations=INTEGRATIONS.sections())


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    message = str(info.value)
    assert "\n" not in message
    return message


def discord(**options: object) -> str:
    """One [[discord]] section as TOML."""
    lines = ["[[discord]]"]
    for key, value in options.items():
        name = key.replace("_", "-").rstrip("-")
        lines.append(f"  {name} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------------------------
# Defaults and the seed


def test_embedded_defaults() -> None:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    assert config.source == EMBEDDED_SOURCE
    assert config.notes == []
    assert config.hostname == "localhost"
    assert config.data_dir == "./leyden-data"
    assert config.http.bind_address == "127.0.0.1:9092"
    assert config.http.log_enabled and not config.http.auth_enabled
    assert config.logging.file == "STDERR" and config.logging.level == "INFO"
    assert config.alert.persist_topics and config.alert.topic_buffer_length == 5000
    assert config.config_override_enabled
    assert config.integrations["discord"] == [DiscordConfig(default=True, enabled=False)]
    assert config.httppost == []
    assert config.sqlite_path() == "./leyden-data/leyden.db"


def test_config_dataclass_default_matches_kapacitor_builtin_discord() -> None:
    assert Config().sections(SECTION) == [DiscordConfig(default=True)]


def test_seed_single_block_loads(tmp_path: Path) -> None:
    # Disabled: its placeholder ssl paths need not exist.
    config = load(tmp_path, SEED_SINGLE)
    (section,) = config.integrations["discord"]
    assert section == DiscordConfig(
        enabled=False,
        default=True,
        workspace="guild-channel",
        url=SEED_URL,
        timestamp=True,
        username="Kapacitor",
        avatar_url=AVATAR,
        embed_title="Kapacitor Alert",
        ssl_ca="/path/to/ca.crt",
        ssl_cert="/path/to/cert.crt",
        ssl_key="/path/to/private-key.key",
    )
    assert config.notes == []


def test_seed_two_blocks_load(tmp_path: Path) -> None:
    config = load(tmp_path, SEED_TWO)
    assert [d.workspace for d in config.integrations["discord"]] == ["guild-alerts", "guild-errors"]
    assert [d.username for d in config.integrations["discord"]] == ["AlertBot", "StatsBot"]
    assert [d.default for d in config.integrations["discord"]] == [True, False]
    assert by_workspace(config.integrations["discord"], "") is config.integrations["discord"][0]
    assert (
        by_workspace(config.integrations["discord"], "guild-errors")
        is config.integrations["discord"][1]
    )
    assert by_workspace(config.integrations["discord"], "nope") is None
    # The placeholder ids are not numeric: loaded, with one warning per enabled section.
    warnings = [n for n in config.notes if n.startswith("WARNING")]
    assert len(warnings) == 2
    assert "on discordapp.com but not of the form" in warnings[0]


def test_single_discord_table_is_one_section(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        f"""
        [discord]
          enabled = true
          url = "{WEBHOOK}"
          username = "Ops"
        """,
        {"KAPACITOR_DISCORD_0_USERNAME": "Night ops"},
    )
    (section,) = config.integrations["discord"]
    assert section.enabled and section.url == WEBHOOK
    assert section.default  # a single section is the default
    assert section.username == "Night ops"
    assert not [n for n in config.notes if n.startswith("WARNING")]


# Top-level section names of Kapacitor's shipped etc/kapacitor/kapacitor.conf (influxdata/kapacitor
# 7702d12d), read from that file; the config below is our own text using the same names.
SHIPPED_SECTION_NAMES = [
    "auth",
    "http",
    "tls",
    "config-override",
    "logging",
    "load",
    "replay",
    "task",
    "storage",
    "deadman",
    "fluxtask",
    "influxdb",
    "kubernetes",
    "smtp",
    "snmptrap",
    "opsgenie",
    "opsgenie2",
    "victorops",
    "pagerduty",
    "pagerduty2",
    "pushover",
    "zenoss",
    "slack",
    "telegram",
    "hipchat",
    "kafka",
    "alerta",
    "bigpanda",
    "servicenow",
    "sensu",
    "reporting",
    "stats",
    "udf",
    "talk",
    "mqtt",
    "swarm",
    "collectd",
    "opentsdb",
    "scraper",
    "azure",
    "consul",
    "dns",
    "ec2",
    "file-discovery",
    "gce",
    "marathon",
    "nerve",
    "serverset",
    "static-discovery",
    "static",
    "triton",
]

KAPACITOR_STYLE_CONF = (
    """
hostname = "kapa-01"
data_dir = "/var/lib/kapacitor"
skip-config-overrides = false
default-retention-policy = ""

[auth]
  enabled = false
  cache-expiration = "10m"
  bcrypt-cost = 10
  meta-addr = "172.17.0.2:8091"
  meta-use-tls = false

[http]
  bind-address = ":9092"
  auth-enabled = false
  log-enabled = true
  write-tracing = false
  pprof-enabled = false
  https-enabled = false
  https-certificate = "/etc/ssl/kapacitor.pem"

[tls]
  min-version = "tls1.2"

[config-override]
  enabled = true

[logging]
  file = "/var/log/kapacitor/kapacitor.log"
  level = "INFO"

[load]
  enabled = true
  dir = "/etc/kapacitor/load"

[replay]
  dir = "/var/lib/kapacitor/replay"

[task]
  dir = "/var/lib/kapacitor/tasks"
  snapshot-interval = "60s"

[storage]
  boltdb = "/var/lib/kapacitor/kapacitor.db"

[deadman]
  severity-map = { OK = "Clear", Critical = "Critical" }

[fluxtask]
  enabled = false

[[influxdb]]
  enabled = true
  name = "localhost"
  urls = ["http://localhost:8086"]
  [influxdb.subscriptions]
  [influxdb.excluded-subscriptions]
    _kapacitor = ["autogen"]

[kubernetes]
  enabled = false

[smtp]
  enabled = false
  port = 25

[snmptrap]
  enabled = false
[opsgenie]
  enabled = false
[opsgenie2]
  enabled = false
[victorops]
  enabled = false
[pagerduty]
  enabled = false
[pagerduty2]
  enabled = false
[pushover]
  enabled = false
[zenoss]
  enabled = false

[[httppost]]
  endpoint = "example"
  url = "http://example.com"
  headers = { Example = "your-key" }
  basic-auth = { username = "my-user", password = "my-pass" }

[[slack]]
  enabled = false
  default = true
[[slack]]
  enabled = false
  workspace = "second"

[telegram]
  enabled = false
[hipchat]
  enabled = false

[[kafka]]
  enabled = false
  id = "localhost"
  [kafka.sasl-oauth-parameters]

[alerta]
  enabled = false
[bigpanda]
  enabled = false
[servicenow]
  enabled = false
[sensu]
  enabled = false
[reporting]
  enabled = false
[stats]
  enabled = true
  stats-interval = "10s"

[udf]
[udf.functions]

[talk]
  enabled = false

[[mqtt]]
  enabled = false
  name = "localhost"
[[swarm]]
  enabled = false
[collectd]
  enabled = false
[opentsdb]
  enabled = false
[[scraper]]
  enabled = false
[[azure]]
  enabled = false
[[consul]]
  enabled = false
[[dns]]
  enabled = false
[[ec2]]
  enabled = false
[[file-discovery]]
  enabled = false
[[gce]]
  enabled = false
[[marathon]]
  enabled = false
[[nerve]]
  enabled = false
[[serverset]]
  enabled = false
[[static-discovery]]
  enabled = false
  id = "myconsul"
  targets = ["localhost:9100"]
  [static.labels]
    region = "us-east-1"
[[triton]]
  enabled = false
"""
    + SEED_TWO
)


def test_no_section_is_both_an_integrations_and_ignored() -> None:
    """Every alert handler's section is read by its integration, never skipped as Kapacitor's."""
    assert not KAPACITOR_ONLY_SECTIONS & {spec.name for spec in INTEGRATIONS.sections()}


def test_kapacitor_style_config_with_every_shipped_section_loads(tmp_path: Path) -> None:
    config = load(tmp_path, KAPACITOR_STYLE_CONF)
    implemented = {"auth", "http", "config-override", "logging", "storage", "influxdb"}
    implemented |= {spec.name for spec in INTEGRATIONS.sections()}
    ignored = [name for name in SHIPPED_SECTION_NAMES if name not in implemented]
    assert set(ignored) <= KAPACITOR_ONLY_SECTIONS
    section_notes = [n for n in config.notes if n.startswith("ignoring section ")]
    named = Counter(n.split()[2].rstrip(":").strip("[]") for n in section_notes)
    assert named == Counter(ignored)  # exactly one note for each, even for a repeated one
    assert "ignoring section [tls]: not supported by Leyden" in config.notes
    assert "ignoring [http] pprof-enabled, write-tracing: not supported by Leyden" in config.notes
    assert any(n.startswith("ignoring [auth] bcrypt-cost, cache-expiration") for n in config.notes)
    assert any(n.startswith("[storage] boltdb is not used by Leyden") for n in config.notes)
    assert config.hostname == "kapa-01"
    assert config.http.bind_address == ":9092"
    assert config.http.host_port() == ("", 9092)
    assert config.storage.boltdb == "/var/lib/kapacitor/kapacitor.db"
    assert config.sqlite_path() == "/var/lib/kapacitor/leyden.db"
    assert [d.workspace for d in config.integrations["discord"]] == ["guild-alerts", "guild-errors"]
    (post,) = config.httppost
    assert post.headers == {"Example": "your-key"}
    assert post.basic_auth.username == "my-user"
    assert all("my-pass" not in note for note in config.notes)


# --------------------------------------------------------------------------------------------
# Strict decoding


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[http]\nbind-adress = ':1'\n",
            "[http]: bind-adress: unknown key; did you mean bind-address?",
        ),
        (
            discord(avatar_url="x").replace("avatar-url", "avatar_url"),
            "[[discord]] #0: avatar_url: unknown key; did you mean avatar-url?",
        ),
        (
            "[[discord]]\nworkspace = 'ops'\nstate-change-only = true\n",
            '[[discord]] #0 (workspace "ops"): state-change-only: unknown key; '
            "did you mean state-changes-only?",
        ),
        ("[logging]\nlevle = 'INFO'\n", "[logging]: levle: unknown key; did you mean level?"),
        ("[alert]\npersist-topic = true\n", "did you mean persist-topics?"),
        ("[storage]\nsqlit = 'x.db'\n", "[storage]: sqlit: unknown key; did you mean sqlite?"),
        (
            "[config-override]\nenable = true\n",
            "[config-override]: enable: unknown key; did you mean enabled?",
        ),
        ("[discrod]\nenabled = true\n", "unknown section [discrod]; did you mean discord?"),
        ("[[slak]]\nenabled = true\n", "unknown section [[slak]]; did you mean slack?"),
        ("hostnme = 'x'\n", "hostnme: unknown key; did you mean hostname?"),
        (
            "[[httppost]]\nendpoint = 'a'\nurl = 'http://x'\nrow_template = 'x'\n",
            "did you mean row-template?",
        ),
        (
            "[auth]\nenabled = true\n[[auth.users]]\nusername = 'a'\npasword = 'b'\n",
            "did you mean password?",
        ),
    ],
)
def test_unknown_keys_are_errors_with_suggestions(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(str(tmp_path / "kapacitor.conf") + ": ")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[http]\nauth-enabled = 'true'\n",
            "[http]: auth-enabled: expected a boolean (true or false), got string",
        ),
        (
            "[alert]\ntopic-buffer-length = true\n",
            "[alert]: topic-buffer-length: expected an integer, got boolean",
        ),
        (
            "[alert]\ntopic-buffer-length = 1.5\n",
            "topic-buffer-length: expected an integer, got float",
        ),
        ("hostname = 42\n", "hostname: expected a string, got integer"),
        (
            "[[discord]]\nenabled = 1\n",
            "[[discord]] #0: enabled: expected a boolean (true or false), got integer",
        ),
        ("[[discord]]\nurl = ['a']\n", "[[discord]] #0: url: expected a string, got array"),
        ("discord = 'x'\n", "[[discord]]: expected a table or an array of tables, got string"),
        ("http = 'x'\n", "[http]: expected a table, got string"),
        (
            "[http]\nshutdown-timeout = 10\n",
            'shutdown-timeout: expected a duration string such as "10s", got integer',
        ),
        ("[http]\nshutdown-timeout = '10 s'\n", "shutdown-timeout: invalid duration"),
        (
            "[[httppost]]\nendpoint = 'a'\nurl = 'http://x'\n[httppost.headers]\nX-N = 1\n",
            '[[httppost]] #0 (endpoint "a"): headers.X-N: expected a string, got integer',
        ),
        (
            "[[httppost]]\nendpoint = 'a'\nurl = 'http://x'\nbasic-auth = { username = 1 }\n",
            "basic-auth: username: expected a string, got integer",
        ),
        (
            "[[auth.users]]\nusername = 'a'\npermissions = 'all'\n",
            '[[auth.users]] #0 (username "a"): permissions: expected an array of strings, got string',
        ),
        ("[logging]\nlevel = 1979-05-27\n", "level: expected a string, got date/time"),
        ("replay = 5\n", "kapacitor.conf: replay: expected a table, got integer"),
    ],
)
def test_wrong_types_name_key_expected_and_got(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_toml_syntax_error_is_one_line_with_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, 'hostname = "ok"\n[http]\nbind-address ":9092"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, {}, integrations=INTEGRATIONS.sections())
    message = str(info.value)
    assert message.startswith(f"{path}:3:14: invalid TOML: ")
    assert "\n" not in message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file: No such file"):
        load_config(str(tmp_path / "missing.conf"), {}, integrations=INTEGRATIONS.sections())


def test_empty_lists_are_allowed(tmp_path: Path) -> None:
    config = load(tmp_path, "discord = []\nscraper = []\n")
    assert config.integrations["discord"] == []
    assert config.notes == ["ignoring section [[scraper]]: not supported by Leyden"]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "kapacitor.conf"
    path.write_bytes(b'hostname = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())


# --------------------------------------------------------------------------------------------
# Environment overrides


def test_env_overrides_every_documented_name(tmp_path: Path) -> None:
    env = {
        "KAPACITOR_HOSTNAME": "envhost",
        "KAPACITOR_DATA_DIR": "/srv/leyden",
        "KAPACITOR_DEFAULT_RETENTION_POLICY": "autogen",
        "KAPACITOR_SKIP_CONFIG_OVERRIDES": "true",
        "KAPACITOR_HTTP_BIND_ADDRESS": "127.0.0.1:19092",
        "KAPACITOR_HTTP_AUTH_ENABLED": "T",
        "KAPACITOR_HTTP_LOG_ENABLED": "0",
        "KAPACITOR_HTTP_SHUTDOWN_TIMEOUT": "1m30s",
        "KAPACITOR_HTTP_SHARED_SECRET": "jwt-secret",
        "KAPACITOR_AUTH_ENABLED": "true",
        "KAPACITOR_AUTH_USERS_0_PASSWORD": "from-env",
        "KAPACITOR_AUTH_USERS_0_PERMISSIONS": "api, write_points",
        "KAPACITOR_LOGGING_LEVEL": "debug",
        "KAPACITOR_LOGGING_FILE": "STDOUT",
        "KAPACITOR_STORAGE_SQLITE": "/srv/leyden/state.db",
        "KAPACITOR_ALERT_PERSIST_TOPICS": "FALSE",
        "KAPACITOR_ALERT_TOPIC_BUFFER_LENGTH": "0x100",
        "KAPACITOR_CONFIG_OVERRIDE_ENABLED": "f",
        "KAPACITOR_DISCORD_0_URL": WEBHOOK,
        "KAPACITOR_DISCORD_0_ENABLED": "1",
        "KAPACITOR_DISCORD_0_AVATAR_URL": AVATAR,
        "KAPACITOR_DISCORD_0_EMBED_TITLE": "From env",
        "KAPACITOR_DISCORD_1_GLOBAL": "false",
        "KAPACITOR_DISCORD_1_TIMESTAMP": "true",
        "KAPACITOR_DISCORD_1_INSECURE_SKIP_VERIFY": "true",
        "KAPACITOR_HTTPPOST_0_URL": "http://127.0.0.1:1/hook",
        "KAPACITOR_HTTPPOST_0_HEADERS_X_Api_Key": "k",
        "KAPACITOR_HTTPPOST_0_BASIC_AUTH_PASSWORD": "pw",
    }
    config = load(
        tmp_path,
        SEED_TWO
        + "[[httppost]]\nendpoint = 'e'\nurl = 'http://x'\n"
        + "[[auth.users]]\nusername = 'ops'\npassword = 'file'\n",
        env,
    )
    assert config.hostname == "envhost"
    assert config.data_dir == "/srv/leyden"
    assert config.default_retention_policy == "autogen"
    assert config.skip_config_overrides
    assert config.http.bind_address == "127.0.0.1:19092"
    assert config.http.auth_enabled and not config.http.log_enabled
    assert config.http.shutdown_timeout == 90 * 10**9
    assert config.http.shared_secret == "jwt-secret"
    assert config.auth.enabled
    assert config.auth.users[0].password == "from-env"
    assert config.auth.users[0].permissions == ["api", "write_points"]
    assert config.logging.level == "DEBUG" and config.logging.file == "STDOUT"
    assert config.sqlite_path() == "/srv/leyden/state.db"
    assert not config.alert.persist_topics
    assert config.alert.topic_buffer_length == 256
    assert not config.config_override_enabled
    first, second = config.integrations["discord"]
    assert first.url == WEBHOOK and first.enabled and first.avatar_url == AVATAR
    assert first.embed_title == "From env"
    assert second.timestamp and second.insecure_skip_verify and not second.global_
    (post,) = config.httppost
    assert post.url == "http://127.0.0.1:1/hook"
    assert post.headers == {"X_Api_Key": "k"}
    assert post.basic_auth.password == "pw"
    applied = next(n for n in config.notes if n.startswith("environment overrides applied: "))
    assert "KAPACITOR_DISCORD_0_URL" in applied
    assert WEBHOOK not in applied and "from-env" not in applied


def test_env_state_changes_only_on_indexed_section(tmp_path: Path) -> None:
    text = discord(workspace="a", default=True, **{"global": True}) + discord(workspace="b")
    config = load(tmp_path, text, {"KAPACITOR_DISCORD_0_STATE_CHANGES_ONLY": "true"})
    assert config.integrations["discord"][0].state_changes_only
    message = error_of(tmp_path, text, {"KAPACITOR_DISCORD_1_STATE_CHANGES_ONLY": "true"})
    assert '[[discord]] #1 (workspace "b"): state-changes-only: may only be set' in message


def test_env_overrides_builtin_default_discord_without_file() -> None:
    config = load_config(
        None,
        {"KAPACITOR_DISCORD_0_ENABLED": "true", "KAPACITOR_DISCORD_0_URL": WEBHOOK},
        integrations=INTEGRATIONS.sections(),
    )
    (section,) = config.integrations["discord"]
    assert section.enabled and section.default and section.url == WEBHOOK
    assert config.source == EMBEDDED_SOURCE


def test_leyden_prefix_wins_over_kapacitor(tmp_path: Path) -> None:
    env = {
        "KAPACITOR_HOSTNAME": "kapa",
        "LEYDEN_HOSTNAME": "leyden",
        "KAPACITOR_DISCORD_1_USERNAME": "KapaBot",
        "LEYDEN_DISCORD_1_USERNAME": "LeydenBot",
        "LEYDEN_LOGGING_LEVEL": "warn",
    }
    config = load(tmp_path, SEED_TWO, env)
    assert config.hostname == "leyden"
    assert config.integrations["discord"][1].username == "LeydenBot"
    assert config.logging.level == "WARN"


def test_empty_env_values_are_ignored(tmp_path: Path) -> None:
    env = {"LEYDEN_HOSTNAME": "", "KAPACITOR_HOSTNAME": "kapa", "KAPACITOR_DATA_DIR": ""}
    config = load(tmp_path, 'data_dir = "/d"\n', env)
    assert config.hostname == "kapa" and config.data_dir == "/d"
    # An empty value for a missing index is not an error either.
    load(tmp_path, "", {"KAPACITOR_DISCORD_5_URL": ""})


@pytest.mark.parametrize(
    ("variable", "count"),
    [
        ("KAPACITOR_DISCORD_2_URL", 2),
        ("LEYDEN_DISCORD_9_ENABLED", 2),
        ("KAPACITOR_HTTPPOST_0_URL", 0),
    ],
)
def test_env_cannot_add_list_elements(tmp_path: Path, variable: str, count: int) -> None:
    message = error_of(tmp_path, SEED_TWO, {variable: "true" if "ENABLED" in variable else WEBHOOK})
    assert message.startswith(f"environment: {variable}: there is no [[")
    assert f"(the configuration has {count})" in message
    assert TOKEN not in message


def test_env_missing_index_on_embedded_defaults() -> None:
    with pytest.raises(
        ConfigError, match=r"KAPACITOR_DISCORD_1_ENABLED: there is no \[\[discord\]\] #1"
    ):
        load_config(
            None, {"KAPACITOR_DISCORD_1_ENABLED": "true"}, integrations=INTEGRATIONS.sections()
        )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("KAPACITOR_HTTP_AUTH_ENABLED", "yes", "expected a boolean (1, t, T, TRUE"),
        ("LEYDEN_DISCORD_0_ENABLED", "on", "expected a boolean"),
        ("KAPACITOR_ALERT_TOPIC_BUFFER_LENGTH", "5k", "expected an integer"),
        ("KAPACITOR_ALERT_TOPIC_BUFFER_LENGTH", "099", "expected an integer"),
        ("KAPACITOR_HTTP_SHUTDOWN_TIMEOUT", "10", "missing unit"),
    ],
)
def test_bad_env_value_names_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {variable: value}, integrations=INTEGRATIONS.sections())
    message = str(info.value)
    assert message.startswith(f"environment: {variable}: ")
    assert expected in message
    assert repr(value) not in message and f'"{value}"' not in message


def test_env_int_prefixes() -> None:
    for text, expected in [("010", 8), ("0o17", 15), ("0x1F", 31), ("0b11", 3), ("42", 42)]:
        config = load_config(
            None,
            {"KAPACITOR_ALERT_TOPIC_BUFFER_LENGTH": text},
            integrations=INTEGRATIONS.sections(),
        )
        assert config.alert.topic_buffer_length == expected


def test_env_for_unknown_or_kapacitor_only_keys_is_ignored() -> None:
    env = {
        "KAPACITOR_INFLUXDB_0_URL": "http://x",
        "KAPACITOR_SCRAPER_3_ENABLED": "maybe",
        "KAPACITOR_HTTP_PPROF_ENABLED": "not-a-bool",
        "KAPACITOR_CONFIG_PATH": "/etc/kapacitor/kapacitor.conf",
        "KAPACITOR_DISCORD_0_NOPE": "x",
        "KAPACITOR_DISCORD_00_URL": "x",
        "kapacitor_hostname": "lowercase-is-not-ours",
        "LEYDEN": "x",
    }
    config = load_config(None, env, integrations=INTEGRATIONS.sections())
    assert config == load_config(None, {}, integrations=INTEGRATIONS.sections())


def test_env_value_then_fails_validation_says_so(tmp_path: Path) -> None:
    message = error_of(tmp_path, "", {"KAPACITOR_LOGGING_LEVEL": "verbose"})
    assert message.endswith("(after environment overrides)")
    assert "[logging]: level: must be one of DEBUG, INFO, WARN, ERROR" in message


# --------------------------------------------------------------------------------------------
# Discord rules


def test_enabled_requires_url(tmp_path: Path) -> None:
    text = SEED_TWO.replace(
        f'url = "{SEED_URL}"\n  workspace = "guild-errors"', 'workspace = "guild-errors"'
    )
    message = error_of(tmp_path, text)
    path = tmp_path / "kapacitor.conf"
    assert message == (
        f'{path}: [[discord]] #1 (workspace "guild-errors"): url: must specify the Discord '
        "channel webhook URL when enabled"
    )


def test_disabled_section_needs_no_url_but_is_type_checked(tmp_path: Path) -> None:
    config = load(tmp_path, discord(enabled=False, username="Bot"))
    assert config.integrations["discord"][0].url == ""
    assert "enabled: expected a boolean" in error_of(tmp_path, "[[discord]]\nenabled = 'no'\n")


def test_several_sections_need_workspaces(tmp_path: Path) -> None:
    message = error_of(tmp_path, discord(workspace="a", default=True) + discord())
    assert message.endswith(
        "[[discord]] #1: workspace: must not be empty when several [[discord]] sections are "
        "configured (only the default section may be unnamed)"
    )


def test_one_unnamed_default_section_is_accepted(tmp_path: Path) -> None:
    # Shape of Kapacitor's own TestStream_AlertDiscord configuration.
    config = load(
        tmp_path,
        discord(enabled=True, default=True, url=WEBHOOK)
        + discord(enabled=True, workspace="company_private", username="comp testy", url=WEBHOOK),
    )
    assert by_workspace(config.integrations["discord"], "") is config.integrations["discord"][0]
    assert (
        by_workspace(config.integrations["discord"], "company_private")
        is config.integrations["discord"][1]
    )


def test_two_unnamed_sections_are_rejected_even_if_one_is_default(tmp_path: Path) -> None:
    message = error_of(tmp_path, discord(default=True) + discord() + discord(workspace="c"))
    assert "[[discord]] #0: workspace: must not be empty" in message


def test_duplicate_workspace_names_both_indexes(tmp_path: Path) -> None:
    text = (
        discord(workspace="ops", default=True) + discord(workspace="dev") + discord(workspace="ops")
    )
    assert error_of(tmp_path, text).endswith(
        '[[discord]] #0 and #2: workspace "ops" is used twice; each section needs a unique workspace'
    )


def test_no_default_among_several(tmp_path: Path) -> None:
    assert error_of(tmp_path, discord(workspace="a") + discord(workspace="b")).endswith(
        "[[discord]]: default: at least one Discord config must be set as default"
    )


def test_several_defaults_named(tmp_path: Path) -> None:
    text = (
        discord(workspace="a", default=True)
        + discord(workspace="b")
        + discord(workspace="c", default=True)
    )
    assert error_of(tmp_path, text).endswith(
        '[[discord]] #0 (workspace "a"), [[discord]] #2 (workspace "c"): default: only one '
        "Discord config may be the default, found 2"
    )


def test_single_section_is_default_automatically(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        discord(workspace="solo", default=False, **{"global": True}, state_changes_only=True),
    )
    assert config.integrations["discord"][0].default and config.integrations["discord"][0].global_


def test_global_only_on_default(tmp_path: Path) -> None:
    text = discord(workspace="a", default=True) + discord(workspace="b", **{"global": True})
    assert error_of(tmp_path, text).endswith(
        '[[discord]] #1 (workspace "b"): global: only the default config may be assigned as global'
    )


def test_state_changes_only_needs_default_and_global(tmp_path: Path) -> None:
    text = discord(workspace="a", default=True, state_changes_only=True) + discord(workspace="b")
    assert error_of(tmp_path, text).endswith(
        '[[discord]] #0 (workspace "a"): state-changes-only: may only be set when the config is '
        "both default and global"
    )


def test_validate_discord_configs_directly() -> None:
    validate_discord_configs([], where="api")
    validate_discord_configs([DiscordConfig()], where="api")  # one section counts as default
    with pytest.raises(ConfigError, match=r"^api: \[\[discord\]\]: default: at least one"):
        validate_discord_configs(
            [DiscordConfig(workspace="a"), DiscordConfig(workspace="b")], where="api"
        )


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("   ", "username: must be 1 to 80 characters after trimming spaces, got 0"),
        ("x" * 81, "username: must be 1 to 80 characters after trimming spaces, got 81"),
        ("My Discord Bot", 'username: must not contain "discord" (Discord rejects it)'),
        ("CLYDE", 'username: must not contain "clyde" (Discord rejects it)'),
        ("here", 'username: must not be "here" (Discord rejects it)'),
        (" Everyone ", 'username: must not be "everyone" (Discord rejects it)'),
    ],
)
def test_username_rules(tmp_path: Path, username: str, expected: str) -> None:
    assert error_of(tmp_path, discord(username=username)).endswith(f"[[discord]] #0: {expected}")


@pytest.mark.parametrize(
    "username", ["", "Kapacitor", "x" * 80, "  AlertBot  ", "Here and there", "émoji 🔔"]
)
def test_usernames_accepted(tmp_path: Path, username: str) -> None:
    load(tmp_path, discord(username=username))


@pytest.mark.parametrize("avatar", ["ftp://x/y.png", "/img.png", "https://", "not a url"])
def test_avatar_url_must_be_http(tmp_path: Path, avatar: str) -> None:
    assert error_of(tmp_path, discord(avatar_url=avatar)).endswith(
        "[[discord]] #0: avatar-url: must be an http:// or https:// URL with a host"
    )


@pytest.mark.parametrize(
    "url",
    [
        WEBHOOK,
        f"https://discordapp.com/api/webhooks/1/{TOKEN}",
        f"https://ptb.discord.com/api/v10/webhooks/1/{TOKEN}?thread_id=5",
        f"https://canary.discord.com/api/v9/webhooks/1/{TOKEN}/",
    ],
)
def test_discord_webhook_urls_need_no_warning(tmp_path: Path, url: str) -> None:
    config = load(tmp_path, discord(enabled=True, url=url))
    assert config.notes == []


@pytest.mark.parametrize(
    ("url", "host"),
    [
        (f"http://127.0.0.1:8080/relay/{TOKEN}", "127.0.0.1:8080"),
        (f"https://relay.example.org/api/webhooks/1/{TOKEN}", "relay.example.org"),
    ],
)
def test_other_http_urls_are_accepted_with_a_warning(tmp_path: Path, url: str, host: str) -> None:
    config = load(tmp_path, discord(enabled=True, url=url))
    (note,) = config.notes
    assert note.startswith(
        f"WARNING: [[discord]] #0: url: host {host} is not a Discord webhook URL"
    )


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/not-a-number/{TOKEN}",
        f"https://discord.com/webhooks/1/{TOKEN}",
        f"https://user:pw@discord.com/api/webhooks/1/{TOKEN}",
    ],
)
def test_discord_host_with_unexpected_form_warns(tmp_path: Path, url: str) -> None:
    (note,) = load(tmp_path, discord(enabled=True, url=url)).notes
    assert note == (
        "WARNING: [[discord]] #0: url: on discord.com but not of the form "
        "https://discord.com/api/webhooks/<numeric id>/<token>; posting to it anyway"
    )


# Issue 9 item 8: the config and the sender ask one classifier (notify/discord/webhook.py), so
# they agree on these three URLs, which they used to call "a relay" and "Discord" respectively.


def test_ptb_on_the_legacy_host_is_a_discord_webhook(tmp_path: Path) -> None:
    url = f"https://ptb.discordapp.com/api/webhooks/1/{TOKEN}"
    assert load(tmp_path, discord(enabled=True, url=url)).notes == []


def test_http_on_a_discord_host_is_discord_sent_over_https(tmp_path: Path) -> None:
    url = f"http://discord.com/api/webhooks/1/{TOKEN}"
    (note,) = load(tmp_path, discord(enabled=True, url=url)).notes
    assert note == (
        "WARNING: [[discord]] #0: url: http:// on discord.com; Leyden posts to "
        "https://discord.com instead (Discord serves webhooks only over https, and the token "
        "must not travel in clear)"
    )
    assert TOKEN not in note


@pytest.mark.parametrize(("suffix", "expected"), [("/slack", "Slack's"), ("/github", "GitHub's")])
def test_slack_and_github_endpoints_are_refused(tmp_path: Path, suffix: str, expected: str) -> None:
    url = f"https://discord.com/api/webhooks/1/{TOKEN}{suffix}"
    message = error_of(tmp_path, discord(enabled=True, url=url))
    assert message.endswith(
        f"[[discord]] #0: url: a Discord webhook URL ending in {suffix} takes {expected} "
        "message format, not the embeds Leyden sends; use the URL without it"
    )
    assert TOKEN not in message


def test_other_endpoints_of_a_webhook_are_refused(tmp_path: Path) -> None:
    url = f"https://discord.com/api/webhooks/1/{TOKEN}/messages/5"
    message = error_of(tmp_path, discord(enabled=True, url=url))
    assert message.endswith(
        "[[discord]] #0: url: on discord.com, a Discord webhook URL must end with the token "
        "(https://discord.com/api/webhooks/<numeric id>/<token>), not another endpoint"
    )


def test_warning_only_for_enabled_sections(tmp_path: Path) -> None:
    config = load(tmp_path, discord(enabled=False, url="http://127.0.0.1:1/x"))
    assert config.notes == []


@pytest.mark.parametrize(
    "url", [f"ftp://discord.com/{TOKEN}", TOKEN, f"https:///{TOKEN}", f"https://h/{TOKEN} x"]
)
def test_non_http_url_is_an_error(tmp_path: Path, url: str) -> None:
    message = error_of(tmp_path, discord(enabled=False, url=url))
    assert message.endswith(
        "[[discord]] #0: url: must be an http:// or https:// URL with a host "
        "(the value is not shown: it holds the webhook token)"
    )


def test_ssl_cert_and_key_go_together(tmp_path: Path) -> None:
    assert error_of(tmp_path, discord(ssl_cert="/c.pem")).endswith(
        "ssl-key: must be set when ssl-cert is set"
    )
    assert error_of(tmp_path, discord(ssl_key="/k.pem")).endswith(
        "ssl-cert: must be set when ssl-key is set"
    )


def test_ssl_files_must_exist_when_enabled(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    load(tmp_path, discord(enabled=True, url=WEBHOOK, ssl_ca=str(ca)))
    missing = tmp_path / "nope.pem"
    message = error_of(tmp_path, discord(enabled=True, url=WEBHOOK, ssl_ca=str(missing)))
    assert message.endswith(f'[[discord]] #0: ssl-ca: file "{missing}" does not exist')


def test_several_problems_in_one_section_are_reported_together(tmp_path: Path) -> None:
    message = error_of(tmp_path, discord(enabled=True, username="clyde", avatar_url="x"))
    assert (
        "url: must specify" in message and "avatar-url:" in message and 'contain "clyde"' in message
    )


# --------------------------------------------------------------------------------------------
# to_options / from_options


def test_to_options_uses_kapacitor_names_and_redacts_url() -> None:
    config = DiscordConfig(
        enabled=True, url=WEBHOOK, avatar_url=AVATAR, global_=True, state_changes_only=True
    )
    options = config.to_options()
    assert list(options) == [
        "enabled", "default", "workspace", "url", "timestamp", "username", "avatar-url",
        "embed-title", "global", "state-changes-only", "ssl-ca", "ssl-cert", "ssl-key",
        "insecure-skip-verify",
        # Leyden's own keys come after Kapacitor's
        "edit-in-place", "thread-id", "forum-thread", "mention-roles", "mention-users",
        "mention-level", "silent-below", "tags-as-fields", "link",
    ]  # fmt: skip
    assert options["mention-level"] == "CRITICAL" and options["mention-roles"] == []
    assert options["url"] is True
    assert options["global"] is True and options["avatar-url"] == AVATAR
    assert TOKEN not in repr(options) and TOKEN not in repr(config)
    assert DiscordConfig().to_options()["url"] is False
    assert config.to_options(redact=False)["url"] == WEBHOOK


def test_from_options_round_trip_and_strictness() -> None:
    config = DiscordConfig(workspace="ops", url=WEBHOOK, username="Bot", global_=True)
    assert DiscordConfig.from_options(config.to_options(redact=False), where="api") == config
    assert DiscordConfig.from_options({"workspace": "x"}, where="api") == DiscordConfig(
        workspace="x"
    )
    with pytest.raises(
        ConfigError, match=r"^api: embed_title: unknown key; did you mean embed-title\?$"
    ):
        DiscordConfig.from_options({"embed_title": "x"}, where="api")
    with pytest.raises(
        ConfigError, match=r"^api: timestamp: expected a boolean \(true or false\), got string$"
    ):
        DiscordConfig.from_options({"timestamp": "true"}, where="api")
    with pytest.raises(ConfigError, match=r"^api: username: expected a string, got null$"):
        DiscordConfig.from_options({"username": None}, where="api")
    with pytest.raises(ConfigError, match=r"^api: expected a table, got array$"):
        DiscordConfig.from_options([], where="api")  # type: ignore[arg-type]


def test_validate_returns_problems_without_raising() -> None:
    assert DiscordConfig().validate() == []
    assert DiscordConfig(enabled=True).validate() == [
        "url: must specify the Discord channel webhook URL when enabled"
    ]


# --------------------------------------------------------------------------------------------
# Other sections


@pytest.mark.parametrize(
    "address", [":9092", "127.0.0.1:9092", "localhost:0", "[::1]:65535", "0.0.0.0:80"]
)
def test_bind_address_accepted(tmp_path: Path, address: str) -> None:
    assert load(tmp_path, f'[http]\nbind-address = "{address}"\n').http.bind_address == address


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("9092", "must be host:port"),
        ("", "must be host:port"),
        ("localhost:", "has no port"),
        ("localhost:http", "has a port that is not a number"),
        ("localhost:65536", "has a port out of range (0-65535)"),
        ("::1:9092", "write an IPv6 host in brackets"),
    ],
)
def test_bind_address_rejected(tmp_path: Path, address: str, problem: str) -> None:
    message = error_of(tmp_path, f'[http]\nbind-address = "{address}"\n')
    assert f'[http]: bind-address: "{address}" ' in message and problem in message


def test_https_needs_existing_certificate(tmp_path: Path) -> None:
    assert error_of(tmp_path, "[http]\nhttps-enabled = true\n").endswith(
        "[http]: https-certificate: must be set when https-enabled = true"
    )
    message = error_of(
        tmp_path, "[http]\nhttps-enabled = true\nhttps-certificate = '/no/such.pem'\n"
    )
    assert message.endswith('https-certificate: file "/no/such.pem" does not exist')


@pytest.mark.parametrize(
    ("level", "stored"),
    [("debug", "DEBUG"), ("Info", "INFO"), ("WARN", "WARN"), ("error", "ERROR")],
)
def test_logging_levels(tmp_path: Path, level: str, stored: str) -> None:
    assert load(tmp_path, f'[logging]\nlevel = "{level}"\n').logging.level == stored


def test_logging_level_rejected_with_hint(tmp_path: Path) -> None:
    assert error_of(tmp_path, '[logging]\nlevel = "WARNING"\n').endswith(
        '[logging]: level: must be one of DEBUG, INFO, WARN, ERROR, got "WARNING"; did you mean WARN?'
    )


def test_top_level_values_must_not_be_empty(tmp_path: Path) -> None:
    assert error_of(tmp_path, 'hostname = ""\n').endswith(
        "kapacitor.conf: hostname: must not be empty"
    )
    assert error_of(tmp_path, 'data_dir = ""\n').endswith(
        "kapacitor.conf: data_dir: must not be empty"
    )


def test_alert_buffer_not_negative(tmp_path: Path) -> None:
    assert error_of(tmp_path, "[alert]\ntopic-buffer-length = -1\n").endswith(
        "[alert]: topic-buffer-length: must not be negative"
    )


def test_storage_never_uses_the_boltdb_path(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[storage]\nboltdb = '/var/lib/k.db'\nsqlite = '/var/lib/k.db'\n")
    assert message.endswith(
        '[storage]: sqlite: must not be the Kapacitor BoltDB file "/var/lib/k.db"; Leyden never writes to it'
    )
    config = load(tmp_path, "data_dir = '/d'\n[storage]\nsqlite = '/elsewhere/l.db'\n")
    assert config.sqlite_path() == "/elsewhere/l.db" and config.notes == []


def test_auth_users(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [http]
          auth-enabled = true
        [auth]
          enabled = true
          [[auth.users]]
            username = "ops"
            password = "hunter2-secret"
          [[auth.users]]
            username = "writer"
            password = "pw2"
            permissions = ["write_points"]
        """,
    )
    assert [(u.username, u.permissions) for u in config.auth.users] == [
        ("ops", ["all"]),
        ("writer", ["write_points"]),
    ]
    assert config.notes == []
    assert "hunter2-secret" not in repr(config)


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        (
            "[[auth.users]]\nusername = 'a'\npassword = ''\n",
            '[[auth.users]] #0 (username "a"): password: must not be empty',
        ),
        ("[[auth.users]]\npassword = 'p'\n", "[[auth.users]] #0: username: must not be empty"),
        ("[[auth.users]]\nusername = 'a:b'\npassword = 'p'\n", 'username: must not contain ":"'),
        (
            "[[auth.users]]\nusername = 'a'\npassword = 'p'\npermissions = ['rite_points']\n",
            'permissions: unknown permission "rite_points", expected any of none, api, config_api, '
            "write_points, all; did you mean write_points?",
        ),
        (
            "[[auth.users]]\nusername = 'a'\npassword = 'p'\n[[auth.users]]\nusername = 'a'\npassword = 'q'\n",
            '[[auth.users]] #0 and #1: username "a" is used twice',
        ),
    ],
)
def test_auth_user_rules(tmp_path: Path, users: str, expected: str) -> None:
    message = error_of(tmp_path, "[auth]\nenabled = true\n" + users)
    assert expected in message


def test_auth_notes(tmp_path: Path) -> None:
    refused = error_of(tmp_path, "[http]\nauth-enabled = true\n")
    assert "[auth]: enabled: [http] auth-enabled = true but [auth] enabled = false" in refused
    assert "accept-any-password = true" in refused
    noauth = load(tmp_path, "[http]\nauth-enabled = true\n[auth]\naccept-any-password = true\n")
    assert any("any username and password is accepted" in n for n in noauth.notes)
    nobody = load(tmp_path, "[http]\nauth-enabled = true\n[auth]\nenabled = true\n")
    assert any("every request will be refused" in n for n in nobody.notes)
    idle = load(tmp_path, "[auth]\nenabled = true\n")
    assert idle.notes == ["[auth] enabled has no effect while [http] auth-enabled = false"]


@pytest.mark.parametrize(
    "case",
    [
        "TestStream_AlertHTTPPostEndpoint",
        "TestStream_HttpPostEndpoint",
        "TestStream_HttpPostEndpoint_CustomBody",
    ],
)
def test_conformance_httppost_configs(tmp_path: Path, case: str) -> None:
    source = Path("/work/shared/conformance/cases") / case / "kapacitor.conf"
    if not source.exists():
        pytest.skip("conformance kit not available")
    text = source.read_text().replace("{{POST_URL}}", "http://127.0.0.1:1/post")
    (post,) = load(tmp_path, text).httppost
    assert post.endpoint == "test" and post.url == "http://127.0.0.1:1/post"


def test_conformance_discord_config(tmp_path: Path) -> None:
    source = Path("/work/shared/conformance/cases/TestStream_AlertDiscord/kapacitor.conf")
    if not source.exists():
        pytest.skip("conformance kit not available")
    config = load(tmp_path, source.read_text().replace("{{DISCORD_URL}}", "http://127.0.0.1:4242"))
    assert [d.workspace for d in config.integrations["discord"]] == ["", "company_private"]
    assert len(config.notes) == 2 and all("host 127.0.0.1:4242" in n for n in config.notes)


def test_httppost_headers_and_templates(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [[httppost]]
          endpoint = "test"
          url = "http://127.0.0.1:1/{{.ID}}"
          row-template = '{{.Name}} host={{index .Tags "host"}}'
          [httppost.headers]
            Authorization = "works"
        """,
    )
    (post,) = config.httppost
    assert post.headers == {"Authorization": "works"}
    assert post.row_template.startswith("{{.Name}}")
    assert post.to_options()["basic-auth"] is False
    assert post.to_options()["headers"] is True  # "is set": the values are credentials
    assert post.to_options(redact=False)["headers"] == {"Authorization": "works"}
    assert "works" not in repr(post)
    assert HTTPPostConfig.from_options(post.to_options(redact=False), where="api") == post


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("url = 'http://x'\n", "[[httppost]] #0: endpoint: must specify endpoint name"),
        ("endpoint = 'e'\n", '[[httppost]] #0 (endpoint "e"): url: must specify url'),
        (
            "endpoint = 'e'\nurl = 'http://x'\nalert-template = 'a'\nalert-template-file = '/a'\n",
            "must specify only one of alert-template and alert-template-file",
        ),
        (
            "endpoint = 'e'\nurl = 'http://x'\nrow-template-file = 'rel.tmpl'\n",
            "row-template-file: must use an absolute path",
        ),
    ],
)
def test_httppost_rules(tmp_path: Path, body: str, expected: str) -> None:
    assert error_of(tmp_path, "[[httppost]]\n" + body).endswith(expected)


def test_httppost_duplicate_endpoint(tmp_path: Path) -> None:
    text = "[[httppost]]\nendpoint = 'e'\nurl = 'http://a'\n[[httppost]]\nendpoint = 'e'\nurl = 'http://b'\n"
    assert error_of(tmp_path, text).endswith(
        '[[httppost]] #0 and #1: endpoint "e" is used twice; each endpoint needs a unique name'
    )


# --------------------------------------------------------------------------------------------
# Secrets never leak


SECRET_CASES = {
    "url non-http": discord(enabled=True, url=f"ftp://discord.com/api/webhooks/1/{TOKEN}"),
    "url with space": discord(enabled=True, url=f"https://discord.com/api/webhooks/1/{TOKEN} "),
    "relay warning": discord(enabled=True, url=f"https://relay.example/{TOKEN}"),
    "bad username": discord(enabled=True, url=WEBHOOK, username="discord"),
    "two defaults": discord(enabled=True, url=WEBHOOK, workspace="a", default=True)
    + discord(enabled=True, url=WEBHOOK, workspace="b", default=True),
    "global on non-default": discord(url=WEBHOOK, workspace="a", default=True)
    + discord(url=WEBHOOK, workspace="b", **{"global": True}),
    "missing ssl file": discord(enabled=True, url=WEBHOOK, ssl_ca="/nope"),
    "unknown key": discord(url=WEBHOOK, colour="red"),
    "wrong type next to url": discord(url=WEBHOOK, timestamp="yes"),
    "toml error after url": f'[[discord]]\nurl = "{WEBHOOK}"\nenabled = tru\n',
    "password in auth user": f"[auth]\nenabled = true\n[[auth.users]]\nusername = 'a:b'\npassword = '{TOKEN}'\n",
    "basic auth password": f"[[httppost]]\nendpoint = 'e'\nbasic-auth = {{ password = '{TOKEN}' }}\n",
    "authorization header": f"[[httppost]]\nendpoint = 'e'\nurl = 'http://x'\nheaders = {{ Authorization = '{TOKEN}' }}\n",
    "shared secret": f"[http]\nshared-secret = '{TOKEN}'\nbind-address = 'x'\n",
    "valid config": discord(enabled=True, url=WEBHOOK),
}


@pytest.mark.parametrize("text", SECRET_CASES.values(), ids=SECRET_CASES.keys())
@pytest.mark.parametrize("via_env", [False, True], ids=["file", "env"])
def test_secrets_never_in_errors_notes_or_repr(tmp_path: Path, text: str, via_env: bool) -> None:
    env: dict[str, str] = {}
    if via_env:
        env = {
            "KAPACITOR_DISCORD_0_URL": f"gopher://x/{TOKEN}",
            "KAPACITOR_HTTP_SHARED_SECRET": TOKEN,
        }
    try:
        config = load(tmp_path, text, env)
    except ConfigError as exc:
        assert TOKEN not in str(exc)
        assert TOKEN not in repr(exc)
        assert exc.__cause__ is None or TOKEN not in str(exc.__cause__)
        return
    assert all(TOKEN not in note for note in config.notes)
    assert TOKEN not in repr(config)
    assert all(TOKEN not in repr(d.to_options()) for d in config.integrations["discord"])
    assert all(TOKEN not in repr(p.to_options()) for p in config.httppost)


def test_env_secret_value_not_echoed_on_type_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            None, {"KAPACITOR_DISCORD_0_ENABLED": TOKEN}, integrations=INTEGRATIONS.sections()
        )
    assert TOKEN not in str(info.value)


def test_engine_workers_from_the_file_and_the_environment(tmp_path: Path) -> None:
    assert load(tmp_path, "").engine.workers == 0  # one engine process per core by default
    assert load(tmp_path, "[engine]\n  workers = 3\n").engine.worker_count() == 3
    env = {"KAPACITOR_ENGINE_WORKERS": "2"}
    assert load(tmp_path, "[engine]\n  workers = 3\n", env).engine.workers == 2
    config = load(tmp_path, "[engine]\n  workers = 0\n")
    assert config.engine.worker_count() >= 1  # one per core
    assert "[engine]" in error_of(tmp_path, "[engine]\n  workers = -1\n")
    assert "workers" in error_of(tmp_path, '[engine]\n  workers = "two"\n')


def test_engine_max_groups_per_task(tmp_path: Path) -> None:
    assert load(tmp_path, "").engine.max_groups_per_task == 100_000
    assert load(tmp_path, "[engine]\n  max-groups-per-task = 0\n").engine.max_groups_per_task == 0
    env = {"KAPACITOR_ENGINE_MAX_GROUPS_PER_TASK": "500"}
    assert load(tmp_path, "", env).engine.max_groups_per_task == 500
    message = error_of(tmp_path, "[engine]\n  max-groups-per-task = -1\n")
    assert "[engine]" in message and "max-groups-per-task: must be 0 (unlimited) or more" in message
    assert "max-groups-per-task" in error_of(tmp_path, '[engine]\n  max-groups-per-task = "x"\n')


# --------------------------------------------------------------------------------------------
# Leyden's own [[discord]] keys (issue 12)

ROLE = "123456789012345678"
USER = "223456789012345678"
THREAD = "323456789012345678"


def test_discord_feature_keys_from_file_and_environment(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        f"""
        [[discord]]
          enabled = true
          url = "{WEBHOOK}"
          edit-in-place = true
          mention-roles = ["{ROLE}"]
          mention-level = "WARNING"
          tags-as-fields = true
          link = "https://grafana.example/d/x?host={{{{ index .Tags \\"host\\" }}}}"
        """,
        {
            "KAPACITOR_DISCORD_0_MENTION_USERS": f"{USER}, {ROLE}",
            "KAPACITOR_DISCORD_0_SILENT_BELOW": "WARNING",
            "KAPACITOR_DISCORD_0_THREAD_ID": THREAD,
        },
    )
    (section,) = config.integrations["discord"]
    assert section.edit_in_place and section.tags_as_fields and not section.forum_thread
    assert section.mention_roles == [ROLE]
    assert section.mention_users == [USER, ROLE]
    assert (section.mention_level, section.silent_below) == ("WARNING", "WARNING")
    assert section.thread_id == THREAD
    assert section.link.startswith("https://grafana.example/d/x?host={{")
    # off by default, CRITICAL pings
    default = DiscordConfig()
    assert (default.mention_level, default.silent_below, default.mention_roles) == (
        "CRITICAL",
        "",
        [],
    )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            'thread-id = "general"',
            "thread-id: must be a Discord ID (a snowflake: 17 to 20 decimal digits)",
        ),
        (
            f'mention-roles = ["{ROLE}", "<@&{ROLE}>"]',
            "mention-roles: element 1: must be a Discord ID",
        ),
        ('mention-users = ["12345"]', "mention-users: element 0: must be a Discord ID"),
        (
            'mention-level = "warning"',
            "mention-level: must be one of OK, INFO, WARNING, CRITICAL (levels are upper case: "
            "WARNING)",
        ),
        ('silent-below = "HIGH"', "silent-below: must be one of OK, INFO, WARNING, CRITICAL"),
        ('link = "{{ .ID "', "link: is not a valid template: "),
        (
            f'thread-id = "{THREAD}"\n  forum-thread = true',
            "forum-thread: must not be true when thread-id is set",
        ),
        ("thread-id = 323456789012345678", "thread-id: expected a string, got integer"),
    ],
)
def test_discord_feature_keys_are_validated(tmp_path: Path, keys: str, message: str) -> None:
    text = f'[[discord]]\n  enabled = true\n  url = "{WEBHOOK}"\n  {keys}\n'
    error = error_of(tmp_path, text)
    assert "[[discord]] #0" in error and message in error, error
    assert TOKEN not in error


def test_discord_feature_env_values_are_validated_too(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        f'[[discord]]\n  enabled = true\n  url = "{WEBHOOK}"\n',
        {"KAPACITOR_DISCORD_0_MENTION_ROLES": "ops-team"},
    )
    assert "mention-roles: element 0: must be a Discord ID" in error
