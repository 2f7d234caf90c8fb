"""Email in: store the raw mail first, then match it to its thread, route it, or apply a bounce.

A mail is the family's only on evidence an outsider cannot forge, and all of it: it names
a delivery of ours (the random reply token in the address the family wrote to,
replies+TOKEN@..., or a random Message-ID of ours in In-Reply-To / References) AND it
comes from an address on file for a guardian of that family (any guardian of the child
the delivery was about). It is then credited to that guardian, who may be the second
parent. Anything else goes to the unmatched queue for a person, never away. Staff read the
reply without the quoted thread and signature; the whole message stays in `raw_payload`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.inbound import inbox
from bot.inbound.quoted import addressed_to, strip_quoted
from bot.inbound.raw_text import ESCAPED_RAW, raw_of
from bot.outbound.status import apply_status
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    Guardian,
    InboundMessage,
    InboundStatus,
    StudentGuardian,
    utcnow,
)
from channels.base import InboundParsed
from channels.email import BounceReport, message_ids, parse_inbound, parse_report

log = logging.getLogger(__name__)

# -- matching ---------------------------------------------------------------------------
def match_delivery(session: Session, parsed: InboundParsed) -> Delivery | None:
    """The delivery this mail names: by reply token, then by References / In-Reply-To."""
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
    return by_message_ids(session, ids)


def by_message_ids(session: Session, ids: Collection[str]) -> Delivery | None:
    """The delivery one of these Message-IDs is ours for: only the random local part each
    delivery recorded counts (never a counter, a database id or an idempotency key)."""
    for mid in ids:
        local = mid.rpartition("@")[0]
        if not local:
            continue
        found = session.scalar(select(Delivery).where(Delivery.email_message_id == local))
        if found is not None:
            return found
    return None


def family_guardians(session: Session, delivery: Delivery) -> list[Guardian]:
    """The guardians a reply to `delivery` may come from: the delivery's own guardian and
    every guardian of the child it was about (of the guardian's children, when it was about
    none), the delivery's guardian first."""
    students = [delivery.message.student_id] if delivery.message.student_id is not None else \
        list(session.scalars(select(StudentGuardian.student_id).where(
            StudentGuardian.guardian_id == delivery.guardian_id)))
    others = list(session.scalars(
        select(Guardian).where(Guardian.id.in_(
            select(StudentGuardian.guardian_id).where(StudentGuardian.student_id.in_(students))),
            Guardian.id != delivery.guardian_id).order_by(Guardian.id)))
    return [delivery.guardian, *others]


def sender_guardian(session: Session, delivery: Delivery, sender: str) -> Guardian | None:
    """The guardian of the delivery's family this address is on file for, if any."""
    address = (sender or "").strip().lower()
    if not address:
        return None
    for guardian in family_guardians(session, delivery):
        if guardian.school_id == delivery.guardian.school_id \
                and (guardian.email or "").strip().lower() == address:
            return guardian
    return None


def _attribution(factory: sessionmaker[Session], parsed: InboundParsed
                 ) -> tuple[int | None, int | None, str]:
    """(delivery id, guardian id, why): both set only when the mail names a delivery of ours
    and comes from an address of that family; otherwise why it is not the family's."""
    with factory() as session:
        delivery = match_delivery(session, parsed)
        if delivery is None:
            return None, None, "names no message of ours"
        guardian = sender_guardian(session, delivery, parsed.sender_address)
        if guardian is None:
            return delivery.id, None, "sender address not on file for the family"
        return delivery.id, guardian.id, ""


