"""Email in: store the raw mail first, then match it to its thread, route it, or apply a bounce.

Matching, most certain first: the reply token in the address the family wrote to
(replies+TOKEN@...), then the Message-IDs in References / In-Reply-To (ours are derived
from the delivery's idempotency key), then the sender's address. Mail that matches no
family goes to the unmatched queue, never away. Staff read the reply without the quoted
thread and signature; the whole message stays in `raw_payload`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.inbound import inbox
from bot.outbound.status import apply_status
from bot.store.audit import audit
from bot.store.models import Delivery, InboundMessage, InboundStatus
from channels.base import InboundParsed
from channels.email import BounceReport, message_ids, parse_inbound, parse_report

log = logging.getLogger(__name__)

# Where a quoted earlier message starts. Mail clients write the attribution line in the
# reader's language; the common ones are here. Everything from the match on is quoted.
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,300}\bwrote\s*:|le\b.{0,300}\ba écrit\s*:|am\b.{0,300}\bschrieb\b.{0,60}:"
    r"|el\b.{0,300}\bescribió\s*:|em\b.{0,300}\bescreveu\s*:|il\b.{0,300}\bha scritto\s*:"
    r"|op\b.{0,300}\bschreef\b.{0,60}:|w dniu\b.{0,300}\bnapisał\w*\s*:"
    r"|.{0,300}\byazdı\s*:|.{0,300}كتب\s*:|.{0,300}写道\s*[:：])\s*$",
    re.IGNORECASE)
_WROTE_END = re.compile(r"(wrote|a écrit|escribió|escreveu|ha scritto|schreef|napisał\w*"
                        r"|yazdı|كتب|写道)\s*[:：]\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|forwarded message|message d'origine|"
                       r"ursprüngliche nachricht|mensaje original)\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|de|von|van|da)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|envoyé|gesendet|enviado|to|subject)\s*:",
                           re.IGNORECASE)
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(sent from my \w+|sent from (outlook|yahoo mail|mail) for \w+|get outlook for \w+"
    r"|envoyé de mon \w+|von meinem \w+ gesendet|enviado desde mi \w+)\b.*$", re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted thread, attribution lines and signature removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.rstrip() in ("--", "-- ") or line.startswith("__________"):
            break
        if _ORIGINAL.match(line) or _ATTRIBUTION.match(line):
            break
        if line.strip().lower().startswith("on ") and _WROTE_END.search(nxt) \
                and not _WROTE_END.search(line):
            break  # attribution wrapped over two lines by the sender's client
        if _OUTLOOK_FROM.match(line) and any(
                _OUTLOOK_NEXT.match(n) for n in lines[i + 1:i + 4]):
            break
        if _MOBILE_SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result or text.strip()


# -- matching ---------------------------------------------------------------------------
def match_delivery(session: Session, parsed: InboundParsed) -> Delivery | None:
    """The delivery this mail answers: by reply token, then by References / In-Reply-To."""
    for token in parsed.extra.get("tokens") or ([parsed.thread_token] if parsed.thread_token
                                                else []):
        found = session.scalar(select(Delivery).where(Delivery.reply_token == token))
        if found is None:  # some mail systems lower-case the address on the way back
            rows = list(session.scalars(select(Delivery).where(
                func.lower(Delivery.reply_token) == token.lower()).limit(2)))
            found = rows[0] if len(rows) == 1 else None
        if found is not None:
            return found
    ids = message_ids(str(parsed.extra.get("in_reply_to", ""))) + \
        list(reversed(message_ids(str(parsed.extra.get("references", "")))))
    return _by_message_ids(session, ids)


def _by_message_ids(session: Session, ids: Collection[str]) -> Delivery | None:
    """Our Message-IDs are `<{idempotency key}@{domain}>`; the provider id is the same, bare."""
    for mid in ids:
        key = mid.rpartition("@")[0]
        found = session.scalar(select(Delivery).where(
            Delivery.channel == "email",
            or_(Delivery.provider_id == mid, Delivery.idempotency_key == key)).limit(1))
        if found is not None:
            return found
    return None


# -- the whole path ---------------------------------------------------------------------
def handle_raw(factory: sessionmaker[Session], raw: bytes, available: Collection[str],
               now: datetime | None = None) -> InboundMessage:
    """Store one received email, then route it as a reply or apply it as a bounce."""
    try:
        parsed = parse_inbound(raw)
    except Exception as exc:  # unreadable mail is still kept, for a person to look at
        log.warning("email: could not parse an inbound message (%s)", type(exc).__name__)
        parsed = InboundParsed(channel="email", sender_address="", text="",
                               raw=raw.decode("utf-8", errors="replace"),
                               provider_id="sha256:" + hashlib.sha256(raw).hexdigest())
        inbound_id, _ = inbox.store(factory, parsed, now)
        return _settle(factory, inbound_id, InboundStatus.UNMATCHED, None, "inbound_unmatched")
    try:
        report = parse_report(raw)
    except Exception:
        report = None
    if report is not None:
        return _handle_bounce(factory, parsed, report, available, now)
    shown = replace(parsed, text=strip_quoted(parsed.text))
    inbound_id, _is_new = inbox.store(factory, shown, now)
    with factory() as session:
        delivery = match_delivery(session, parsed)
        delivery_id = delivery.id if delivery is not None else None
    if parsed.extra.get("auto_reply"):
        # Out-of-office and other automatic answers are kept with the family's record but not
        # acknowledged: answering an autoresponder is how mail loops start (RFC 3834).
        return _settle(factory, inbound_id, InboundStatus.HANDLED, delivery_id,
                       "inbound_auto_reply", match_sender=parsed.sender_address)
    try:
        return inbox.process(factory, inbound_id, available, now, delivery_id=delivery_id)
    except Exception as exc:  # stored already: leave it 'received' for a person, go on
        log.warning("email: inbound %s stored but not routed (%s)", inbound_id,
                    type(exc).__name__)
        with factory() as session:
            row = session.get(InboundMessage, inbound_id)
            assert row is not None
            return row


def _handle_bounce(factory: sessionmaker[Session], parsed: InboundParsed, report: BounceReport,
                   available: Collection[str], now: datetime | None) -> InboundMessage:
    summary = f"Delivery report: {report.action}" + \
        (f" ({report.status})" if report.status else "") + \
        (f"\n{report.diagnostic}" if report.diagnostic else "")
    inbound_id, _is_new = inbox.store(factory, replace(parsed, text=summary), now)
    with factory() as session:
        delivery = _by_message_ids(session, report.original_message_ids)
        target = (delivery.id, delivery.provider_id) if delivery is not None else None
        current = session.get(InboundMessage, inbound_id)
        if current is not None and current.status != InboundStatus.RECEIVED:
            return current  # seen before (fetched twice): already applied
    if target is None:
        log.info("email: delivery report for an unknown message: unmatched queue")
        return _settle(factory, inbound_id, InboundStatus.UNMATCHED, None, "inbound_unmatched")
    delivery_id, provider_id = target
    if report.failed and provider_id:
        outcome = apply_status(factory, "email", provider_id, "failed", available,
                               error=f"bounced: {report.status or ''} {report.diagnostic}"
                               .strip()[:400], permanent=report.permanent, now=now)
        log.info("email: bounce for delivery %s (%s, permanent=%s): %s", delivery_id,
                 report.status, report.permanent, outcome)
    return _settle(factory, inbound_id, InboundStatus.HANDLED, delivery_id, "email_bounce",
                   dsn_status=report.status or "", dsn_action=report.action)


def _settle(factory: sessionmaker[Session], inbound_id: int, status: InboundStatus,
            delivery_id: int | None, action: str, match_sender: str | None = None,
            **detail: object) -> InboundMessage:
    """Record how an inbound mail ended up, with the family it belongs to when known."""
    with factory() as session, session.begin():
        inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
        assert inbound is not None
        if inbound.status != InboundStatus.RECEIVED:
            return inbound
        delivery = session.get(Delivery, delivery_id) if delivery_id is not None else None
        guardian = delivery.guardian if delivery is not None else (
            inbox.find_guardian(session, "email", match_sender) if match_sender else None)
        if guardian is not None:
            inbound.guardian_id = guardian.id
            inbound.language = guardian.language
        if delivery is not None:
            inbound.in_reply_to_id = delivery.id
            inbound.student_id = delivery.message.student_id
        inbound.status = status
        audit(session, "system", action, "inbound", inbound.id, **detail)
        return inbound


async def poll_mailbox(factory: sessionmaker[Session], settings: object,
                       available: Collection[str], stop: asyncio.Event) -> None:
    """Run the IMAP poller for `settings` (ImapSettings) until `stop` is set."""
    from channels.imap import ImapPoller

    async def handle(raw: bytes) -> None:
        await asyncio.to_thread(handle_raw, factory, raw, available)

    await ImapPoller(settings, handle).run(stop)
