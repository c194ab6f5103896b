"""The smtp service: one SMTP connection, kept open while mail flows, as Kapacitor's mailer.

Kapacitor's services/smtp keeps one connection to the configured server and closes it after
``idle-timeout`` without mail (a config update closes it too).  It dials with gomail: EHLO
``localhost``, STARTTLS when the server offers it (certificates checked unless ``no-verify``),
AUTH when a ``username`` is set and the server offers AUTH (one mechanism: CRAM-MD5, else
PLAIN, which Go refuses over plain text to another host, else LOGIN), then MAIL FROM, one RCPT TO per
recipient (any refusal fails the mail) and DATA.  Leyden does the same with aiosmtplib, one
mail at a time, and adds implicit TLS on port 465 (gomail's own default there; Kapacitor's
dialer would talk plain text to it and fail).

Each :meth:`SMTPService.send_mail` is ONE attempt reported as a
:class:`~leyden.notify._http.DeliveryResult`: a 4xx answer or a lost connection is retried by
the dispatcher, a 5xx answer (and an address that cannot be one) is permanent.  A kept
connection the server has meanwhile dropped is redialled once within the attempt: that mail
was never handed over.  The password never appears in a reason: server answers are scrubbed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import aiosmtplib

from leyden.notify._http import DeliveryResult
from leyden.notify._service import (
    NOT_ENABLED,
    ConfiguredService,
    ServiceTestOptions,
    service_test_answer,
)
from leyden.notify.base import IntegrationError
from leyden.notify.email.config import SECTION, SMTPConfig
from leyden.notify.email.message import build_message, parse_address

__all__ = ["NO_RECIPIENTS", "SMTPService"]

log = logging.getLogger("leyden.smtp")

#: Kapacitor's ErrNoRecipients text
NO_RECIPIENTS = "not sending email, no recipients defined"
TIMEOUT = 30.0
_IMPLICIT_TLS_PORT = 465
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class _Refused(Exception):
    """A mail the server would not take; ``reason`` already names what and why."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.reason)
        self.result = result


