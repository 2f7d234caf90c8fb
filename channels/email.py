"""Email: SMTP out, IMAP in. Parsing inbound mail uses only the standard library."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr

from channels.base import InboundParsed


def parse_inbound(raw: bytes) -> InboundParsed:
    """An RFC 5322 message as an InboundParsed; the raw bytes are kept as received."""
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    body_part = mail.get_body(preferencelist=("plain", "html"))
    text = body_part.get_content() if body_part is not None else ""
    sender = parseaddr(str(mail.get("From", "")))[1].lower()
    recipient = parseaddr(str(mail.get("To", "")))[1]
    token = None
    local = recipient.split("@", 1)[0]
    if "+" in local:
        token = local.split("+", 1)[1]
    return InboundParsed(
        channel="email",
        sender_address=sender,
        text=text,
        raw=raw.decode("utf-8", errors="replace"),
        provider_id=str(mail.get("Message-ID", "")).strip() or None,
        thread_token=token,
        extra={"references": str(mail.get("References", "")),
               "in_reply_to": str(mail.get("In-Reply-To", ""))},
    )
