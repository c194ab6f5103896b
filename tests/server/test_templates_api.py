"""``/kapacitor/v1/templates``: Kapacitor's template API and tasks made from templates.

The scenarios are Kapacitor's ``server/server_test.go`` template tests (TestServer_CreateTemplate,
TestServer_UpdateTemplateID, TestServer_UpdateTemplateID_Fail, …_WithTasks, …_WithTasks_Fail,
TestServer_CreateTemplateImplicitAndUpdateExplicitWithTasks, TestServer_DeleteTemplate,
TestServer_CreateTaskFromTemplate, TestServer_StreamTemplateTask, …_MissingVar, …_AllTypes,
…FromUpdate, …_UpdateTemplate, …_UpdateTemplate_Rollback) as data: request → expected status
and JSON, run against the real aiohttp app with a real runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leyden.config import Config
from leyden.runtime import Runtime
from leyden.server.app import create_app

ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]
TEMPLATES = "/kapacitor/v1/templates"
TASKS = "/kapacitor/v1/tasks"

TICK_X = """var x = 5

stream
    |from()
        .measurement('test')
"""
DOT = "digraph testTemplateID {\nstream0 -> from1;\n}"
VARS_X = {"x": {"type": "int", "value": 5, "description": ""}}
DBRPS = [{"db": "mydb", "rp": "myrp"}, {"db": "otherdb", "rp": "default"}]
MYDB = [{"db": "mydb", "rp": "myrp"}]

COUNT_DEFAULT = """
var field = 'nonexistent'
stream
    |from()
        .measurement('test')
    |window()
        .period(10s)
        .every(10s)
    |count(field)
    |httpOut('count')
"""
COUNT_WRONG = COUNT_DEFAULT.replace("var field = 'nonexistent'\n", "").replace(
    "count(field)", "count('wrong')"
)
COUNT_REQUIRED = COUNT_DEFAULT.replace("var field = 'nonexistent'", "var field string")
COUNT_PERIOD = COUNT_REQUIRED.replace(
    "var field string", "var field string\nvar period duration"
).replace(".period(10s)\n        .every(10s)", ".period(period)\n        .every(period)")
FIELD_VALUE = {"field": {"type": "string", "value": "value"}}
POINTS = "".join(
    f"test value=1 {s:010d}\n" for s in (0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 5, 6, 7, 8, 9, 10, 11)
)
COUNT_15 = (
    '{"series":[{"name":"test","columns":["time","count"],"values":[["1970-01-01T00:00:10Z",15]]}]}'
)


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, tmp_path: Path, make_runtime: MakeRuntime
) -> TestClient:
    return await aiohttp_client(create_app(make_runtime(Config())))


Step = tuple[str, str, Any, int, Any]


def _matches(got: Any, expected: Any) -> bool:
    """``expected`` dicts are subsets (keys given must be equal); anything else is equal."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return all(k in got and _matches(got[k], v) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(map(_matches, got, expected))
    return bool(got == expected)


async def _run(client: TestClient, steps: list[Step]) -> None:
    for i, (method, path, body, status, expected) in enumerate(steps):
        if method == "WRITE":
            resp = await client.post(path, data=body)
        else:
            resp = await client.request(method, path, json=body)
        got = await resp.json() if resp.status != 204 else None
        assert resp.status == status, (i, method, path, got)
        if isinstance(expected, str):  # an error text
            assert got == {"error": expected, "message": expected} or (
                isinstance(got, dict) and got.get("error") == expected
            ), (i, got)
        elif expected is not None:
            assert _matches(got, expected), (i, method, path, got)


def _template(tid: str, tick: str, **extra: Any) -> Step:
    return ("POST", TEMPLATES, {"id": tid, "type": "stream", "script": tick, **extra}, 200, None)


def _task(tid: str, template: str, **extra: Any) -> Step:
    return ("POST", TASKS, {"id": tid, "template-id": template, **extra}, 200, None)


def _get_task(tid: str, expected: dict[str, Any]) -> Step:
    return ("GET", f"{TASKS}/{tid}?script-format=raw", None, 200, expected)