class SMTPService(ConfiguredService[SMTPConfig]):
    kind = "smtp"
    section = SECTION

    def __init__(self, configs: Sequence[SMTPConfig]) -> None:
        self._conn: aiosmtplib.SMTP | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._lock: asyncio.Lock | None = None
        self._closing: set[asyncio.Task[None]] = set()
        #: the configuration changed while a mail was on its way: drop the connection after it
        self._stale = False
        #: connections opened, for tests and the curious (Kapacitor keeps one at a time too)
        self.dials = 0
        super().__init__(configs)

    def update(self, sections: list[Any]) -> None:
        """New settings; the open connection (to the old server, maybe) is closed, after the
        mail on its way, if any (a QUIT in the middle of it would fail it)."""
        super().update(sections)
        if self._lock is not None and self._lock.locked():
            self._stale = True
        else:
            self._drop()

    # --- the connection ------------------------------------------------------------------

    def _drop(self) -> None:
        """Forget the connection now and say QUIT to it in the background."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._quit(conn))
        except RuntimeError:  # no loop: nothing to say goodbye with
            conn.close()
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _quit(conn: aiosmtplib.SMTP) -> None:
        try:
            if conn.is_connected:
                await conn.quit()
        except (aiosmtplib.SMTPException, OSError):
            conn.close()

    def _schedule_idle_close(self, config: SMTPConfig) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if config.idle_timeout <= 0:
            self._drop()  # Kapacitor's 0 timer fires at once
            return
        self._idle = asyncio.get_running_loop().call_later(config.idle_timeout / 1e9, self._on_idle)

    def _on_idle(self) -> None:
        self._idle = None
        if self._lock is not None and self._lock.locked():
            return  # a mail is on its way; it schedules the next close
        self._drop()

    async def _dial(self, config: SMTPConfig) -> aiosmtplib.SMTP:
        implicit = config.port == _IMPLICIT_TLS_PORT
        conn = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            local_hostname="localhost",
            timeout=TIMEOUT,
            use_tls=implicit,
            start_tls=False if implicit else None,  # None: STARTTLS when offered
            validate_certs=not config.no_verify,
        )
        await conn.connect()
        self.dials += 1
        if config.username and conn.supports_extension("auth"):
            try:
                await self._login(conn, config)
            except BaseException:
                conn.close()
                raise
        return conn

    @staticmethod
    async def _login(conn: aiosmtplib.SMTP, config: SMTPConfig) -> None:
        """gomail's choice of one mechanism: CRAM-MD5, else PLAIN, else LOGIN; like Go's
        PlainAuth, no password in clear text over an unencrypted connection to another host."""
        offered = conn.esmtp_extensions.get("auth", "").upper().split()
        encrypted = conn.get_transport_info("sslcontext") is not None
        if "CRAM-MD5" in offered:
            await conn.auth_crammd5(config.username, config.password)
        elif "PLAIN" in offered or "LOGIN" not in offered:
            if not encrypted and config.host not in _LOCAL_HOSTS:
                raise _Refused(
                    DeliveryResult(
                        "permanent",
                        None,
                        f"smtp server {config.host}:{config.port}: not sending the password "
                        "over an unencrypted connection (the server offers no STARTTLS)",
                    )
                )
            await conn.auth_plain(config.username, config.password)
        else:
            await conn.auth_login(config.username, config.password)

    # --- sending -------------------------------------------------------------------------

    async def send_mail(self, to: Sequence[str], subject: str, body: str) -> DeliveryResult:
        """One attempt to mail ``body`` to ``to`` (the configured ``to`` when empty)."""
        try:
            config = self.resolve()
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        recipients = list(to) or list(config.to)
        if not recipients:
            return DeliveryResult("permanent", None, NO_RECIPIENTS)
        sender = parse_address(config.from_)
        if sender is None:
            return DeliveryResult("permanent", None, f'invalid from address "{config.from_}"')
        envelope: list[str] = []
        for text in recipients:
            address = parse_address(text)
            if address is None:
                return DeliveryResult("permanent", None, f'invalid recipient address "{text}"')
            envelope.append(address)
        message = build_message(config.from_, recipients, subject, body)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            result = await self._deliver(config, sender, envelope, message)
            if self._stale:
                self._stale = False
                self._drop()
            elif self._conn is not None:
                self._schedule_idle_close(config)
        return result

    async def _deliver(
        self, config: SMTPConfig, sender: str, envelope: list[str], message: bytes
    ) -> DeliveryResult:
        reused = self._conn is not None
        for _attempt in range(2):
            try:
                if self._conn is None:
                    self._conn = await self._dial(config)
                await self._transaction(self._conn, config, sender, envelope, message)
                return DeliveryResult("delivered")
            except _Refused as refused:
                return refused.result
            except aiosmtplib.SMTPServerDisconnected as exc:
                self._forget()
                if reused:
                    reused = False
                    continue  # the kept connection had gone stale: dial once more
                return self._failure(config, exc)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                self._forget()
                return self._failure(config, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _forget(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def _transaction(
        self,
        conn: aiosmtplib.SMTP,
        config: SMTPConfig,
        sender: str,
        envelope: list[str],
        message: bytes,
    ) -> None:
        try:
            await conn.mail(sender)
            for address in envelope:
                await conn.rcpt(address)
            await conn.data(message)
        except aiosmtplib.SMTPResponseException as exc:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await conn.rset()  # the connection stays usable for the next mail
            raise _Refused(self._failure(config, exc)) from None

    def _scrub(self, config: SMTPConfig, text: str) -> str:
        """A server's answer without the password, plain or as the AUTH exchange carried it
        (base64 of PLAIN's ``\0user\0password`` and of LOGIN's password: a server may echo
        the argument it refused)."""
        if config.password:
            user, password = config.username, config.password
            forms = [password]
            for raw in (f"\0{user}\0{password}", f"{user}\0{password}", password):
                forms.append(base64.b64encode(raw.encode()).decode("ascii"))
            for form in sorted(forms, key=len, reverse=True):
                text = text.replace(form, "xxxxx")
        return " ".join(text.split())[:300]

    def _failure(self, config: SMTPConfig, exc: BaseException) -> DeliveryResult:
        where = f"smtp server {config.host}:{config.port}"
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            what = {
                aiosmtplib.SMTPAuthenticationError: "refused the login",
                aiosmtplib.SMTPSenderRefused: "refused the sender",
                aiosmtplib.SMTPRecipientRefused: "refused a recipient",
                aiosmtplib.SMTPDataError: "refused the message",
            }.get(type(exc), "answered")
            code = exc.code
            text = self._scrub(config, exc.message)
            return DeliveryResult(
                "permanent" if 500 <= code < 600 else "retry",
                None,
                f"{where} {what}: {code} {text}",
            )
        # aiosmtplib wraps a refused certificate of an implicit-TLS port (465) in its own error
        cert = exc if isinstance(exc, ssl.SSLCertVerificationError) else exc.__cause__
        if isinstance(cert, ssl.SSLCertVerificationError):
            return DeliveryResult(
                "permanent",
                None,
                f"{where}: TLS certificate not trusted ({cert.verify_message}); set "
                "no-verify = true in [smtp] to skip the check",
            )
        if isinstance(exc, aiosmtplib.SMTPNotSupported):
            return DeliveryResult("permanent", None, f"{where}: {self._scrub(config, str(exc))}")
        if isinstance(exc, TimeoutError):
            return DeliveryResult("retry", None, f"{where}: timed out")
        if isinstance(exc, OSError) and exc.strerror:
            return DeliveryResult("retry", None, f"{where}: {exc.strerror}")
        return DeliveryResult("retry", None, f"{where}: {self._scrub(config, str(exc))}")

    # --- service test --------------------------------------------------------------------

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's smtp TestOptions: the configured ``to``, a subject and a body."""
        config = self.default()
        to = list(config.to) if config is not None and config.to else None
        return {"to": to, "subject": "test subject", "body": "test body"}

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        """Mail the test message (one attempt): ``(True, "")`` or ``(False, reason)``."""
        try:
            o = ServiceTestOptions(self.kind, self.default_test_options(), options)
            to, subject, body = o.texts("to"), o.text("subject"), o.text("body")
        except IntegrationError as exc:
            return False, str(exc)
        if not self.config().enabled:
            return False, NOT_ENABLED
        return service_test_answer(await self.send_mail(to, subject, body))

    async def close(self) -> None:
        self._drop()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
