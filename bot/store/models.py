"""SQLAlchemy 2 typed models: the database is the source of truth."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot import clock


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC, from the process clock (`bot.clock`)."""
    return clock.now()


def new_token() -> str:
    """An opaque, unguessable token for links and reply addresses (96 bits)."""
    return secrets.token_urlsafe(12)


def new_message_local() -> str:
    """The random local part of an email Message-ID (144 bits)."""
    return secrets.token_urlsafe(18)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON,
    }


Base.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def table(model: type[Base]) -> Table:
    """A mapped class's Core `Table`, typed as one (`__table__` is typed as a FromClause)."""
    found = model.__table__
    assert isinstance(found, Table), f"{model.__name__} is not mapped to a plain table"
    return found


class ChannelName(enum.StrEnum):
    """The channels a family can be reached on."""

    SMS = "sms"
    EMAIL = "email"
    TELEGRAM = "telegram"


class MessageKind(enum.StrEnum):
    """What a message is for; drives templates and the positive-contact balance."""

    GOOD_NEWS = "good_news"
    INVITATION = "invitation"
    REMINDER = "reminder"
    CHECK_IN = "check_in"
    CONCERN = "concern"
    NOTICE = "notice"
    ANNOUNCEMENT = "announcement"  # to a class, a year group, a saved list or the school
    REPLY = "reply"
    SYSTEM = "system"


class Urgency(enum.StrEnum):
    """Urgent and safety messages bypass caps and quiet hours."""

    NORMAL = "normal"
    URGENT = "urgent"


class DeliveryStatus(enum.StrEnum):
    """Life of one outbox row. Order of the 'sent' family matters for callbacks."""

    TRANSLATING = "translating"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    NEEDS_REVIEW = "needs_review"
    HELD = "held"
    CANCELLED = "cancelled"


class InboundStatus(enum.StrEnum):
    """Life of one inbound message."""

    RECEIVED = "received"
    ROUTED = "routed"
    UNMATCHED = "unmatched"
    HANDLED = "handled"


class School(Base):
    """One school: its name, time zone, family languages and cadence policy."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    staff_language: Mapped[str] = mapped_column(String(16), default="en")
    languages: Mapped[list[str]] = mapped_column(default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(Base):
    """A member of staff; key workers are staff, and may name a cover for absences."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), default="teacher")
    role_description: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    # an absence with dates: away from this instant until (not including) that one; None
    # on either side is open-ended (`away` with no dates: away until it is switched off)
    away_from: Mapped[datetime | None] = mapped_column()
    away_until: Mapped[datetime | None] = mapped_column()
    cover_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failed_login_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cover: Mapped[Staff | None] = relationship(remote_side=[id])

    def away_at(self, now: datetime | None = None) -> bool:
        """Away at `now`: marked away, and inside the absence's dates when it has them."""
        now = now or utcnow()
        return self.away and (self.away_from is None or self.away_from <= now) \
            and (self.away_until is None or now < self.away_until)


class Student(Base):
    """A child; `ref` is the school's own identifier, used on the command line."""

    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    ref: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    class_name: Mapped[str | None] = mapped_column(String(64), index=True)
    key_worker_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # when good news about the child last went to a guardian; kept by
    # scheduler/contact_summary.py in the transaction that records the send
    last_positive_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the day the child left the school (bot/records/leavers.py); the family's personal data
    # is erased once the policy's leaver_retention_days have passed (bot/records/erasure.py)
    left_on: Mapped[date | None] = mapped_column(Date)
    erased_at: Mapped[datetime | None] = mapped_column()

    key_worker: Mapped[Staff | None] = relationship()
    links: Mapped[list[StudentGuardian]] = relationship(back_populates="student")


