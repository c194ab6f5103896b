"""The integration table is the only place a new handler kind has to be named.

A throwaway ``pager`` integration is registered here and nowhere else: the configuration
loader, the service tests, the config API, the alert service's TICKscript and topic-handler
factories, its global handler and the define-time check all find it through
``leyden.notify.INTEGRATIONS`` with no other change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp.test_utils import TestClient

from leyden.alerting.service import AlertService
from leyden.alerting.topic_handlers import RegistrationError, TopicHandlers
from leyden.clock import SimulatedClock
from leyden.config import Config, Key, Section, SectionSpec, load_config
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import MemoryOutbox
from leyden.model.alert import Event
from leyden.model.records import HandlerRecord
from leyden.notify import INTEGRATIONS, Integration, Problem
from leyden.notify.base import HandlerContext
from leyden.runtime import Runtime
from leyden.server.app import create_app

ClientFactory = Callable[..., Awaitable[TestClient]]
SECRET = "pAgEr-SeCrEt-0123456789"


@dataclass
class PagerConfig(Section):
    """``[[pager]]``: one team's paging endpoint."""

    team: str = ""
    enabled: bool = False
    url: str = field(default="", repr=False)
    global_: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("team", "team", "str"),
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("global", "global_", "bool"),
    )
    _ELEMENT_KEY: ClassVar[str] = "team"
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"url"})

    def validate(self) -> list[str]:
        return ["url: must be set when enabled"] if self.enabled and not self.url else []


class PagerService:
    def __init__(self, configs: Sequence[PagerConfig]) -> None:
        self.configs = list(configs)
        self.tested: list[Mapping[str, Any]] = []
        self.paged: list[tuple[str, str]] = []

    def update(self, sections: list[Any]) -> None:
        self.configs = list(sections)

    def teams(self) -> list[str]:
        return [c.team for c in self.configs]

    def default_test_options(self) -> dict[str, Any]:
        return {"team": self.teams()[0] if self.configs else "", "message": "test page"}

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        self.tested.append(options)
        return True, ""

    async def close(self) -> None:
        return None


class PagerHandler:
    kind = "pager"

    def __init__(self, service: PagerService, team: str) -> None:
        self.service = service
        self.team = team

    async def handle(self, event: Event) -> None:
        self.service.paged.append((self.team, event.state.id))

    async def close(self) -> None:
        return None


def _handler(settings: Mapping[str, Any], ctx: HandlerContext) -> PagerHandler:
    return PagerHandler(ctx.services["pager"], str(settings.get("team") or ""))


def _check(settings: Mapping[str, Any], service: PagerService, tick: bool) -> Problem | None:
    team = settings.get("team")
    if team and team not in service.teams():
        return Problem(f'pager team "{team}" is not configured', prop="team", value=str(team))
    return None


SECTION = SectionSpec("pager", PagerConfig)
PAGER = Integration(
    "pager",
    from_options=_handler,
    from_tick=_handler,
    section=SECTION,
    build_service=lambda config: PagerService(config.sections(SECTION) if config else []),
    check=_check,
    service_test=True,
    global_handler=lambda service: any(c.global_ for c in service.configs),
)

FILE = f"""
[[pager]]
  team = "ops"
  enabled = true
  url = "https://pager.example/{SECRET}"
  global = true
"""


@pytest.fixture
def pager() -> Iterator[Integration]:
    """The one line a new kind needs, done (and undone) for the length of a test."""
    INTEGRATIONS.register(PAGER)
    try:
        yield PAGER
    finally:
        INTEGRATIONS.unregister("pager")


def _config(tmp_path: Path) -> Config:
    path = tmp_path / "kapacitor.conf"
    path.write_text(FILE)
    return load_config(str(path), {}, integrations=INTEGRATIONS.sections())


@pytest.fixture
async def client(
    pager: Integration,
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    make_runtime: Callable[..., Runtime],
) -> AsyncIterator[TestClient]:
    yield await aiohttp_client(create_app(make_runtime(_config(tmp_path))))


def test_the_loader_reads_its_section_and_environment(pager: Integration, tmp_path: Path) -> None:
    config = _config(tmp_path)
    [section] = config.integrations["pager"]
    assert section.team == "ops" and section.global_
    env = {"KAPACITOR_PAGER_0_TEAM": "night"}
    path = str(tmp_path / "kapacitor.conf")
    [overridden] = load_config(path, env, integrations=INTEGRATIONS.sections()).integrations[
        "pager"
    ]
    assert overridden.team == "night"


def test_without_the_integration_its_section_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "kapacitor.conf"
    path.write_text(FILE)
    with pytest.raises(Exception, match=r"unknown section \[\[pager\]\]"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())


async def test_service_tests_list_and_run_it(client: TestClient) -> None:
    listed = await (await client.get("/kapacitor/v1/service-tests")).json()
    names = [s["name"] for s in listed["services"]]
    assert {"discord", "pager"} <= set(names) and names == sorted(names)
    answer = await client.post("/kapacitor/v1/service-tests/pager", json={"team": "ops"})
    assert await answer.json() == {"success": True, "message": ""}


async def test_config_api_serves_its_section_redacted(client: TestClient) -> None:
    answer = await client.get("/kapacitor/v1/config/pager")
    text = await answer.text()
    assert answer.status == 200 and SECRET not in text
    [element] = (await answer.json())["elements"]
    assert element["options"] == {"team": "ops", "enabled": True, "url": True, "global": True}
    assert element["redacted"] == ["url"]
    update = await client.post("/kapacitor/v1/config/pager/ops", json={"set": {"global": False}})
    assert update.status == 204
    [element] = (await (await client.get("/kapacitor/v1/config/pager")).json())["elements"]
    assert element["options"]["global"] is False
    refused = await client.post(
        "/kapacitor/v1/config/pager/ops", json={"set": {"url": "", "enabled": True}}
    )
    assert refused.status == 400


async def test_alert_service_builds_it_and_its_global_handler(
    pager: Integration, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    services = INTEGRATIONS.build_services(config)
    alerts = AlertService(services=services, config=config, dispatcher=Dispatcher(MemoryOutbox()))
    try:
        explicit = alerts.build_handlers([("pager", {"team": "ops"})])
        assert [(h.kind, h.team) for h in explicit] == [("pager", "ops")]  # type: ignore[attr-defined]
        implicit = alerts.build_handlers([("log", {"path": str(tmp_path / "a.log")})])
        assert [h.kind for h in implicit] == ["log", "pager"]
    finally:
        await alerts.close()


async def test_topic_handlers_build_and_check_it(pager: Integration, tmp_path: Path) -> None:
    config = _config(tmp_path)
    alerts = AlertService(
        services=INTEGRATIONS.build_services(config),
        config=config,
        dispatcher=Dispatcher(MemoryOutbox()),
    )
    handlers = TopicHandlers(alerts, None, clock=SimulatedClock(0))
    try:
        handlers.register(HandlerRecord("cpu", "page-ops", "pager", {"team": "ops"}))
        assert handlers.handler("cpu", "page-ops").kind == "pager"  # type: ignore[union-attr]
        with pytest.raises(RegistrationError, match='pager team "night" is not configured'):
            handlers.register(HandlerRecord("cpu", "page-night", "pager", {"team": "night"}))
    finally:
        await alerts.close()
