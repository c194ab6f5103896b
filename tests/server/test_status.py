"""The status page (issue 15 item 1) over HTTP: what it shows, behind which credentials, and
that no text a user or a point brings in can become markup.

A real server application on loopback (aiohttp's test server) with a real runtime, an
in-process Discord emulator as its webhook, tasks defined through the API and points written
to ``/write``; the browser's side (the page updating itself, its console) is
tests/e2e/test_e2e_status_page.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from auth_headers import basic_auth as _basic
from markupsafe import escape

from leyden.alerting.topics import MemoryTopicStore, Topics
from leyden.config import Config, load_config
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import MemoryOutbox, NewDelivery, topic_handler_key
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.discord.config import DiscordConfig
from leyden.runtime import Runtime
from leyden.server import status
from leyden.server._http import SERVICES_KEY
from leyden.server.app import create_app
from leyden.server.auth import USER_KEY, AuthUser, Privilege
from leyden.server.serve import AccessLogger
from leyden.server.status import view
from leyden.tasks.metrics import TopicSnapshot

HOSTILE = '<img src=x onerror="alert(1)">&amp;\'"'
S = 1_000_000_000


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes: markup a text could have smuggled in
    shows up here."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, dict[str, str | None]]]:
        parser = cls()
        parser.feed(html)
        return parser.tags


def _text(html: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, spaces folded."""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator(rate_limit=50)
    await emu.start()
    yield emu
    await emu.stop()


def _config(emulator: DiscordEmulator | None) -> Config:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    if emulator is not None:
        config.integrations["discord"] = [
            DiscordConfig(
                enabled=True,
                default=True,
                workspace="guild-alerts",
                url=emulator.webhook_url("1", "t1"),
                username="AlertBot",
                embed_title="Alert",
                timestamp=True,
            )
        ]
    return config


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(runtime), host="127.0.0.1")) as client:
        yield client


Open = Callable[..., Any]


@pytest.fixture
def open_server(tmp_path: Path, make_runtime: Callable[..., Runtime]) -> Open:
    """``async with open_server(emulator=None, conf_text="") as client``: a started server
    (``conf_text``: a kapacitor.conf of its own)."""

    @asynccontextmanager
    async def open_(
        emulator: DiscordEmulator | None = None, conf_text: str = ""
    ) -> AsyncIterator[TestClient]:
        if conf_text:
            path = tmp_path / "kapacitor.conf"
            path.write_text(conf_text)
            config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
        else:
            config = _config(emulator)
        runtime = make_runtime(config, db=tmp_path / "leyden.db")
        async with serving(runtime) as client:
            yield client

    return open_


async def define(client: TestClient, task_id: str, script: str, status_: str = "enabled") -> None:
    resp = await client.post(
        "/kapacitor/v1/tasks",
        json={
            "id": task_id,
            "type": "stream",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": script,
            "status": status_,
        },
    )
    assert resp.status == 200, await resp.text()


async def write(client: TestClient, body: str) -> None:
    resp = await client.post("/write?db=telegraf&rp=autogen", data=body)
    assert resp.status == 204, await resp.text()


async def page(client: TestClient, path: str = "/status", **kwargs: Any) -> str:
    resp = await client.get(path, **kwargs)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/html"
    return await resp.text()


