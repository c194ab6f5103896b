"""``[http] auth-enabled``: Kapacitor's authentication and authorization for every route.

Credentials are read the way Kapacitor reads them (semantics §6.4): an ``Authorization:
Bearer <JWT>`` header (HS256, signed with ``[http] shared-secret``, with ``username`` and
``exp`` claims), HTTP basic auth, or ``?u=<user>&p=<password>``. Users come from
``[[auth.users]]`` (see :mod:`leyden.config`); with ``[auth] enabled = false`` any username and
password is accepted as an all-privileges user, as Kapacitor's "noauth" service does.

Authorization maps each permission to Kapacitor's resources and privileges, so a user with
``write_points`` may ping and write but not read tasks, and one with ``api`` may use the API
but not the config API or writes. The privilege a request needs follows its method: GET →
read, POST/PATCH/PUT → write, DELETE → delete, HEAD/OPTIONS → none.

Unlike Kapacitor, a write is authorized by the write permission alone: Leyden's users have no
per-database privileges (Kapacitor's own users would need an admin flag to write at all).

A browser (a request that accepts ``text/html``, or for the status page's own paths) is
challenged for basic credentials with ``WWW-Authenticate``; Kapacitor never challenges, and
API clients are not.

Passwords are compared in constant time (on digests, so not even their length leaks) and never
logged; failures are logged without the username, which is sometimes a mistyped password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import posixpath
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntFlag

from aiohttp import web
from aiohttp.typedefs import Middleware

from leyden import API_BASE
from leyden.config import AuthConfig, Config
from leyden.go.types import go_quote
from leyden.server._http import SERVICES_KEY, Handler, error_response

__all__ = [
    "BROWSER_PATHS_KEY",
    "USER_KEY",
    "AuthUser",
    "Authenticator",
    "Privilege",
    "install",
    "required_privilege",
]

log = logging.getLogger("leyden.http")


class Privilege(IntFlag):
    """Kapacitor's ``auth.Privilege`` bits (their values matter: NONE is a bit of its own)."""

    NONE = 1
    READ = 2
    WRITE = 4
    DELETE = 8
    ALL = 16

    def label(self) -> str:
        return {1: "none", 2: "read", 4: "write", 8: "delete", 16: "all"}.get(int(self), "unknown")


_ROOT = "/api"
_WRITE = "/api/write"
_PING = "/api/ping"
_CONFIG = "/api/config"


def _privileges_for(permissions: list[str]) -> dict[str, Privilege]:
    """Kapacitor's ``convertPermissions``: permission names → resource → privilege."""
    resources: dict[str, Privilege] = {}
    for permission in permissions:
        if permission == "api":
            resources[_ROOT] = Privilege.ALL
            resources.setdefault(_WRITE, Privilege.NONE)
            resources.setdefault(_CONFIG, Privilege.NONE)
        elif permission == "config_api":
            resources[_PING] = Privilege.ALL
            resources[_CONFIG] = Privilege.ALL
        elif permission == "write_points":
            resources[_PING] = Privilege.ALL
            resources[_WRITE] = Privilege.ALL
        elif permission == "all":
            resources[_ROOT] = Privilege.ALL
            resources[_CONFIG] = Privilege.ALL
            resources[_WRITE] = Privilege.ALL
    return resources


@dataclass(frozen=True)
class AuthUser:
    """Who made a request. ``admin`` users (noauth) may do anything."""

    name: str
    admin: bool = False
    privileges: Mapping[str, Privilege] = field(default_factory=dict, repr=False)

    def authorized(self, resource: str, needed: Privilege) -> bool:
        """Kapacitor's ``AuthorizeAction``: the closest resource the user has decides."""
        if needed == Privilege.NONE or self.admin:
            return True
        resource = posixpath.normpath(resource)
        while True:
            granted = self.privileges.get(resource)
            if granted is not None:
                return bool(granted & needed) or granted == Privilege.ALL
            if resource == "/":
                return False
            resource = posixpath.dirname(resource)


#: what a browser gets with a 401 (it asked for HTML: the status page), so it prompts for a
#: username and password; Kapacitor sends no challenge, and API clients still get none
BROWSER_CHALLENGE = 'Basic realm="Leyden", charset="UTF-8"'

#: paths a browser loads (the status page, its script and style: ``leyden.server.status``
#: adds them), each with everything below it; a 401 there always challenges, so a script or
#: style refused before the browser sent its cached credentials is asked again with them
BROWSER_PATHS_KEY = web.AppKey("browser_paths", list[str])


def _browser(request: web.Request) -> bool:
    """A request from a browser: it asks for HTML, or for a path the status page serves."""
    if "text/html" in request.headers.get("Accept", ""):
        return True
    path = request.path
    return any(
        path == p or path.startswith(p.rstrip("/") + "/")
        for p in request.app.get(BROWSER_PATHS_KEY, ())
    )


#: where the authenticated user is kept on the request, for handlers that want to know
USER_KEY = web.RequestKey("user", AuthUser)


def required_privilege(method: str) -> Privilege | None:
    """The privilege a request method needs; None for a method Kapacitor does not know."""
    method = method.upper()
    if method in ("HEAD", "OPTIONS"):
        return Privilege.NONE
    if method == "GET":
        return Privilege.READ
    if method in ("POST", "PATCH", "PUT"):
        return Privilege.WRITE
    if method == "DELETE":
        return Privilege.DELETE
    return None


