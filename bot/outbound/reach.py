"""Who cannot be reached: never dropped quietly, always listed with the reason (no usable
channel, or silent after the whole persistence ladder)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import String, and_, cast, exists, false, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.outbound.dispatch import choose_channel
from bot.store.models import ChannelName, Guardian, GuardianChannel, InboundMessage, StaffTask


def _usable(channel: str, available: Collection[str]) -> Any:
    """SQL: `channel` is one choose_channel would take for this guardian (same rules: in
    their order, set up here, an address, consent, not opted out, address not failed)."""
    if channel not in available:
        return false()
    address = {ChannelName.SMS: Guardian.phone, ChannelName.EMAIL: Guardian.email,
               ChannelName.TELEGRAM: Guardian.telegram_chat_id}[ChannelName(channel)]
    state = GuardianChannel.guardian_id == Guardian.id
    blocked = exists().where(state, GuardianChannel.channel == channel, or_(
        GuardianChannel.consent == false(), GuardianChannel.opted_out_at.is_not(None),
        GuardianChannel.failed_address == address))
    order = cast(Guardian.channel_order, String)
    in_order = or_(Guardian.channel_order.is_(None), order == "[]",
                   order.like(f'%"{channel}"%'),
                   exists().where(state, GuardianChannel.channel == channel))
    return and_(address.is_not(None), address != "", ~blocked, in_order)


def unreachable_guardians(session: Session, available: Collection[str], *,
                          school_id: int | None = None) -> list[tuple[Guardian, str]]:
    """Guardians for whom no channel can be chosen (opted out, no address, failed), and why.

    One SQL query finds the guardians no channel can reach (set-based: 100,000 families
    are never loaded into Python); choose_channel then words the reason for each of them.
    """
    reachable = or_(*(_usable(c.value, available) for c in ChannelName))
    stmt = (select(Guardian).where(~reachable).options(selectinload(Guardian.channels))
            .order_by(Guardian.id))
    if school_id is not None:
        stmt = stmt.where(Guardian.school_id == school_id)
    out = []
    for guardian in session.scalars(stmt):
        choice = choose_channel(guardian, available)
        if choice.channel is None:
            out.append((guardian, choice.reason))
    return _with_silent(session, out, school_id)


def _with_silent(session: Session, out: list[tuple[Guardian, str]],
                 school_id: int | None) -> list[tuple[Guardian, str]]:
    """Add families silent after the whole persistence ladder (bot/follow_up/ladder.py): an
    open phone-or-visit task and no message from them since it was opened."""
    replied = exists().where(InboundMessage.guardian_id == StaffTask.guardian_id,
                             InboundMessage.received_at >= StaffTask.created_at)
    stmt = (select(Guardian, StaffTask.reason)
            .join(StaffTask, StaffTask.guardian_id == Guardian.id)
            .where(StaffTask.kind == "phone_or_visit", StaffTask.done_at.is_(None), ~replied)
            .order_by(Guardian.id, StaffTask.id))
    if school_id is not None:
        stmt = stmt.where(Guardian.school_id == school_id)
    reasons = {g.id: i for i, (g, _why) in enumerate(out)}
    for guardian, why in session.execute(stmt).all():
        text = f"silent after the whole ladder: {why}"
        if guardian.id in reasons:
            g, old = out[reasons[guardian.id]]
            out[reasons[guardian.id]] = (g, f"{old}; {text}")
        else:
            reasons[guardian.id] = len(out)
            out.append((guardian, text))
    return out
