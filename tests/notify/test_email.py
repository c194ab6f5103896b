"""The email handler (``.email()``, ``kind: smtp``) and ``[smtp]``, against a real SMTP server.

The server is aiosmtpd on loopback (``kapacitor_handlers.servers.SMTPServer``, the one the
Kapacitor cases use); what Kapacitor's own tests expect of the message, the config API and the
service test is checked here beside Leyden's additions (outcomes, the kept connection).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from kapacitor_handlers.servers import SMTPServer
from leyden.config import Config, ConfigError, load_config
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.email import SMTPConfig, SMTPService
from leyden.notify.email.handler import EmailHandler, check, from_options, from_tick
from leyden.notify.email.message import build_message, parse_address, q_encode, quoted_printable
from leyden.runtime import Runtime
from leyden.server.app import create_app

PASSWORD = "s3cr3t-pa55w0rd"
ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text)
    return load_config(str(path), env or {}, integrations=INTEGRATIONS.sections())


def _event(message: str = "cpu is CRITICAL", details: str = "<b>hot</b>") -> Event:
    return Event(
        "t",
        EventState(
            id="cpu:nil", message=message, details=details, time=0, duration=0, level=Level.CRITICAL
        ),
        EventData(
            name="cpu",
            tags={"host": "a", "owner": "o@example.com"},
            fields={"mail": "f@example.com"},
        ),
    )


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[SMTPServer, dict[str, str]]]:
    server = SMTPServer()
    holes = await server.start({})
    yield server, holes
    await server.stop()


def _service(holes: dict[str, str], **changes: Any) -> SMTPService:
    config = SMTPConfig(
        enabled=True,
        host=holes["SMTP_HOST"],
        port=int(holes["SMTP_PORT"]),
        from_="Leyden <alerts@example.com>",
    )
    for key, value in changes.items():
        setattr(config, key, value)
    return SMTPService([config])


# --- the message -------------------------------------------------------------------------


def test_quoted_printable_is_gos_writer() -> None:
    assert quoted_printable('<a href="x">\n') == b'<a href=3D"x">\r\n'
    # a line is broken softly before 76 characters; trailing blanks are encoded
    assert quoted_printable("x" * 80) == b"x" * 75 + b"=\r\n" + b"x" * 5
    assert quoted_printable("a \nb\t") == b"a=20\r\nb=09"
    assert quoted_printable("é\r\n") == b"=C3=A9\r\n"


def test_headers_are_q_encoded_and_folded_like_gomail() -> None:
    assert q_encode("plain subject") == "plain subject"
    assert q_encode("Jörg_?") == "=?UTF-8?q?J=C3=B6rg=5F=3F?="
    message = build_message(
        "a@example.com", ["b@example.com", "c@example.com"], "word " * 20, "body", date="D"
    ).decode()
    head, _, body = message.partition("\r\n\r\n")
    lines = head.split("\r\n")
    assert lines[:3] == ["Mime-Version: 1.0", "Date: D", "From: a@example.com"]
    assert "To: b@example.com, c@example.com" in lines
    subject = lines.index(next(line for line in lines if line.startswith("Subject:")))
    assert lines[subject + 1].startswith(" word")  # folded at a space
    assert all(len(line) <= 78 for line in lines)
    assert lines[-2:] == [
        "Content-Type: text/html; charset=UTF-8",
        "Content-Transfer-Encoding: quoted-printable",
    ]
    assert body == "body"


def test_a_multi_line_message_cannot_add_headers() -> None:
    message = build_message(
        "a@example.com", ["b@example.com"], "x\r\nBcc: evil@example.com", "", date="D"
    ).decode()
    assert "\r\nBcc:" not in message


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("a@example.com", "a@example.com"),
        ("Ops <ops@example.com>", "ops@example.com"),
        ("nobody", None),
        ("a@example.com, b@example.com", None),
        ("", None),
    ],
)
def test_parse_address(text: str, address: str | None) -> None:
    assert parse_address(text) == address


# --- [smtp] ------------------------------------------------------------------------------


def test_defaults_are_kapacitors_and_the_password_is_redacted(tmp_path: Path) -> None:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    (section,) = config.sections(INTEGRATIONS.get("smtp").section)  # type: ignore[union-attr]
    assert section.to_options() == {
        "enabled": False,
        "host": "localhost",
        "port": 25,
        "username": "",
        "password": False,
        "no-verify": False,
        "global": False,
        "state-changes-only": False,
        "from": "",
        "to": None,
        "to-templates": None,
        "idle-timeout": "30s",
    }
    loaded = _load(tmp_path, f'[smtp]\n  password = "{PASSWORD}"\n  toTemplates = ["x"]\n')
    (section,) = loaded.integrations["smtp"]
    assert section.to_options()["password"] is True
    assert section.to_options()["to-templates"] == ["x"]
    assert PASSWORD not in repr(section)


def test_environment_configures_smtp_without_a_file() -> None:
    env = {
        "KAPACITOR_SMTP_ENABLED": "true",
        "KAPACITOR_SMTP_HOST": "mail.example.com",
        "KAPACITOR_SMTP_FROM": "k@example.com",
        "KAPACITOR_SMTP_PORT": "587",
    }
    config = load_config(None, env, integrations=INTEGRATIONS.sections())
    (section,) = config.integrations["smtp"]
    assert (section.enabled, section.host, section.port) == (True, "mail.example.com", 587)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("enabled = true", "[smtp]: from: must provide a 'from' address"),
        ('host = ""', "[smtp]: host: cannot be empty"),
        ("port = 0", "[smtp]: port: invalid port 0"),
        ('from = "nobody"', '[smtp]: from: invalid from email address: "nobody"'),
        ('to = ["a@example.com", "x"]', '[smtp]: to: element 1: invalid to email address: "x"'),
        ('idle-timeout = "-1s"', "[smtp]: idle-timeout: idle timeout must be positive"),
        ("hots = 1", "[smtp]: hots: unknown key"),
    ],
)
def test_bad_sections_say_what_and_where(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"[smtp]\n  {body}\n")
    assert message in str(caught.value)


# --- sending -----------------------------------------------------------------------------


async def test_mail_is_kapacitors_and_one_connection_is_kept(
    smtp: tuple[SMTPServer, dict[str, str]],
) -> None:
    server, holes = smtp
    service = _service(holes)
    try:
        first = await service.send_mail(["a@example.com", "B <b@example.com>"], "subj é", "x=1\n")
        second = await service.send_mail([], "again", "y")
    finally:
        await service.close()
    assert first.delivered, first.reason
    assert second.outcome == "permanent" and second.reason == (
        "not sending email, no recipients defined"
    )
    (mail,) = server.received()
    assert mail["from"] == "alerts@example.com"
    assert mail["to"] == ["a@example.com", "b@example.com"]
    assert mail["headers"]["To"] == "a@example.com, B <b@example.com>"
    assert mail["headers"]["From"] == "Leyden <alerts@example.com>"
    assert mail["subject"] == "subj é"
    assert mail["body"] == "x=3D1\n"
    assert mail["tls"] is False  # the server offers no STARTTLS


async def test_idle_timeout_keeps_one_connection_and_zero_closes_each(
    smtp: tuple[SMTPServer, dict[str, str]],
) -> None:
    server, holes = smtp
    kept = _service(holes, to=["a@example.com"])
    each = _service(holes, to=["a@example.com"], idle_timeout=0)
    try:
        for service in (kept, each):
            for n in range(3):
                result = await service.send_mail([], f"n{n}", "b")
                assert result.delivered, result.reason
    finally:
        await kept.close()
        await each.close()
    assert (kept.dials, each.dials) == (1, 3)
    assert len(server.received()) == 6


async def test_a_config_update_closes_the_connection(
    smtp: tuple[SMTPServer, dict[str, str]],
) -> None:
    _server, holes = smtp
    service = _service(holes, to=["a@example.com"])
    try:
        assert (await service.send_mail([], "1", "b")).delivered
        service.update([service.configs[0].copy()])
        assert (await service.send_mail([], "2", "b")).delivered
    finally:
        await service.close()
    assert service.dials == 2


async def test_login_with_the_password_and_it_never_shows() -> None:
    server = SMTPServer()
    holes = await server.start({"auth": {"username": "kap", "password": PASSWORD}})
    try:
        good = _service(holes, to=["a@example.com"], username="kap", password=PASSWORD)
        bad = _service(holes, to=["a@example.com"], username="kap", password=PASSWORD + "x")
        try:
            ok = await good.send_mail([], "s", "b")
            refused = await bad.send_mail([], "s", "b")
        finally:
            await good.close()
            await bad.close()
    finally:
        await server.stop()
    assert ok.delivered, ok.reason
    assert server.logins == ["kap"]
    assert refused.outcome == "permanent"
    assert "refused the login: 535" in refused.reason
    assert PASSWORD not in refused.reason


@pytest.mark.parametrize(("code", "outcome"), [(451, "retry"), (554, "permanent")])
async def test_refusals_4xx_retry_5xx_permanent(code: int, outcome: str) -> None:
    server = SMTPServer()
    holes = await server.start({"reply": {"code": code, "text": "no thanks"}})
    service = _service(holes, to=["a@example.com"])
    try:
        result = await service.send_mail([], "s", "b")
        again = await service.send_mail([], "s", "b")  # the connection stays usable
    finally:
        await service.close()
        await server.stop()
    assert result.outcome == outcome
    assert result.reason.endswith(f"refused the message: {code} no thanks")
    assert again.outcome == outcome and service.dials == 1


async def test_no_server_is_retried_and_disabled_is_permanent(
    smtp: tuple[SMTPServer, dict[str, str]],
) -> None:
    server, holes = smtp
    await server.stop()
    down = _service(holes, to=["a@example.com"])
    disabled = _service(holes, to=["a@example.com"], enabled=False)
    try:
        result = await down.send_mail([], "s", "b")
        off = await disabled.send_mail([], "s", "b")
    finally:
        await down.close()
    assert result.outcome == "retry"
    assert result.reason.startswith(f"smtp server 127.0.0.1:{holes['SMTP_PORT']}")
    assert off.outcome == "permanent" and "not enabled" in off.reason


# --- the handler -------------------------------------------------------------------------


async def test_handler_recipients_subject_and_body(
    smtp: tuple[SMTPServer, dict[str, str]],
) -> None:
    server, holes = smtp
    service = _service(holes, to=["default@example.com"])
    ctx = HandlerContext(services={"smtp": service})
    handler = from_tick(
        {
            "to": ["a@example.com"],
            "toTemplates": [
                '{{ index .Tags "owner" }}',
                '{{ index .Fields "mail" }}',
                "{{ .Name }}x",
            ],
        },
        ctx,
    )
    no_one = from_options({}, ctx)
    try:
        assert handler.recipients(_event()) == [
            "a@example.com",
            "o@example.com",
            "f@example.com",
            "cpux",
        ]
        handler.to, handler._templates = ["a@example.com"], handler._templates[:1]
        await handler.handle(_event())
        await no_one.handle(_event(message="second"))
    finally:
        await service.close()
    first, second = server.received()
    assert first["to"] == ["a@example.com", "o@example.com"]
    assert (first["subject"], first["body"]) == ("cpu is CRITICAL", "<b>hot</b>\n")
    assert second["to"] == ["default@example.com"] and second["subject"] == "second"


def test_handler_options_and_definition_checks() -> None:
    ctx = HandlerContext(services={"smtp": SMTPService([SMTPConfig()])})
    with pytest.raises(HandlerConfigError, match="invalid smtp handler option"):
        from_options({"too": ["a@b"]}, ctx)
    with pytest.raises(HandlerConfigError, match="'to' must be list"):
        from_options({"to": 5}, ctx)
    assert isinstance(from_options({"to-field": ["{{ .Name }}"]}, ctx), EmailHandler)
    problem = check({"toTemplates": ["{{ .Name "]}, None, True)
    assert problem is not None and problem.prop == "toTemplates"
    assert check({"to-field": ["{{ .Name }}"]}, None, False) is None
    bad = check({"to": ["ops@example.com", "not an address"]}, None, True)
    assert bad is not None and (bad.prop, bad.value) == ("to", "not an address")
    assert check({"to": ["Ann <ann@example.com>"]}, None, False) is None


def test_global_and_state_changes_only() -> None:
    config = SMTPConfig(enabled=True, from_="a@example.com", global_=True, state_changes_only=True)
    integration = INTEGRATIONS.get("smtp")
    assert integration is not None and integration.tick == "email"
    service = SMTPService([config])
    assert integration.global_handler is not None and integration.global_handler(service)
    assert integration.global_state_changes_only is not None
    assert integration.global_state_changes_only(service)
    config.enabled = False
    assert not integration.global_handler(service)


# --- the config API and the service test -------------------------------------------------


async def test_config_api_and_service_test_answer_as_kapacitor(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    make_runtime: MakeRuntime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = _load(tmp_path, '[smtp]\n  host = "smtp.example.com"\n')
    client = await aiohttp_client(create_app(make_runtime(config, db=tmp_path / "l.db")))
    resp = await client.get("/kapacitor/v1/config/smtp")
    assert resp.status == 200
    expected = {
        "enabled": False,
        "from": "",
        "global": False,
        "host": "smtp.example.com",
        "idle-timeout": "30s",
        "no-verify": False,
        "password": False,
        "port": 25,
        "state-changes-only": False,
        "to": None,
        "to-templates": None,
        "username": "",
    }
    assert json.loads(await resp.text()) == {
        "link": {"rel": "self", "href": "/kapacitor/v1/config/smtp"},
        "elements": [
            {
                "link": {"rel": "self", "href": "/kapacitor/v1/config/smtp/"},
                "options": expected,
                "redacted": ["password"],
            }
        ],
    }
    resp = await client.post(
        "/kapacitor/v1/config/smtp/",
        json={"set": {"idle-timeout": "1m0s", "global": True, "password": PASSWORD}},
    )
    assert resp.status == 204, await resp.text()
    resp = await client.get("/kapacitor/v1/config/smtp/")
    text = await resp.text()
    assert PASSWORD not in text
    assert json.loads(text)["options"] == {
        **expected,
        "global": True,
        "idle-timeout": "1m0s",
        "password": True,
    }
    resp = await client.get("/kapacitor/v1/service-tests/smtp")
    assert json.loads(await resp.text())["options"] == {
        "to": None,
        "subject": "test subject",
        "body": "test body",
    }
    resp = await client.post("/kapacitor/v1/service-tests/smtp", json={})
    assert json.loads(await resp.text()) == {"success": False, "message": "service is not enabled"}
    for record in caplog.records:
        assert PASSWORD not in record.getMessage() + repr(getattr(record, "fields", ""))


async def test_service_test_mails(smtp: tuple[SMTPServer, dict[str, str]]) -> None:
    server, holes = smtp
    service = _service(holes, to=["a@example.com"])
    try:
        assert service.default_test_options()["to"] == ["a@example.com"]
        assert await service.test({"subject": "hello"}) == (True, "")
        ok, message = await service.test({"bogus": 1})
    finally:
        await service.close()
    assert not ok and "unknown smtp test option(s): bogus" in message
    (mail,) = server.received()
    assert (mail["subject"], mail["body"], mail["to"]) == (
        "hello",
        "test body\n",
        ["a@example.com"],
    )


@pytest.mark.parametrize(
    ("changes_only", "subjects"),
    [("true", ["CRITICAL", "OK"]), ("false", ["CRITICAL", "CRITICAL", "CRITICAL", "OK"])],
)
async def test_global_smtp_mails_every_alert_node_and_forces_state_changes_only(
    smtp: tuple[SMTPServer, dict[str, str]], tmp_path: Path, changes_only: str, subjects: list[str]
) -> None:
    """``global = true``: a script without ``.email()`` mails its alerts; with
    ``state-changes-only`` too, only the changes (Kapacitor's alert node, alert.go)."""
    from leyden.replay import parse_dbrp, replay

    server, holes = smtp
    config = _load(
        tmp_path,
        f'[smtp]\n  enabled = true\n  host = "{holes["SMTP_HOST"]}"\n'
        f'  port = {holes["SMTP_PORT"]}\n  from = "k@example.com"\n  to = ["o@example.com"]\n'
        f"  global = true\n  state-changes-only = {changes_only}\n",
    )
    script = tmp_path / "t.tick"
    script.write_text(
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .id('cpu')\n"
        "    .message('{{ .Level }}')\n    .crit(lambda: \"v\" > 1)\n"
    )
    data = tmp_path / "d.srpl"
    data.write_text(
        "".join(f"dbname\nrpname\ncpu v={v} {n}000000000\n" for n, v in enumerate([2, 3, 4, 0]))
    )
    await replay(
        script, [data], config=config, name="t", dbrps=[parse_dbrp("dbname.rpname")], until=None
    )
    assert [m["subject"] for m in server.received()] == subjects


async def test_a_bad_recipient_template_refuses_the_task_and_the_handler(
    aiohttp_client: ClientFactory, tmp_path: Path, make_runtime: MakeRuntime
) -> None:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config, db=tmp_path / "l.db")))
    script = (
        'dbrp "db"."rp"\n\nstream\n    |from()\n        .measurement(\'cpu\')\n'
        "    |alert()\n        .crit(lambda: TRUE)\n        .email()\n"
        "            .toTemplates('{{ .Name ')\n"
    )
    resp = await client.post("/kapacitor/v1/tasks", json={"id": "m", "script": script})
    assert resp.status == 400
    body = await resp.json()
    assert "bad template in email address template" in body["error"]
    assert body["position"]["line"] == 9
    good = script.replace("'{{ .Name '", "'{{ .Name }}'")
    resp = await client.post("/kapacitor/v1/tasks", json={"id": "m", "script": good})
    assert resp.status == 200, await resp.text()
    resp = await client.post(
        "/kapacitor/v1/alerts/topics/t/handlers",
        json={"id": "h", "kind": "smtp", "options": {"to-field": ["{{ .Name "]}},
    )
    assert resp.status == 400  # Kapacitor answers 500; a user's mistake is a 400 here
    assert (await resp.json())["error"].startswith(
        "failed to create handler: email handler: bad template in email address template"
    )


