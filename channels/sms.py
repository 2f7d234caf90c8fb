"""SMS through Twilio. Inbound parsing needs no provider library; sending uses twilio."""

from __future__ import annotations

import json
from collections.abc import Mapping

from channels.base import InboundParsed


def parse_inbound(form: Mapping[str, str]) -> InboundParsed:
    """An inbound Twilio webhook form (From, Body, MessageSid ...) as an InboundParsed."""
    return InboundParsed(
        channel="sms",
        sender_address=form.get("From", "").strip(),
        text=form.get("Body", ""),
        raw=json.dumps(dict(form), ensure_ascii=False, sort_keys=True),
        provider_id=form.get("MessageSid") or form.get("SmsSid"),
    )
