"""Telegram Bot API. Parsing an update needs no library; sending uses python-telegram-bot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from channels.base import InboundParsed


def parse_inbound(update: Mapping[str, Any]) -> InboundParsed | None:
    """A Telegram update carrying a text message as an InboundParsed (None otherwise)."""
    message = update.get("message") or update.get("edited_message")
    if not message or "text" not in message:
        return None
    return InboundParsed(
        channel="telegram",
        sender_address=str(message["chat"]["id"]),
        text=message["text"],
        raw=json.dumps(update, ensure_ascii=False, sort_keys=True),
        provider_id=str(update.get("update_id")) if "update_id" in update else None,
    )