async def test_starttls_when_offered_checked_unless_no_verify() -> None:
    """Kapacitor's dialer: STARTTLS when the server offers it, its certificate checked (a
    certificate no CA vouches for is permanent, naming no-verify), unchecked with no-verify."""
    import ssl

    import trustme

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    server = SMTPServer()
    holes = await server.start({"tls_context": context})
    checked = _service(holes, to=["a@example.com"])
    unchecked = _service(holes, to=["a@example.com"], no_verify=True)
    try:
        refused = await checked.send_mail([], "s", "b")
        sent = await unchecked.send_mail([], "s", "b")
    finally:
        await checked.close()
        await unchecked.close()
        await server.stop()
    assert refused.outcome == "permanent"
    assert "TLS certificate not trusted" in refused.reason and "no-verify" in refused.reason
    assert sent.delivered, sent.reason
    (mail,) = server.received()
    assert mail["tls"] is True


async def test_a_kept_connection_the_server_dropped_is_dialled_again(
    smtp: tuple[SMTPServer, dict[str, str]],
) -> None:
    server, holes = smtp
    service = _service(holes, to=["a@example.com"])
    try:
        assert (await service.send_mail([], "1", "b")).delivered
        server.drop_connections()
        result = await service.send_mail([], "2", "b")
    finally:
        await service.close()
    assert result.delivered, result.reason
    assert service.dials == 2
    assert [m["subject"] for m in server.received()] == ["1", "2"]


def test_a_server_echoing_the_auth_argument_does_not_leak_the_password() -> None:
    """A refusal may quote what the client sent: AUTH PLAIN's base64 of ``\\0user\\0password``,
    or AUTH LOGIN's base64 of the password."""
    import base64

    service = SMTPService([SMTPConfig(enabled=True, username="kap", password=PASSWORD)])
    plain = base64.b64encode(f"\0kap\0{PASSWORD}".encode()).decode()
    login = base64.b64encode(PASSWORD.encode()).decode()
    text = service._scrub(service.config(), f"535 authentication failed for {plain} / {login}")
    assert plain not in text and login not in text and PASSWORD not in text
    assert text.startswith("535 authentication failed for xxxxx")


def test_an_untrusted_certificate_on_port_465_is_permanent() -> None:
    """aiosmtplib wraps the certificate error of an implicit-TLS connection in its own."""
    import ssl

    import aiosmtplib

    service = SMTPService([SMTPConfig(enabled=True, port=465)])
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    wrapped = aiosmtplib.SMTPConnectError("Error connecting to localhost on port 465")
    wrapped.__cause__ = cert
    result = service._failure(service.config(), wrapped)
    assert result.outcome == "permanent" and "no-verify" in result.reason
