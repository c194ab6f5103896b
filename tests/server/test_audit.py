"""An audit line for every change through the API: who, what, from where (server/audit.py)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

OpenClient = Callable[[str], Awaitable[TestClient]]
AUTH = """
[http]
  auth-enabled = true
[auth]
  enabled = true
[[auth.users]]
  username = "ops"
  password = "0ps-Pa55word!"
  permissions = ["all"]
"""
OPS = {"Authorization": "Basic " + base64.b64encode(b"ops:0ps-Pa55word!").decode()}


SCRIPT = (
    "stream\n    |from()\n        .measurement('cpu')\n    |alert()\n        .crit(lambda: TRUE)\n"
)


def _audited(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        dict(getattr(r, "fields", {}))
        for r in caplog.records
        if r.name == "leyden.audit" and r.getMessage() == "api change"
    ]


async def test_task_changes_are_audited_with_the_user(
    open_client: OpenClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await open_client(AUTH)
    caplog.set_level(logging.INFO, logger="leyden.audit")
    headers = OPS
    task = {"id": "cpu", "type": "stream", "dbrps": [{"db": "d", "rp": "r"}], "script": SCRIPT}
    assert (await client.post("/kapacitor/v1/tasks", json=task, headers=headers)).status == 200
    patch = {"status": "enabled"}
    resp = await client.patch("/kapacitor/v1/tasks/cpu", json=patch, headers=headers)
    assert resp.status == 200
    assert (await client.get("/kapacitor/v1/tasks/cpu", headers=headers)).status == 200
    assert (await client.delete("/kapacitor/v1/tasks/cpu", headers=headers)).status == 204
    lines = _audited(caplog)
    assert [(f["action"], f["path"]) for f in lines] == [
        ("create", "/kapacitor/v1/tasks"),
        ("enable", "/kapacitor/v1/tasks/cpu"),
        ("delete", "/kapacitor/v1/tasks/cpu"),
    ]
    assert all(f["user"] == "ops" for f in lines) and lines[0]["id"] == "cpu"


async def test_refused_changes_and_reads_are_not_audited_and_bodies_never_are(
    open_client: OpenClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await open_client("")  # authentication off: the user is "-"
    caplog.set_level(logging.INFO, logger="leyden.audit")
    handler = {"id": "h", "kind": "post", "options": {"url": "http://x.example/tok-s3cret"}}
    resp = await client.post("/kapacitor/v1/alerts/topics/cpu/handlers", json=handler)
    assert resp.status == 200
    bad = {"id": "bad", "type": "stream", "script": "stream|nosuch()"}
    assert (await client.post("/kapacitor/v1/tasks", json=bad)).status == 400
    assert (await client.get("/kapacitor/v1/tasks")).status == 200
    [line] = _audited(caplog)
    assert line["user"] == "-" and line["action"] == "create" and line["id"] == "h"
    assert "tok-s3cret" not in caplog.text
