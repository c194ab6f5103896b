"""``.sensu()`` and ``kind: sensu``: a check result written to the Sensu client socket.

As Kapacitor's services/sensu: ``[sensu]`` has ``enabled``, ``addr`` (the client socket,
``host:port``; required when enabled), ``source`` (default ``Kapacitor``) and ``handlers``.
Each event opens a TCP connection and writes one JSON object (Go's encoder: map keys sorted, a
newline after it): ``name`` (the alert ID, which must match ``^[\\w.-]+$``), ``source`` (the
handler's, a Go template over the alert, else the section's), ``output`` (the message),
``status`` (OK and INFO 0, WARNING 1, CRITICAL 2) and ``handlers`` (the handler's, else the
section's; ``null`` when neither has any), plus the ``metadata`` keys that do not clash with
those.  The client answers ``ok``.

One attempt per send: a refused or lost connection, or a socket that closes without answering,
is retried by the dispatcher; an answer other than ``ok`` (the client's ``invalid``), a bad
name and a source template that fails are permanent.  Kapacitor waits for the client to close
the connection; Leyden stops reading at ``ok`` and gives up after 30 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.go.types import go_json_body
from leyden.model.alert import Event, Level
from leyden.notify._http import DeliveryResult
from leyden.notify._registry import Integration, Problem
from leyden.notify._service import (
    NOT_ENABLED,
    ConfiguredService,
    ServiceTestOptions,
    service_test_answer,
)
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    IntegrationError,
    SingleSend,
    check_keys,
    option,
    service_of,
    str_list,
)
from leyden.notify.tcp import split_address

__all__ = ["INTEGRATION", "SECTION", "SensuConfig", "SensuService"]

KIND = "sensu"
DEFAULT_SOURCE = "Kapacitor"
TIMEOUT = 30.0
OPTION_KEYS = ("source", "handlers", "metadata")
#: Go's regexp ``^[\w\.-]+$``: \w is ASCII there
_VALID_NAME = re.compile(r"^[0-9A-Za-z_.-]+$")
_STATUS = {Level.OK: 0, Level.INFO: 0, Level.WARNING: 1, Level.CRITICAL: 2}


@dataclass
class SensuConfig(Section):
    """The ``[sensu]`` section (Kapacitor's services/sensu Config)."""

    enabled: bool = False
    addr: str = ""
    source: str = DEFAULT_SOURCE
    handlers: list[str] = field(default_factory=list)

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("addr", "addr", "str"),
        Key("source", "source", "str"),
        Key("handlers", "handlers", "str_list"),
    )

    def to_options(self, *, redact: bool = True) -> dict[str, Any]:
        """As Kapacitor's API shows it: no handlers is ``null`` (a nil slice)."""
        options = super().to_options(redact=redact)
        if not options["handlers"]:
            options["handlers"] = None
        return options

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, where: str) -> SensuConfig:
        cleaned = {k: v for k, v in options.items() if not (k == "handlers" and v is None)}
        section: SensuConfig = super().from_options(cleaned, where=where)
        return section

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.enabled and not self.addr:
            problems.append("addr: must specify client address")
        if self.addr:
            try:
                split_address(self.addr)
            except HandlerConfigError:
                problems.append(f'addr: "{self.addr}" must be host:port')
        return problems


#: ``[sensu]`` for the loader; without one in the file, Kapacitor's disabled built-in one.
SECTION = SectionSpec("sensu", SensuConfig, multiple=False, defaults=({"enabled": False},))


def _status(level: Level) -> int:
    return _STATUS.get(level, 3)


