"""Erase a family's personal data, keeping the anonymous counts.

What goes: the children's and guardians' names, the school's ids for them, numbers,
email addresses, Telegram chats, notes, every message body written to or about them
(the text staff wrote, each delivery's rendered text, subject and address, the family's
replies, their translations and raw payloads, cached translations of them), action
point texts and task reasons about them, their private pages (prep packs, the whole
message behind a short SMS), Telegram links and channel records. Messages that were not
only theirs (a note to the whole class) keep the school's words; their copy of it goes.

What stays: the rows themselves, emptied, so every count by week, kind and channel (and
the cadence report's terms) is what it was; ids, dates, statuses and languages carry no
one's identity once the names, numbers and words are gone. Unsent deliveries are
cancelled. The audit entry names the action and the counts only.

On SQLite, `secure_delete` makes the old values be overwritten in the file, not left in
free pages; PostgreSQL keeps dead row versions until VACUUM (autovacuum) reclaims them,
and backups keep what they held until they are rotated out: the README says so.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.records.leavers import Family
from bot.store.audit import audit
from bot.store.db import rowcount
from bot.store.models import (
    ActionPoint,
    Delivery,
    DeliveryStatus,
    Guardian,
    GuardianChannel,
    InboundMessage,
    Message,
    PackLink,
    SavedListMember,
    StaffTask,
    Student,
    StudentGuardian,
    TelegramLink,
    TranslationCache,
)

#: deliveries that have not gone yet: cancelled, as there is no one to send them to
UNSENT = (DeliveryStatus.TRANSLATING, DeliveryStatus.QUEUED, DeliveryStatus.SENDING,
          DeliveryStatus.HELD, DeliveryStatus.NEEDS_REVIEW)
#: what counts as contact made (a delivery that left)
SENT = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)


def _erased_ref() -> str:
    return "erased-" + secrets.token_hex(6)


def erase_family(session: Session, school_id: int, family: Family, *, actor: str,
                 reason: str, now: datetime) -> dict[str, int]:
    """Erase one family's personal data in the caller's transaction; returns the counts
    of what was emptied (also written to the audit log, with no personal value)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(select(1))  # the transaction's connection, then its setting
        session.connection().exec_driver_sql("PRAGMA secure_delete = ON")
    s_ids, g_ids = sorted(family.student_ids), sorted(family.guardian_ids)
    guardians = list(session.scalars(select(Guardian).where(
        Guardian.id.in_(g_ids), Guardian.school_id == school_id)))
    students = list(session.scalars(select(Student).where(
        Student.id.in_(s_ids), Student.school_id == school_id)))
    addresses = {a for g in guardians for a in (g.phone, g.email, g.telegram_chat_id) if a}
    done: Counter[str] = Counter(students=len(students), guardians=len(guardians))

    replies = list(session.scalars(select(InboundMessage).where(or_(
        InboundMessage.guardian_id.in_(g_ids), InboundMessage.student_id.in_(s_ids),
        InboundMessage.sender_address.in_(sorted(addresses))))))
    done["translations_forgotten"] = _forget_reply_translations(session, school_id, replies)
    for reply in replies:
        reply.body, reply.raw_payload, reply.translation = "", "", None
        reply.sender_address, reply.problem = "erased", None
    done["replies"] = len(replies)

    # messages that were this family's alone: about one of the children, or sent to
    # nobody else (a staff answer, a Telegram welcome)
    others = select(Delivery.message_id).where(Delivery.guardian_id.not_in(g_ids))
    theirs = set(session.scalars(select(Message.id).where(
        Message.school_id == school_id, or_(
            Message.student_id.in_(s_ids),
            Message.id.in_(select(Delivery.message_id).where(Delivery.guardian_id.in_(g_ids))
                           .where(Delivery.message_id.not_in(others)))))))
    if theirs:
        done["messages"] = rowcount(session.execute(update(Message).where(Message.id.in_(theirs))
                                           .values(source_text="", details={})))
    done["deliveries"] = rowcount(session.execute(
        update(Delivery).where(Delivery.guardian_id.in_(g_ids))
        .values(address=None, subject=None, rendered_text="", last_error=None,
                reply_headers=None)))
    done["deliveries_cancelled"] = rowcount(session.execute(
        update(Delivery).where(Delivery.guardian_id.in_(g_ids), Delivery.status.in_(UNSENT))
        .values(status=DeliveryStatus.CANCELLED, claimed_by=None,
                held_reason=None)))
    done["private_pages"] = rowcount(session.execute(delete(PackLink).where(or_(
        PackLink.guardian_id.in_(g_ids), PackLink.message_id.in_(theirs)))))
    session.execute(delete(TelegramLink).where(TelegramLink.guardian_id.in_(g_ids)))
    session.execute(delete(GuardianChannel).where(GuardianChannel.guardian_id.in_(g_ids)))
    session.execute(delete(SavedListMember).where(SavedListMember.student_id.in_(s_ids)))
    done["action_points"] = rowcount(session.execute(
        update(ActionPoint).where(ActionPoint.student_id.in_(s_ids))
        .values(description="")))
    done["tasks"] = rowcount(session.execute(
        update(StaffTask).where(or_(StaffTask.student_id.in_(s_ids),
                                    StaffTask.guardian_id.in_(g_ids)))
        .values(reason="", open_key=None,
                done_at=func.coalesce(StaffTask.done_at, now))))
    session.execute(update(StudentGuardian).where(StudentGuardian.guardian_id.in_(g_ids))
                    .values(relationship_=None, may_contact=False))
    for student in students:
        student.first_name = student.last_name = ""
        student.ref, student.class_name, student.key_worker_id = _erased_ref(), None, None
        student.erased_at = now
    for guardian in guardians:
        guardian.first_name = guardian.last_name = ""
        guardian.ref, guardian.phone, guardian.email = _erased_ref(), None, None
        guardian.telegram_chat_id = guardian.accessibility_notes = guardian.timezone = None
        guardian.channel_order = []
        guardian.erased_at = now
    session.flush()
    _forget_names(school_id)
    counts = {k: int(v) for k, v in sorted(done.items())}
    audit(session, actor, "family_erased", "school", school_id, reason=reason, **counts)
    return counts