# -- the whole path ---------------------------------------------------------------------
def store_raw(factory: sessionmaker[Session], raw: bytes,
              now: datetime | None = None) -> tuple[int, bool]:
    """Store one received email, and nothing else: (id, is_new). The routing loop
    (bot.inbound.routing) finishes it with `route_stored`. What staff will read is stored
    already: the reply without its quoted thread, or a delivery report's summary."""
    try:
        parsed = parse_inbound(raw)
    except Exception as exc:  # unreadable mail is still kept, for a person to look at
        log.warning("email: could not parse an inbound message (%s)", type(exc).__name__)
        parsed = InboundParsed(channel="email", sender_address="", text="",
                               raw=raw.decode("utf-8", errors="replace"),
                               provider_id="sha256:" + hashlib.sha256(raw).hexdigest())
        inbound_id, is_new = inbox.store(factory, parsed, now)
        _settle(factory, inbound_id, InboundStatus.UNMATCHED, None, "inbound_unmatched")
        return inbound_id, is_new
    report = _report(raw)
    shown = strip_quoted(parsed.text, addressed_to(raw)) if report is None else _summary(report)
    return inbox.store(factory, replace(parsed, text=shown), now)


def route_stored(factory: sessionmaker[Session], inbound_id: int, raw: bytes,
                 available: Collection[str], now: datetime | None = None) -> InboundMessage:
    """Finish one stored email: route it as a reply, or apply it as a bounce. Idempotent:
    a message no longer 'received' is left as it is. Raises if routing failed."""
    raw = _as_received(raw)
    try:
        parsed = parse_inbound(raw)
    except Exception:
        return _settle(factory, inbound_id, InboundStatus.UNMATCHED, None, "inbound_unmatched")
    report = _report(raw)
    if report is not None:
        return _handle_bounce(factory, inbound_id, report, available, now)
    delivery_id, guardian_id, why = _attribution(factory, parsed)
    if parsed.extra.get("auto_reply"):
        # Out-of-office and other automatic answers are kept (with the family's record when
        # proven) but never acknowledged: answering an autoresponder starts mail loops (RFC 3834).
        return _settle(factory, inbound_id, InboundStatus.HANDLED,
                       delivery_id if guardian_id is not None else None, "inbound_auto_reply",
                       guardian_id=guardian_id)
    if guardian_id is None:
        # Not proven to be the family's: a person looks at it; nobody is answered in the
        # family's name and no guardian is credited.
        log.info("email: inbound %s not attributed (%s): unmatched queue", inbound_id, why)
        return _settle(factory, inbound_id, InboundStatus.UNMATCHED, None, "inbound_unmatched",
                       reason=why, cites_delivery=delivery_id)
    return inbox.process(factory, inbound_id, available, now, delivery_id=delivery_id,
                         guardian_id=guardian_id,
                         answer=not parsed.extra.get("no_auto_answer"))


def handle_raw(factory: sessionmaker[Session], raw: bytes, available: Collection[str],
               now: datetime | None = None) -> InboundMessage:
    """Store one received email and finish it at once (tests, and one-off imports)."""
    inbound_id, _is_new = store_raw(factory, raw, now)
    return route_stored(factory, inbound_id, raw, available, now)


def _as_received(raw: bytes) -> bytes:
    """The mail as received, from a stored payload that the store step had to escape."""
    if not raw.startswith(ESCAPED_RAW.encode()):
        return raw
    return raw_of(raw.decode("utf-8", errors="replace")).encode("utf-8", errors="replace")


def _report(raw: bytes) -> BounceReport | None:
    try:
        return parse_report(raw)
    except Exception:  # not a delivery report we can read: treated as a reply
        return None


def _summary(report: BounceReport) -> str:
    return f"Delivery report: {report.action}" + \
        (f" ({report.status})" if report.status else "") + \
        (f"\n{report.diagnostic}" if report.diagnostic else "")


BOUNCE_MAX_AGE = timedelta(days=30)


