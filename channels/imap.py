"""Email replies in: an IMAP poller (aioimaplib) that waits with IDLE where offered.

It knows nothing of schools: each unseen message's raw bytes go to a handler, and the
message is flagged \\Seen only after the handler returned, so a process that dies in
between fetches it again next time (the core recognises the duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

from channels.base import ChannelConfigurationError, reveal
from channels.email import tls_context

log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[Any]]
IDLE_REFRESH_MAX = 25 * 60.0  # servers drop IDLE after 30 minutes (RFC 2177)


class ImapError(Exception):
    """The IMAP server refused a command or the connection failed."""


class ImapPoller:
    """Fetch unseen mail from one mailbox and hand each raw message to `handler`."""

    def __init__(self, settings: Any, handler: Handler) -> None:
        if not settings.host or not settings.username:
            raise ChannelConfigurationError("IMAP needs IMAP_HOST and IMAP_USERNAME")
        self.settings = settings
        self.handler = handler
        self.handled = 0
        self.used_idle = False

    # -- one connection -------------------------------------------------------------------
    async def connect(self) -> Any:
        """An authenticated connection with the mailbox selected."""
        import aioimaplib

        s = self.settings
        if s.use_ssl:
            imap = aioimaplib.IMAP4_SSL(host=s.host, port=s.port, timeout=s.timeout,
                                        ssl_context=tls_context(s.tls_verify, s.ca_file))
        else:
            imap = aioimaplib.IMAP4(host=s.host, port=s.port, timeout=s.timeout)
        try:
            await imap.wait_hello_from_server()
            response = await imap.login(s.username, reveal(s.password))
            if response.result != "OK":
                raise ImapError("IMAP login refused: check IMAP_USERNAME and IMAP_PASSWORD")
            response = await imap.select(s.mailbox)
            if response.result != "OK":
                raise ImapError(f"IMAP mailbox {s.mailbox!r} cannot be selected")
        except BaseException:
            await _close(imap)
            raise
        return imap

    async def drain(self, imap: Any) -> int:
        """Hand every unseen message to the handler, then flag it seen. Returns how many."""
        response = await imap.uid_search("UNSEEN", charset=None)
        if response.result != "OK":
            raise ImapError("IMAP SEARCH UNSEEN failed")
        uids = [uid for line in response.lines[:-1] for uid in _numbers(line)]
        count = 0
        for uid in uids:
            fetched = await imap.uid("fetch", uid, "(BODY.PEEK[])")
            if fetched.result != "OK":
                raise ImapError(f"IMAP FETCH of message {uid} failed")
            literals = [bytes(line) for line in fetched.lines if isinstance(line, bytearray)]
            if not literals:
                continue  # expunged meanwhile
            await self.handler(literals[0])  # stored before it is flagged: nothing is lost
            stored = await imap.uid("store", uid, "+FLAGS", r"(\Seen)")
            if stored.result != "OK":
                raise ImapError(f"IMAP STORE of message {uid} failed")
            count += 1
        self.handled += count
        if count:
            log.info("imap: %d new message(s) handed over", count)
        return count

    async def poll_once(self) -> int:
        """Connect, hand over everything unseen, log out."""
        imap = await self.connect()
        try:
            return await self.drain(imap)
        finally:
            await _close(imap)

    async def check(self) -> str:
        """Log in and select the mailbox once; one line, or ChannelConfigurationError."""
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            imap = await self.connect()
        except ImapError as exc:
            raise ChannelConfigurationError(f"imap: {where}: {exc}") from exc
        except Exception as exc:
            raise ChannelConfigurationError(
                f"imap: cannot use {where} ({type(exc).__name__}: {exc}); check IMAP_HOST, "
                "IMAP_PORT, IMAP_USE_SSL and IMAP_CA_FILE") from exc
        idle = imap.has_capability("IDLE")
        await _close(imap)
        return f"imap: ok ({where}, {'TLS' if s.use_ssl else 'no TLS'}, mailbox " \
               f"{s.mailbox}, {'IDLE' if idle else 'polling'})"

    # -- forever --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Hand over new mail until `stop` is set; reconnect with jittered backoff on failure."""
        delay = 1.0
        while not stop.is_set():
            imap = None
            try:
                imap = await self.connect()
                delay = 1.0
                await self._serve(imap, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("imap: %s; reconnecting in %.0fs", type(exc).__name__, delay)
                await _wait(stop, delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 300.0)
            finally:
                if imap is not None:
                    await _close(imap)

    async def _serve(self, imap: Any, stop: asyncio.Event) -> None:
        use_idle = self.settings.idle and imap.has_capability("IDLE")
        refresh = min(max(self.settings.poll_seconds, 1.0), IDLE_REFRESH_MAX)
        while not stop.is_set():
            await self.drain(imap)
            if not use_idle:
                await _wait(stop, self.settings.poll_seconds)
                continue
            self.used_idle = True
            idle = await imap.idle_start(timeout=refresh)
            push = asyncio.ensure_future(imap.wait_server_push(timeout=refresh + 5))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({push, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (push, stopped):
                task.cancel()
            imap.idle_done()
            await asyncio.wait_for(idle, timeout=self.settings.timeout)


def _numbers(line: bytes | bytearray | str) -> list[str]:
    text = line.decode(errors="replace") if isinstance(line, bytes | bytearray) else line
    return re.findall(r"\b\d+\b", text.replace("SEARCH", ""))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))


async def _close(imap: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(imap.logout(), timeout=5)
    with contextlib.suppress(Exception):
        if imap.protocol is not None and imap.protocol.transport is not None:
            imap.protocol.transport.close()
