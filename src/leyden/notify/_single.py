"""What Kapacitor's single-section REST services share: PagerDuty (v1 and v2), VictorOps and
OpsGenie (v1 and v2).

Each of Kapacitor's ``services/<kind>`` here is one ``[<kind>]`` section (never a list), a
``service.go`` that builds one JSON POST per event from the alert and the section, and a
handler whose few options override the section's (a routing key, teams).  What they have in
common is here, so each kind's module is only its section, its request and its options:

* :class:`SingleService`: the section (``[pagerduty]``), "service is not enabled" as Kapacitor
  words it, ``global``, one :class:`~leyden.notify._http.HTTPClient` per service, the Kapacitor
  URL PagerDuty sends as ``client_url``.
* :class:`Request` and :class:`ServiceHandler`: one event → one request → one attempt through
  the outbox; the request names its secrets (a service key in the body, an API key in the URL
  path or a header) so no reason, log line or destination ever shows them.
* :func:`kapacitor_url`, :meth:`SingleService.key_digest` and the section's URL check.

Kapacitor treats only its service's documented success status as success (200, or 202 for
OpsGenie v2); Leyden takes any 2xx, and a 429 or 5xx is retried by the dispatcher (Kapacitor
tries once).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from leyden import API_BASE
from leyden.config import Config, Section
from leyden.go.types import GoStruct, go_json, go_json_body
from leyden.model.alert import Event
from leyden.model.alertdata import alert_data
from leyden.notify._http import (
    DeliveryResult,
    HTTPClient,
    http_url_problem,
    redact_url,
    secret_digest,
)
from leyden.notify._service import NOT_ENABLED, HTTPService, service_test_answer
from leyden.notify.base import HandlerConfigError, IntegrationError, RateLimit, SingleSend

__all__ = [
    "NullListSection",
    "Request",
    "ServiceHandler",
    "SingleService",
    "join_path",
    "kapacitor_url",
    "result_json",
    "result_struct",
    "url_problem",
]


C = TypeVar("C", bound=Section)


def kapacitor_url(config: Config | None) -> str:
    """The server's API URL (Kapacitor's ``HTTPDService.URL()``): PagerDuty's ``client_url``.

    Kapacitor prints its listener's address (``http://[::]:9092/kapacitor/v1`` when bound to
    all interfaces); Leyden names the configured ``hostname`` instead of a wildcard address,
    so the link in PagerDuty leads somewhere.
    """
    if config is None:
        return ""
    http = config.http
    host, port = http.host_port()
    if host in ("", "0.0.0.0", "::"):
        host = config.hostname
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if http.https_enabled else "http"
    return f"{scheme}://{host}:{port}{API_BASE}"


#: characters Go's url.URL.EscapedPath leaves as they are
_PATH_SAFE = "/!$&'()*+,;=:@~-._"


def join_path(base: str, *parts: str, query: str | None = None) -> str:
    """``base`` with ``parts`` joined to its path as Go's ``path.Join`` does (empty parts
    skipped, the result cleaned) and escaped as Go writes a URL's path; ``query`` replaces the
    base's query when given (VictorOps' keys, OpsGenie v2's ``/<alias>/<action>``)."""
    split = urlsplit(base)
    joined = [p for p in (split.path, *parts) if p]
    path = posixpath.normpath("/".join(joined)) if joined else ""
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if path and not path.startswith("/"):
        path = "/" + path
    kept = split.query if query is None else query
    return urlunsplit((split.scheme, split.netloc, quote(path, safe=_PATH_SAFE), kept, ""))


def url_problem(key: str, url: str) -> str | None:
    """Kapacitor's ``url cannot be empty``, and an http(s) URL with a host (Kapacitor accepts
    anything Go's url.Parse does and fails on every event instead)."""
    return f"{key}: cannot be empty" if not url else http_url_problem(key, url)


#: ``models.Row``'s fields in Go's order (a row read back from the outbox is a plain dict,
#: which would encode with sorted keys)
_ROW_FIELDS = ("name", "tags", "columns", "values", "partial")


def _row(row: Any) -> Any:
    if not isinstance(row, Mapping):
        return row
    ordered = [(k, row[k]) for k in _ROW_FIELDS if k in row]
    ordered += [(k, v) for k, v in row.items() if k not in _ROW_FIELDS]
    return GoStruct(ordered, type_name="models.Row")


def result_struct(event: Event) -> GoStruct:
    """The event's ``models.Result`` as Kapacitor encodes it (``{"series": …}``), its rows'
    fields in ``models.Row`` order."""
    data: GoStruct = alert_data(event)["data"]
    series = data.get("series")
    if series:
        data["series"] = [_row(row) for row in series]
    return data