def related_domains(a: str, b: str) -> bool:
    """Whether two mail domains are the same or one is a subdomain of the other."""
    a, b = a.lower().strip("."), b.lower().strip(".")
    return bool(a and b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def bounce_doubt(report: BounceReport, delivery: Delivery, our_domain: str,
                 now: datetime) -> str | None:
    """Why a bounce cannot be trusted for `delivery`, or None when it can.

    It must name the delivery's own address as the recipient (Final-Recipient or
    Original-Recipient), be about a delivery sent within BOUNCE_MAX_AGE, and, when it is
    a plain mailer-daemon text rather than an RFC 3464 report, come from our own mail
    domain or the recipient's (a MAILER-DAEMON of any other domain is anyone at all)."""
    address = (delivery.address or "").strip().lower()
    if address not in report.recipients:
        return "the report names another recipient than the delivery's address"
    sent = delivery.sent_at or delivery.created_at
    if sent is not None and now - sent > BOUNCE_MAX_AGE:
        return "the report is about a delivery older than 30 days"
    if not report.structured:
        reporter = report.reporter.rpartition("@")[2]
        if not any(related_domains(reporter, d)
                   for d in (our_domain, address.rpartition("@")[2])):
            return "a plain bounce from a mail domain that is neither ours nor the recipient's"
    return None


def _handle_bounce(factory: sessionmaker[Session], inbound_id: int, report: BounceReport,
                   available: Collection[str], now: datetime | None) -> InboundMessage:
    moment = now or utcnow()
    with factory() as session:
        delivery = by_message_ids(session, report.original_message_ids)
        doubt = None
        if delivery is not None:
            ours = next((m.rpartition("@")[2] for m in report.original_message_ids
                         if m.rpartition("@")[0] == delivery.email_message_id), "")
            doubt = bounce_doubt(report, delivery, ours, moment)
        target = (delivery.id, delivery.provider_id) if delivery is not None else None
        current = session.get(InboundMessage, inbound_id)
        if current is not None and current.status != InboundStatus.RECEIVED:
            return current  # seen before (fetched twice): already applied
    if target is None:
        log.info("email: delivery report for an unknown message: unmatched queue")
        return _settle(factory, inbound_id, InboundStatus.UNMATCHED, None, "inbound_unmatched")
    delivery_id, provider_id = target
    if doubt is not None:
        # Not applied: the address stays as it is; a person can look at the report.
        log.info("email: delivery report for delivery %s not trusted (%s): unmatched queue",
                 delivery_id, doubt)
        return _settle(factory, inbound_id, InboundStatus.UNMATCHED, None, "inbound_unmatched",
                       reason=doubt, cites_delivery=delivery_id)
    if report.failed and provider_id:
        outcome = apply_status(factory, "email", provider_id, "failed", available,
                               error=f"bounced: {report.status or ''} {report.diagnostic}"
                               .strip()[:400], permanent=report.permanent, now=now)
        log.info("email: bounce for delivery %s (%s, permanent=%s): %s", delivery_id,
                 report.status, report.permanent, outcome)
    return _settle(factory, inbound_id, InboundStatus.HANDLED, delivery_id, "email_bounce",
                   dsn_status=report.status or "", dsn_action=report.action)


def _settle(factory: sessionmaker[Session], inbound_id: int, status: InboundStatus,
            delivery_id: int | None, action: str, guardian_id: int | None = None,
            **detail: object) -> InboundMessage:
    """Record how an inbound mail ended up, with the family it belongs to when proven."""
    with factory() as session, session.begin():
        inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
        assert inbound is not None
        if inbound.status != InboundStatus.RECEIVED:
            return inbound
        delivery = session.get(Delivery, delivery_id) if delivery_id is not None else None
        guardian = session.get(Guardian, guardian_id) if guardian_id is not None else (
            delivery.guardian if delivery is not None else None)
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
                       stop: asyncio.Event) -> None:
    """Run the IMAP poller for `settings` (ImapSettings) until `stop` is set. Each mail is
    stored before it is marked seen; the routing loop routes it."""
    from channels.imap import ImapPoller

    async def handle(raw: bytes) -> None:
        await asyncio.to_thread(store_raw, factory, raw)

    await ImapPoller(settings, handle).run(stop)
