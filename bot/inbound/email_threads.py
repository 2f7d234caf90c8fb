"""Answers to a family's email stay in their thread (RFC 5322, RFC 3834).

An answer carries `In-Reply-To` and `References` naming the parent's own Message-ID and
the subject "Re: <their subject>"; an automatic answer (an acknowledgement) also carries
`Auto-Submitted: auto-replied`, so the family's own autoresponder stays quiet. The values
are written on the answer's email deliveries when it is queued; the channel makes every
header value safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email import policy
from email.parser import HeaderParser

from bot.inbound.raw_text import raw_of
from bot.store.models import Delivery, InboundMessage
from channels.email import header_safe, message_ids

_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|odp|rif|r|vs|ynt|رد)\s*:", re.IGNORECASE)
MAX_REFERENCES = 10
SUBJECT_LIMIT = 250


def reply_subject(theirs: str) -> str | None:
    """"Re: <their subject>" (kept as it is when it already says Re:), None when empty."""
    subject = header_safe(theirs)
    if not subject:
        return None
    return (subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}")[:SUBJECT_LIMIT]


def thread_headers(inbound: InboundMessage, automatic: bool
                   ) -> tuple[dict[str, str], str | None] | None:
    """(headers, subject) for an answer to an inbound email; None for other channels or a
    mail without a Message-ID to answer."""
    if inbound.channel != "email":
        return None
    head = raw_of(inbound.raw_payload or "").split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    mail = HeaderParser(policy=policy.default).parsestr(head + "\n\n")
    theirs = message_ids(str(mail.get("Message-ID", "")))
    if not theirs:
        return None
    refs = [m for m in message_ids(str(mail.get("References", "")))
            or message_ids(str(mail.get("In-Reply-To", ""))) if m != theirs[0]]
    chain = [*refs[-(MAX_REFERENCES - 1):], theirs[0]]
    headers = {"In-Reply-To": f"<{theirs[0]}>",
               "References": " ".join(f"<{m}>" for m in chain)}
    if automatic:
        headers["Auto-Submitted"] = "auto-replied"
    return headers, reply_subject(str(mail.get("Subject", "")))


def thread_answer(inbound: InboundMessage, deliveries: Iterable[Delivery],
                  automatic: bool) -> None:
    """Write the thread headers and subject on the email deliveries of an answer."""
    found = thread_headers(inbound, automatic)
    if found is None:
        return
    headers, subject = found
    for delivery in deliveries:
        if delivery.channel == "email":
            delivery.reply_headers = headers
            delivery.subject = subject or delivery.subject
