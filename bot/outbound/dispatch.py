"""Message -> audience -> channel per guardian -> rendered text -> outbox rows, in one go.

Everything here runs inside the caller's transaction: the message and its outbox
rows are committed together or not at all. Workers (bot/outbound/worker.py) drain the rows.

One message walked through this code, file by file: docs/sending-a-message.md.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot import clock
from bot.outbound.render import render, same_language, target_language
from bot.store.models import (
    ChannelName,
    Delivery,
    DeliveryStatus,
    Guardian,
    GuardianChannel,
    Message,
    School,
    StudentGuardian,
    utcnow,
)
from scheduler.cadence import hold_new

log = logging.getLogger(__name__)

DEFAULT_ORDER = [c.value for c in ChannelName]


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """The channel picked for a guardian, or None with the reason each channel was passed."""

    channel: str | None
    address: str | None
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """Why no channel could be used, in one line."""
        return "; ".join(self.reasons) or "no channel"


def choose_channel(guardian: Guardian, available: Collection[str],
                   exclude: Collection[str] = (), prefer: str | None = None) -> ChannelChoice:
    """First channel in the guardian's order that is available, consented and has an address."""
    state = {c.channel: c for c in guardian.channels}
    order = list(guardian.channel_order or DEFAULT_ORDER)
    order += [c for c in DEFAULT_ORDER if c not in order and c in state]
    if prefer and prefer in order:
        order.remove(prefer)
        order.insert(0, prefer)
    reasons = []
    for channel in order:
        address = guardian.address_for(channel)
        row = state.get(channel)
        if channel in exclude:
            reasons.append(f"{channel}: already tried")
        elif channel not in available:
            reasons.append(f"{channel}: not set up at this school")
        elif not address:
            reasons.append(f"{channel}: no address")
        elif row is not None and not row.consent:
            reasons.append(f"{channel}: no consent")
        elif row is not None and row.opted_out_at is not None:
            reasons.append(f"{channel}: opted out")
        elif row is not None and row.failed_address == address:
            reasons.append(f"{channel}: address failed ({row.failed_reason or 'refused'})")
        else:
            return ChannelChoice(channel, address)
    return ChannelChoice(None, None, tuple(reasons))


def audience(session: Session, message: Message) -> list[Guardian]:
    """Every guardian who may be contacted about the message's student."""
    if message.student_id is None:
        return []
    stmt = (
        select(Guardian)
        .join(StudentGuardian, StudentGuardian.guardian_id == Guardian.id)
        .where(StudentGuardian.student_id == message.student_id,
               StudentGuardian.may_contact.is_(True))
        .options(selectinload(Guardian.channels))
        .order_by(Guardian.id)
    )
    return list(session.scalars(stmt))


def dispatch(session: Session, message: Message, available: Collection[str], *,
             guardians: Iterable[Guardian] | None = None, prefer: str | None = None,
             not_before: datetime | None = None, now: datetime | None = None
             ) -> list[Delivery]:
    """Write one outbox row per guardian (or an 'unreachable' row with the reason).

    Idempotent: a guardian who already has a row for this message gets no second one.
    The cadence policy (scheduler/cadence.py) then holds what may not go yet: nights,
    weekends, holidays, the weekly cap, a concern before good news. Urgent ones go.
    """
    session.flush()
    now = now or clock.now()
    school = session.get(School, message.school_id)
    assert school is not None, "messages.school_id is a non-null foreign key"
    if guardians is None:
        targets = audience(session, message)
    else:
        targets = _with_channels(session, [g.id for g in guardians])
    done = set(session.scalars(
        select(Delivery.guardian_id).where(Delivery.message_id == message.id)))
    rows = []
    with session.no_autoflush:  # one flush at the end, not one per guardian
        for guardian in targets:
            if guardian.id in done:
                continue
            choice = choose_channel(guardian, available, prefer=prefer)
            rows.append(new_delivery(message, guardian, school, choice, not_before or now,
                                      seq=1))
    session.add_all(rows)
    session.flush()
    hold_new(session, rows, now, not_before, message, school)
    log.info("message %s: %d outbox rows", message.id, len(rows))
    return rows


def _with_channels(session: Session, ids: list[int]) -> list[Guardian]:
    """Guardians by id with their channel state loaded, in chunks (no query per guardian)."""
    out: list[Guardian] = []
    for start in range(0, len(ids), 500):
        out += session.scalars(
            select(Guardian).where(Guardian.id.in_(ids[start:start + 500]))
            .options(selectinload(Guardian.channels))
            .execution_options(populate_existing=True))
    order = {gid: i for i, gid in enumerate(ids)}
    return sorted(out, key=lambda g: order[g.id])


def fall_back(session: Session, failed: Delivery, available: Collection[str],
              now: datetime | None = None) -> Delivery:
    """After a channel gave up on a delivery, queue the guardian's next channel (or unreachable)."""
    tried = {channel for channel in session.scalars(
        select(Delivery.channel).where(Delivery.message_id == failed.message_id,
                                       Delivery.guardian_id == failed.guardian_id,
                                       Delivery.channel.is_not(None)))
             if channel is not None}
    guardian = failed.guardian
    session.refresh(guardian, ["channels"])
    choice = choose_channel(guardian, available, exclude=tried)
    school = session.get(School, failed.message.school_id)
    assert school is not None, "messages.school_id is a non-null foreign key"
    count = session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.message_id == failed.message_id, Delivery.guardian_id == guardian.id)) or 0
    delivery = new_delivery(failed.message, guardian, school, choice, now, seq=count + 1)
    session.add(delivery)
    return delivery


def new_delivery(message: Message, guardian: Guardian, school: School,
                  choice: ChannelChoice, not_before: datetime | None, seq: int) -> Delivery:
    key = f"m{message.id}-g{guardian.id}-{choice.channel or 'none'}-{seq}"
    if choice.channel is None:
        delivery = Delivery(
            message=message, guardian=guardian, channel=None, address=None,
            status=DeliveryStatus.UNREACHABLE, last_error=f"unreachable: {choice.reason}",
            language=guardian.language, idempotency_key=key,
        )
        log.info("guardian %s unreachable for message %s", guardian.id, message.id)
    elif not same_language(target_language(guardian), message.source_language):
        # Free text needs machine translation first: bot/outbound/translate.py renders the row.
        delivery = Delivery(
            message=message, guardian=guardian, channel=choice.channel, address=choice.address,
            rendered_text="", language=target_language(guardian),
            status=DeliveryStatus.TRANSLATING, next_attempt_at=not_before or utcnow(),
            idempotency_key=key,
        )
    else:
        rendered = render(message, guardian, school, language=message.source_language,
                          channel=choice.channel)
        delivery = Delivery(
            message=message, guardian=guardian, channel=choice.channel, address=choice.address,
            subject=rendered.subject, rendered_text=rendered.text, language=rendered.language,
            status=DeliveryStatus.QUEUED, next_attempt_at=not_before or utcnow(),
            idempotency_key=key,
        )
    return delivery


def mark_address_failed(session: Session, guardian: Guardian, channel: str, address: str | None,
                        reason: str, now: datetime) -> None:
    """Remember that this address refused messages, so later messages skip it."""
    row = session.get(GuardianChannel, (guardian.id, channel))
    if row is None:
        row = GuardianChannel(guardian_id=guardian.id, channel=channel, consent=True)
        session.add(row)
    row.failed_address = address
    row.failed_at = now
    row.failed_reason = reason[:300]
