"""A claimed outbox row: what the worker hands to a channel adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from channels.base import OutgoingMessage


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed outbox row: what the channel needs, and nothing about the school."""

    id: int
    channel: str
    address: str
    text: str
    subject: str | None
    language: str
    key: str
    attempts: int
    reply_token: str | None = None
    message_id: int | None = None
    email_message_id: str | None = None
    reply_headers: dict[str, str] | None = None
    attachments: tuple[tuple[str, str, bytes], ...] = ()
    # set when an earlier hand-over of this row has no known outcome: ask before sending
    handed_at: datetime | None = None

    def outgoing(self, public_url: str = "") -> OutgoingMessage:
        """The channel-level message for this row: reply token, unsubscribe link, the
        delivery's own Message-ID and, for an answer to a family, its thread headers."""
        unsubscribe = f"{public_url.rstrip('/')}/unsubscribe/{self.reply_token}" \
            if public_url and self.reply_token else None
        headers = {str(k): str(v) for k, v in (self.reply_headers or {}).items()}
        return OutgoingMessage(address=self.address, text=self.text, subject=self.subject,
                               language=self.language, idempotency_key=self.key,
                               thread_token=self.reply_token, unsubscribe_url=unsubscribe,
                               attachments=self.attachments, headers=headers,
                               message_id=self.email_message_id)
