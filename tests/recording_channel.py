"""A channel that records what it is asked to send, and fails on demand.

It stands in for a provider at the channel boundary, so worker tests exercise the real
claim/send/record path; provider protocols are tested with their own stand-ins.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import ClassVar

from channels.base import (
    Channel,
    DeliveryOutcome,
    DeliveryResult,
    OutgoingMessage,
    PermanentAddressError,
    TransientError,
)


class RecordingChannel(Channel):
    """Accepts everything unless told to fail; keeps every accepted message."""

    name: ClassVar[str] = "recording"
    can_check_sent = True

    def __init__(self, name: str = "sms", latency: float = 0.0,
                 rate_per_second: float | None = 0) -> None:
        super().__init__(rate_per_second=rate_per_second)
        self.name = name  # type: ignore[misc]
        self.latency = latency
        self.sent: list[OutgoingMessage] = []
        self.faults: deque[Exception] = deque()
        self.calls = 0

    def fail_next(self, *errors: Exception) -> None:
        """Make the next calls raise these errors, in order."""
        self.faults.extend(errors)

    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.faults:
            raise self.faults.popleft()
        self.sent.append(message)
        return DeliveryResult(DeliveryOutcome.SENT, provider_id=f"rec-{len(self.sent)}")

    async def was_sent(self, idempotency_key: str) -> str | None:
        """Whether a message with this key was accepted."""
        for i, m in enumerate(self.sent, 1):
            if m.idempotency_key == idempotency_key:
                return f"rec-{i}"
        return None


__all__ = ["PermanentAddressError", "RecordingChannel", "TransientError"]