async def wait_for(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# --- the page, empty -------------------------------------------------------------------------


async def test_an_empty_server_says_what_is_missing(open_server: Open) -> None:
    async with open_server() as client:
        resp = await client.get("/status")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp.replace("style-src-attr 'unsafe-inline'", "")
        assert resp.headers["Cache-Control"] == "no-store"
        html = await resp.text()
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        text = _text(html)
        assert "No task is defined." in text
        assert "No alert has fired yet." in text
        assert "Nothing was sent or queued since the server started." in text
        assert "No dead letter." in text
        assert "Select an event or a dead letter to see its Discord message." in text
        # no inline script: the page's one script is its own file
        scripts = [a for tag, a in Tags.of(html) if tag == "script"]
        assert len(scripts) == 1 and scripts[0]["defer"] is None
        src = scripts[0]["src"] or ""
        # versioned by its content, so a browser never keeps an old script after an upgrade
        assert re.fullmatch(r"/status/static/status\.js\?v=[\w%-]+", src), src
        assert (await client.get(src)).status == 200


async def test_root_redirects_to_the_canonical_path(open_server: Open) -> None:
    async with open_server() as client:
        resp = await client.get("/", allow_redirects=False)
        assert resp.status == 302
        assert resp.headers["Location"] == "/status"


async def test_the_live_body_is_the_page_without_its_frame(open_server: Open) -> None:
    async with open_server() as client:
        full = await page(client)
        body = await page(client, "/status/live")
        assert "<html" not in body and "<script" not in body
        assert 'id="tasks"' in body and 'id="tasks"' in full
        resp = await client.get("/status/live")
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_the_static_files_are_served(open_server: Open) -> None:
    async with open_server() as client:
        for name, kind in (("status.css", "text/css"), ("status.js", "javascript")):
            resp = await client.get(f"/status/static/{name}")
            assert resp.status == 200, name
            assert kind in resp.headers["Content-Type"]
        resp = await client.get("/status/static/../__init__.py")
        assert resp.status in (403, 404)


# --- tasks, alerts and the preview -----------------------------------------------------------

CPU = (
    "stream|from().measurement('cpu').groupBy('host')"
    "|alert().id('cpu:{{ index .Tags \"host\" }}')"
    '.message(\'{{ .Level }}: idle {{ index .Fields "idle" }} on {{ index .Tags "host" }}\')'
    '.warn(lambda: "idle" < 30).crit(lambda: "idle" < 10)'
    ".discord().embedTitle('CPU on {{ index .Tags \"host\" }}')"
)


async def test_tasks_alerts_and_the_discord_preview(
    open_server: Open, emulator: DiscordEmulator
) -> None:
    async with open_server(emulator) as client:
        await define(client, "cpu_alert", CPU)
        await define(client, "idle_task", "stream|from().measurement('mem')|log()", "disabled")
        text = _text(await page(client))
        assert "cpu_alert enabled stream" in text
        assert "idle_task disabled stream" in text
        await write(client, "cpu,host=web-1 idle=5\ncpu,host=web-2 idle=20\ncpu,host=web-3 idle=90")
        await wait_for(lambda: len(emulator.messages) >= 1, "the alert in Discord")
        html = await page(client)
        text = _text(html)
        # the task: executing, its throughput and alerts by level, its nodes' statistics
        assert re.search(
            r"cpu_alert enabled stream · \"telegraf\".\"autogen\" [\d.]+ points/s", text
        )
        assert "1 CRITICAL 1 WARNING" in text
        assert "3 nodes" in text
        for stat in ("collected 3", "crits_triggered 1", "warns_triggered 1", "avg_exec_time_ns"):
            assert stat in text, stat
        # the topic and its latest events, the most severe first
        assert "CRITICAL main:cpu_alert:alert2 2 collected · 1 CRITICAL · 1 WARNING" in text
        assert text.index("cpu:web-1") < text.index("cpu:web-2")
        assert "CRITICAL: idle 5 on web-1" in text
        # the preview of the newest event (of one time, the most severe): what the Discord
        # handler sent for it, drawn
        sent = [e for m in emulator.messages for e in m.payload["embeds"]]
        newest = next(e for e in sent if e["footer"]["text"] == "cpu_alert · cpu:web-1")
        assert "as its Discord handler sends it (the default workspace)" in text
        assert f"{newest['title']} {newest['description']}" in text
        color = f"#{newest['color']:06x}"
        embeds = [
            a
            for tag, a in Tags.of(html)
            if tag == "div" and "embed" in (a.get("class") or "").split()
        ]
        assert embeds == [
            {"class": "embed", "style": f"border-left-color: {color}", "data-color": color}
        ]
        assert "AlertBot APP" in text
        assert f"{newest['footer']['text']} • " in text
        # one event chosen: its own message
        html = await page(client, "/status?topic=main:cpu_alert:alert2&event=cpu:web-2")
        text = _text(html)
        assert "CPU on web-2 WARNING: idle 20 on web-2" in text
        assert "Since" in text  # the incident field Leyden adds, <t:…:R> drawn as an age
        assert re.search(r"Since \d+s ago", text)
        selected = [
            a for t, a in Tags.of(html) if t == "li" and "selected" in (a.get("class") or "")
        ]
        assert [a["data-event"] for a in selected] == ["cpu:web-2"]


async def test_a_failed_task_reads_failed_with_its_error(open_server: Open) -> None:
    """A batch task needs an InfluxDB cluster; without one its start fails (the define answers
    500, as Kapacitor) and it stays enabled, not executing: the page lists it ``failed`` with
    the error ``list tasks`` prints, as ``leyden_task_failed`` counts it."""
    async with open_server() as client:
        resp = await client.post(
            "/kapacitor/v1/tasks",
            json={
                "id": "batchy",
                "type": "batch",
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "script": "batch|query('SELECT mean(x) FROM db.rp.m').every(1m)|log()",
                "status": "enabled",
            },
        )
        assert resp.status == 500
        listed = await (await client.get("/kapacitor/v1/tasks/batchy")).json()
        assert (listed["status"], listed["executing"]) == ("enabled", False)
        text = _text(await page(client))
        assert "batchy failed batch" in text
        assert f'batchy failed batch · "telegraf"."autogen" {listed["error"]}' in text
        assert "0 executing, 1 failed" in text


async def test_an_unknown_or_bad_selection_is_said(open_server: Open) -> None:
    async with open_server() as client:
        text = _text(await page(client, "/status?topic=nope&event=x"))
        assert "no event 'x' in topic 'nope' (any more)" in text
        text = _text(await page(client, "/status?delivery=12x"))
        assert 'invalid delivery ID "12x": want a number' in text
        text = _text(await page(client, "/status?delivery=" + "9" * 30))
        assert "want a number below 2^63" in text
        text = _text(await page(client, "/status?delivery=404"))
        assert "no delivery with ID 404" in text


# --- escaping --------------------------------------------------------------------------------


async def test_nothing_a_point_or_a_script_brings_becomes_markup(
    open_server: Open, emulator: DiscordEmulator
) -> None:
    """A tag value ends up in the alert's ID, message, title and footer, and in the preview's
    markdown; a message template adds its own text; none may open a tag or an attribute."""
    script = (
        "stream|from().measurement('cpu').groupBy('host')"
        "|alert().id('{{ index .Tags \"host\" }}')"
        '.message(\'<script>alert("m")</script> **{{ index .Tags "host" }}** `<b>x</b>`\')'
        '.crit(lambda: "idle" < 10)'
        ".discord().embedTitle('{{ index .Tags \"host\" }}')"
    )
    async with open_server(emulator) as client:
        await define(client, "hostile", script)
        host = HOSTILE.replace(" ", "\\ ").replace(",", "\\,").replace("=", "\\=")
        await write(client, f"cpu,host={host} idle=1")
        await wait_for(lambda: emulator.messages, "the alert in Discord")
        for path in ("/status", "/status/live"):
            html = await page(client, path)
            tags = {tag for tag, _ in Tags.of(html)}
            assert "img" not in tags, path
            assert [t for t, _ in Tags.of(html)].count("script") == (1 if path == "/status" else 0)
            assert not any(name.startswith("on") for _, attrs in Tags.of(html) for name in attrs), (
                path
            )
            text = _text(html)
            assert HOSTILE in text  # shown as written
            # the preview drew the markdown around it as Discord does, the code as written
            assert f"<strong>{escape(HOSTILE)}</strong>" in html
            assert "<code>&lt;b&gt;x&lt;/b&gt;</code>" in html


# --- deliveries ------------------------------------------------------------------------------


def _dead_letter(runtime: Runtime, message: str = "disk full") -> int:
    event = Event(
        "disk",
        EventState("disk:db-1", message, "", Time(1_700_000_000 * S), Duration(0), Level.CRITICAL),
        EventData(name="disk", task_name="disk_alert", tags={"host": "db-1"}),
    )
    outbox = runtime.outbox
    destination = "post:http://127.0.0.1:9/… #abc"
    (row_id,) = outbox.add(
        [
            NewDelivery.of(
                event,
                handler=topic_handler_key("disk", "hook"),
                kind="post",
                destination=destination,
            )
        ]
    )
    assert [r.id for r in outbox.claim(1, destination=destination)] == [row_id]
    outbox.mark_dead(row_id, "HTTP 404: POST to http://127.0.0.1:9/… returned 404")
    return row_id


async def test_dead_letters_with_a_retry_that_works(open_server: Open) -> None:
    async with open_server() as client:
        runtime = client.server.app[SERVICES_KEY]
        row_id = _dead_letter(runtime, message=HOSTILE)
        html = await page(client)
        text = _text(html)
        assert "1 dead" in text
        assert f"#{row_id} disk:db-1" in text
        assert HOSTILE in text
        assert "HTTP 404: POST to http://127.0.0.1:9/… returned 404" in text
        buttons = [a for t, a in Tags.of(html) if t == "button"]
        retry = f"/kapacitor/v1/deliveries/{row_id}/retry"
        assert buttons == [{"type": "button", "class": "retry", "data-retry": retry}]
        # the dead letter's preview: not a Discord delivery, and no workspace: Kapacitor's embed
        text = _text(await page(client, f"/status?delivery={row_id}"))
        assert f"delivery {row_id} (disk:db-1) · no Discord workspace applies" in text
        assert "this delivery goes to a post handler, not Discord" in text
        assert f"Webhook APP {HOSTILE}" in text
        # the button's request is the deliveries API's retry
        resp = await client.post(retry)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["state"] == "queued"


async def test_the_retry_button_only_for_a_user_who_may_retry(
    open_server: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = AuthUser("ro", privileges={"/api": Privilege.READ})
    writer = AuthUser("rw", privileges={"/api": Privilege.ALL})
    for user, allowed in ((None, True), (reader, False), (writer, True)):
        request = make_mocked_request("GET", "/status")
        if user is not None:
            request[USER_KEY] = user
        assert status.can_retry(request) is allowed, user
    monkeypatch.setattr(status, "can_retry", lambda request: False)
    async with open_server() as client:
        _dead_letter(client.server.app[SERVICES_KEY])
        html = await page(client)
        assert "disk:db-1" in _text(html)
        assert [t for t, _ in Tags.of(html) if t == "button"] == []


# --- authentication --------------------------------------------------------------------------

AUTH = """
[http]
  auth-enabled = true
[auth]
  enabled = true
[[auth.users]]
  username = "reader"
  password = "re4der-Pa55word!"
  permissions = ["api"]
[[auth.users]]
  username = "configurer"
  password = "c0nfig-Pa55word!"
  permissions = ["config_api"]
"""


async def test_behind_the_api_s_authentication(open_server: Open) -> None:
    async with open_server(conf_text=AUTH) as client:
        challenge = 'Basic realm="Leyden", charset="UTF-8"'
        for path in ("/", "/status", "/status/live", "/status/static/status.js"):
            # a browser is asked for credentials
            resp = await client.get(
                path, headers={"Accept": "text/html,*/*"}, allow_redirects=False
            )
            assert resp.status == 401, path
            assert resp.headers["WWW-Authenticate"] == challenge
            # the page's own paths challenge whatever is accepted (a script, a style, a fetch
            # the browser sent before its cached credentials); Kapacitor's 401 body either way
            resp = await client.get(path, allow_redirects=False)
            assert resp.status == 401, path
            assert resp.headers.get("WWW-Authenticate") == (None if path == "/" else challenge)
            assert (await resp.json())["error"] == "unable to parse authentication credentials"
        # an API client gets Kapacitor's 401, without a challenge
        resp = await client.get("/kapacitor/v1/tasks", headers={"Accept": "application/json"})
        assert resp.status == 401
        assert "WWW-Authenticate" not in resp.headers
        resp = await client.get("/kapacitor/v1/statuses")
        assert "WWW-Authenticate" not in resp.headers
        resp = await client.get("/statuses")
        assert "WWW-Authenticate" not in resp.headers
        resp = await client.get("/status", headers=_basic("reader", "wrong"))
        assert resp.status == 401
        html = await page(client, headers=_basic("reader", "re4der-Pa55word!"))
        assert "No task is defined." in _text(html)
        _dead_letter(client.server.app[SERVICES_KEY])
        html = await page(client, "/status/live", headers=_basic("reader", "re4der-Pa55word!"))
        assert [t for t, _ in Tags.of(html)].count("button") == 1
        resp = await client.get("/status", headers=_basic("configurer", "c0nfig-Pa55word!"))
        assert resp.status == 403
        assert "re4der" not in await resp.text()


def test_the_page_s_refreshes_are_logged_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    """``[http] log-enabled`` logs every request; an open page refreshes every few seconds,
    so its successful refreshes go to debug, everything else stays at info."""
    logger = logging.getLogger("leyden.http")
    access = AccessLogger(logger, "")
    caplog.set_level(logging.DEBUG, logger="leyden.http")
    for path, code in (("/status/live", 200), ("/status/live", 401), ("/status", 200)):
        access.log(make_mocked_request("GET", path), web.Response(status=code), 0.001)
    assert [(r.levelname, r.fields["path"], r.fields["status"]) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("DEBUG", "/status/live", 200),
        ("INFO", "/status/live", 401),
        ("INFO", "/status", 200),
    ]


# --- many topics ---


def test_thousands_of_topics_show_the_most_severe_and_count_the_rest() -> None:
    """The page lists at most TOPICS_SHOWN topics (the firing ones first), ordered by the
    engine snapshot's counts; the summary counts every listed topic, a hidden one not."""

    topics = Topics(store=MemoryTopicStore(), dispatcher=Dispatcher(MemoryOutbox()))
    many = view.TOPICS_SHOWN + 30
    for i in range(many):
        level = Level.CRITICAL if i % 20 == 0 else Level.OK
        state = EventState(f"a{i}", "m", "", Time(i * 1_000_000_000), Duration(0), level)
        topics.collect(Event(f"t{i:03d}", state, EventData()))
    topics.unlist("t020")  # a DELETE of the topic while its handlers stay
    counted = [
        TopicSnapshot(t, 1, {str(s.level): 1 for s in topics.get(t).events.values()})  # type: ignore[union-attr]
        for t in topics.ids()
    ]
    order = view.order_topics(topics, counted)
    assert (order.total, order.firing) == (many - 1, many // 20 - 1)
    rows = view.topics(order, view.Selection())
    assert len(rows) == view.TOPICS_SHOWN
    firing = [r.id for r in rows if r.level == "CRITICAL"]
    assert firing == [f"t{i:03d}" for i in range(0, many, 20) if i != 20]
    assert rows[len(firing)].level == "OK" and "t020" not in {r.id for r in rows}
    # the preview's default: the newest event of the shown topics
    newest = max((r for r in rows), key=lambda r: r.events[0].time)
    assert view.latest_event(order) == view.Selection(topic=newest.id, event=newest.events[0].id)
