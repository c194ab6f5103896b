"""``[[influxdb]]`` as Kapacitor reads it: keys, defaults, rules, environment, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from leyden.config import INFLUXDB_SECTION, ConfigError, InfluxDBConfig, load_config


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[InfluxDBConfig]:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text)
    config = load_config(str(path), env or {})
    return config.sections(INFLUXDB_SECTION)


def test_kapacitors_shipped_section_is_read(tmp_path: Path) -> None:
    (cluster,) = load(
        tmp_path,
        """
[[influxdb]]
  enabled = true
  default = true
  name = "localhost"
  urls = ["http://localhost:8086"]
  username = ""
  password = ""
  timeout = 0
  insecure-skip-verify = false
  startup-timeout = "5m"
  disable-subscriptions = false
  subscription-mode = "cluster"
  subscription-protocol = "http"
  subscriptions-sync-interval = "1m0s"
  kapacitor-hostname = ""
  http-port = 0
  udp-bind = ""
  udp-buffer = 1000
  udp-read-buffer = 0
  [influxdb.subscriptions]
  [influxdb.excluded-subscriptions]
    _kapacitor = ["autogen"]
""",
    )
    assert cluster.name == "localhost" and cluster.default and cluster.enabled
    assert cluster.sync_interval_ns() == 60_000_000_000
    assert cluster.startup_timeout_ns() == 300_000_000_000
    assert cluster.excluded_subscriptions == {"_kapacitor": ["autogen"]}


def test_without_a_section_the_built_in_cluster_is_off_until_the_environment_says(
    tmp_path: Path,
) -> None:
    (builtin,) = load_config(None, {}).sections(INFLUXDB_SECTION)
    assert not builtin.enabled
    (on,) = load_config(
        None,
        {
            "KAPACITOR_INFLUXDB_0_ENABLED": "true",
            "KAPACITOR_INFLUXDB_0_URLS": "http://db1:8086,http://db2:8086",
            "KAPACITOR_INFLUXDB_0_PASSWORD": "s3cret",
        },
    ).sections(INFLUXDB_SECTION)
    assert on.enabled and on.urls == ["http://db1:8086", "http://db2:8086"]
    assert on.password == "s3cret"
    options = on.to_options()
    assert options["password"] is True and options["token"] is False  # redacted
    assert "s3cret" not in repr(on)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[influxdb]]\n  name = "a b"', "name: influxdb cluster name must contain only"),
        ("[[influxdb]]\n  urls = []", "urls: must specify at least one InfluxDB URL"),
        ('[[influxdb]]\n  urls = ["ftp://x"]', 'URL #0 must start with "http://"'),
        ('[[influxdb]]\n  subscription-protocol = "tcp"', "invalid subscription protocol"),
        ('[[influxdb]]\n  subscription-mode = "all"', 'unknown subscription mode "all"'),
        ('[[influxdb]]\n  ssl-ca = "/nonexistent/ca.pem"', 'ssl-ca: cannot read "/nonexistent'),
        ('[[influxdb]]\n  subscriptions = { db = "rp" }', "subscriptions.db: expected an array"),
        (
            '[[influxdb]]\n  name = "a"\n[[influxdb]]\n  name = "a"',
            'duplicate name "a" for influxdb configs',
        ),
        (
            '[[influxdb]]\n  name = "a"\n[[influxdb]]\n  name = "b"',
            "must be marked as default",
        ),
        (
            '[[influxdb]]\n  name = "a"\n  default = true\n'
            '[[influxdb]]\n  name = "b"\n  default = true',
            "more than one InfluxDB default was specified",
        ),
    ],
)
def test_rules_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="influxdb") as caught:
        load(tmp_path, text)
    assert message in str(caught.value)


def test_udp_subscriptions_are_refused_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "kapacitor.conf"
    path.write_text('[[influxdb]]\n  subscription-protocol = "udp"\n')
    config = load_config(str(path), {})
    assert any("udp" in note and "not supported" in note for note in config.notes)
