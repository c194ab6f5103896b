"""``[http] auth-enabled``: Kapacitor's credentials, texts and privileges; no password ever shown."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from auth_headers import basic_auth as _basic

from leyden import KAPACITOR_VERSION
from leyden.client import Client, ClientError
from leyden.config import AuthConfig, AuthUser
from leyden.server.auth import Authenticator, AuthFailure, Privilege, api_resource

OpenClient = Callable[[str], Awaitable[TestClient]]
ClientFactory = Callable[..., Awaitable[TestClient]]

PASSWORDS = {
    "root": "r00t-Pa55word!",
    "writer": "wr1ter-Pa55word!",
    "reader": "re4der-Pa55word!",
    "configurer": "c0nfig-Pa55word!",
    "nobody": "n0body-Pa55word!",
}
SECRET = "jwt-Shared-Secret-0123456789"

USERS = """
[[auth.users]]
  username = "root"
  password = "r00t-Pa55word!"
[[auth.users]]
  username = "writer"
  password = "wr1ter-Pa55word!"
  permissions = ["write_points"]
[[auth.users]]
  username = "reader"
  password = "re4der-Pa55word!"
  permissions = ["api"]
[[auth.users]]
  username = "configurer"
  password = "c0nfig-Pa55word!"
  permissions = ["config_api"]
[[auth.users]]
  username = "nobody"
  password = "n0body-Pa55word!"
  permissions = ["none"]
