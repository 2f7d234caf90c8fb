"""The embedded default: every message becomes a readable file in a local folder.

SMS and Telegram messages are JSON files, email is a real `.eml` file any mail
program opens: byte for byte the message SMTP would send (the same `build_email`, the
same From, reply domain and mailbox, so the same HTML part, Reply-To, List-Unsubscribe,
Message-ID and attachments), so a school previewing it sees what families get. Files
are written atomically and named by idempotency key, so a restarted worker can tell what
was already "sent" and never writes one twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from channels.base import Channel, DeliveryOutcome, DeliveryResult, OutgoingMessage
from channels.email_message import build_email, domain_of


class OutboxChannel(Channel):
    """Writes each message for channel `name` to `<folder>/<name>/<key>.<ext>`."""

    name: ClassVar[str] = "outbox"
    supports_attachments = True
    can_check_sent = True
    max_in_flight = 1

    def __init__(self, channel: str, folder: Path, from_address: str = "school@localhost",
                 reply_domain: str | None = None, reply_mailbox: str = "replies",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(rate_per_second=0)
        self.channel = channel
        self.folder = Path(folder) / channel
        self.from_address = from_address
        self.reply_domain = reply_domain or domain_of(from_address)
        self.reply_mailbox = reply_mailbox
        self.clock = clock
        self.ext = "eml" if channel == "email" else "json"

    def path_for(self, idempotency_key: str) -> Path:
        """Where the file for this key lives."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in idempotency_key)
        return self.folder / f"{safe}.{self.ext}"

    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        path = self.path_for(message.idempotency_key)
        if path.exists():  # written before a crash: same key, same message; do not rewrite
            return DeliveryResult(DeliveryOutcome.SENT, provider_id=path.name)
        data = self._render(message)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return DeliveryResult(DeliveryOutcome.SENT, provider_id=path.name)

    def _render(self, message: OutgoingMessage) -> bytes:
        if self.channel == "email":
            return build_email(message, self.from_address, self.reply_domain,
                               self.reply_mailbox, date=self.clock())
        record = {
            "channel": self.channel,
            "to": message.address,
            "language": message.language,
            "text": message.text,
            "idempotency_key": message.idempotency_key,
            "written_at": self.clock().isoformat(),
        }
        return json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")

    async def was_sent(self, idempotency_key: str) -> str | None:
        """The file name if this key was already written."""
        path = self.path_for(idempotency_key)
        return path.name if path.exists() else None
