"""A local IMAP server: aioimaplib's own test server, over TLS, with a password check.

aioimaplib ships `imap_testing_server`; this stand-in runs it on 127.0.0.1 with a
trustme certificate, checks the password at LOGIN and adds `SEARCH UNSEEN`, which the
shipped server lacks and real servers answer. IDLE is offered unless turned off.
"""

from __future__ import annotations

import asyncio
import email
import ssl
import sys
import types
from datetime import UTC
from pathlib import Path
from typing import Any

import trustme

from tests.standins.smtp import free_port

try:  # the shipped server imports pytz only for `utc`
    import pytz  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    _shim = types.ModuleType("pytz")
    _shim.utc = UTC  # type: ignore[attr-defined]
    sys.modules["pytz"] = _shim

from aioimaplib import imap_testing_server as _srv

USERNAME = "replies@school.test"
PASSWORD = "imap-standin-password"
WITH_IDLE = _srv.CAPABILITIES
WITHOUT_IDLE = " ".join(c for c in _srv.CAPABILITIES.split() if c != "IDLE")


class _Protocol(_srv.ImapProtocol):
    """The shipped protocol plus a password check and UNSEEN."""

    def login(self, tag: str, *args: str) -> None:
        password = args[1].strip('"') if len(args) > 1 else ""
        if password != PASSWORD:
            self.send_tagged_line(tag, "NO [AUTHENTICATIONFAILED] Invalid credentials")
            return
        super().login(tag, *args)
        self.server_state.connections[args[0]] = self  # new mail is announced to the latest

    def search(self, tag: str, *args_param: str) -> None:
        words = [a.upper() for a in args_param]
        if "UNSEEN" not in words:
            super().search(tag, *args_param)
            return
        by_uid = bool(args_param) and args_param[0] == "uid"
        messages = self.server_state.get_mailbox_messages(self.user_login, self.user_mailbox)
        found = [str(m.uid if by_uid else m.id) for m in messages if r"\Seen" not in m.flags]
        self.send_untagged_line("SEARCH " + " ".join(found))
        self.send_tagged_line(tag, "OK %sSEARCH completed" % ("UID " if by_uid else ""))


class ImapStandIn:
    """One mailbox user on a local IMAP server (TLS with a trustme CA, or plain)."""

    def __init__(self, tmp: Path | None = None, *, tls: bool = True, idle: bool = True) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.capabilities = WITH_IDLE if idle else WITHOUT_IDLE
        self.state = _srv.ServerState()
        self.protocols: list[_Protocol] = []
        self.server: asyncio.AbstractServer | None = None
        self.tls = tls
        self.ca_file: str | None = None
        self._server_ctx: ssl.SSLContext | None = None
        if tls:
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            self._server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(self._server_ctx)
            self.ca_file = str((tmp or Path(".")) / "imap-standin-ca.pem")
            ca.cert_pem.write_to_path(self.ca_file)
        self.state.login(USERNAME, None)  # the mailbox exists before anyone connects
        self.state.connections.pop(USERNAME, None)

    async def start(self) -> ImapStandIn:
        """Listen on 127.0.0.1 in the running event loop."""
        loop = asyncio.get_running_loop()

        def make() -> _Protocol:
            protocol = _Protocol(self.state, 0, self.capabilities, loop)
            self.protocols.append(protocol)
            return protocol

        self.server = await loop.create_server(make, self.host, self.port, ssl=self._server_ctx)
        return self

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        for protocol in self.protocols:
            if protocol.idle_task is not None:
                protocol.idle_task.cancel()
            if protocol.transport is not None:
                protocol.transport.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def deliver(self, raw: bytes) -> int:
        """Put a message in the INBOX (and tell an idling client); returns its UID."""
        mail = _srv.Mail(email.message_from_bytes(raw))
        return int(self.state.imap_receive(USERNAME, mail, "INBOX"))

    def flags(self, uid: int) -> list[str]:
        """The flags of the message with this UID."""
        for message in self.state.get_mailbox_messages(USERNAME, "INBOX"):
            if message.uid == uid:
                return list(message.flags)
        raise KeyError(uid)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """ImapSettings values that point the poller at this server."""
        values: dict[str, Any] = {"host": self.host, "port": self.port, "username": USERNAME,
                                  "password": PASSWORD, "use_ssl": self.tls,
                                  "ca_file": self.ca_file, "poll_seconds": 0.05, "timeout": 10}
        values.update(overrides)
        return values