"""


@pytest.fixture
async def client(open_client: OpenClient) -> TestClient:
    text = (
        f'[http]\n  auth-enabled = true\n  shared-secret = "{SECRET}"\n'
        f"[auth]\n  enabled = true\n{USERS}"
    )
    return await open_client(text)


def _as(user: str, password: str | None = None) -> dict[str, str]:
    return _basic(user, PASSWORDS[user] if password is None else password)


async def _error(resp: aiohttp.ClientResponse, status: int, message: str) -> None:
    assert resp.status == status
    body = await resp.text()
    for password in PASSWORDS.values():
        assert password not in body
    assert json.loads(body) == {"error": message, "message": message}
    assert resp.headers["X-Kapacitor-Version"] == KAPACITOR_VERSION


async def test_no_credentials_is_401_on_every_route(client: TestClient) -> None:
    for method, path in (
        ("GET", "/kapacitor/v1/ping"),
        ("HEAD", "/kapacitor/v1/ping"),
        ("POST", "/write?db=telegraf"),
        ("GET", "/kapacitor/v1/config"),
        ("GET", "/kapacitor/v1/debug/vars"),
        ("GET", "/metrics"),
    ):
        resp = await client.request(method, path)
        if method == "HEAD":
            assert resp.status == 401
        else:
            await _error(resp, 401, "unable to parse authentication credentials")


async def test_basic_auth_and_query_credentials(client: TestClient) -> None:
    assert (await client.get("/kapacitor/v1/ping", headers=_as("root"))).status == 204
    query = {"u": "root", "p": PASSWORDS["root"]}
    assert (await client.get("/kapacitor/v1/ping", params=query)).status == 204
    # both u and p are needed, as in Kapacitor
    resp = await client.get("/kapacitor/v1/ping", params={"u": "root"})
    await _error(resp, 401, "unable to parse authentication credentials")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"headers": _basic("root", "wrong")}, "authorization failed"),
        ({"headers": _basic("stranger", "r00t-Pa55word!")}, "authorization failed"),
        ({"headers": _basic("", "r00t-Pa55word!")}, "username required"),
        ({"params": {"u": "root", "p": "wrong"}}, "authorization failed"),
        (
            {"headers": {"Authorization": "Basic !!not-base64!!"}},
            "unable to parse authentication credentials",
        ),
        (
            {"headers": {"Authorization": "Digest username=root"}},
            "unable to parse authentication credentials",
        ),
    ],
)
async def test_bad_credentials(
    client: TestClient, caplog: pytest.LogCaptureFixture, kwargs: dict[str, Any], message: str
) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await client.get("/kapacitor/v1/ping", **kwargs)
    await _error(resp, 401, message)
    logged = [r for r in caplog.records if r.getMessage() == "authentication failed"]
    assert logged and logged[0].fields["reason"] == message  # type: ignore[attr-defined]
    for record in caplog.records:
        line = record.getMessage() + repr(getattr(record, "fields", ""))
        assert "r00t-Pa55word!" not in line
        assert "root" not in repr(getattr(record, "fields", ""))  # usernames are not logged


@pytest.mark.parametrize(
    ("user", "method", "path", "allowed"),
    [
        ("root", "GET", "/kapacitor/v1/config", True),
        ("root", "POST", "/write?db=telegraf", True),
        ("root", "GET", "/kapacitor/v1/service-tests", True),
        ("writer", "GET", "/kapacitor/v1/ping", True),
        ("writer", "POST", "/write?db=telegraf", True),
        ("writer", "POST", "/kapacitor/v1/write?db=telegraf", True),
        ("writer", "GET", "/kapacitor/v1/service-tests", False),
        ("writer", "GET", "/kapacitor/v1/config", False),
        ("reader", "GET", "/kapacitor/v1/ping", True),
        ("reader", "GET", "/kapacitor/v1/service-tests", True),
        ("reader", "GET", "/kapacitor/v1/debug/vars", True),
        ("reader", "GET", "/metrics", True),
        ("writer", "GET", "/metrics", False),
        ("reader", "POST", "/write?db=telegraf", False),
        ("reader", "GET", "/kapacitor/v1/config", False),
        ("reader", "DELETE", "/kapacitor/v1/config/discord", False),
        ("configurer", "GET", "/kapacitor/v1/ping", True),
        ("configurer", "GET", "/kapacitor/v1/config", True),
        ("configurer", "GET", "/kapacitor/v1/config/discord/", True),
        ("configurer", "GET", "/kapacitor/v1/service-tests", False),
        ("configurer", "POST", "/write?db=telegraf", False),
        ("nobody", "GET", "/kapacitor/v1/ping", False),
        ("nobody", "GET", "/kapacitor/v1/config", False),
    ],
)
async def test_permissions(
    client: TestClient, user: str, method: str, path: str, allowed: bool
) -> None:
    resp = await client.request(method, path, headers=_as(user), data="cpu value=1 1")
    if allowed:
        assert resp.status < 400, await resp.text()
        return
    privilege = {"GET": "read", "POST": "write", "DELETE": "delete"}[method]
    endpoint = path.split("?")[0]
    await _error(
        resp,
        403,
        f'user {user} does not have "{privilege}" privilege for API endpoint "{endpoint}"',
    )


async def test_head_needs_no_privilege(client: TestClient) -> None:
    resp = await client.head("/kapacitor/v1/ping", headers=_as("nobody"))
    assert resp.status == 204


async def test_config_api_update_needs_config_permission(client: TestClient) -> None:
    body = {"set": {"username": "Bot"}}
    resp = await client.post("/kapacitor/v1/config/discord/", json=body, headers=_as("reader"))
    await _error(
        resp,
        403,
        'user reader does not have "write" privilege for API endpoint '
        '"/kapacitor/v1/config/discord/"',
    )
    resp = await client.post("/kapacitor/v1/config/discord/", json=body, headers=_as("configurer"))
    assert resp.status == 204


async def test_noauth_accepts_any_user_as_kapacitor_does(open_client: OpenClient) -> None:
    client = await open_client(
        "[http]\n  auth-enabled = true\n[auth]\n  enabled = false\n  accept-any-password = true\n"
    )
    resp = await client.get("/kapacitor/v1/config", headers=_basic("anyone", "any"))
    assert resp.status == 200
    resp = await client.post("/write?db=x", data="cpu v=1", params={"u": "a", "p": "b"})
    assert resp.status == 204
    # credentials are still required, only not checked
    resp = await client.get("/kapacitor/v1/ping")
    await _error(resp, 401, "unable to parse authentication credentials")


async def test_auth_disabled_needs_nothing(open_client: OpenClient) -> None:
    client = await open_client(f"[auth]\n  enabled = true\n{USERS}")
    assert (await client.get("/kapacitor/v1/ping")).status == 204
    assert (await client.get("/kapacitor/v1/config")).status == 200


def _jwt(claims: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{part(signature)}"


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        (_jwt({"username": "reader", "exp": 4_000_000_000}), 200, ""),
        (_jwt({"username": "reader", "exp": 4_000_000_000}, alg="HS512"), 200, ""),
        (
            _jwt({"username": "reader", "exp": 4_000_000_000}, secret="guess"),
            401,
            "invalid token: signature is invalid",
        ),
        (_jwt({"username": "reader", "exp": 1}), 401, "invalid token: Token is expired"),
        (_jwt({"username": "reader"}), 401, "token expiration required"),
        (_jwt({"username": 7, "exp": 4_000_000_000}), 401, "username in token must be a string"),
        (_jwt({"username": "", "exp": 4_000_000_000}), 401, "token must contain a username"),
        (_jwt({"username": "ghost", "exp": 4_000_000_000}), 401, "authorization failed"),
        (
            _jwt({"username": "reader", "exp": 4_000_000_000}, alg="none"),
            401,
            "invalid token: unexpected signing method: none",
        ),
        ("a.b", 401, "invalid token: token contains an invalid number of segments"),
        ("a.b.c", 401, "invalid token: token is malformed"),
    ],
)
async def test_bearer_tokens(client: TestClient, token: str, status: int, message: str) -> None:
    resp = await client.get(
        "/kapacitor/v1/service-tests", headers={"Authorization": f"Bearer {token}"}
    )
    if status == 200:
        assert resp.status == 200
    else:
        await _error(resp, status, message)


async def test_bearer_token_privileges_are_the_users(client: TestClient) -> None:
    token = _jwt({"username": "writer", "exp": 4_000_000_000})
    resp = await client.get(
        "/kapacitor/v1/service-tests", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 403


async def test_leyden_client_sends_url_credentials(client: TestClient) -> None:
    base = f"http://{client.host}:{client.port}"
    good = Client(f"http://reader:{PASSWORDS['reader']}@{client.host}:{client.port}")
    await asyncio.to_thread(good.ping)
    services = await asyncio.to_thread(good.list_service_tests)
    assert "discord" in [s["name"] for s in services]
    with pytest.raises(ClientError, match=r"^authorization failed$"):
        await asyncio.to_thread(Client(f"http://reader:nope@{client.host}:{client.port}").ping)
    with pytest.raises(ClientError, match=r"^unable to parse authentication credentials$"):
        await asyncio.to_thread(Client(base).ping)


def test_authorize_walks_up_to_the_closest_resource() -> None:
    auth = Authenticator(
        AuthConfig(enabled=True, users=[AuthUser("u", "p", ["api"])]), clock=lambda: 0.0
    )
    user = auth.authenticate("u", "p")
    assert user.authorized("/api/tasks/x", Privilege.DELETE)
    assert not user.authorized("/api/write", Privilege.WRITE)
    assert not user.authorized("/api/config/discord", Privilege.READ)
    assert not user.authorized("/api/tasks/../config", Privilege.READ)  # cleaned first
    assert user.authorized("/api/tasks", Privilege.NONE)
    with pytest.raises(AuthFailure, match=r"^authorization failed$"):
        auth.authenticate("u", "P")


def test_api_resource() -> None:
    assert api_resource("/kapacitor/v1/tasks/x") == "/api/tasks/x"
    assert api_resource("/kapacitor/v1/ping") == "/api/ping"
    assert api_resource("/write") == "/api/write"
    assert api_resource("/kapacitor/v1/") == "/api"


def test_user_repr_shows_no_password() -> None:
    auth = Authenticator(AuthConfig(enabled=True, users=[AuthUser("u", "hunter2-secret", [])]))
    assert "hunter2-secret" not in repr(auth.__dict__)
    assert "hunter2-secret" not in repr(auth.authenticate("u", "hunter2-secret"))