SCENARIOS: dict[str, list[Step]] = {
    # Leyden's own: a stream task without any dbrp reads every database (define warns); its
    # template can still be updated (only losing dbrps it had refuses the update)
    "Leyden_UpdateTemplateOfTaskWithoutDbrps": [
        _template("nd", TICK_X),
        _task("k", "nd", status="enabled"),
        ("PATCH", f"{TEMPLATES}/nd", {"script": TICK_X.replace("'test'", "'other'")}, 200, None),
        _get_task("k", {"script": TICK_X.replace("'test'", "'other'"), "executing": True}),
    ],
    # a failed rename must not leave a link that later rewrites an unrelated task of that ID
    "Leyden_FailedRenameThenRecreatedTaskIsLeftAlone": [
        _template("t1", TICK_X),
        *[_task(f"t{i}", "t1", dbrps=DBRPS, status="enabled") for i in range(2)],
        ("PATCH", f"{TEMPLATES}/t1", {"id": "t2", "script": "stream"}, 500, None),
        ("DELETE", f"{TASKS}/t0", None, 204, None),
        ("POST", TASKS, {"id": "t0", "script": TICK_X, "dbrps": DBRPS}, 200, None),
        # t2 exists (a failed rename keeps the new ID, as in Kapacitor); t1 (task t1) still
        # links to it
        ("PATCH", f"{TEMPLATES}/t2", {"script": TICK_X.replace("'test'", "'three'")}, 200, None),
        _get_task("t0", {"script": TICK_X}),
    ],
    "CreateTemplate": [
        _template("testTemplateID", TICK_X),
        (
            "GET",
            f"{TEMPLATES}/testTemplateID",
            None,
            200,
            {
                "link": {"rel": "self", "href": f"{TEMPLATES}/testTemplateID"},
                "id": "testTemplateID",
                "type": "stream",
                "script": TICK_X,
                "dot": DOT,
                "vars": VARS_X,
                "error": "",
            },
        ),
    ],
    "UpdateTemplateID": [
        _template("testTemplateID", TICK_X),
        (
            "PATCH",
            f"{TEMPLATES}/testTemplateID",
            {"id": "newTemplateID"},
            200,
            {"link": {"href": f"{TEMPLATES}/newTemplateID"}, "id": "newTemplateID"},
        ),
        (
            "GET",
            f"{TEMPLATES}/newTemplateID",
            None,
            200,
            {
                "script": TICK_X,
                "type": "stream",
                "dot": "digraph newTemplateID {\nstream0 -> from1;\n}",
                "vars": VARS_X,
                "error": "",
            },
        ),
        ("GET", f"{TEMPLATES}/testTemplateID", None, 404, "no template exists"),
    ],
    "UpdateTemplateID_Fail": [
        _template("testTemplateID", TICK_X),
        _template("anotherTemplateID", TICK_X),
        (
            "PATCH",
            f"{TEMPLATES}/testTemplateID",
            {"id": "anotherTemplateID"},
            400,  # Kapacitor: 500; a name clash is the client's mistake
            "failed to create new template for ID change: template already exists",
        ),
        ("GET", f"{TEMPLATES}/testTemplateID", None, 200, {"dot": DOT, "vars": VARS_X}),
    ],
    "UpdateTemplateID_WithTasks": [
        _template("testTemplateID", TICK_X),
        *[_task(f"t{i}", "testTemplateID", dbrps=DBRPS, status="enabled") for i in range(3)],
        ("PATCH", f"{TEMPLATES}/testTemplateID", {"id": "newTemplateID"}, 200, None),
        *[_get_task(f"t{i}", {"template-id": "newTemplateID", "script": TICK_X}) for i in range(3)],
        # the tasks now follow the new ID: a script change reaches them
        (
            "PATCH",
            f"{TEMPLATES}/newTemplateID",
            {"script": TICK_X.replace("'test'", "'other'")},
            200,
            None,
        ),
        _get_task("t0", {"script": TICK_X.replace("'test'", "'other'"), "executing": True}),
    ],
    "UpdateTemplateID_WithTasks_Fail": [
        _template("testTemplateID", TICK_X),
        *[_task(f"t{i}", "testTemplateID", dbrps=DBRPS, status="enabled") for i in range(3)],
        _template("newTemplateID", TICK_X),
        (
            "PATCH",
            f"{TEMPLATES}/testTemplateID",
            {"id": "newTemplateID", "script": "stream"},
            400,  # Kapacitor: 500
            None,
        ),
        *[
            _get_task(f"t{i}", {"template-id": "testTemplateID", "script": TICK_X})
            for i in range(3)
        ],
    ],
    "CreateTemplateImplicitAndUpdateExplicitWithTasks": [
        (
            "POST",
            TEMPLATES,
            {"id": "tpl", "script": 'dbrp "telegraf"."autogen"\n\n' + TICK_X},
            200,
            {"type": "stream", "vars": VARS_X},
        ),
        _task("t", "tpl", status="enabled"),
        _get_task("t", {"dbrps": [{"db": "telegraf", "rp": "autogen"}]}),
        # the template loses its dbrp: the enabled task would have none, so the update fails
        (
            "PATCH",
            f"{TEMPLATES}/tpl",
            {"script": TICK_X},
            500,
            "error reloading associated task t: task does contain any dbrps",
        ),
        _get_task(
            "t",
            {
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "executing": True,
                "script": 'dbrp "telegraf"."autogen"\n\n' + TICK_X,
            },
        ),
        (
            "PATCH",
            f"{TEMPLATES}/tpl",
            {"script": 'dbrp "telegraf"."autogen"\n\ndbrp "telegraf"."not_autogen"\n\n' + TICK_X},
            200,
            None,
        ),
        _get_task(
            "t",
            {
                "dbrps": [
                    {"db": "telegraf", "rp": "autogen"},
                    {"db": "telegraf", "rp": "not_autogen"},
                ]
            },
        ),
    ],
    "TaskRenamedOrSwitchedToATemplate": [
        _template("tpl", TICK_X),
        ("POST", TASKS, {"id": "plain", "script": COUNT_WRONG, "dbrps": MYDB}, 200, None),
        (
            "PATCH",
            f"{TASKS}/plain",
            {"template-id": "nope"},
            400,
            "unknown template nope: err: no template exists",
        ),
        # a plain task made templated takes the template's script
        ("PATCH", f"{TASKS}/plain", {"template-id": "tpl"}, 200, {"template-id": "tpl"}),
        _get_task("plain", {"script": TICK_X, "dbrps": MYDB}),
        # a templated task's own script is ignored, as in Kapacitor
        ("PATCH", f"{TASKS}/plain", {"script": COUNT_WRONG}, 200, None),
        _get_task("plain", {"script": TICK_X}),
        # renamed, it still follows its template
        ("PATCH", f"{TASKS}/plain", {"id": "renamed", "status": "enabled"}, 200, None),
        ("PATCH", f"{TEMPLATES}/tpl", {"script": TICK_X.replace("5", "6")}, 200, None),
        _get_task("renamed", {"script": TICK_X.replace("5", "6"), "executing": True}),
        # deleted, it no longer does
        ("DELETE", f"{TASKS}/renamed", None, 204, None),
        ("PATCH", f"{TEMPLATES}/tpl", {"script": TICK_X}, 200, None),
        ("GET", f"{TASKS}/renamed", None, 404, "no task exists"),
    ],
    "DeleteTemplate": [
        _template("testTemplateID", TICK_X),
        _task("t", "testTemplateID", dbrps=MYDB, status="enabled"),
        ("DELETE", f"{TEMPLATES}/testTemplateID", None, 204, None),
        ("GET", f"{TEMPLATES}/testTemplateID", None, 404, "no template exists"),
        ("DELETE", f"{TEMPLATES}/testTemplateID", None, 204, None),
        # its task keeps running and keeps naming it, as in Kapacitor
        _get_task("t", {"template-id": "testTemplateID", "executing": True, "script": TICK_X}),
        # a new template of the same ID does not reach the old task
        _template("testTemplateID", TICK_X.replace("5", "6")),
        ("PATCH", f"{TEMPLATES}/testTemplateID", {"script": TICK_X.replace("5", "7")}, 200, None),
        _get_task("t", {"script": TICK_X}),
    ],
    "CreateTaskFromTemplate": [
        _template(
            "testTemplateID",
            "// Configurable measurement\nvar measurement = 'test'\n\n"
            "stream\n    |from()\n        .measurement(measurement)\n",
        ),
        (
            "GET",
            f"{TEMPLATES}/testTemplateID",
            None,
            200,
            {
                "vars": {
                    "measurement": {
                        "type": "string",
                        "value": "test",
                        "description": "Configurable measurement",
                    }
                }
            },
        ),
        (
            "POST",
            TASKS,
            {
                "id": "taskid",
                "template-id": "testTemplateID",
                "dbrps": DBRPS,
                "vars": {"measurement": {"type": "string", "value": "another_measurement"}},
            },
            200,
            {
                "id": "taskid",
                "template-id": "testTemplateID",
                "type": "stream",
                "dbrps": DBRPS,
                "status": "disabled",
                "error": "",
                "vars": {"measurement": {"type": "string", "value": "another_measurement"}},
            },
        ),
        (
            "GET",
            f"{TASKS}?fields=template-id",
            None,
            200,
            {"tasks": [{"id": "taskid", "template-id": "testTemplateID"}]},
        ),
    ],
    "StreamTemplateTask": [
        _template("testStreamTemplate", COUNT_DEFAULT),
        _task(
            "testStreamTask", "testStreamTemplate", dbrps=MYDB, status="enabled", vars=FIELD_VALUE
        ),
        ("WRITE", "/write?db=mydb&rp=myrp&precision=s", POINTS, 204, None),
        (
            "GET",
            f"{TASKS}/testStreamTask/count",
            None,
            200,
            {
                "series": [
                    {
                        "name": "test",
                        "columns": ["time", "count"],
                        "values": [["1970-01-01T00:00:10Z", 15]],
                    }
                ]
            },
        ),
    ],
    "StreamTemplateTask_MissingVar": [
        _template("testStreamTemplate", COUNT_REQUIRED),
        (
            "GET",
            f"{TEMPLATES}/testStreamTemplate",
            None,
            200,
            {"vars": {"field": {"type": "string", "value": None, "description": ""}}},
        ),
        (
            "POST",
            TASKS,
            {
                "id": "testStreamTask",
                "template-id": "testStreamTemplate",
                "dbrps": MYDB,
                "status": "enabled",
            },
            400,
            {"reason": 'missing value for var "field".', "position": {"line": 2}},
        ),
        ("GET", f"{TASKS}/testStreamTask", None, 404, "no task exists"),
    ],
    "StreamTemplateTask_BadVars": [
        _template("testStreamTemplate", COUNT_REQUIRED),
        (
            "POST",
            TASKS,
            {
                "id": "t",
                "template-id": "testStreamTemplate",
                "dbrps": MYDB,
                "vars": {"field": {"type": "int", "value": 1}},
            },
            400,
            {"reason": "invalid type supplied for field, got int exp string"},
        ),
        (
            "POST",
            TASKS,
            {
                "id": "t",
                "template-id": "testStreamTemplate",
                "dbrps": MYDB,
                "vars": {"field": {"type": "string", "value": 1}},
            },
            400,
            "invalid var field: expected a string value, got 1",
        ),
        # a var the script does not declare is ignored as in Kapacitor, with a warning
        (
            "POST",
            TASKS,
            {
                "id": "t",
                "template-id": "testStreamTemplate",
                "dbrps": MYDB,
                "vars": {**FIELD_VALUE, "period": {"type": "duration", "value": "10s"}},
            },
            200,
            {
                "warnings": [
                    {"message": 'var "period" is not declared in the TICKscript and is ignored'}
                ]
            },
        ),
        (
            "POST",
            TASKS,
            {"id": "u", "template-id": "nope", "dbrps": MYDB},
            400,
            "unknown template nope: err: no template exists",
        ),
    ],
    "StreamTemplateTaskFromUpdate": [
        _template("testStreamTemplate", COUNT_DEFAULT),
        _task(
            "testStreamTask", "testStreamTemplate", dbrps=MYDB, status="disabled", vars=FIELD_VALUE
        ),
        ("PATCH", f"{TASKS}/testStreamTask", {"status": "enabled"}, 200, {"executing": True}),
        ("WRITE", "/write?db=mydb&rp=myrp&precision=s", POINTS, 204, None),
        (
            "GET",
            f"{TASKS}/testStreamTask/count",
            None,
            200,
            {"series": [{"values": [["1970-01-01T00:00:10Z", 15]]}]},
        ),
    ],
    "StreamTemplateTask_UpdateTemplate": [
        _template("testStreamTemplate", COUNT_WRONG),
        _task(
            "testStreamTask", "testStreamTemplate", dbrps=MYDB, status="enabled", vars=FIELD_VALUE
        ),
        ("PATCH", f"{TEMPLATES}/testStreamTemplate", {"script": COUNT_REQUIRED}, 200, None),
        ("WRITE", "/write?db=mydb&rp=myrp&precision=s", POINTS, 204, None),
        (
            "GET",
            f"{TASKS}/testStreamTask/count",
            None,
            200,
            {"series": [{"values": [["1970-01-01T00:00:10Z", 15]]}]},
        ),
    ],
    "StreamTemplateTask_UpdateTemplate_Rollback": [
        _template("testStreamTemplate", COUNT_REQUIRED),
        *[
            _task(
                f"testStreamTask-{i}",
                "testStreamTemplate",
                dbrps=MYDB,
                status="enabled",
                vars=FIELD_VALUE,
            )
            for i in range(3)
        ],
        (
            "PATCH",
            f"{TEMPLATES}/testStreamTemplate",
            {"script": COUNT_PERIOD},
            500,
            'error reloading associated task testStreamTask-0: missing value for var "period".',
        ),
        *[
            _get_task(
                f"testStreamTask-{i}", {"script": COUNT_REQUIRED, "executing": True, "error": ""}
            )
            for i in range(3)
        ],
        *[
            (
                "PATCH",
                f"{TASKS}/testStreamTask-{i}",
                {"vars": {**FIELD_VALUE, "period": {"type": "duration", "value": 10_000_000_000}}},
                200,
                None,
            )
            for i in range(3)
        ],
        ("PATCH", f"{TEMPLATES}/testStreamTemplate", {"script": COUNT_PERIOD}, 200, None),
        ("WRITE", "/write?db=mydb&rp=myrp&precision=s", POINTS, 204, None),
        *[
            (
                "GET",
                f"{TASKS}/testStreamTask-{i}/count",
                None,
                200,
                {"series": [{"values": [["1970-01-01T00:00:10Z", 15]]}]},
            )
            for i in range(3)
        ],
    ],
    "StreamTemplateTask_AllTypes": [
        _template(
            "testStreamTemplate",
            """
var bool bool
var count_threshold int
var value_threshold float
var window duration
var field string
var tagMatch regex
var match lambda
var eval lambda
var groups list
var secondGroup list
stream
    |from()
        .measurement('test')
        .where(lambda: match AND "tag" =~ tagMatch AND bool AND "value" >= value_threshold)
        .groupBy(groups)
    |window()
        .period(window)
        .every(window)
    |count(field)
    |groupBy(secondGroup)
    |sum('count')
        .as('count')
    |where(lambda: "count" >= count_threshold)
    |eval(eval)
        .as('count')
    |httpOut('count')
""",
        ),
        _task(
            "testStreamTask",
            "testStreamTemplate",
            dbrps=MYDB,
            status="enabled",
            vars={
                "bool": {"type": "bool", "value": True},
                "count_threshold": {"type": "int", "value": 1},
                "value_threshold": {"type": "float", "value": 1.0},
                "window": {"type": "duration", "value": 10_000_000_000},
                "field": {"type": "string", "value": "value"},
                "tagMatch": {"type": "regex", "value": "^a.*"},
                "match": {"type": "lambda", "value": '"value" == 1.0'},
                "eval": {"type": "lambda", "value": '"count" * 2'},
                "groups": {"type": "list", "value": [{"type": "star"}]},
                "secondGroup": {"type": "list", "value": [{"type": "string", "value": "tag"}]},
            },
        ),
        (
            "WRITE",
            "/write?db=mydb&rp=myrp&precision=s",
            "".join(
                f"test,tag={tag},other={other} value={v} {s:010d}\n"
                for tag, other, v, s in [
                    ("abc", "a", 1, 0),
                    ("abc", "b", 1, 0),
                    ("abc", "a", 1, 1),
                    ("bbc", "b", 1, 1),
                    ("abc", "a", 1, 2),
                    ("abc", "a", 0, 2),
                    ("abc", "b", 1, 3),
                    ("abc", "a", 1, 3),
                    ("abc", "a", 1, 4),
                    ("abc", "b", 1, 5),
                    ("abc", "a", 1, 5),
                    ("bbc", "a", 1, 5),
                    ("abc", "b", 1, 6),
                    ("abc", "a", 1, 7),
                    ("abc", "b", 0, 8),
                    ("abc", "a", 1, 9),
                    ("abc", "a", 1, 10),
                    ("abc", "a", 1, 11),
                    ("abc", "b", 1, 11),
                    ("bbc", "a", 1, 11),
                    ("bbc", "b", 1, 11),
                    ("abc", "a", 1, 21),
                ]
            ),
            204,
            None,
        ),
        (
            "GET",
            f"{TASKS}/testStreamTask/count",
            None,
            200,
            {
                "series": [
                    {
                        "name": "test",
                        "tags": {"tag": "abc"},
                        "columns": ["time", "count"],
                        "values": [["1970-01-01T00:00:10Z", 24]],
                    }
                ]
            },
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_kapacitor_template_scenarios(client: TestClient, name: str) -> None:
    await _run(client, SCENARIOS[name])


ERRORS: list[tuple[str, str, Any, int, str]] = [
    (
        "POST",
        TEMPLATES,
        {"id": "a b", "script": TICK_X},
        400,
        "template ID must contain only letters, numbers, '-', '.' and '_'. \"a b\"",
    ),
    ("POST", TEMPLATES, {"id": "t"}, 400, "must provide TICKscript"),
    ("POST", TEMPLATES, {"id": "t", "script": "var x = 5\n"}, 400, "invalid task type: invalid"),
    (
        "POST",
        TEMPLATES,
        {"id": "t", "type": "flow", "script": TICK_X},
        400,
        "invalid JSON: unknown TaskType flow",
    ),
    (
        "POST",
        TEMPLATES,
        {"id": "t", "type": "batch", "script": TICK_X},
        400,
        "invalid template type batch: the TICKscript reads stream",
    ),
    (
        "POST",
        TEMPLATES,
        {"id": "t", "script": "var x int\nstream|from().measurement(x)\n"},
        400,
        'invalid TICKscript: t:2:15: error calling func "measurement" on obj *pipeline.FromNode: '
        "argument 1 of measurement() must be string, got int 0",
    ),
    ("POST", TEMPLATES, {"id": "t", "script": 5}, 400, 'invalid JSON: "script" must be a string'),
    (
        "PATCH",
        f"{TEMPLATES}/none",
        {"script": TICK_X},
        404,
        "template does not exist, cannot update",
    ),
    ("GET", f"{TEMPLATES}/", None, 400, "must specify template id on path"),
    (
        "GET",
        f"{TEMPLATES}?script-format=pretty",
        None,
        400,
        'invalid script-format parameter "pretty"',
    ),
    (
        "GET",
        f"{TEMPLATES}?offset=x",
        None,
        400,
        'invalid offset parameter "x" must be an integer: strconv.ParseInt: parsing "x": invalid syntax',
    ),
    ("GET", f"{TEMPLATES}?fields=status", None, 400, 'unsupported field "status"'),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), ERRORS)
async def test_template_errors(
    client: TestClient, method: str, path: str, body: Any, status: int, message: str
) -> None:
    await _run(client, [_template("x", TICK_X)])
    resp = await client.request(method, path, json=body)
    got = await resp.json()
    assert (resp.status, got["error"]) == (status, message)


async def test_duplicate_and_invalid_json(client: TestClient) -> None:
    await _run(
        client,
        [
            _template("t", TICK_X),
            ("POST", TEMPLATES, {"id": "t", "script": TICK_X}, 400, "template t already exists"),
        ],
    )
    resp = await client.post(TEMPLATES, data="{")
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid JSON")


async def test_list_pattern_fields_offset_limit_and_formats(client: TestClient) -> None:
    raw = "var x = 5\nstream|from().measurement('test')\n"
    await _run(client, [_template(t, raw) for t in ("b1", "a1", "a2")])
    resp = await client.get(TEMPLATES)
    listed = (await resp.json())["templates"]
    assert [t["id"] for t in listed] == ["a1", "a2", "b1"]
    assert sorted(listed[0]) == sorted(
        ["link", "id", "type", "script", "dot", "error", "created", "modified"]
    )
    assert listed[0]["script"] == TICK_X  # formatted by default
    # the query Kapacitor's Go client sends for ListTemplates(nil)
    resp = await client.get(f"{TEMPLATES}?limit=100&offset=0&pattern=&script-format=formatted")
    assert [t["id"] for t in (await resp.json())["templates"]] == ["a1", "a2", "b1"]
    resp = await client.get(f"{TEMPLATES}?pattern=a*&fields=vars&script-format=raw")
    assert (await resp.json())["templates"] == [
        {"id": tid, "link": {"rel": "self", "href": f"{TEMPLATES}/{tid}"}, "vars": VARS_X}
        for tid in ("a1", "a2")
    ]
    resp = await client.get(f"{TEMPLATES}?fields=script&script-format=raw&offset=1&limit=1")
    assert (await resp.json())["templates"] == [
        {"id": "a2", "link": {"rel": "self", "href": f"{TEMPLATES}/a2"}, "script": raw}
    ]
    got = await (await client.get(f"{TEMPLATES}/a1?script-format=raw")).json()
    assert list(got) == [
        "link",
        "id",
        "type",
        "script",
        "vars",
        "dot",
        "error",
        "created",
        "modified",
    ]
    assert got["script"] == raw and got["created"] == got["modified"]


async def test_update_type_and_modified(client: TestClient) -> None:
    await _run(client, [_template("t", TICK_X)])
    before = await (await client.get(f"{TEMPLATES}/t")).json()
    resp = await client.patch(f"{TEMPLATES}/t", json={"type": "stream"})
    after = await resp.json()
    assert resp.status == 200
    assert after["created"] == before["created"] and after["modified"] >= before["modified"]
    batch = "var q = 'SELECT mean(v) FROM db.rp.m'\nbatch\n    |query(q)\n        .period(1m)\n"
    resp = await client.patch(f"{TEMPLATES}/t", json={"script": batch, "type": "batch"})
    body = await resp.json()
    assert (resp.status, body["type"]) == (200, "batch"), body


async def test_templates_survive_a_restart(
    tmp_path: Path, make_runtime: MakeRuntime, aiohttp_client: ClientFactory
) -> None:
    db = tmp_path / "leyden.db"
    first = await aiohttp_client(create_app(make_runtime(Config(), db=db)))
    await _run(
        first,
        [
            _template("tpl", COUNT_REQUIRED),
            _task("t", "tpl", dbrps=MYDB, status="enabled", vars=FIELD_VALUE),
        ],
    )
    await first.close()
    second = await aiohttp_client(create_app(make_runtime(Config(), db=db)))
    await _run(
        second,
        [
            ("GET", f"{TEMPLATES}/tpl?script-format=raw", None, 200, {"script": COUNT_REQUIRED}),
            ("PATCH", f"{TEMPLATES}/tpl", {"script": COUNT_WRONG}, 200, None),
            _get_task("t", {"script": COUNT_WRONG, "executing": True}),
        ],
    )
