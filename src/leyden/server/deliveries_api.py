"""The deliveries API: the outbox as an operator sees it (issue 10 item 5).

Kapacitor has no such surface: a notification it could not send is gone, and only a log line
says so (its issues #1607, #828).  Leyden keeps every event bound for a handler in the outbox
(:mod:`leyden.delivery.outbox`) until its handler confirms it, so the operator can see what
waits, why it failed, and retry or drop it.  The routes follow Kapacitor's API conventions
(``services/httpd``): JSON pretty-printed with four spaces, hyphenated keys, a ``link`` object
on every resource, errors as ``{"error": msg, "message": msg}``:

=========================================================  ======================================
``GET    /kapacitor/v1/deliveries?pattern=GLOB&state=S``   list (glob over handler, destination
                                                           and alert ID; state queued, in-flight
                                                           or dead)
``GET    /kapacitor/v1/deliveries/ID``                     one delivery, with its event
``POST   /kapacitor/v1/deliveries/ID/retry``               due now (a dead or waiting row)
``POST   /kapacitor/v1/deliveries/retry``                  every dead row queued again, due now
``DELETE /kapacitor/v1/deliveries/ID``                     dropped, never sent
=========================================================  ======================================

No answer holds a secret: the outbox stores destinations redacted (a webhook URL without its
token) and errors without URLs; the event is Kapacitor's alert data, what ``.post()`` sends.

A queued row whose destination's breaker is open (a broken webhook,
:mod:`leyden.delivery.breaker`) is shown with state ``held`` and a last error that says why
and what sends it (``?state=held`` lists only those).  Retrying any delivery of that
destination closes its breaker, so its held rows are tried again; ``retry`` of every dead row
closes every breaker too, and its answer says how many (``breakers-closed``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from leyden import API_BASE
from leyden.delivery.breaker import OpenBreaker
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import Delivery, DeliveryState, Outbox
from leyden.go.types import GoStruct, Time
from leyden.server._http import SERVICES_KEY, error_response, json_response, link

__all__ = ["DELIVERIES_PATH", "install", "parse_delivery_id"]

DELIVERIES_PATH = f"{API_BASE}/deliveries"
#: the state a queued row is shown in while its destination's breaker is open
HELD = "held"


def _time(seconds: float) -> str:
    return Time(round(seconds * 1e9)).rfc3339nano()


def delivery_json(
    delivery: Delivery, *, with_event: bool = False, breaker: OpenBreaker | None = None
) -> GoStruct:
    """A delivery as the API shows it; ``with_event`` adds the alert data it carries;
    ``breaker``, its destination's open breaker, shows a queued row as held."""
    state = str(delivery.state)
    last_error = delivery.last_error
    if breaker is not None and delivery.state == DeliveryState.QUEUED:
        state, last_error = HELD, breaker.describe()
    try:
        event: Any = json.loads(delivery.event)
    except ValueError:
        event = None
    summary = event if isinstance(event, dict) else {}
    fields: list[tuple[str, Any]] = [
        ("link", link(f"{DELIVERIES_PATH}/{delivery.id}")),
        ("id", str(delivery.id)),
        ("state", state),
        ("kind", delivery.kind),
        ("handler", delivery.handler),
        ("destination", delivery.destination),
        ("alert-id", delivery.alert_id),
        ("level", summary.get("level", "")),
        ("previous-level", delivery.previous_level.name),
        ("message", summary.get("message", "")),
        ("attempts", delivery.attempts),
        ("created", _time(delivery.created)),
        ("next-attempt", _time(delivery.next_attempt)),
        ("last-error", last_error),
    ]
    if with_event:
        fields.append(("event", event))
    return GoStruct(fields)


def _outbox(request: web.Request) -> Outbox:
    return request.app[SERVICES_KEY].outbox


def parse_delivery_id(text: str) -> int | str:
    """A delivery ID (a row ID: below 2**63, as SQLite's), or the error saying why not."""
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) >= 2**63:
        shown = text if len(text) <= 40 else text[:40] + "…"
        return f'invalid delivery ID "{shown}": want a number below 2^63'
    return int(text)


