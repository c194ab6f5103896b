"""``.post(url)`` and ``kind: post``: the alert-data JSON POSTed to a URL or an ``[[httppost]]``.

As Kapacitor's ``services/httppost`` handler: the URL (the handler's, or the endpoint's when
``endpoint`` names a configured ``[[httppost]]``) is a Go template over the alert data; the
body is the alert-data JSON (``Content-Type: application/json``), or the endpoint's
``alert-template`` rendered (then no content type); endpoint headers and basic auth are sent,
handler headers override them; any 2xx is success; ``timeout`` shortens the 30 s limit.
One attempt per :meth:`PostHandler.send`: a 429, a 5xx or a transport error is retried by the
dispatcher, any other answer (and a template that cannot be rendered) is permanent (Kapacitor
tries once).  URLs may carry tokens, so errors name the URL only in redacted form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from leyden.config import endpoint_headers, endpoint_template_text
from leyden.go.template import FUNCS_DETAILS, Template, TemplateError, TemplateExecError
from leyden.go.types import GoStruct
from leyden.model.alert import Event
from leyden.notify._http import (
    DeliveryResult,
    EnvProxies,
    classify,
    redact_url,
    url_destination,
)
from leyden.notify._registry import Integration
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    HandlerError,
    SingleSend,
    check_keys,
    option,
)

DEFAULT_TIMEOUT = 30.0
_MAX_CAPTURED = 4096
OPTION_KEYS = ("url", "endpoint", "headers", "capture-response", "timeout", "skip-ssl-verification")


class AlertData:
    """Kapacitor's ``alert.Data`` as templates see it: Go field names, JSON with its tags."""

    __slots__ = (
        "Data",
        "Details",
        "Duration",
        "ID",
        "Level",
        "Message",
        "PreviousLevel",
        "Recoverable",
        "Time",
        "_json",
    )

    def __init__(self, event: Event, json_text: str) -> None:
        self.ID = event.state.id
        self.Message = event.state.message
        self.Details = event.state.details
        self.Time = event.state.time
        self.Duration = event.state.duration
        self.Level = str(event.state.level)
        self.Data = event.data.result
        self.PreviousLevel = str(event.previous_level)
        self.Recoverable = event.data.recoverable
        self._json = json_text

    def __go_json__(self) -> Any:
        return json.loads(self._json, object_pairs_hook=GoStruct)


def _template(text: str, what: str, *, funcs: bool = False) -> Template:
    try:
        return Template.parse(text, name="body", funcs=FUNCS_DETAILS if funcs else None)
    except TemplateError as exc:
        raise HandlerConfigError(f"post handler: invalid {what} template: {exc}") from None


