"""``/kapacitor/v1/tasks``: Kapacitor's task API shapes and errors, tasks running on written
data, and enabled tasks coming back after a restart."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from leyden.config import Config, load_config
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime
from leyden.server.app import create_app
from leyden.server.tasks_api import TASKS_KEY
from leyden.tasks.vars import normalize_vars

ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]
TASKS = "/kapacitor/v1/tasks"

CONF = """
[[discord]]
  enabled = true
  default = true
  workspace = "ops"
  url = "http://127.0.0.1:9/api/webhooks/1/not-a-token"

[[discord]]
  enabled = true
  workspace = "guild-alerts"
  url = "http://127.0.0.1:9/api/webhooks/2/not-a-token"
"""

PASS = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
    |httpOut('out')
"""

EXPLICIT = """stream
    |from()
        .measurement('cpu')
    |httpOut('out')
"""

ALERT = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .crit(lambda: "usage_idle" < 10)
        .topic('cpu')
    |httpOut('events')
"""


def _config(tmp_path: Path) -> Config:
    path = tmp_path / "kapacitor.conf"
    path.write_text(CONF)
    return load_config(str(path), {}, integrations=INTEGRATIONS.sections())


@pytest.fixture
async def server(
    aiohttp_client: ClientFactory, tmp_path: Path, make_runtime: MakeRuntime
) -> tuple[TestClient, Runtime]:
    services = make_runtime(_config(tmp_path))
    client = await aiohttp_client(create_app(services))
    return client, services


async def _create(client: TestClient, **body: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post(TASKS, json=body)
    return resp.status, await resp.json()


async def _write(client: TestClient, body: str) -> None:
    resp = await client.post("/write?db=telegraf&rp=autogen", data=body)
    assert resp.status == 204, await resp.text()


# --- define -------------------------------------------------------------------------------


async def test_stream_task_without_dbrp_reads_every_database_and_warns(server: Any) -> None:
    client, _ = server
    status, task = await _create(client, id="any", script=EXPLICIT, status="enabled")
    assert status == 200, task
    assert task["dbrps"] == []
    [warning] = task["warnings"]
    assert warning["message"].startswith("no dbrp given: the task reads points written to every")
    for db in ("telegraf", "other"):
        resp = await client.post(f"/write?db={db}", data="cpu usage_idle=5 1000000000\n")
        assert resp.status == 204
    out = await (await client.get(f"{TASKS}/any/out")).json()
    assert out["series"][0]["values"][0][1] == 5


async def test_create_returns_kapacitors_task_object(server: Any) -> None:
    client, _ = server
    resp = await client.post(TASKS, json={"id": "cpu", "script": PASS})
    assert resp.status == 200
    text = await resp.text()
    task = json.loads(text)
    assert list(task) == [
        "link",
        "id",
        "template-id",
        "type",
        "dbrps",
        "script",
        "vars",
        "dot",
        "status",
        "executing",
        "error",
        "stats",
        "created",
        "modified",
        "last-enabled",
    ]
    assert text.startswith('{\n    "link": {\n        "rel": "self",')  # 4-space indent
    assert task["link"] == {"rel": "self", "href": "/kapacitor/v1/tasks/cpu"}
    assert task["type"] == "stream"
    assert task["dbrps"] == [{"db": "telegraf", "rp": "autogen"}]
    assert task["status"] == "disabled"
    assert task["executing"] is False
    assert task["stats"] == {}
    assert task["vars"] == {}
    assert task["error"] == ""
    assert task["dot"] == "digraph cpu {\nstream0 -> from1;\nfrom1 -> http_out2;\n}"
    assert task["last-enabled"] == "0001-01-01T00:00:00Z"
    assert task["created"] == task["modified"] and task["created"].endswith("Z")
    assert "warnings" not in task


async def test_type_is_inferred_and_id_defaults_to_a_uuid(server: Any) -> None:
    client, _ = server
    status, task = await _create(client, script=PASS, type="batch")
    assert status == 200
    assert task["type"] == "stream"
    assert len(task["id"]) == 36


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"id": "x", "script": PASS, "dbrps": [{"db": "a", "rp": "b"}]}, 400,
         "cannot specify dbrp in both implicitly and explicitly"),
        ({"id": "x", "script": "batch|query('SELECT 1')"}, 400, "must specify dbrp"),
        ({"id": "x"}, 400, "must provide TICKscript"),
        ({"id": "bad id", "script": PASS}, 400,
         "task ID must contain only letters, numbers, '-', '.' and '_'. \"bad id\""),
        ({"id": "x", "script": PASS, "status": "on"}, 400,
         'invalid JSON: unknown TaskStatus on (use "enabled" or "disabled")'),
        ({"id": "x", "script": PASS, "template-id": "t"}, 400,
         "unknown template t: err: no template exists"),
        ({"id": "x", "script": "var x = 5\n"}, 400, "invalid task type: invalid"),
    ],
)  # fmt: skip
async def test_create_errors(server: Any, body: dict[str, Any], status: int, message: str) -> None:
    client, _ = server
    got_status, got = await _create(client, **body)
    assert (got_status, got["error"]) == (status, message)
    assert got["message"] == message


async def test_invalid_json_and_duplicate_id(server: Any) -> None:
    client, _ = server
    resp = await client.post(TASKS, data="{nope")
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid JSON")
    assert (await _create(client, id="cpu", script=PASS))[0] == 200
    status, body = await _create(client, id="cpu", script=PASS)
    assert (status, body["error"]) == (400, "task cpu already exists")


async def test_tickscript_error_has_position_and_hint(server: Any) -> None:
    client, _ = server
    script = PASS.replace("|httpOut('out')", '|alert()\n        .info(lamda: "count" > 0)')
    status, body = await _create(client, id="typo", script=script)
    assert status == 400
    assert body["error"].startswith("invalid TICKscript: typo:7:15: parser: ")
    assert 'did you mean "lambda:"?' in body["error"]
    assert body["position"] == {"caret-column": 15, "column": 15, "length": 6, "line": 7}
    assert body["reason"].startswith("parser: unexpected")


async def test_builder_warnings_are_returned(server: Any) -> None:
    client, _ = server
    script = PASS.replace("|httpOut('out')", "|alert()\n        .info(lambda: 'count' > 0)")
    status, body = await _create(client, id="w", script=script)
    assert status == 200
    [warning] = body["warnings"]
    assert (warning["line"], warning["column"]) == (7, 23)
    assert "'count' is a string literal" in warning["message"]


async def test_unknown_discord_workspace_is_refused_with_the_configured_ones(server: Any) -> None:
    client, _ = server
    script = PASS.replace(
        "|httpOut('out')",
        "|alert()\n        .crit(lambda: TRUE)\n        .discord()\n            .workspace('alerts')",
    )
    status, body = await _create(client, id="ws", script=script)
    assert status == 400
    assert body["error"] == (
        'invalid TICKscript: ws:9:24: discord workspace "alerts" is not configured; '
        "configured workspaces: ops, guild-alerts"
    )
    assert body["position"]["line"] == 9
    ok = script.replace("'alerts'", "'guild-alerts'")
    assert (await _create(client, id="ws", script=ok))[0] == 200


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (".alerta().resource('{{ .Name ')", "alerta handler: invalid resource template"),
        (".serviceNow().node('{{ end }}')", "servicenow handler: invalid node template"),
        (".zenoss().summary('{{ if }}')", "zenoss handler: invalid summary template"),
    ],
)
async def test_bad_handler_templates_are_refused_at_define(
    server: Any, handler: str, message: str
) -> None:
    client, _ = server
    script = PASS.replace(
        "|httpOut('out')", f"|alert()\n        .crit(lambda: TRUE)\n        {handler}"
    )
    status, body = await _create(client, id="tmpl", script=script)
    assert status == 400
    assert message in body["error"]


@pytest.mark.parametrize(
    ("properties", "where", "message"),
    [
        (
            ".mentionRoles('123456789012345678', 'ops')",
            (10, 49),
            "discord .mentionRoles() must be a Discord ID (a snowflake: 17 to 20 decimal "
            "digits), got 'ops'",
        ),
        (
            ".threadId('#alerts')",
            (10, 23),
            "discord .threadId() must be a Discord ID (a snowflake: 17 to 20 decimal digits), "
            "got '#alerts'",
        ),
        (
            ".mentionLevel('critical')",
            (10, 27),
            "discord .mentionLevel() must be one of OK, INFO, WARNING, CRITICAL (levels are "
            "upper case: CRITICAL), got 'critical'",
        ),
        (".silentBelow('LOW')", (10, 26), "discord .silentBelow() must be one of OK, INFO"),
        (".link('{{ .ID ')", (10, 19), "discord .link() is not a valid template: "),
        (
            ".threadId('123456789012345678').forumThread(TRUE)",
            (10, 23),
            "thread-id and forum-thread exclude each other",
        ),
    ],
)
async def test_bad_discord_feature_values_are_refused_at_their_position(
    server: Any, properties: str, where: tuple[int, int], message: str
) -> None:
    client, _ = server
    script = PASS.replace(
        "|httpOut('out')",
        "|alert()\n        .crit(lambda: TRUE)\n        .discord()\n            .workspace('ops')"
        f"\n            {properties}",
    )
    status, body = await _create(client, id="feat", script=script)
    assert status == 400, body
    assert body["error"].startswith(f"invalid TICKscript: feat:{where[0]}:{where[1]}: {message}")
    assert (body["position"]["line"], body["position"]["column"]) == where


async def test_discord_feature_properties_are_accepted(server: Any) -> None:
    client, _ = server
    script = PASS.replace(
        "|httpOut('out')",
        "|alert()\n        .crit(lambda: TRUE)\n        .discord()\n"
        "            .mentionRoles('123456789012345678', '223456789012345678')\n"
        "            .mentionUsers('323456789012345678')\n"
        "            .mentionLevel('WARNING')\n"
        "            .silentBelow('CRITICAL')\n"
        "            .tagsAsFields(TRUE)\n"
        "            .editInPlace(TRUE)\n"
        "            .threadId('423456789012345678')\n"
        "            .link('https://grafana.example/d/x?var-host={{ index .Tags \"host\" }}')",
    )
    status, body = await _create(client, id="feat", script=script)
    assert status == 200, body


async def test_vars_typed_json(server: Any) -> None:
    client, _ = server
    script = "var period duration\nvar m string\n" + EXPLICIT.replace("'cpu'", "m").replace(
        "|httpOut('out')", "|window().period(period).every(period)\n    |httpOut('out')"
    )
    vars_ = {
        "period": {"type": "duration", "value": "10s"},
        "m": {"type": "string", "value": "cpu", "description": "measurement"},
    }
    status, task = await _create(
        client, id="v", script=script, vars=vars_, dbrps=[{"db": "telegraf", "rp": "autogen"}]
    )
    assert status == 200, task
    assert task["vars"] == {
        "m": {"type": "string", "value": "cpu", "description": "measurement"},
        "period": {"type": "duration", "value": 10_000_000_000, "description": ""},
    }
    bad = {"period": {"type": "duration", "value": True}}
    status, body = await _create(client, id="v2", script=script, vars=bad)
    assert status == 400
    assert body["error"].startswith("invalid var period: expected a duration")


def test_normalize_vars_types() -> None:
    got = normalize_vars(
        {
            "i": {"type": "int", "value": 3},
            "f": {"type": "float", "value": 2},
            "l": {"type": "lambda", "value": '"x" > 2'},
            "r": {"type": "regex", "value": "^a"},
            "s": {"type": "star"},
            "tags": {"type": "list", "value": [{"type": "string", "value": "host"}]},
        }
    )
    assert got["f"]["value"] == 2.0 and isinstance(got["f"]["value"], float)
    assert got["s"] == {"type": "star", "value": None, "description": ""}
    assert got["tags"]["value"] == [{"type": "string", "value": "host", "description": ""}]
    with pytest.raises(ValueError, match='unknown var type "number"'):
        normalize_vars({"n": {"type": "number", "value": 1}})
    with pytest.raises(ValueError, match="invalid var i: expected an int"):
        normalize_vars({"i": {"type": "int", "value": 1.5}})
    with pytest.raises(ValueError, match="invalid var l: invalid lambda"):
        normalize_vars({"l": {"type": "lambda", "value": '"x" >'}})


# --- get, list, delete --------------------------------------------------------------------


async def test_get_views_and_errors(server: Any) -> None:
    client, _ = server
    raw = "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|httpOut('out')"
    await _create(client, id="cpu", script=raw)
    task = await (await client.get(f"{TASKS}/cpu")).json()
    assert task["script"].startswith('dbrp "telegraf"."autogen"\n\nstream\n    |from()')
    task = await (await client.get(f"{TASKS}/cpu?script-format=raw")).json()
    assert task["script"] == raw
    resp = await client.get(f"{TASKS}/cpu?dot-view=nope")
    assert (resp.status, (await resp.json())["error"]) == (400, 'invalid dot-view parameter "nope"')
    resp = await client.get(f"{TASKS}/cpu?script-format=x")
    assert (await resp.json())["error"] == 'invalid script-format parameter "x"'
    resp = await client.get(f"{TASKS}/nope")
    assert (resp.status, (await resp.json())["error"]) == (404, "no task exists")
    resp = await client.patch(f"{TASKS}/nope", json={"status": "enabled"})
    assert (resp.status, (await resp.json())["error"]) == (
        404,
        "task does not exist, cannot update",
    )


async def test_list_pattern_fields_offset_limit(server: Any) -> None:
    client, _ = server
    for name in ("b_cpu", "a_cpu", "mem"):
        await _create(client, id=name, script=PASS)
    body = await (await client.get(TASKS)).json()
    assert [t["id"] for t in body["tasks"]] == ["a_cpu", "b_cpu", "mem"]
    assert "stats" in body["tasks"][0] and "template-id" not in body["tasks"][0]
    resp = await client.get(f"{TASKS}?pattern=*_cpu&fields=status&fields=executing")
    assert (await resp.json())["tasks"] == [
        {
            "executing": False,
            "id": name,
            "link": {"rel": "self", "href": f"/kapacitor/v1/tasks/{name}"},
            "status": "disabled",
        }
        for name in ("a_cpu", "b_cpu")
    ]
    body = await (await client.get(f"{TASKS}?fields=id&offset=1&limit=1")).json()
    assert [t["id"] for t in body["tasks"]] == ["b_cpu"]
    resp = await client.get(f"{TASKS}?fields=nope")
    assert (resp.status, (await resp.json())["error"]) == (400, 'unsupported field "nope"')
    resp = await client.get(f"{TASKS}?offset=x")
    assert (await resp.json())["error"].startswith(
        'invalid offset parameter "x" must be an integer'
    )


async def test_delete_is_204_even_when_missing(server: Any) -> None:
    client, services = server
    await _create(client, id="cpu", script=PASS)
    assert (await client.delete(f"{TASKS}/cpu")).status == 204
    assert services.store.get_task("cpu") is None
    assert (await client.delete(f"{TASKS}/cpu")).status == 204


# --- running --------------------------------------------------------------------------------


async def test_enable_runs_the_task_on_written_points_and_disable_stops_it(server: Any) -> None:
    client, services = server
    await _create(client, id="cpu", script=PASS)
    assert (await client.get(f"{TASKS}/cpu/out")).status == 404  # not running
    resp = await client.patch(f"{TASKS}/cpu", json={"status": "enabled"})
    task = await resp.json()
    assert (resp.status, task["status"], task["executing"]) == (200, "enabled", True)
    assert task["last-enabled"] != "0001-01-01T00:00:00Z"
    assert task["dot"].startswith('digraph cpu {\ngraph [throughput="0.00 points/s"];\n')
    await _write(client, "cpu,host=a usage_idle=5 1000000000\nmem free=1 1000000000\n")
    await _write(client, "cpu,host=a usage_idle=7 2000000000\n")
    resp = await client.get(f"{TASKS}/cpu/out")
    assert resp.status == 200
    assert await resp.text() == (
        '{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","usage_idle"],'
        '"values":[["1970-01-01T00:00:02Z",7]]}]}'
    )
    task = await (await client.get(f"{TASKS}/cpu")).json()
    stats = task["stats"]["node-stats"]
    assert stats["from1"]["collected"] == 2 and stats["http_out2"]["emitted"] == 2
    assert set(stats["from1"]) == {
        "avg_exec_time_ns",
        "collected",
        "emitted",
        "errors",
        "working_cardinality",
    }
    assert "throughput" in task["stats"]["task-stats"]
    assert 'stream0 -> from1 [processed="2"];' in task["dot"]
    labels = await (await client.get(f"{TASKS}/cpu?dot-view=labels")).json()
    assert 'from1 -> http_out2 [label="processed=2"];' in labels["dot"]

    resp = await client.patch(f"{TASKS}/cpu", json={"status": "disabled"})
    task = await resp.json()
    assert (task["status"], task["executing"], task["stats"]) == ("disabled", False, {})
    assert (await client.get(f"{TASKS}/cpu/out")).status == 404
    routed = services.router.stats.points_routed
    await _write(client, "cpu,host=a usage_idle=9 3000000000\n")
    assert services.router.stats.points_routed == routed


async def test_create_enabled_and_delete_enabled(server: Any) -> None:
    client, services = server
    status, task = await _create(client, id="cpu", script=PASS, status="enabled")
    assert (status, task["executing"]) == (200, True)
    await _write(client, "cpu usage_idle=5 1000000000\n")
    assert (await client.get(f"{TASKS}/cpu/out")).status == 200
    assert (await client.delete(f"{TASKS}/cpu")).status == 204
    assert services.tasks.running("cpu") is None
    assert (await client.get(f"{TASKS}/cpu/out")).status == 404


async def test_batch_task_without_an_influxdb_cluster_is_refused(server: Any) -> None:
    """A batch task queries its cluster (tests/e2e/test_e2e_batch_task.py runs one against
    influxd); without one, enabling it fails with what to configure, as in Kapacitor."""
    client, _ = server
    script = (
        'batch\n    |query(\'SELECT mean(usage_idle) FROM "telegraf"."autogen"."cpu"\')\n'
        "        .period(5m)\n        .every(5m)\n    |httpOut('out')\n"
    )
    status, body = await _create(
        client, id="b", script=script, status="enabled", dbrps=[{"db": "telegraf", "rp": "autogen"}]
    )
    assert status == 500, body
    assert (
        body["error"] == "query1: failed to get InfluxDB client: no [[influxdb]] cluster is enabled"
    )
    task = await (await client.get(f"{TASKS}/b")).json()
    assert (task["type"], task["status"], task["executing"]) == ("batch", "enabled", False)


async def test_task_that_cannot_start_keeps_the_error(server: Any) -> None:
    client, _ = server
    script = (
        "batch\n    |queryFlux('from(bucket:\"b\")')\n        .every(5m)\n    |httpOut('out')\n"
    )
    status, body = await _create(
        client, id="b", script=script, status="enabled", dbrps=[{"db": "telegraf", "rp": "autogen"}]
    )
    assert status == 500
    assert "not supported by this server: Flux queries (queryFlux)" in body["error"]
    task = await (await client.get(f"{TASKS}/b")).json()
    assert (task["type"], task["status"], task["executing"]) == ("batch", "enabled", False)
    assert task["error"] == body["error"]


async def test_rename_moves_a_running_task(server: Any) -> None:
    client, services = server
    await _create(client, id="old", script=PASS, status="enabled")
    resp = await client.patch(f"{TASKS}/old", json={"id": "new"})
    task = await resp.json()
    assert (resp.status, task["id"], task["executing"]) == (200, "new", True)
    assert services.tasks.running("old") is None
    assert services.store.get_task("old") is None
    await _write(client, "cpu usage_idle=5 1000000000\n")
    assert (await client.get(f"{TASKS}/new/out")).status == 200


async def test_update_script_and_dbrps(server: Any) -> None:
    client, _ = server
    await _create(client, id="cpu", script=PASS)
    resp = await client.patch(f"{TASKS}/cpu", json={"script": EXPLICIT})
    assert (await resp.json())["error"] == "must specify dbrp"
    resp = await client.patch(
        f"{TASKS}/cpu", json={"script": EXPLICIT, "dbrps": [{"db": "db", "rp": "rp"}]}
    )
    task = await resp.json()
    assert (resp.status, task["dbrps"]) == (200, [{"db": "db", "rp": "rp"}])
    resp = await client.patch(
        f"{TASKS}/cpu", json={"script": PASS, "dbrps": [{"db": "db", "rp": "rp"}]}
    )
    assert (await resp.json())["error"] == "cannot specify dbrp in implicitly and explicitly"


async def test_enabled_tasks_restart_with_their_alert_state(
    aiohttp_client: ClientFactory, tmp_path: Path, make_runtime: MakeRuntime
) -> None:
    """A new app on the same SQLite file runs the task again; its CRITICAL comes back too, so
    the first OK point after the restart is a recovery."""
    db = tmp_path / "leyden.db"
    config = _config(tmp_path)
    first = create_app(make_runtime(config, db=db))
    client = await aiohttp_client(first)
    await _create(client, id="cpu", script=ALERT, status="enabled")
    await _create(client, id="off", script=PASS)
    await _write(client, "cpu,host=a usage_idle=5 1000000000\n")
    await client.close()  # runs the app's cleanup: tasks stop, the store closes

    services = make_runtime(config, db=db)
    client = await aiohttp_client(create_app(services))
    task = await (await client.get(f"{TASKS}/cpu")).json()
    assert (task["status"], task["executing"]) == ("enabled", True)
    assert services.tasks.running("off") is None
    assert (await client.get(f"{TASKS}/cpu/events")).status == 200
    await _write(client, "cpu,host=a usage_idle=50 2000000000\n")
    stats = (await (await client.get(f"{TASKS}/cpu")).json())["stats"]["node-stats"]
    assert stats["alert2"]["oks_triggered"] == 1  # a recovery from the restored CRITICAL


async def test_missing_task_id_on_path(server: Any) -> None:
    client, _ = server
    resp = await client.get(f"{TASKS}/")
    assert (resp.status, (await resp.json())["error"]) == (400, "must specify task id on path")


def test_the_api_serves_the_runtimes_tasks(tmp_path: Path, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(_config(tmp_path))
    app = create_app(runtime)
    assert app[TASKS_KEY] is runtime.tasks


async def test_disable_waits_for_handed_off_work(server: Any, aiohttp_server: Any) -> None:
    """drain → stop → drain: httpPost requests queued when the task is disabled are sent
    before the PATCH answers."""
    client, _ = server
    received: list[Any] = []

    async def sink(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    target = web.Application()
    target.router.add_post("/hook", sink)
    target_server = await aiohttp_server(target)
    script = PASS.replace("httpOut('out')", f"httpPost('{target_server.make_url('/hook')}')")
    status, _ = await _create(client, id="post", script=script, status="enabled")
    assert status == 200
    await _write(client, "".join(f"cpu n={i} {i + 1}000000000\n" for i in range(5)))
    resp = await client.patch(f"{TASKS}/post", json={"status": "disabled"})
    assert resp.status == 200
    assert [r["series"][0]["values"][0][1] for r in received] == [0, 1, 2, 3, 4]