class SensuService(ConfiguredService[SensuConfig]):
    kind = KIND
    section = SECTION

    async def alert(
        self,
        name: str,
        source: str,
        output: str,
        handlers: Sequence[str],
        metadata: Mapping[str, Any],
        level: Level,
    ) -> DeliveryResult:
        """One check result to the client socket: one attempt."""
        if not _VALID_NAME.match(name):
            return DeliveryResult(
                "permanent",
                None,
                f'invalid name "{name}" for sensu alert. Must match ^[\\w\\.-]+$',
            )
        try:
            config = self.resolve()
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        post: dict[str, Any] = {
            "name": name,
            "source": source or config.source,
            "output": output,
            "status": _status(level),
            "handlers": list(handlers or config.handlers) or None,
        }
        for key, value in metadata.items():
            post.setdefault(key, value)
        try:
            body = go_json_body(post)
        except (TypeError, ValueError) as exc:
            return DeliveryResult("permanent", None, f"sensu: cannot encode the check: {exc}")
        try:
            host, port = split_address(config.addr)
        except HandlerConfigError as exc:
            return DeliveryResult("permanent", None, str(exc))
        return await self._write(config.addr, host, port, body)

    async def _write(self, addr: str, host: str, port: int, body: bytes) -> DeliveryResult:
        where = f"sensu client {addr}"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out"
            return DeliveryResult("retry", None, f"failed to connect to {where}: {reason}")
        try:
            writer.write(body)
            await writer.drain()
            answer = await asyncio.wait_for(_read_answer(reader), TIMEOUT)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out"
            return DeliveryResult("retry", None, f"{where}: {reason}")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if answer == b"ok":
            return DeliveryResult("delivered")
        if not answer:
            return DeliveryResult("retry", None, f"{where} closed the connection without answering")
        text = answer[:200].decode("utf-8", "replace")
        return DeliveryResult("permanent", None, f"sensu socket error: {text}")

    # --- service test --------------------------------------------------------------------

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's sensu TestOptions."""
        return {
            "name": "testName",
            "source": "Kapacitor",
            "output": "testOutput",
            "handlers": [],
            "metadata": {},
            "level": "CRITICAL",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            name, source, output = o.text("name"), o.text("source"), o.text("output")
            handlers, metadata, level = o.texts("handlers"), o.obj("metadata"), o.level()
        except IntegrationError as exc:
            return False, str(exc)
        if not self.config().enabled:
            return False, NOT_ENABLED
        return service_test_answer(
            await self.alert(name, source, output, handlers, metadata, level)
        )


async def _read_answer(reader: asyncio.StreamReader) -> bytes:
    """Until the client closes the connection, or has said ``ok``."""
    answer = b""
    while True:
        chunk = await reader.read(256)
        if not chunk:
            return answer
        answer += chunk
        if answer == b"ok" or len(answer) > 4096:
            return answer


def _source_template(source: str) -> Template:
    try:
        return Template.parse(source, name="source")
    except TemplateError as exc:
        raise HandlerConfigError(f"failed to create sensu alert handler: {exc}") from None


class SensuHandler(SingleSend):
    kind = KIND
    destination = "sensu"

    def __init__(
        self,
        ctx: HandlerContext,
        source: str = "",
        handlers: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._service = service_of(ctx, KIND, SensuService, "Sensu")
        self.source = source
        self._source = _source_template(source)
        self.handlers = list(handlers)
        self.metadata = dict(metadata or {})

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        try:
            source = self._source.execute(event.template_data())
        except TemplateExecError as exc:
            return DeliveryResult(
                "permanent", None, f"failed to evaluate Sensu source template: {exc}"
            )
        return await self._service.alert(
            event.state.id,
            source,
            event.state.message,
            self.handlers,
            self.metadata,
            event.state.level,
        )


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> SensuHandler:
    """From ``.sensu().source('…').handlers('…').metadata('k', v)``."""
    return SensuHandler(
        ctx,
        source=str(props.get("source") or ""),
        handlers=str_list(props.get("handlers"), f"{KIND} handler .handlers()"),
        metadata=dict(props.get("metadata") or {}),
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> SensuHandler:
    """From a ``kind: sensu`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    return SensuHandler(
        ctx,
        source=option(options, KIND, "source", str, ""),
        handlers=str_list(
            option(options, KIND, "handlers", list, None), f"{KIND} handler option 'handlers'"
        ),
        metadata=option(options, KIND, "metadata", dict, {}),
    )


def check(settings: Mapping[str, Any], service: Any, from_tick: bool) -> Problem | None:
    """At definition: the source template must parse (Kapacitor refuses the task too)."""
    source = settings.get("source")
    if isinstance(source, str) and source:
        try:
            Template.parse(source, name="source")
        except TemplateError as exc:
            return Problem(f"failed to create sensu alert handler: {exc}", "source", source)
    return None


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=SensuService.from_config,
    check=check,
    service_test=True,
)