class PostHandler(SingleSend):
    kind = "post"

    def __init__(
        self,
        ctx: HandlerContext,
        *,
        url: str = "",
        endpoint: str = "",
        headers: Mapping[str, str] | None = None,
        capture_response: bool = False,
        timeout: float | None = None,
        skip_ssl_verification: bool = False,
    ) -> None:
        self._ctx = ctx
        configured = None
        if endpoint and ctx.config is not None:
            configured = next((e for e in ctx.config.httppost if e.endpoint == endpoint), None)
        self._endpoint_headers: dict[str, str] = {}
        self._alert_template: Template | None = None
        if configured is not None:
            url = configured.url
            self._endpoint_headers = endpoint_headers(configured)
            try:
                alert_text = endpoint_template_text(
                    configured.alert_template, configured.alert_template_file
                )
            except OSError as exc:
                raise HandlerConfigError(
                    f"post handler: endpoint {endpoint!r}: cannot read alert-template-file: "
                    f"{exc.strerror}"
                ) from None
            if alert_text:
                self._alert_template = _template(alert_text, "alert", funcs=True)
        elif not url:
            raise HandlerConfigError(
                "An appropriately formatted url must be specified if an endpoint is not specified"
                + (f" (no [[httppost]] endpoint is named {endpoint!r})" if endpoint else "")
            )
        self._url_template = _template(url, "url", funcs=configured is not None)
        self._static_url = url if "{{" not in url else None
        self._headers = dict(headers or {})
        self._capture = capture_response
        limit = DEFAULT_TIMEOUT if not timeout or timeout <= 0 else min(timeout, DEFAULT_TIMEOUT)
        self._timeout = aiohttp.ClientTimeout(total=limit)
        self._ssl = not skip_ssl_verification  # True: aiohttp's default checks
        self._session: aiohttp.ClientSession | None = None
        self._proxies = EnvProxies()
        self.destination = f"post:{url_destination(url)}"

    def _url(self, data: AlertData) -> str:
        if self._static_url is not None:
            return self._static_url
        try:
            return self._url_template.execute(data)
        except TemplateExecError as exc:
            raise HandlerError(f"failed to execute url template: {exc}") from None

    def _body(self, data: AlertData) -> tuple[bytes, str | None]:
        if self._alert_template is None:
            return data._json.encode(), "application/json"
        try:
            return self._alert_template.execute(data).encode(), None
        except TemplateExecError as exc:
            raise HandlerError(f"failed to execute alert template: {exc}") from None

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        data = AlertData(event, self._ctx.alert_json(event))
        try:
            url = self._url(data)
            body, content_type = self._body(data)
        except HandlerError as exc:
            return DeliveryResult("permanent", None, str(exc))
        headers = {**self._endpoint_headers, **self._headers}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)  # proxies: EnvProxies
        proxy, proxy_auth = self._proxies.for_url(url)
        try:
            async with self._session.post(
                url,
                proxy=proxy,
                proxy_auth=proxy_auth,
                data=body,
                headers=headers,
                timeout=self._timeout,
                ssl=self._ssl,
            ) as response:
                status = response.status
                if status // 100 == 2:
                    return DeliveryResult("delivered", status)
                if self._capture:
                    text = (await response.read())[:_MAX_CAPTURED].decode(errors="replace")
                else:
                    text = "unknown error, use .captureResponse() to capture the HTTP response"
        except aiohttp.InvalidURL as exc:
            return DeliveryResult(
                "permanent",
                None,
                f"failed to POST alert data to {redact_url(url)}: {type(exc).__name__}",
            )
        except (aiohttp.ClientError, ValueError) as exc:
            return DeliveryResult(
                "retry",
                None,
                f"failed to POST alert data to {redact_url(url)}: {type(exc).__name__}",
            )
        except TimeoutError:
            return DeliveryResult(
                "retry",
                None,
                f"failed to POST alert data to {redact_url(url)}: timed out after "
                f"{self._timeout.total:g}s",
            )
        return DeliveryResult(
            classify(status),
            status,
            f"POST to {redact_url(url)} returned non 2xx status code {status}: {text}",
            headers=response.headers,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(value: Any) -> float | None:
    # Durations arrive as Duration (int ns) from TICKscript and as ns numbers from handler files.
    return None if value is None else float(value) / 1e9


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> PostHandler:
    """From ``.post(url).endpoint().header().captureResponse().timeout().skipSSLVerification()``."""
    return PostHandler(
        ctx,
        url=props.get("url") or "",
        endpoint=props.get("endpoint") or "",
        headers=props.get("headers") or {},
        capture_response=bool(props.get("captureResponse", False)),
        timeout=_seconds(props.get("timeout")),
        skip_ssl_verification=bool(props.get("skipSSLVerification", False)),
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> PostHandler:
    """From a ``kind: post`` handler file's ``options``."""
    check_keys(options, "post", OPTION_KEYS)
    headers = option(options, "post", "headers", dict, {})
    bad = [k for k, v in headers.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise HandlerConfigError(f"post handler option 'headers': {bad[0]!r} must map to a string")
    return PostHandler(
        ctx,
        url=option(options, "post", "url", str, ""),
        endpoint=option(options, "post", "endpoint", str, ""),
        headers=headers,
        capture_response=option(options, "post", "capture-response", bool, False),
        timeout=_seconds(option(options, "post", "timeout", (int, float), None)),
        skip_ssl_verification=option(options, "post", "skip-ssl-verification", bool, False),
    )


INTEGRATION = Integration("post", from_options=from_options, from_tick=from_tick)