def api_resource(path: str) -> str:
    """``/kapacitor/v1/tasks/x`` → ``/api/tasks/x``; InfluxDB's ``/write`` → ``/api/write``."""
    return posixpath.normpath(_ROOT + "/" + path.removeprefix(API_BASE).lstrip("/"))


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class AuthFailure(Exception):
    """A 401: ``str(e)`` is Kapacitor's text."""


class Authenticator:
    """Checks credentials against ``[[auth.users]]`` (or accepts any, with ``[auth]`` off)."""

    def __init__(
        self,
        auth: AuthConfig,
        shared_secret: str = "",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._check = auth.enabled
        self._users = {
            user.username: (
                _digest(user.password),
                AuthUser(user.username, privileges=_privileges_for(user.permissions)),
            )
            for user in auth.users
        }
        self._secret = shared_secret.encode("utf-8")
        self._clock = clock
        self._dummy = _digest("\x00not a password\x00")

    def user(self, username: str) -> AuthUser:
        """The user called ``username`` (for bearer tokens, which carry no password)."""
        if not self._check:
            return AuthUser(username, admin=True)
        found = self._users.get(username)
        if found is None:
            raise AuthFailure("authorization failed")
        return found[1]

    def authenticate(self, username: str, password: str) -> AuthUser:
        if not username:
            raise AuthFailure("username required")
        if not self._check:
            return AuthUser(username, admin=True)
        found = self._users.get(username)
        expected = found[0] if found is not None else self._dummy
        # Compare even for an unknown user, so timing does not tell which names exist.
        matches = hmac.compare_digest(expected, _digest(password))
        if found is None or not matches:
            raise AuthFailure("authorization failed")
        return found[1]

    def bearer(self, token: str) -> AuthUser:
        """A JWT signed with HS256 and ``[http] shared-secret``, as Kapacitor accepts."""
        claims = self._verify_jwt(token)
        expires = claims.get("exp")
        if isinstance(expires, bool) or not isinstance(expires, (int, float)) or expires <= 0:
            raise AuthFailure("token expiration required")
        username = claims.get("username")
        if not isinstance(username, str):
            raise AuthFailure("username in token must be a string")
        if not username:
            raise AuthFailure("token must contain a username")
        return self.user(username)

    def _verify_jwt(self, token: str) -> dict[str, object]:
        def invalid(why: str) -> AuthFailure:
            return AuthFailure(f"invalid token: {why}")

        parts = token.split(".")
        if len(parts) != 3:
            raise invalid("token contains an invalid number of segments")
        try:
            header = json.loads(_b64url(parts[0]))
            claims = json.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
        except (ValueError, binascii.Error):
            raise invalid("token is malformed") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise invalid("token is malformed")
        algorithm = header.get("alg")
        digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
        if algorithm not in digests:
            raise invalid(f"unexpected signing method: {algorithm}")
        if not self._secret:
            raise invalid("no [http] shared-secret is configured to verify it")
        signed = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
        expected = hmac.new(self._secret, signed, digests[algorithm]).digest()
        if not hmac.compare_digest(expected, signature):
            raise invalid("signature is invalid")
        expires = claims.get("exp")
        if (
            isinstance(expires, (int, float))
            and not isinstance(expires, bool)
            and expires > 0
            and self._clock() >= expires
        ):
            raise invalid("Token is expired")  # jwt-go's text, as Kapacitor answers
        return claims

    def from_request(self, request: web.BaseRequest) -> AuthUser:
        """Kapacitor's ``parseCredentials`` then ``Authenticate``; raises AuthFailure."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme == "Bearer" and value:
                return self.bearer(value)
            credentials = _basic_credentials(header)
            if credentials is not None:
                return self.authenticate(*credentials)
        username, password = request.query.get("u", ""), request.query.get("p", "")
        if username and password:
            return self.authenticate(username, password)
        raise AuthFailure("unable to parse authentication credentials")


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """Go's ``Request.BasicAuth``: ``Basic <base64 user:password>``, scheme case-insensitive."""
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def make_middleware(authenticator: Authenticator) -> Middleware:
    """The aiohttp middleware that authenticates, then authorizes, every request."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            user = authenticator.from_request(request)
        except AuthFailure as exc:
            log.warning(
                "authentication failed",
                extra={
                    "fields": {
                        "method": request.method,
                        "path": request.path,
                        "remote": request.remote or "",
                        "reason": str(exc),
                    }
                },
            )
            refused = error_response(str(exc), 401)
            if _browser(request):
                refused.headers["WWW-Authenticate"] = BROWSER_CHALLENGE
            return refused
        needed = required_privilege(request.method)
        if needed is None:
            return error_response(f"unknown method {go_quote(request.method.upper())}", 403)
        if not user.authorized(api_resource(request.path), needed):
            return error_response(
                f"user {user.name} does not have {go_quote(needed.label())} privilege for API "
                f"endpoint {go_quote(request.path)}",
                403,
            )
        request[USER_KEY] = user
        return await handler(request)

    return authenticate


def install(app: web.Application) -> None:
    """Turn on authentication for every route when ``[http] auth-enabled = true``.

    Must run before the application starts (aiohttp freezes its middleware list then); the
    middleware goes after the existing ones, so auth errors still carry Kapacitor's headers.
    """
    config: Config = app[SERVICES_KEY].config
    if not config.http.auth_enabled:
        return
    authenticator = Authenticator(config.auth, config.http.shared_secret)
    app.middlewares.append(make_middleware(authenticator))
