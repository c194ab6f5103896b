"""The template rules of :mod:`leyden.tasks.templates`: validation as Kapacitor's
``NewTemplate`` (declared-only vars stand in as zero values), the vars listed from the
declarations, and the errors a refused template gets."""

from __future__ import annotations

import pytest

from leyden.tasks.manager import TaskRequestError
from leyden.tasks.templates import build_template, template_vars

ALL = """// the measurement to watch
var measurement = 'cpu'
var crit float
var count_threshold = 5
// how far back
var period = 10s
var on = TRUE
var tags = /^web-[0-9]+$/
var match lambda
var cond = lambda: "usage_idle" < crit
var groups = ['host', 'dc']
var every = [*]
var by list

stream
    |from()
        .measurement(measurement)
        .where(match)
        .groupBy(groups)
    |window()
        .period(period)
        .every(period)
    |alert()
        .crit(cond)
"""


def test_vars_are_listed_from_the_declarations_as_kapacitor_shows_them() -> None:
    pipeline = build_template("tpl", ALL)
    assert pipeline.task_type == "stream"
    assert template_vars(pipeline, ALL) == {
        "measurement": {
            "type": "string",
            "value": "cpu",
            "description": "the measurement to watch",
        },
        "crit": {"type": "float", "value": None, "description": ""},
        "count_threshold": {"type": "int", "value": 5, "description": ""},
        "period": {"type": "duration", "value": 10_000_000_000, "description": "how far back"},
        "on": {"type": "bool", "value": True, "description": ""},
        "tags": {"type": "regex", "value": "^web-[0-9]+$", "description": ""},
        "match": {"type": "lambda", "value": None, "description": ""},
        # a var inside a lambda is resolved to its value when declared, as in Kapacitor
        "cond": {"type": "lambda", "value": '"usage_idle" < 0.0', "description": ""},
        "groups": {
            "type": "list",
            "value": [
                {"type": "string", "value": "host", "description": ""},
                {"type": "string", "value": "dc", "description": ""},
            ],
            "description": "",
        },
        "every": {
            "type": "list",
            "value": [{"type": "star", "value": None, "description": ""}],
            "description": "",
        },
        "by": {"type": "list", "value": None, "description": ""},
    }


@pytest.mark.parametrize(
    ("script", "asked", "message"),
    [
        ("var x = 5\n", "", "invalid task type: invalid"),
        ("stream|from()\n", "batch", "invalid template type batch: the TICKscript reads stream"),
        ("var x flot\nstream|from()\n", "", "invalid TICKscript: tpl:1:7: invalid var type"),
        ("stream|from(\n", "", "invalid TICKscript: tpl:"),
    ],
)
def test_refused_templates_say_why(script: str, asked: str, message: str) -> None:
    with pytest.raises(TaskRequestError) as caught:
        build_template("tpl", script, asked)
    assert caught.value.message.startswith(message), caught.value.message
    assert caught.value.status == 400