def _forget_reply_translations(session: Session, school_id: int,
                               replies: list[InboundMessage]) -> int:
    """Cached translations of these replies: keyed by the masked text, as the routing
    loop masked it (the roster is still whole here)."""
    from bot.inbound.reply_translate import reply_names
    from bot.language.privacy import mask, school_names
    from bot.outbound.translate import text_hash

    bodies = [r for r in replies if r.body]
    if not bodies:
        return 0
    names = reply_names(session, bodies)
    roster = school_names(session, school_id)
    hashes = set()
    for reply in bodies:
        hashes |= {text_hash(reply.body),
                   text_hash(mask(reply.body, roster + names[reply.id]).text)}
    return int(rowcount(session.execute(delete(TranslationCache).where(
        TranslationCache.source_hash.in_(sorted(hashes))))))


def _forget_names(school_id: int) -> None:
    """The compiled roster of names (for masking) must not keep the erased ones."""
    from bot.language.privacy import forget_school_names

    forget_school_names(school_id)


def contact_counts(session: Session, school_id: int) -> dict[str, int]:
    """Anonymous counts that survive erasure: deliveries that left, by ISO week, kind and
    channel, and replies received, by week and channel ("2026-W49 good_news sms": 3)."""
    counts: Counter[str] = Counter()
    for at, kind, channel in session.execute(
            select(Delivery.sent_at, Message.kind, Delivery.channel)
            .join(Message, Message.id == Delivery.message_id)
            .where(Message.school_id == school_id, Delivery.status.in_(SENT))):
        if at is not None:
            year, week, _ = at.isocalendar()
            counts[f"{year}-W{week:02d} {kind} {channel}"] += 1
    school_guardians = select(Guardian.id).where(Guardian.school_id == school_id)
    for at, channel in session.execute(
            select(InboundMessage.received_at, InboundMessage.channel)
            .where(InboundMessage.guardian_id.in_(school_guardians))):
        year, week, _ = at.isocalendar()
        counts[f"{year}-W{week:02d} reply-in {channel}"] += 1
    return dict(sorted(counts.items()))


def describe(session: Session, family: Family) -> dict[str, Any]:
    """What an erasure would touch, for the confirmation (ids and counts, no names)."""
    g_ids = sorted(family.guardian_ids)
    return {"students": len(family.student_ids), "guardians": len(g_ids),
            "deliveries": session.scalar(select(func.count()).select_from(Delivery)
                                         .where(Delivery.guardian_id.in_(g_ids))) or 0,
            "replies": session.scalar(select(func.count()).select_from(InboundMessage)
                                      .where(InboundMessage.guardian_id.in_(g_ids))) or 0}
