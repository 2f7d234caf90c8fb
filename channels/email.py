"""Email: SMTP out (aiosmtplib, pooled connections), inbound parsing with the standard library.

Out: multipart text + HTML, the delivery's random Message-ID (recorded by the caller, so
a resend is the same message to the recipient's client), a per-delivery reply address carrying
the opaque thread token, and RFC 8058 one-click unsubscribe headers. In: RFC 5322 bytes
become an InboundParsed; delivery status notifications are parsed by `parse_report`.

This module holds the SMTP adapter (pooled connections, sending, error mapping, check);
building the message is in `channels.email_message`, parsing inbound mail in
`channels.email_parsing`. Their public names are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any, ClassVar

from channels.base import (
    Channel,
    ChannelConfigurationError,
    DeliveryOutcome,
    DeliveryResult,
    OutgoingMessage,
    PermanentAddressError,
    TransientError,
    reveal,
)
from channels.email_message import (
    build_email,
    domain_of,
    header_safe,
    html_lang,
    message_id_for,
    new_message_id,
    render_html,
    safe_filename,
    text_direction,
)
from channels.email_parsing import (
    BounceReport,
    html_to_text,
    message_ids,
    parse_inbound,
    parse_report,
)

log = logging.getLogger(__name__)

_IDLE_PROBE_SECONDS = 30.0


# -- sending -----------------------------------------------------------------------------
@dataclass
class _Connection:
    smtp: Any
    loop: asyncio.AbstractEventLoop
    sent: int = 0
    last_used: float = field(default_factory=time.monotonic)


def tls_context(verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """A client TLS context: system CAs plus `ca_file`; verification off only when asked."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file \
        else ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpEmailChannel(Channel):
    """Email through an SMTP relay, reusing a small pool of authenticated connections."""

    name: ClassVar[str] = "email"
    supports_attachments: ClassVar[bool] = True
    rate_per_second: ClassVar[float | None] = 20.0
    max_in_flight: ClassVar[int] = 16

    def __init__(self, settings: Any,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(rate_per_second=settings.rate_per_second)
        self.clock = clock  # the Date header's source (tests compare bytes with the outbox)
        if not settings.host or not settings.from_address:
            raise ChannelConfigurationError("email needs SMTP_HOST and SMTP_FROM_ADDRESS")
        self.settings = settings
        self.from_address: str = settings.from_address  # also the calendar organiser
        self.max_connections = int(getattr(settings, "connections", 2) or 1)
        self.reply_domain = settings.reply_domain or domain_of(settings.from_address)
        self.envelope_from = parseaddr(settings.from_address)[1]
        self.connections_opened = 0
        self._idle: list[_Connection] = []
        self._open = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cond: asyncio.Condition | None = None
        self._tls = tls_context(settings.tls_verify, settings.ca_file) \
            if (settings.starttls or settings.use_tls) else None

    # -- the pool -----------------------------------------------------------------------
    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            # A new event loop (tests, a restarted worker): connections of the old loop are dead.
            for conn in self._idle:
                with contextlib.suppress(Exception):
                    conn.smtp.close()
            self._idle, self._open = [], 0
            self._loop, self._cond = loop, asyncio.Condition()
        return self._cond

    async def _open_connection(self) -> Any:
        import aiosmtplib

        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, use_tls=s.use_tls,
            start_tls=bool(s.starttls) and not s.use_tls, tls_context=self._tls,
            timeout=s.timeout)
        await smtp.connect()
        try:
            if s.username:
                await smtp.login(s.username, reveal(s.password))
        except BaseException:
            smtp.close()
            raise
        self.connections_opened += 1
        log.debug("email: opened SMTP connection %d", self.connections_opened)
        return smtp

    async def _acquire(self) -> _Connection:
        cond = self._condition()
        async with cond:
            while True:
                while self._idle:
                    conn = self._idle.pop()
                    if conn.smtp.is_connected:
                        return conn
                    self._open -= 1
                if self._open < self.max_connections:
                    self._open += 1
                    break
                await cond.wait()
        try:
            smtp = await self._open_connection()
        except BaseException:
            async with cond:
                self._open -= 1
                cond.notify()
            raise
        return _Connection(smtp, asyncio.get_running_loop())

    async def _release(self, conn: _Connection, keep: bool) -> None:
        cond = self._condition()
        async with cond:
            if keep and conn.smtp.is_connected and conn.loop is self._loop:
                conn.last_used = time.monotonic()
                self._idle.append(conn)
            else:
                self._open -= 1
                with contextlib.suppress(Exception):
                    conn.smtp.close()
            cond.notify()

    async def _usable(self, conn: _Connection) -> bool:
        """A connection idle for a while may have been dropped by the server: ask first."""
        if time.monotonic() - conn.last_used < _IDLE_PROBE_SECONDS:
            return True
        try:
            await conn.smtp.noop()
        except Exception:
            return False
        return True

    # -- sending -----------------------------------------------------------------------
    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        if not message.message_id:
            message = replace(message, message_id=new_message_id())
        data = build_email(message, self.settings.from_address, self.reply_domain,
                           self.settings.reply_mailbox, date=self.clock())
        message_id = message_id_for(message, self.reply_domain)
        # Headers are ASCII whatever the language (RFC 2047): SMTPUTF8 is needed only for
        # an address with non-ASCII letters, and asked for only from a server offering it.
        utf8 = not (message.address.isascii() and self.envelope_from.isascii())
        for attempt in (1, 2):
            conn = await self._connect_or_raise()
            if conn.sent and not await self._usable(conn):
                await self._release(conn, keep=False)
                conn = await self._connect_or_raise()
            if utf8 and not conn.smtp.supports_extension("smtputf8"):
                await self._release(conn, keep=True)
                raise PermanentAddressError(
                    "this address has non-ASCII letters and the mail server does not offer "
                    "SMTPUTF8, so it cannot be reached through this server")
            reused = conn.sent > 0
            stage = "MAIL"
            try:
                await conn.smtp.mail(self.envelope_from, options=["SMTPUTF8"] if utf8 else None,
                                     encoding="utf-8" if utf8 else "ascii")
                stage = "RCPT"
                await conn.smtp.rcpt(message.address, encoding="utf-8" if utf8 else "ascii")
                stage = "DATA"
                await conn.smtp.data(data)
            except Exception as exc:
                keep = await self._after_failure(conn, exc)
                await self._release(conn, keep)
                if attempt == 1 and reused and stage == "MAIL" and _is_disconnect(exc):
                    # Nothing was handed over yet: the server had dropped a pooled connection.
                    continue
                raise _map_send_error(exc, stage) from exc
            conn.sent += 1
            await self._release(conn, keep=True)
            return DeliveryResult(DeliveryOutcome.SENT, provider_id=message_id)
        raise TransientError("SMTP connection lost twice")  # pragma: no cover - loop returns

    async def _connect_or_raise(self) -> _Connection:
        try:
            return await self._acquire()
        except Exception as exc:
            if _is_auth_failure(exc):
                log.warning("email: the SMTP server refused our login; "
                            "run `schoolgate check` and fix SMTP_USERNAME/SMTP_PASSWORD")
            elif isinstance(exc, ssl.SSLError) or _is_tls_failure(exc):
                log.warning("email: TLS with the SMTP server failed (%s); check SMTP_CA_FILE",
                            type(exc).__name__)
            raise _map_connect_error(exc) from exc

    async def _after_failure(self, conn: _Connection, exc: Exception) -> bool:
        """Reset the envelope so the connection can carry the next message; False drops it."""
        code = getattr(exc, "code", None)
        if code == 421 or _is_disconnect(exc) or not conn.smtp.is_connected:
            return False
        try:
            await conn.smtp.rset()
        except Exception:
            return False
        return True

    async def check(self) -> str:
        """Connect, STARTTLS and log in once: one line, or ChannelConfigurationError."""
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            smtp = await self._open_connection()
        except Exception as exc:
            raise ChannelConfigurationError(f"email: {_explain(exc, where)}") from exc
        try:
            with contextlib.suppress(Exception):
                await smtp.quit()
        finally:
            smtp.close()
        tls = "TLS" if s.use_tls else ("STARTTLS" if s.starttls else "no TLS")
        auth = "authenticated" if s.username else "no login"
        return f"email: ok ({where}, {tls}, {auth})"

    async def close(self) -> None:
        """Say QUIT on every pooled connection."""
        idle, self._idle = self._idle, []
        current = None
        with contextlib.suppress(RuntimeError):
            current = asyncio.get_running_loop()
        for conn in idle:
            if conn.loop is current:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.smtp.quit(), timeout=5)
            with contextlib.suppress(Exception):
                conn.smtp.close()
        self._open = max(0, self._open - len(idle))


