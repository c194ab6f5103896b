"""``.talk()`` and ``kind: talk``: one Talk (jianliao.com) incoming-webhook message per event.

As Kapacitor's ``services/talk``: ``[talk]`` has ``enabled``, ``url`` (the webhook, a secret:
redacted in the config API) and ``author_name``; the handler has no options.  Each event is one
POST of ``{"authorName", "text", "title"}`` (a Go map: keys sorted, with the newline Go's
encoder writes) with ``Content-Type: application/json``: the title is the alert ID, the text
its message.  Kapacitor has no global Talk handler.

Differences: a handler file's options are refused (Kapacitor ignores them), and any 2xx is
success (Kapacitor wants 200); a failed send is retried by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.go.types import go_json_body
from leyden.model.alert import Event
from leyden.notify._http import (
    DeliveryResult,
    http_url_problem,
    url_destination,
)
from leyden.notify._registry import Integration
from leyden.notify._service import HTTPService, ServiceTestOptions, service_test_answer
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    IntegrationError,
    SingleSend,
    service_of,
)

__all__ = ["INTEGRATION", "SECTION", "TalkConfig", "TalkHandler", "TalkService", "payload"]

KIND = "talk"


@dataclass
class TalkConfig(Section):
    """``[talk]`` (Kapacitor's services/talk Config)."""

    enabled: bool = False
    url: str = field(default="", repr=False)
    author_name: str = ""

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("author_name", "author_name", "str"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"url"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.enabled and not self.url:
            problems.append("url: must specify url")
        if problem := http_url_problem("url", self.url, hidden="it holds the webhook's secret"):
            problems.append(problem)
        return problems


#: ``[talk]``; Kapacitor always has one (disabled), so the environment can configure it.
SECTION = SectionSpec(KIND, TalkConfig, multiple=False, defaults=({},))


def payload(*, title: str, text: str, author_name: str) -> bytes:
    """Kapacitor's ``preparePost`` body: a Go map (sorted keys) and a newline."""
    return go_json_body({"title": title, "text": text, "authorName": author_name})


class TalkService(HTTPService[TalkConfig]):
    """The ``[talk]`` section and the one request per message."""

    kind = KIND
    section = SECTION

    def destination(self) -> str:
        url = self.config().url
        return f"talk {url_destination(url)}" if url else "talk (no url)"

    async def alert(self, title: str, text: str) -> DeliveryResult:
        """ONE attempt to post ``text`` under ``title``."""
        try:
            config = self.resolve()
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        body = payload(title=title, text=text, author_name=config.author_name)
        return await self._client.request(
            "POST", config.url, body=body, headers={"Content-Type": "application/json"}
        )

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's testOptions."""
        return {"title": "testTitle", "text": "test talk text"}

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            title, text = o.text("title"), o.text("text")
        except IntegrationError as exc:
            return False, str(exc)
        return service_test_answer(await self.alert(title, text))


class TalkHandler(SingleSend):
    kind = KIND

    def __init__(self, service: TalkService) -> None:
        self.service = service
        self.destination = service.destination()

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        return await self.service.alert(event.state.id, event.state.message)


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> TalkHandler:
    """From ``.talk()`` (no properties)."""
    return TalkHandler(service_of(ctx, KIND, TalkService, "Talk"))


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> TalkHandler:
    """From a ``kind: talk`` handler file (no options)."""
    if options:
        raise HandlerConfigError(
            f"invalid talk handler option(s): {', '.join(sorted(str(k) for k in options))}; "
            "the talk handler has no options"
        )
    return TalkHandler(service_of(ctx, KIND, TalkService, "Talk"))


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=TalkService.from_config,
    service_test=True,
)
