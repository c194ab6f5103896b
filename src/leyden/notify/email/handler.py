"""``.email('a@b')`` and ``kind: smtp``: the alert mailed through the ``[smtp]`` server.

As Kapacitor's smtp handler: the subject is the alert message and the HTML body its details;
the recipients are the handler's ``to`` followed by each ``toTemplates`` (handler-file option
``to-field``) template rendered over the event's data (``alert.EventData``: ``.Name``,
``.Tags``, ``.Fields`` …) when it renders to something; with none, the ``[smtp]`` ``to``.
Kapacitor logs a template it cannot parse and mails without it; Leyden refuses the task or
handler when it is defined.  One attempt per :meth:`EmailHandler.send`, through the service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.go.types import GoStruct, StringMap
from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult
from leyden.notify._registry import Problem
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    SingleSend,
    check_keys,
    option,
    service_of,
    str_list,
)
from leyden.notify.email.message import parse_address
from leyden.notify.email.service import SMTPService

__all__ = ["KIND", "OPTION_KEYS", "EmailHandler", "check", "from_options", "from_tick"]

KIND = "smtp"
OPTION_KEYS = ("to", "to-field")

log = logging.getLogger("leyden.smtp")


def event_data(event: Event) -> GoStruct:
    """Kapacitor's ``alert.EventData``, what recipient templates see as dot."""
    data = event.data
    return GoStruct(
        {
            "Name": data.name,
            "TaskName": data.task_name,
            "Category": data.category,
            "Group": data.group,
            "Tags": StringMap(data.tags),
            "Fields": data.fields,
            "Recoverable": data.recoverable,
            "Result": data.result,
        },
        type_name="alert.EventData",
    )


def _templates(texts: Sequence[str]) -> list[Template]:
    out = []
    for i, text in enumerate(texts):
        try:
            out.append(Template.parse(text, name=str(i)))
        except TemplateError as exc:
            raise HandlerConfigError(
                f"email handler: bad template in email address template: {exc}"
            ) from None
    return out


class EmailHandler(SingleSend):
    kind = KIND
    destination = "smtp"

    def __init__(
        self, ctx: HandlerContext, to: Sequence[str] = (), to_templates: Sequence[str] = ()
    ) -> None:
        self._service = service_of(ctx, KIND, SMTPService, "SMTP")
        self.to = list(to)
        self._templates = _templates(to_templates)

    def recipients(self, event: Event) -> list[str]:
        to = list(self.to)
        if not self._templates:
            return to
        data = event_data(event)
        for template in self._templates:
            try:
                address = template.execute(data)
            except TemplateExecError as exc:
                log.error(
                    "error in email template",
                    extra={"fields": {"alert": event.state.id, "error": str(exc)}},
                )
                continue
            if address:
                to.append(address)
        return to

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        return await self._service.send_mail(
            self.recipients(event), event.state.message, event.state.details
        )


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> EmailHandler:
    """From ``.email('a@b', …).to(…).toTemplates(…)``."""
    return EmailHandler(
        ctx,
        to=str_list(props.get("to"), "email handler .to()"),
        to_templates=str_list(props.get("toTemplates"), "email handler .toTemplates()"),
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> EmailHandler:
    """From a ``kind: smtp`` handler file's ``options`` (``to``, ``to-field``)."""
    check_keys(options, KIND, OPTION_KEYS)
    return EmailHandler(
        ctx,
        to=str_list(option(options, KIND, "to", list, None), f"{KIND} handler option 'to'"),
        to_templates=str_list(
            option(options, KIND, "to-field", list, None), f"{KIND} handler option 'to-field'"
        ),
    )


def check(settings: Mapping[str, Any], service: Any, from_tick: bool) -> Problem | None:
    """At definition: every recipient must be an address and every recipient template must
    parse (Kapacitor finds either only when it mails, and fails every alert)."""
    to_key = "to"
    addresses = settings.get(to_key)
    for text in addresses if isinstance(addresses, list) else []:
        if isinstance(text, str) and parse_address(text) is None:
            return Problem(f'email handler: invalid recipient address "{text}"', to_key, text)
    key = "toTemplates" if from_tick else "to-field"
    texts = settings.get(key)
    for text in texts if isinstance(texts, list) else []:
        if not isinstance(text, str):
            continue
        try:
            Template.parse(text, name="0")
        except TemplateError as exc:
            return Problem(
                f"email handler: bad template in email address template: {exc}", key, text
            )
    return None