def result_json(event: Event) -> str:
    """``json.Marshal(models.Result)``: VictorOps' ``data`` and OpsGenie's ``description``."""
    return go_json(result_struct(event))


class NullListSection(Section):
    """A section with Go slices that are ``nil`` until set (OpsGenie's ``teams``): the config
    API shows them as ``null``, and a ``null`` given back means "not set"."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, where: str) -> Any:
        return super().from_options(
            {k: v for k, v in options.items() if v is not None}, where=where
        )


# --- requests and handlers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One POST as the service's ``service.go`` builds it."""

    url: str
    body: Any  # encoded with go_json, as Go's json.Encoder (a newline after the value)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: values that must never show in a reason (keys in the body, the URL or a header)
    secrets: tuple[str, ...] = ()

    def encoded(self) -> bytes:
        return go_json_body(self.body)

    def __repr__(self) -> str:  # the URL, the body and the headers may hold keys
        return f"Request({redact_url(self.url)})"


class SingleService(HTTPService[C], Generic[C]):
    """The running side of one ``[<kind>]`` section; subclasses build the :class:`Request`."""

    #: Kapacitor's Content-Type and any other fixed headers
    headers: ClassVar[Mapping[str, str]] = {"Content-Type": "application/json"}

    def __init__(
        self, configs: Sequence[C], *, client_url: str = "", client: HTTPClient | None = None
    ) -> None:
        super().__init__(configs, client)
        self.client_url = client_url

    @classmethod
    def from_config(cls, config: Config | None) -> Self:
        """The service over ``config``'s section, knowing the server's API URL (PagerDuty's
        ``client_url``)."""
        service = super().from_config(config)
        service.client_url = kapacitor_url(config)
        return service

    def enabled_config(self) -> C:
        """The section when ``enabled``; raises Kapacitor's "service is not enabled"."""
        config = self.default()
        if config is None or not getattr(config, "enabled", False):
            raise IntegrationError(NOT_ENABLED)
        return config

    def key_digest(self, key: str, attr: str) -> str:
        """Names the key a handler sends with (its own ``key``, else the section's ``attr``: a
        routing key) in destinations and rate-limit keys: its 32-bit
        :func:`~leyden.notify._http.secret_digest`, ``default`` when there is none."""
        key = key or str(getattr(self.config(), attr, ""))
        return secret_digest(key) if key else "default"

    def not_enabled_reason(self) -> str:
        return f"{self.kind}: {NOT_ENABLED} (set enabled = true in {self.section_label()})"

    async def post(self, request: Request) -> DeliveryResult:
        """ONE attempt at ``request``."""
        return await self._client.request(
            "POST",
            request.url,
            body=request.encoded(),
            headers={**self.headers, **request.headers},
            secrets=request.secrets,
        )

    async def deliver(self, build: Callable[[C], Request]) -> DeliveryResult:
        """Build the request from the current section and send it; a disabled service or a
        request that cannot be built is a permanent failure naming why."""
        try:
            config = self.enabled_config()
        except IntegrationError:
            return DeliveryResult("permanent", None, self.not_enabled_reason())
        try:
            request = build(config)
        except (IntegrationError, HandlerConfigError) as exc:
            return DeliveryResult("permanent", None, f"{self.kind}: {exc}")
        return await self.post(request)

    #: how a service test says the section is disabled (Kapacitor's words per service)
    test_not_enabled: ClassVar[str] = NOT_ENABLED

    async def try_request(self, build: Callable[[C], Request]) -> tuple[bool, str]:
        """A service test's answer: ``(True, "")`` or ``(False, reason)`` with Kapacitor's
        "service is not enabled" as it words it."""
        try:
            config = self.enabled_config()
        except IntegrationError:
            return False, self.test_not_enabled
        try:
            request = build(config)
        except IntegrationError as exc:
            return False, str(exc)
        return service_test_answer(await self.post(request))


class ServiceHandler(SingleSend):
    """One handler of a single-section service: each event is one request built by ``build``
    from the section at send time (a config API update applies to the next event)."""

    def __init__(
        self,
        kind: str,
        service: SingleService[Any],
        build: Callable[[Event, Any], Request],
        *,
        destination: str,
        rate_limits: Iterable[RateLimit] = (),
    ) -> None:
        self.kind = kind
        self._service = service
        self._build = build
        self.destination = destination
        self.rate_limits = tuple(rate_limits)

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        return await self._service.deliver(lambda config: self._build(event, config))
