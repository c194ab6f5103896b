"""AlertSettings: an alert node's properties read once, validated, with Kapacitor's defaults."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from leyden.engine.nodes.alert_settings import AlertSettings, AlertSettingsError
from leyden.tick.builder import build_pipeline
from leyden.tick.pipeline import (
    DEFAULT_DETAILS_TEMPLATE,
    DEFAULT_ID_TEMPLATE,
    DEFAULT_MESSAGE_TEMPLATE,
)

S = 1_000_000_000


def props_of(chain: str) -> dict[str, Any]:
    script = f"stream|from().measurement('cpu')|alert(){chain}"
    spec = next(n for n in build_pipeline(script).nodes if n.kind == "alert")
    return spec.properties


def test_no_properties_are_kapacitors_defaults() -> None:
    settings = AlertSettings.from_spec({})
    assert settings == AlertSettings()
    assert settings.id_template == DEFAULT_ID_TEMPLATE
    assert settings.message_template == DEFAULT_MESSAGE_TEMPLATE
    assert settings.details_template == DEFAULT_DETAILS_TEMPLATE
    assert settings.history == 21
    assert settings.topic is None
    assert settings.predicates == settings.resets == (None, None, None, None)
    assert not (settings.augments_tags or settings.augments_fields)


def test_a_plain_alert_of_a_script_has_the_defaults() -> None:
    assert AlertSettings.from_spec(props_of("")) == AlertSettings()


def test_every_property_of_a_script() -> None:
    settings = AlertSettings.from_spec(
        props_of(
            ".id('x').message('m').details('d')"
            '.info(lambda: "v" > 1).warn(lambda: "v" > 2).warnReset(lambda: "v" < 1)'
            ".history(5).flapping(0.2, 0.6).stateChangesOnly(10s).noRecoveries().all()"
            ".category('db').topic('ops').inhibit('db', 'host', 'dc').inhibit('net')"
            ".levelTag('lt').idTag('it').levelField('lf').messageField('mf')"
            ".idField('if').durationField('df')"
        )
    )
    assert (settings.id_template, settings.message_template, settings.details_template) == (
        "x",
        "m",
        "d",
    )
    assert [p is not None for p in settings.predicates] == [False, True, True, False]
    assert [r is not None for r in settings.resets] == [False, False, True, False]
    assert settings.history == 5
    assert (settings.flapping, settings.flap_low, settings.flap_high) == (True, 0.2, 0.6)
    assert settings.state_changes_only
    assert settings.state_changes_only_interval == 10 * S
    assert settings.no_recoveries and settings.all_points
    assert (settings.category, settings.topic) == ("db", "ops")
    assert settings.inhibitors == (("db", ("host", "dc")), ("net", ()))
    assert (settings.level_tag, settings.id_tag) == ("lt", "it")
    assert (settings.level_field, settings.message_field) == ("lf", "mf")
    assert (settings.id_field, settings.duration_field) == ("if", "df")
    assert settings.augments_tags and settings.augments_fields


def test_a_reset_without_its_level_is_dropped() -> None:
    settings = AlertSettings.from_spec(props_of('.critReset(lambda: "v" < 1)'))
    assert settings.resets == (None, None, None, None)


@pytest.mark.parametrize(("history", "kept"), [(0, 2), (1, 2), (2, 2), (30, 30)])
def test_history_is_at_least_two(history: int, kept: int) -> None:
    assert AlertSettings.from_spec({"history": history}).history == kept


def test_flap_thresholds_are_fractions() -> None:
    with pytest.raises(AlertSettingsError, match="between 0 and 1"):
        AlertSettings.from_spec({"flapping": True, "flapLow": 0.2, "flapHigh": 2.0})
    # without flapping the thresholds are not looked at, as in Kapacitor's validate
    assert AlertSettings.from_spec({"flapLow": 5.0}).flap_low == 5.0


def test_an_empty_topic_is_the_anonymous_one() -> None:
    assert AlertSettings.from_spec({"topic": ""}).topic is None


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AlertSettings().history = 3  # type: ignore[misc]
