"""``/kapacitor/v1/config`` for ``[[discord]]``: Kapacitor's shapes, redaction, validation, persistence."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from leyden.config import Config, load_config
from leyden.model.records import OverrideRecord
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime
from leyden.server.app import create_app
from leyden.store import Store, StoreError

TOKEN = "sEcReT-wEbHoOk-ToKeN_0123456789"
WEBHOOK = f"https://discord.com/api/webhooks/112233445566778899/{TOKEN}"
TOKEN2 = "aNoThEr-SeCrEt-ToKeN_9876543210"
WEBHOOK2 = f"https://discord.com/api/webhooks/998877665544332211/{TOKEN2}"
SECRETS = (TOKEN, TOKEN2)

FILE = f"""
[[discord]]
  enabled = true
  default = true
  workspace = "ops"
  url = "{WEBHOOK}"
  username = "FileBot"

[[discord]]
  enabled = false
  workspace = "dev"
"""

ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]


def _config(tmp_path: Path, text: str = FILE, extra: str = "") -> Config:
    path = tmp_path / "kapacitor.conf"
    path.write_text(extra + text)
    return load_config(str(path), {}, integrations=INTEGRATIONS.sections())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "leyden.db"


@pytest.fixture
async def server(
    aiohttp_client: ClientFactory, tmp_path: Path, db: Path, make_runtime: MakeRuntime
) -> tuple[TestClient, Runtime]:
    services = make_runtime(_config(tmp_path), db=db)
    client = await aiohttp_client(create_app(services))
    return client, services


async def _text(resp: Any) -> str:
    text = await resp.text()
    for secret in SECRETS:
        assert secret not in text, "a webhook token leaked into a response"
    return text


def _no_secrets_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        line = record.getMessage() + repr(getattr(record, "fields", ""))
        for secret in SECRETS:
            assert secret not in line, "a webhook token leaked into a log line"


def _options(**changes: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "avatar-url": "",
        "default": False,
        "embed-title": "",
        "enabled": False,
        "global": False,
        "insecure-skip-verify": False,
        "ssl-ca": "",
        "ssl-cert": "",
        "ssl-key": "",
        "state-changes-only": False,
        "timestamp": False,
        "url": False,
        "username": "",
        "workspace": "",
        # Leyden's own keys (issue 12), off by default
        "edit-in-place": False,
        "thread-id": "",
        "forum-thread": False,
        "mention-roles": [],
        "mention-users": [],
        "mention-level": "CRITICAL",
        "silent-below": "",
        "tags-as-fields": False,
        "link": "",
    }
    options.update(changes)
    return options


def _element(workspace: str, **changes: Any) -> dict[str, Any]:
    return {
        "link": {"rel": "self", "href": f"/kapacitor/v1/config/discord/{workspace}"},
        "options": _options(workspace=workspace, **changes),
        "redacted": ["url"],
    }


OPS = _element("ops", enabled=True, default=True, url=True, username="FileBot")
DEV = _element("dev")


async def test_get_config_is_kapacitors_shape_with_url_redacted(server: Any) -> None:
    client, _ = server
    resp = await client.get("/kapacitor/v1/config")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    text = await _text(resp)
    assert text.endswith("}\n") and "\n" not in text[:-1]  # compact, like json.Encoder
    answer = await resp.json()
    influxdb = answer["sections"].pop("influxdb")
    for other in set(answer["sections"]) - {"discord"}:  # the other integrations' sections
        del answer["sections"][other]
    assert answer == {
        "link": {"rel": "self", "href": "/kapacitor/v1/config"},
        "sections": {
            "discord": {
                "link": {"rel": "self", "href": "/kapacitor/v1/config/discord"},
                "elements": [OPS, DEV],
            }
        },
    }
    (builtin,) = influxdb["elements"]  # [[influxdb]]: the built-in, disabled cluster
    assert builtin["link"] == {"rel": "self", "href": "/kapacitor/v1/config/influxdb/default"}
    assert builtin["redacted"] == ["password", "token"]
    assert builtin["options"]["enabled"] is False
    assert builtin["options"]["password"] is False
    # Go encodes the options map with sorted keys
    assert text.index('"avatar-url"') < text.index('"workspace"')


async def test_get_section_and_elements(server: Any) -> None:
    client, _ = server
    resp = await client.get("/kapacitor/v1/config/discord")
    assert resp.status == 200
    assert await resp.json() == {
        "link": {"rel": "self", "href": "/kapacitor/v1/config/discord"},
        "elements": [OPS, DEV],
    }
    resp = await client.get("/kapacitor/v1/config/discord/ops")
    assert resp.status == 200
    assert await resp.json() == OPS
    await _text(resp)


async def test_default_unnamed_element_is_the_trailing_slash(
    aiohttp_client: ClientFactory, tmp_path: Path, db: Path, make_runtime: MakeRuntime
) -> None:
    services = make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()), db=db)
    client = await aiohttp_client(create_app(services))
    resp = await client.get("/kapacitor/v1/config/discord/")
    assert resp.status == 200
    assert await resp.json() == _element("", default=True)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/kapacitor/v1/config/discord/nope", 404, "unknown section/element: discord/nope"),
        ("/kapacitor/v1/config/discord/", 404, "unknown section/element: discord/"),
        ("/kapacitor/v1/config/slack", 404, "unknown section: slack"),
        ("/kapacitor/v1/config/scraper/x", 404, "unknown section: scraper"),
        (
            "/kapacitor/v1/config/",
            400,
            "section not specified, do you have an extra trailing '/'?",
        ),
    ],
)
async def test_get_errors(server: Any, path: str, status: int, message: str) -> None:
    client, _ = server
    resp = await client.get(path)
    assert resp.status == status
    assert await resp.json() == {"error": message, "message": message}


async def test_set_element_updates_service_store_and_answers(
    server: Any, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client, services = server
    caplog.set_level(logging.DEBUG)
    resp = await client.post(
        "/kapacitor/v1/config/discord/dev",
        json={"set": {"enabled": True, "url": WEBHOOK2, "timestamp": True}},
    )
    assert resp.status == 204, await resp.text()
    assert services.integrations["discord"].resolve("dev").url == WEBHOOK2
    assert services.integrations["discord"].resolve("dev").timestamp is True
    resp = await client.get("/kapacitor/v1/config/discord/dev")
    assert await resp.json() == _element("dev", enabled=True, url=True, timestamp=True)
    await _text(resp)
    assert services.store.get_override("discord", "dev") == OverrideRecord(
        "discord", "dev", {"enabled": True, "url": WEBHOOK2, "timestamp": True}
    )
    _no_secrets_logged(caplog)
    assert any(r.getMessage() == "config updated" for r in caplog.records)


async def test_delete_restores_the_file_value(server: Any) -> None:
    client, services = server
    url = "/kapacitor/v1/config/discord/ops"
    assert (await client.post(url, json={"set": {"username": "ApiBot"}})).status == 204
    assert services.integrations["discord"].resolve("ops").username == "ApiBot"
    assert (await client.post(url, json={"delete": ["username"]})).status == 204
    assert services.integrations["discord"].resolve("ops").username == "FileBot"
    assert services.store.list_overrides() == []  # nothing left to override
    assert await (await client.get(url)).json() == OPS


async def test_add_and_remove_elements(server: Any) -> None:
    client, services = server
    section = "/kapacitor/v1/config/discord"
    add = {"add": {"workspace": "guild", "enabled": True, "url": WEBHOOK2}}
    assert (await client.post(section, json=add)).status == 204
    assert services.integrations["discord"].workspace_names() == ["ops", "dev", "guild"]
    body = await (await client.get(section)).json()
    assert body["elements"][-1] == _element("guild", enabled=True, url=True)
    # settable afterwards like any element
    resp = await client.post(f"{section}/guild", json={"set": {"username": "G"}})
    assert resp.status == 204
    assert services.integrations["discord"].resolve("guild").username == "G"

    resp = await client.post(section, json=add)
    assert resp.status == 400
    assert (await resp.json())["error"] == (
        "cannot add new override, override already exists for discord/guild"
    )

    assert (await client.post(section, json={"remove": ["guild"]})).status == 204
    assert services.integrations["discord"].workspace_names() == ["ops", "dev"]
    resp = await client.get(f"{section}/guild")
    assert resp.status == 404


async def test_add_of_a_file_element_is_refused(server: Any) -> None:
    client, _ = server
    resp = await client.post(
        "/kapacitor/v1/config/discord", json={"add": {"workspace": "dev", "username": "x"}}
    )
    assert resp.status == 400
    assert (await resp.json())["error"] == (
        'cannot add element discord/dev: an element with workspace "dev" already exists'
    )


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/kapacitor/v1/config/discord",
            {"set": {"username": "x"}},
            "failed to apply update: invalid update action: element not specified, "
            "are you missing a trailing '/'?",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"username": "x"}, "add": {"workspace": "y"}},
            "failed to apply update: invalid update action: cannot provide both set/delete "
            "and add/remove actions in the same update",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"add": {"workspace": "y"}},
            "failed to apply update: invalid update action: must not provide an element name "
            "when adding an a new override",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"remove": ["dev"]},
            "failed to apply update: invalid update action: must not provide element when "
            "removing an override",
        ),
        (
            "/kapacitor/v1/config/discord",
            {"add": {"enabled": True}},
            'missing key "workspace" in "add" map',
        ),
        (
            "/kapacitor/v1/config/discord/d%20v",
            {"set": {"username": "x"}},
            'failed to apply update: invalid update action: invalid element name "d v"',
        ),
        (
            "/kapacitor/v1/config/scraper/x",
            {"set": {"username": "x"}},
            'failed to apply update: unknown section "scraper"',
        ),
        (
            "/kapacitor/v1/config/discord/nope",
            {"set": {"username": "x"}},
            "unknown section/element: discord/nope",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"workspace": "renamed"}},
            "failed to override configuration discord/dev: cannot override element key workspace",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"enabled": "yes"}},
            "config override discord/dev: enabled: expected a boolean (true or false), got string",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"usrname": "x"}},
            "config override discord/dev: usrname: unknown key; did you mean username?",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"enabled": True}},
            "failed to override configuration discord/dev: failed validation: url: must "
            "specify the Discord channel webhook URL when enabled",
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"username": "discord bot"}},
            "failed to override configuration discord/dev: failed validation: username: "
            'must not contain "discord" (Discord rejects it)',
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"default": True}},
            'config overrides: [[discord]] #0 (workspace "ops"), [[discord]] #1 (workspace '
            '"dev"): default: only one Discord config may be the default, found 2',
        ),
        (
            "/kapacitor/v1/config/discord/dev",
            {"set": {"global": True}},
            'config overrides: [[discord]] #1 (workspace "dev"): global: only the default '
            "config may be assigned as global",
        ),
        (
            "/kapacitor/v1/config/discord",
            {"add": {"workspace": "", "username": "x"}},
            "config overrides: [[discord]] #2: workspace: must not be empty when several "
            "[[discord]] sections are configured (only the default section may be unnamed)",
        ),
    ],
)
async def test_update_errors_change_nothing(
    server: Any, path: str, body: dict[str, Any], message: str
) -> None:
    client, services = server
    before = await (await client.get("/kapacitor/v1/config")).json()
    names = services.integrations["discord"].workspace_names()
    resp = await client.post(path, json=body)
    assert resp.status == 400
    assert await resp.json() == {"error": message, "message": message}
    assert await (await client.get("/kapacitor/v1/config")).json() == before
    assert services.integrations["discord"].workspace_names() == names
    assert services.store.list_overrides() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "failed to decode JSON: Expecting property name enclosed in double quotes"),
        (b"[1]", "failed to decode JSON: the body must be a JSON object"),
        (b'{"sett": {}}', "failed to decode JSON: unknown key(s) sett; expected any of"),
        (b'{"set": []}', 'failed to decode JSON: "set" must be an object'),
        (b'{"delete": "url"}', 'failed to decode JSON: "delete" must be a list of strings'),
    ],
)
async def test_bad_json(server: Any, body: bytes, message: str) -> None:
    client, _ = server
    resp = await client.post("/kapacitor/v1/config/discord/dev", data=body)
    assert resp.status == 400
    assert (await resp.json())["error"].startswith(message)


async def test_error_messages_never_echo_a_url(server: Any) -> None:
    client, _ = server
    bad = f"ftp://discord.com/api/webhooks/1/{TOKEN2}"
    resp = await client.post("/kapacitor/v1/config/discord/dev", json={"set": {"url": bad}})
    assert resp.status == 400
    assert "url: must be an http:// or https:// URL" in await _text(resp)


async def test_overrides_are_reapplied_at_start(
    aiohttp_client: ClientFactory, tmp_path: Path, db: Path, make_runtime: MakeRuntime
) -> None:
    first = make_runtime(_config(tmp_path), db=db)
    client = await aiohttp_client(create_app(first))
    resp = await client.post(
        "/kapacitor/v1/config/discord", json={"add": {"workspace": "guild", "url": WEBHOOK2}}
    )
    assert resp.status == 204
    resp = await client.post(
        "/kapacitor/v1/config/discord/ops", json={"set": {"username": "ApiBot"}}
    )
    assert resp.status == 204
    first.store.close()

    second = make_runtime(_config(tmp_path), db=db)
    await aiohttp_client(create_app(second))
    assert second.integrations["discord"].workspace_names() == ["ops", "dev", "guild"]
    assert second.integrations["discord"].resolve("ops").username == "ApiBot"
    second.store.close()

    skipping = make_runtime(_config(tmp_path, extra="skip-config-overrides = true\n"), db=db)
    client = await aiohttp_client(create_app(skipping))
    assert skipping.integrations["discord"].workspace_names() == ["ops", "dev"]
    assert skipping.integrations["discord"].resolve("ops").username == "FileBot"


async def test_broken_stored_overrides_leave_the_file_config_running(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    db: Path,
    caplog: pytest.LogCaptureFixture,
    make_runtime: MakeRuntime,
) -> None:
    with Store(db) as store:
        store.put_override(OverrideRecord("discord", "gone", {"username": "x"}))
    services = make_runtime(_config(tmp_path), db=db)
    client = await aiohttp_client(create_app(services))
    assert services.integrations["discord"].resolve("ops").username == "FileBot"
    assert any(
        "stored config overrides not applied" in r.getMessage()
        and "unknown section/element: discord/gone" in r.fields["reason"]  # type: ignore[attr-defined]
        for r in caplog.records
    )
    resp = await client.get("/kapacitor/v1/config")
    assert resp.status == 500
    # and the way out: remove the broken override
    resp = await client.post("/kapacitor/v1/config/discord", json={"remove": ["gone"]})
    assert resp.status == 204
    assert (await client.get("/kapacitor/v1/config")).status == 200


async def test_failed_save_rolls_the_service_back(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, services = server

    def broken(*args: Any) -> None:
        raise StoreError("/x/leyden.db: save config overrides: disk I/O error")

    monkeypatch.setattr(services.store, "update_overrides", broken)
    resp = await client.post(
        "/kapacitor/v1/config/discord/ops", json={"set": {"username": "ApiBot"}}
    )
    assert resp.status == 500
    assert (await resp.json())["error"] == (
        "failed to save override discord/ops: /x/leyden.db: save config overrides: disk I/O error"
    )
    assert services.integrations["discord"].resolve("ops").username == "FileBot"


async def test_disabled_config_override_service(
    aiohttp_client: ClientFactory, tmp_path: Path, db: Path, make_runtime: MakeRuntime
) -> None:
    config = _config(tmp_path, extra="[config-override]\n  enabled = false\n")
    client = await aiohttp_client(create_app(make_runtime(config, db=db)))
    message = "config override service is not enabled"
    for method, path in (
        ("GET", "/kapacitor/v1/config"),
        ("GET", "/kapacitor/v1/config/discord"),
        ("POST", "/kapacitor/v1/config/discord/ops"),
    ):
        resp = await client.request(method, path, json={"set": {"username": "x"}})
        assert resp.status == 403
        assert await resp.json() == {"error": message, "message": message}


async def test_with_an_in_memory_store_overrides_live_in_memory(
    aiohttp_client: ClientFactory, make_runtime: MakeRuntime
) -> None:
    services = make_runtime(load_config(None, {}, integrations=INTEGRATIONS.sections()))
    app: web.Application = create_app(services)
    client = await aiohttp_client(app)
    resp = await client.post(
        "/kapacitor/v1/config/discord/",
        json={"set": {"enabled": True, "url": WEBHOOK, "username": "Mem"}},
    )
    assert resp.status == 204
    assert services.integrations["discord"].resolve("").username == "Mem"
    resp = await client.get("/kapacitor/v1/config/discord/")
    assert (await resp.json())["options"]["url"] is True
    await _text(resp)


async def test_discord_feature_keys_through_the_api(server: Any) -> None:
    client, services = server
    url = "/kapacitor/v1/config/discord/ops"
    role = "123456789012345678"
    resp = await client.post(
        url, json={"set": {"mention-roles": [role], "mention-level": "WARNING"}}
    )
    assert resp.status == 204, await resp.text()
    ops = services.integrations["discord"].resolve("ops")
    assert (ops.mention_roles, ops.mention_level) == ([role], "WARNING")
    assert (await (await client.get(url)).json())["options"]["mention-roles"] == [role]
    resp = await client.post(url, json={"set": {"mention-level": "warning"}})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert "mention-level: must be one of OK, INFO, WARNING, CRITICAL" in error, error
    assert services.integrations["discord"].resolve("ops").mention_level == "WARNING"


async def test_influxdb_is_overridden_with_its_password_redacted(server: Any) -> None:
    """``[[influxdb]]`` (issue 13) through the same API as the integrations' sections."""
    client, _ = server
    resp = await client.post(
        "/kapacitor/v1/config/influxdb/default",
        json={"set": {"urls": ["http://db1:8086"], "password": "influx-s3cret"}},
    )
    assert resp.status == 204, await resp.text()
    resp = await client.get("/kapacitor/v1/config/influxdb/default")
    text = await resp.text()
    assert "influx-s3cret" not in text
    element = json.loads(text)
    assert element["options"]["urls"] == ["http://db1:8086"]
    assert element["options"]["password"] is True
    resp = await client.post(
        "/kapacitor/v1/config/influxdb/default", json={"set": {"subscription-mode": "all"}}
    )
    assert resp.status == 400
    assert 'unknown subscription mode \\"all\\"' in await resp.text()
