"""A local SMTP server (aiosmtpd) speaking STARTTLS and AUTH, with faults on demand.

It records every accepted message and counts connections, so tests can check what a
family's mail client would receive and that the adapter reuses its connections.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USERNAME = "schoolgate"
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    """A TCP port nobody listens on right now (aiosmtpd 1.4.6 cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The message parsed the way a mail client would."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, standin: SmtpStandIn) -> None:
        self.standin = standin

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        fault = self.standin.fault("RCPT", address)
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        fault = self.standin.fault("DATA", envelope.rcpt_tos[0] if envelope.rcpt_tos else "")
        if fault:
            return fault
        with self.standin.lock:
            self.standin.received.append(Received(
                envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 Message accepted for delivery"


class _CountingController(Controller):
    def __init__(self, standin: SmtpStandIn, **kwargs: Any) -> None:
        super().__init__(_Handler(standin), **kwargs)
        self.standin = standin

    def factory(self) -> SMTP:
        with self.standin.lock:
            self.standin.connections += 1
        return super().factory()


class SmtpStandIn:
    """aiosmtpd on 127.0.0.1 with a trustme certificate, STARTTLS required and AUTH checked."""

    def __init__(self, tmp: Path | None = None, *, tls: bool = True, auth: bool = True,
                 smtputf8: bool = False) -> None:
        self.tls = tls
        self.smtputf8 = smtputf8
        self.auth = auth
        self.port = free_port()
        self.host = "127.0.0.1"
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.connections = 0
        self.logins = 0
        self.refuse: dict[str, str] = {}  # address -> reply, at RCPT (e.g. "550 5.1.1 ...")
        self._next: deque[tuple[str, str]] = deque()  # (stage, reply) for the next commands
        self.ca_file: str | None = None
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port,
                                  "server_hostname": "smtp.standin.test",
                                  # offered in EHLO only when asked: many relays do not
                                  "enable_SMTPUTF8": smtputf8}
        if tls:
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(server_ctx)
            folder = tmp or Path(".")
            self.ca_file = str(folder / "smtp-standin-ca.pem")
            ca.cert_pem.write_to_path(self.ca_file)
            kwargs.update(tls_context=server_ctx, require_starttls=True)
        if auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls)
        self.controller = _CountingController(self, **kwargs)

    def _authenticate(self, server: SMTP, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == USERNAME.encode() \
            and auth_data.password == PASSWORD.encode()
        if ok:
            with self.lock:
                self.logins += 1
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535

    def fault(self, stage: str, address: str) -> str | None:
        """The reply to give instead of accepting, if a fault is due."""
        with self.lock:
            if self._next and self._next[0][0] == stage:
                return self._next.popleft()[1]
            if stage == "RCPT":
                return self.refuse.get(address)
        return None

    def fail_next(self, stage: str, reply: str, times: int = 1) -> None:
        """Answer the next `times` commands at `stage` ("RCPT" or "DATA") with `reply`."""
        with self.lock:
            self._next.extend([(stage, reply)] * times)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """SmtpSettings values that point the adapter at this server."""
        values: dict[str, Any] = {
            "host": self.host, "port": self.port, "starttls": self.tls,
            "from_address": "Riverside Primary <office@school.test>",
            "reply_domain": "reply.school.test", "ca_file": self.ca_file,
            "rate_per_second": 0, "timeout": 10,
        }
        if self.auth:
            values.update(username=USERNAME, password=PASSWORD)
        values.update(overrides)
        return values

    def start(self) -> SmtpStandIn:
        """Start serving (in a thread of its own); the start-up probe is not counted."""
        self.controller.start()
        with self.lock:
            self.connections = 0
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.controller.stop()

    def __enter__(self) -> SmtpStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
