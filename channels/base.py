"""The channel boundary: one base class, structured results, errors named for what comes next.

A subclass implements `_send` (one rendered message to one address) and may raise
`TransientError` or `PermanentAddressError`. Throttling, error mapping and logging
live here once, so every channel behaves the same to the worker.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

log = logging.getLogger(__name__)


class Secret(Protocol):
    """A credential as the settings keep it (pydantic's SecretStr): its repr and str are
    stars, so it never reaches a log or a traceback by accident."""

    def get_secret_value(self) -> str:
        """The credential itself."""
        ...


def reveal(secret: Secret | str | None) -> str:
    """The credential itself ('' when unset), for the one call that hands it over."""
    if secret is None:
        return ""
    return secret if isinstance(secret, str) else secret.get_secret_value()


class ChannelError(Exception):
    """Root of the errors a channel adapter raises."""


class TransientError(ChannelError):
    """Try again later; `retry_after` (seconds) is the provider's own hint, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UncertainError(TransientError):
    """The provider may have taken the message (no answer after the request went out):
    ask it before sending again (`Channel.find_sent`), never resend blind."""


class PermanentAddressError(ChannelError):
    """This address will never work on this channel: stop, and try the guardian's next channel."""


class ChannelConfigurationError(ChannelError):
    """The adapter cannot work with its settings: fail at start-up, not per message."""


class DeliveryOutcome(enum.StrEnum):
    """What the worker should do with a delivery after one send attempt."""

    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNCERTAIN = "uncertain"  # it may have gone: settle it by asking, never resend blind


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The structured answer to one send: stored with the delivery, never a bare bool."""

    outcome: DeliveryOutcome
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    segments: int | None = None

    @property
    def ok(self) -> bool:
        """True when the provider accepted the message."""
        return self.outcome is DeliveryOutcome.SENT


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One rendered message for one address. Carries no school concepts."""

    address: str
    text: str
    idempotency_key: str
    subject: str | None = None
    language: str = "en"
    html: str | None = None
    thread_token: str | None = None
    unsubscribe_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[tuple[str, str, bytes], ...] = ()
    # Email: the random local part of this delivery's Message-ID, recorded by the caller so
    # that a reply citing it can be matched (None: the adapter makes up a fresh random one).
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundParsed:
    """An inbound message as a channel understood it, before the core looks at it."""

    channel: str
    sender_address: str
    text: str
    raw: str
    provider_id: str | None = None
    thread_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class RateLimiter:
    """Paces calls to at most `rate` starts per second, evenly spaced (no bursts)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the next call may start."""
        if not self.interval:
            return
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # Space from the actual start, not the planned one: a sleep that overran must
            # not let the next call start early, or a 1 s window could hold rate + 1 starts.
            self._next = time.monotonic() + self.interval


class Channel(ABC):
    """Base class of every adapter. Capabilities are class attributes the core reads:
    `max_length` (the longest text one message may carry, None when any length goes: an
    adapter that splits long text itself says None), `supports_attachments`,
    `can_check_sent`."""

    name: ClassVar[str]
    max_length: ClassVar[int | None] = None
    supports_attachments: ClassVar[bool] = False
    rate_per_second: ClassVar[float | None] = None
    max_in_flight: ClassVar[int] = 8
    can_check_sent: ClassVar[bool] = False

    def __init__(self, rate_per_second: float | None = None) -> None:
        rate = rate_per_second if rate_per_second is not None else self.rate_per_second
        self.limiter = RateLimiter(rate)
        self._in_flight = asyncio.Semaphore(self.max_in_flight)

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        """Send one message, paced and with every failure mapped to a DeliveryResult."""
        async with self._in_flight:
            await self.limiter.wait()
            try:
                result = await self._send(message)
            except UncertainError as exc:
                log.info("%s send unsettled (%s)", self.name, message.idempotency_key)
                return DeliveryResult(DeliveryOutcome.UNCERTAIN, error=str(exc))
            except TransientError as exc:
                # Provider errors can quote the address: the text goes to the database only.
                log.info("%s send deferred (%s)", self.name, message.idempotency_key)
                return DeliveryResult(DeliveryOutcome.TRANSIENT, error=str(exc),
                                      retry_after=exc.retry_after)
            except PermanentAddressError as exc:
                log.info("%s address refused (%s)", self.name, message.idempotency_key)
                return DeliveryResult(DeliveryOutcome.PERMANENT, error=str(exc))
            except Exception as exc:  # an adapter bug or unmapped failure: retry, never lose
                log.warning("%s unexpected %s (%s)", self.name, type(exc).__name__,
                            message.idempotency_key)
                return DeliveryResult(DeliveryOutcome.TRANSIENT,
                                      error=f"unexpected {type(exc).__name__}")
        return result

    @abstractmethod
    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        """Hand one message to the provider; raise TransientError or PermanentAddressError."""

    async def was_sent(self, idempotency_key: str) -> str | None:
        """The provider id of an earlier send with this key, if the provider can tell us."""
        raise NotImplementedError(f"{self.name} cannot look up earlier sends")

    async def find_sent(self, message: OutgoingMessage, since: datetime,
                        exclude: frozenset[str] = frozenset()) -> str | None:
        """The provider id of this message if the provider took it at or after `since` (ids
        in `exclude` belong to other rows), None if it provably did not; raises
        TransientError when the provider cannot say now. Only called when `can_check_sent`;
        by default it asks `was_sent` by key."""
        return await self.was_sent(message.idempotency_key)

    async def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections; called once when a worker stops."""