class Guardian(Base):
    """A parent or carer: language, time zone, addresses and channel preferences."""

    __tablename__ = "guardians"
    __table_args__ = (UniqueConstraint("school_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    ref: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64), index=True)
    channel_order: Mapped[list[str]] = mapped_column(default=list)
    accessibility_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()  # bot/records/erasure.py

    channels: Mapped[list[GuardianChannel]] = relationship(
        back_populates="guardian", cascade="all, delete-orphan"
    )
    links: Mapped[list[StudentGuardian]] = relationship(back_populates="guardian")

    def address_for(self, channel: str) -> str | None:
        """The guardian's address on a channel, or None when there is none."""
        return {
            ChannelName.SMS: self.phone,
            ChannelName.EMAIL: self.email,
            ChannelName.TELEGRAM: self.telegram_chat_id,
        }.get(ChannelName(channel))


class GuardianChannel(Base):
    """Consent, opt-out and address failure for one guardian on one channel."""

    __tablename__ = "guardian_channels"

    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    consent: Mapped[bool] = mapped_column(Boolean, default=True)
    opted_out_at: Mapped[datetime | None] = mapped_column()
    failed_address: Mapped[str | None] = mapped_column(String(320))
    failed_at: Mapped[datetime | None] = mapped_column()
    failed_reason: Mapped[str | None] = mapped_column(String(300))

    guardian: Mapped[Guardian] = relationship(back_populates="channels")


class StudentGuardian(Base):
    """Links a child to a guardian, and says whether the school may contact them about it."""

    __tablename__ = "student_guardians"

    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True)
    guardian_id: Mapped[int] = mapped_column(
        ForeignKey("guardians.id"), primary_key=True, index=True
    )
    relationship_: Mapped[str | None] = mapped_column("relationship", String(64))
    may_contact: Mapped[bool] = mapped_column(Boolean, default=True)

    student: Mapped[Student] = relationship(back_populates="links")
    guardian: Mapped[Guardian] = relationship(back_populates="links")


class Message(Base):
    """What staff (or the system) wrote once; deliveries carry it to each guardian."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    source_text: Mapped[str] = mapped_column(Text)
    source_language: Mapped[str] = mapped_column(String(16), default="en")
    urgency: Mapped[str] = mapped_column(String(16), default=Urgency.NORMAL)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[Staff | None] = relationship()
    student: Mapped[Student | None] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="message")


class Delivery(Base):
    """One message to one guardian on one channel: an outbox row the workers drain."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_provider", "channel", "provider_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    rendered_text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.QUEUED)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    held_reason: Mapped[str | None] = mapped_column(String(64))
    segments: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    reply_token: Mapped[str | None] = mapped_column(String(40), unique=True,
                                                    default=new_token)
    # Email: the random local part of the Message-ID this delivery goes out with (a resend
    # reuses it), so a reply or bounce citing it is matched; never a counter or an id of ours.
    email_message_id: Mapped[str | None] = mapped_column(String(40), unique=True,
                                                         default=new_message_local)
    # Email: thread headers for an answer to a family (In-Reply-To, References and, for an
    # automatic answer, Auto-Submitted), written when the answer is queued.
    reply_headers: Mapped[dict[str, Any] | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None] = mapped_column()
    # When this row's own provider call last started (written just before the call). None
    # on a 'sending' row: claimed, never handed over, safe to release. Set on a 'queued' row:
    # the last hand-over's outcome is unknown, so the provider is asked before sending again.
    handed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    message: Mapped[Message] = relationship(back_populates="deliveries")
    guardian: Mapped[Guardian] = relationship()


class InboundMessage(Base):
    """A message from a family, stored as received before anything else happens."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        # what reply routing polls for: small, as rows leave 'received' within seconds
        Index("ix_inbound_messages_waiting", "channel", "id",
              sqlite_where=text("status = 'received'"),
              postgresql_where=text("status = 'received'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(200))
    sender_address: Mapped[str] = mapped_column(String(320), index=True)
    raw_payload: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default=InboundStatus.RECEIVED)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardians.id"), index=True)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    language: Mapped[str | None] = mapped_column(String(16))
    translation: Mapped[str | None] = mapped_column(Text)
    routed_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    notified_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    handled_at: Mapped[datetime | None] = mapped_column()
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    #: routings that raised; at MAX_ATTEMPTS (bot.inbound.routing) it waits for a person
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: why a person must look at it (no personal data: an error's type, a reason)
    problem: Mapped[str | None] = mapped_column(String(200))

    guardian: Mapped[Guardian | None] = relationship()
    student: Mapped[Student | None] = relationship()
    routed_to: Mapped[Staff | None] = relationship(foreign_keys=[routed_to_id])


class AuditEntry(Base):
    """Who did what to which record. Holds identifiers, never personal data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TelegramLink(Base):
    """A one-time, expiring code that binds a Telegram chat to a guardian."""

    __tablename__ = "telegram_links"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    chat_id: Mapped[str | None] = mapped_column(String(64))


class TranslationCache(Base):
    """A machine translation of masked text (no personal data), reused across messages."""

    __tablename__ = "translation_cache"
    __table_args__ = (UniqueConstraint("backend", "source_language", "target_language",
                                       "source_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    backend: Mapped[str] = mapped_column(String(32))
    source_language: Mapped[str] = mapped_column(String(16))
    target_language: Mapped[str] = mapped_column(String(16))
    source_hash: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    translated_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingResponse(Base):
    """A family's answer to a meeting invitation: a time option, no, another time, or unsure."""

    __tablename__ = "meeting_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    kind: Mapped[str] = mapped_column(String(16))  # slot | no | other_time | unsure
    slot: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActionPoint(Base):
    """Something agreed at a meeting: who does it (school, family or child) and by when."""

    __tablename__ = "action_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    meeting_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    owner: Mapped[str] = mapped_column(String(16))  # school | family | child
    description: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    done_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PackLink(Base):
    """A private, unguessable, expiring link to one message (and prep pack) for one family."""

    __tablename__ = "pack_links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    #: the whole message as this guardian reads it, behind the link in a short SMS
    language: Mapped[str | None] = mapped_column(String(35))
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)


class CheckIn(Base):
    """A planned 'how are things going?' after a meeting or at an action point's due date."""

    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    meeting_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    action_point_id: Mapped[int | None] = mapped_column(ForeignKey("action_points.id"))
    due_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the family's answer: the first reply to the check-in, kept with it
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    answered_at: Mapped[datetime | None] = mapped_column()


class JobMark(Base):
    """A ledger of work done once (a reminder, a nudge, a ladder step): keys make jobs
    idempotent, so a scheduler killed and restarted never repeats a message."""

    __tablename__ = "job_marks"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContactCount(Base):
    """Good news and concerns sent this term, per child and guardian: the balance report
    reads this instead of the whole message history. Kept by scheduler/contact_summary.py
    in the transaction that records each send; `schoolgate cadence --rebuild` recomputes it.

    `positive`/`concern` count messages this guardian received about this child (families);
    `student_positive`/`student_concern` count each message once, on the row of the first
    guardian it reached (classes sum them, so a note to two parents counts once).
    """

    __tablename__ = "contact_counts"
    __table_args__ = (Index("ix_contact_counts_school_term", "school_id", "term_start"),)

    term_start: Mapped[date] = mapped_column(Date, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    positive: Mapped[int] = mapped_column(Integer, default=0)
    concern: Mapped[int] = mapped_column(Integer, default=0)
    student_positive: Mapped[int] = mapped_column(Integer, default=0)
    student_concern: Mapped[int] = mapped_column(Integer, default=0)


class Heartbeat(Base):
    """A long-running process saying it is alive (the background process, the scheduler
    while it holds the lease); read by /readyz and /metrics in the web process."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column()
    holder: Mapped[str] = mapped_column(String(120))
    #: counters worth watching (no personal data), e.g. the scheduler's job runs
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SchedulerLease(Base):
    """Who runs the scheduler now: exactly one holder across processes and machines."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Holiday(Base):
    """A school holiday (inclusive dates): no non-urgent messages go out on these days."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200), default="")


class StaffTask(Base):
    """Something a person must do: phone or visit a family the ladder could not reach,
    find good news for a child overdue for positive contact, or phone back a family who
    asked for a call."""

    __tablename__ = "staff_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardians.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
    # Set while the task is open, NULL once done: the unique constraint keeps one open
    # task per thing ("positive_contact:s12"), on SQLite and PostgreSQL alike.
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    # a call-back: the family's CALL it answers, and when it went to cover
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"),
                                                   index=True)
    escalated_at: Mapped[datetime | None] = mapped_column()


class WebSession(Base):
    """A signed-in staff browser session (the cookie holds only the token's value)."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class SavedList(Base):
    """A named group of students a school writes to often (the choir, the trip to York):
    an audience for a message to groups (bot/outbound/audience.py)."""

    __tablename__ = "saved_lists"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedListMember(Base):
    """One student on a saved list."""

    __tablename__ = "saved_list_members"

    list_id: Mapped[int] = mapped_column(ForeignKey("saved_lists.id"), primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True,
                                            index=True)


class TranslationMemory(Base):
    """One school's memory of a translated segment (a sentence or a phrase), masked: no
    names, numbers or addresses, placeholders numbered within the segment. A machine
    translation is kept as a draft; a person with the translator role may review it,
    and a reviewed translation is used before any machine call (bot/language/memory.py).
    Outbound text only: families' replies stay in `translation_cache`."""

    __tablename__ = "translation_memory"
    __table_args__ = (
        UniqueConstraint("school_id", "source_language", "target_language", "source_hash"),
        Index("ix_translation_memory_normal", "school_id", "source_language",
              "target_language", "normal_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    source_language: Mapped[str] = mapped_column(String(16))
    target_language: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the masked segment exactly, and of its normalised form (case, spacing
    #: and punctuation ignored), so "Well done!" finds a review of "well done."
    source_hash: Mapped[str] = mapped_column(String(64))
    normal_hash: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    #: what the segment is: "message", or a recurring phrase ("place", "job title",
    #: "meeting purpose: progress")
    context: Mapped[str] = mapped_column(String(64), default="message")
    machine_text: Mapped[str | None] = mapped_column(Text)
    machine_backend: Mapped[str | None] = mapped_column(String(32))
    machine_at: Mapped[datetime | None] = mapped_column()
    reviewed_text: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    #: the latest time a message held for review needs this segment by (None: none waits)
    wanted_until: Mapped[datetime | None] = mapped_column()
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasswordLink(Base):
    """A one-time link an admin makes so a member of staff can set a new password.

    The link holds a random token; only its SHA-256 is stored. It works once, until
    `expires_at`, and only for an active account."""

    __tablename__ = "password_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class SavedMessage(Base):
    """A message the school keeps to start from (a trip reminder, a closure notice):
    any member of staff can open it in compose and change it before it goes."""

    __tablename__ = "saved_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(32))  # a MessageKind, or any
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def new_calendar_uid() -> str:
    """A calendar event's UID: 144 random bits, nothing derived from our ids."""
    return f"{secrets.token_urlsafe(18)}@schoolgate"


class CalendarEvent(Base):
    """The one calendar event a family has for one meeting invitation.

    Every calendar file about this meeting sent to this guardian carries this random UID,
    so their calendar app keeps one event: the time they added from the invitation is
    replaced by the time they chose (METHOD:REQUEST, `sequence` one higher), and removed
    if they can no longer come (METHOD:CANCEL)."""

    __tablename__ = "calendar_events"
    __table_args__ = (UniqueConstraint("message_id", "guardian_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id"), index=True)
    uid: Mapped[str] = mapped_column(String(80), unique=True, default=new_calendar_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    #: tentative (only the invitation's options), confirmed (a time chosen), cancelled
    status: Mapped[str] = mapped_column(String(16), default="tentative")
    starts_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
