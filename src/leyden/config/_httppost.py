"""``[[httppost]]``: named HTTP endpoints, shared by the ``.post()`` handler and ``httpPost``.

Kapacitor's ``services/httppost`` Config.  Both users of an endpoint send its credentials the
same way, so the helpers that read an endpoint (:func:`endpoint_headers`,
:func:`endpoint_template_text`) live beside the section rather than in either user: the engine's
``httpPost`` node imports the configuration, not the alert handlers.  Leyden has no built-in
element (Kapacitor's built-in one posts to http://example.com, which we do not want to do by
surprise).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from leyden.config._schema import Key, Section

__all__ = ["BasicAuth", "HTTPPostConfig", "endpoint_headers", "endpoint_template_text"]


@dataclass
class BasicAuth(Section):
    """``basic-auth = { username = "…", password = "…" }`` of an ``[[httppost]]``."""

    username: str = ""
    password: str = field(default="", repr=False)

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("username", "username", "str"),
        Key("password", "password", "str"),
    )

    def is_set(self) -> bool:
        return bool(self.username or self.password)


@dataclass
class HTTPPostConfig(Section):
    """One ``[[httppost]]`` endpoint (Kapacitor's services/httppost Config)."""

    endpoint: str = ""
    url: str = field(default="", repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    basic_auth: BasicAuth = field(default_factory=BasicAuth)
    alert_template: str = ""
    alert_template_file: str = ""
    row_template: str = ""
    row_template_file: str = ""

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("endpoint", "endpoint", "str"),
        Key("url", "url", "str"),
        Key("headers", "headers", "str_map"),
        Key("basic-auth", "basic_auth", "struct", BasicAuth),
        Key("alert-template", "alert_template", "str"),
        Key("alert-template-file", "alert_template_file", "str"),
        Key("row-template", "row_template", "str"),
        Key("row-template-file", "row_template_file", "str"),
    )
    _ELEMENT_KEY: ClassVar[str] = "endpoint"
    #: basic-auth as in Kapacitor; headers too, since they usually carry an Authorization value.
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"basic-auth", "headers"})

    def validate(self) -> list[str]:
        """Kapacitor's rules; the URL may be a Go template, so only its presence is checked."""
        problems: list[str] = []
        if not self.endpoint:
            problems.append("endpoint: must specify endpoint name")
        if not self.url:
            problems.append("url: must specify url")
        for kind in ("alert", "row"):
            inline = getattr(self, f"{kind}_template")
            path = getattr(self, f"{kind}_template_file")
            if inline and path:
                problems.append(
                    f"{kind}-template-file: must specify only one of {kind}-template and "
                    f"{kind}-template-file"
                )
            if path and not os.path.isabs(path):
                problems.append(f"{kind}-template-file: must use an absolute path")
        return problems


def endpoint_headers(endpoint: HTTPPostConfig) -> dict[str, str]:
    """The headers every request to an ``[[httppost]]`` endpoint carries.

    Its basic auth wins over an ``Authorization`` among its headers, as in Kapacitor; what a
    handler or node adds on top is the caller's business.  Shared by ``.post()`` and
    ``httpPost`` so both send an endpoint's credentials the same way.
    """
    headers = dict(endpoint.headers)
    auth = endpoint.basic_auth
    if auth.is_set():
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode("ascii")
        headers["Authorization"] = "Basic " + token
    return headers


def endpoint_template_text(text: str, path: str) -> str:
    """An endpoint template: the file's contents when ``path`` is set, else the inline ``text``.

    Raises ``OSError`` for an unreadable file; the caller names the endpoint in its error.
    """
    return Path(path).read_text(encoding="utf-8") if path else text