def _is_disconnect(exc: BaseException) -> bool:
    import aiosmtplib

    return isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError | TimeoutError
                      | aiosmtplib.SMTPTimeoutError)


def _is_auth_failure(exc: BaseException) -> bool:
    import aiosmtplib

    return isinstance(exc, aiosmtplib.SMTPAuthenticationError)


def _is_tls_failure(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, ssl.SSLError) or "certificate" in str(exc).lower()


def _map_connect_error(exc: Exception) -> TransientError:
    """Failures before a message is handed over: never the address's fault, so retry later."""
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return TransientError(f"SMTP login refused ({exc.code}); check SMTP_USERNAME and "
                              "SMTP_PASSWORD", retry_after=300)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return TransientError(f"SMTP server: {exc}; check SMTP_STARTTLS", retry_after=300)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return TransientError(f"SMTP {exc.code} on connect: {exc.message}")
    return TransientError(f"SMTP connection failed: {type(exc).__name__}: {exc}")


def _map_send_error(exc: Exception, stage: str) -> TransientError | PermanentAddressError:
    """SMTP replies mapped to what the worker does next."""
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"SMTP {exc.code} at {stage}: {exc.message}"[:400]
        if exc.code >= 500 and stage in ("RCPT", "DATA"):
            return PermanentAddressError(text)
        if exc.code >= 500:  # our sender refused, or authentication needed: not the family's
            return TransientError(text + " (check SMTP settings)", retry_after=300)
        return TransientError(text)
    return TransientError(f"SMTP {type(exc).__name__} at {stage}: {exc}"[:400])


def _explain(exc: BaseException, where: str) -> str:
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return (f"{where} refused the login ({exc.code} {exc.message}); "
                "check SMTP_USERNAME and SMTP_PASSWORD")
    if isinstance(exc, ssl.SSLCertVerificationError) or (
            isinstance(exc, aiosmtplib.SMTPException) and _is_tls_failure(exc)):
        return (f"the TLS certificate of {where} is not trusted ({exc}); "
                "set SMTP_CA_FILE to its CA bundle")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return f"{where}: {exc}; set SMTP_STARTTLS=false only on a trusted local relay"
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return f"{where} did not answer in time; check SMTP_HOST, SMTP_PORT and firewalls"
    if isinstance(exc, aiosmtplib.SMTPConnectError | ConnectionError | OSError):
        return f"cannot connect to {where} ({exc}); check SMTP_HOST and SMTP_PORT"
    return f"{where}: {type(exc).__name__}: {exc}"


__all__ = ["BounceReport", "SmtpEmailChannel", "build_email", "header_safe", "html_lang",
           "html_to_text", "message_id_for", "message_ids", "new_message_id", "parse_inbound",
           "parse_report", "render_html", "safe_filename", "text_direction", "tls_context"]
