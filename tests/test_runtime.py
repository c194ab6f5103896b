"""The composition root: one object graph, every collaborator required, the engine a leaf."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leyden.clock import SimulatedClock
from leyden.config import BasicAuth, Config, ConfigError, HTTPPostConfig, load_config
from leyden.engine.services import AlertNodeOptions, HTTPEndpoint
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime, alert_node_options, delivery_settings, httppost_endpoints
from leyden.server.app import create_app
from leyden.server.tasks_api import TASKS_KEY
from leyden.server.topics_api import TOPIC_HANDLERS_KEY
from leyden.tasks.manager import TaskManager

MakeRuntime = Callable[..., Runtime]


def test_one_graph_shared_by_every_consumer(make_runtime: MakeRuntime) -> None:
    clock = SimulatedClock(0)
    runtime = make_runtime(Config(), clock=clock)
    assert runtime.task_services.alerts is runtime.alerts
    assert runtime.topic_handlers.alerts is runtime.alerts
    assert runtime.topic_handlers.clock is clock
    assert runtime.runner.router is runtime.router
    assert runtime.runner.clock is clock
    assert runtime.runner.services is runtime.task_services
    assert runtime.tasks.runner is runtime.runner
    assert runtime.tasks.store is runtime.store
    app = create_app(runtime)
    assert app[TASKS_KEY] is runtime.tasks
    assert app[TOPIC_HANDLERS_KEY] is runtime.topic_handlers


def test_a_missing_collaborator_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        TaskManager()  # type: ignore[call-arg]


def test_alert_options_come_from_the_alert_section() -> None:
    assert alert_node_options(load_config(None, {})) == AlertNodeOptions()
    config = load_config(
        None,
        {
            "KAPACITOR_ALERT_PER_GROUP_LAMBDA_STATE": "true",
            "KAPACITOR_ALERT_CHRONOLOGICAL_FLAPPING": "1",
        },
    )
    assert alert_node_options(config) == AlertNodeOptions(True, True)


def test_httppost_endpoints_carry_their_basic_auth() -> None:
    config = Config(
        httppost=[
            HTTPPostConfig(
                endpoint="hook",
                url="http://example.invalid/x",
                headers={"X-A": "1", "Authorization": "ignored"},
                basic_auth=BasicAuth(username="u", password="p"),
                row_template="{{ .Name }}",
            ),
            HTTPPostConfig(endpoint="hook", url="http://second.invalid/"),
        ]
    )
    token = base64.b64encode(b"u:p").decode()
    assert httppost_endpoints(config) == {
        "hook": HTTPEndpoint(
            name="hook",
            url="http://example.invalid/x",
            headers={"X-A": "1", "Authorization": f"Basic {token}"},
            row_template="{{ .Name }}",
        )
    }


def test_the_engine_imports_nothing_of_the_doors_storage_or_delivery() -> None:
    """It publishes through its own ports; the runtime wires the implementations."""
    code = (
        "import sys, leyden.engine, leyden.engine.task, leyden.engine.nodes\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('leyden.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    forbidden = ("leyden.alerting", "leyden.discord", "leyden.notify", "leyden.server")
    forbidden += ("leyden.store", "leyden.runtime", "leyden.tasks", "leyden.config")
    assert [m for m in out if m.startswith(forbidden)] == []


def test_delivery_section_reaches_the_dispatcher(tmp_path: Path) -> None:
    """``[delivery]`` (issue 10): max age, backoff and the Discord channel budget."""
    conf = tmp_path / "leyden.conf"
    conf.write_text(
        '[delivery]\nmax-age = "1h"\nretry-backoff = "2s"\nretry-max-backoff = "5m"\n'
        "discord-channel-limit = 20\n"
    )
    config = load_config(str(conf), {}, integrations=INTEGRATIONS.sections())
    settings = delivery_settings(config)
    assert (settings.max_age, settings.backoff_base, settings.backoff_cap) == (3600, 2, 300)
    assert settings.pacing.channel_limit == 20
    defaults = delivery_settings(load_config(None, {}, integrations=INTEGRATIONS.sections()))
    assert (defaults.max_age, defaults.pacing.channel_limit) == (24 * 3600, 30)
    bad = tmp_path / "bad.conf"
    bad.write_text('[delivery]\nmax-age = "0s"\n')
    with pytest.raises(ConfigError, match="max-age: must be more than 0"):
        load_config(str(bad), {}, integrations=INTEGRATIONS.sections())


def test_broken_webhook_protection_is_on_by_default_and_configurable(tmp_path: Path) -> None:
    """``[delivery] webhook-breaker`` and ``invalid-request-limit`` (issue 12)."""
    defaults = delivery_settings(load_config(None, {}, integrations=INTEGRATIONS.sections()))
    assert (defaults.breaker, defaults.invalid_limit, defaults.invalid_window) == (
        True,
        1000,
        600.0,
    )
    conf = tmp_path / "leyden.conf"
    conf.write_text("[delivery]\nwebhook-breaker = false\ninvalid-request-limit = 200\n")
    settings = delivery_settings(load_config(str(conf), {}, integrations=INTEGRATIONS.sections()))
    assert (settings.breaker, settings.invalid_limit) == (False, 200)
    for value, message in (
        ("0", "invalid-request-limit: must be more than 0"),
        ("10000", "invalid-request-limit: must be below 10000"),
    ):
        conf.write_text(f"[delivery]\ninvalid-request-limit = {value}\n")
        with pytest.raises(ConfigError, match=message):
            load_config(str(conf), {}, integrations=INTEGRATIONS.sections())