def _id(request: web.Request) -> int | web.Response:
    parsed = parse_delivery_id(request.match_info["id"])
    return error_response(parsed, 400) if isinstance(parsed, str) else parsed


def _dispatcher(request: web.Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app[SERVICES_KEY].alerts.dispatcher
    return dispatcher


def _wake(request: web.Request) -> None:
    """Rows an operator queued again are sent now, not at the dispatcher's next age check."""
    _dispatcher(request).rescan()


def _unknown(delivery_id: int) -> web.Response:
    return error_response(f"no delivery with ID {delivery_id}", 404)


async def list_deliveries(request: web.Request) -> web.Response:
    pattern = request.query.get("pattern") or None
    state_text = request.query.get("state", "")
    state: DeliveryState | None = None
    if state_text == HELD:
        state = DeliveryState.QUEUED
    elif state_text:
        try:
            state = DeliveryState(state_text)
        except ValueError:
            choices = ", ".join([*(s.value for s in DeliveryState), HELD])
            return error_response(f'unknown delivery state "{state_text}": use {choices}', 400)
    rows = _outbox(request).find(pattern, state=state)
    broken = _dispatcher(request).breakers.as_map()
    shown = [delivery_json(row, breaker=broken.get(row.destination)) for row in rows]
    if state_text:
        shown = [row for row in shown if row["state"] == state_text]
    return json_response(
        GoStruct([("link", link(DELIVERIES_PATH)), ("deliveries", shown)]),
        pretty=True,
    )


async def show_delivery(request: web.Request) -> web.Response:
    delivery_id = _id(request)
    if isinstance(delivery_id, web.Response):
        return delivery_id
    row = _outbox(request).get(delivery_id)
    if row is None:
        return _unknown(delivery_id)
    breaker = _dispatcher(request).breakers.get(row.destination)
    return json_response(delivery_json(row, with_event=True, breaker=breaker), pretty=True)


async def retry_delivery(request: web.Request) -> web.Response:
    delivery_id = _id(request)
    if isinstance(delivery_id, web.Response):
        return delivery_id
    outbox = _outbox(request)
    if not outbox.retry(delivery_id):
        row = outbox.get(delivery_id)
        if row is None:
            return _unknown(delivery_id)
        return error_response(
            f"delivery {delivery_id} is being sent now; it is retried by itself if that fails",
            409,
        )
    row = outbox.get(delivery_id)
    if row is not None:  # a broken webhook is tried again: the operator asked for it
        _dispatcher(request).reset_breaker(
            row.destination, f"delivery {delivery_id} was retried by an operator"
        )
    _wake(request)
    if row is None:  # sent between the two calls
        return _unknown(delivery_id)
    return json_response(delivery_json(row), pretty=True)


async def retry_all(request: web.Request) -> web.Response:
    count = _outbox(request).retry_all()
    closed = _dispatcher(request).reset_breakers("every delivery was retried by an operator")
    if count or closed:
        _wake(request)
    fields: list[tuple[str, Any]] = [("link", link(DELIVERIES_PATH)), ("retried", count)]
    if closed:
        fields.append(("breakers-closed", closed))
    return json_response(GoStruct(fields), pretty=True)


async def delete_delivery(request: web.Request) -> web.Response:
    delivery_id = _id(request)
    if isinstance(delivery_id, web.Response):
        return delivery_id
    if not _outbox(request).delete(delivery_id):
        return _unknown(delivery_id)
    return web.Response(status=204)


def install(app: web.Application) -> None:
    """Add the deliveries routes; they serve ``app[SERVICES_KEY].outbox``."""
    r = app.router
    r.add_get(DELIVERIES_PATH, list_deliveries)
    r.add_post(f"{DELIVERIES_PATH}/retry", retry_all)
    r.add_get(DELIVERIES_PATH + "/{id}", show_delivery)
    r.add_delete(DELIVERIES_PATH + "/{id}", delete_delivery)
    r.add_post(DELIVERIES_PATH + "/{id}/retry", retry_delivery)
