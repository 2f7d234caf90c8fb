"""Meeting invitations: why, who, when (one to three options), where, how long.

The rules for what a person types are here too (`parse_who`, `parse_option`,
`check_options`), so the CLI and the staff pages accept and refuse the same things.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.journeys.meetings.prep_packs import DEFAULT_TYPE, check_type
from bot.outbound.dispatch import audience, dispatch
from bot.store.audit import audit
from bot.store.models import Delivery, Message, MessageKind, PackLink, School, Staff, Student

PACK_LINK_DAYS = 14
MAX_OPTIONS = 3
SHORTEST, LONGEST = 5, 480  # minutes


def parse_who(text: str) -> list[tuple[str, str]]:
    """Who will be there, one person a line: "Name | what they do" (or "Name, what they
    do"), as (name, role). Blank lines are skipped; none at all is an empty list (the
    invitation then names its author)."""
    people = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, role = line.partition("|") if "|" in line else line.partition(",")
        if not sep or not role.strip() or not name.strip():
            raise InvalidInputError(f'"{line.strip()}": write one person a line, as '
                                    '"Name | what they do, in plain words"')
        people.append((name.strip(), role.strip()))
    return people


def parse_option(value: str, zone: str) -> datetime | None:
    """One time option as typed, e.g. 2026-12-01T15:30: school time (`zone`) unless it
    names its own offset; None when blank."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(f"{value.strip()!r} is not a date and time like "
                                "2026-12-01T15:30") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def check_options(options: Sequence[datetime], now: datetime) -> list[datetime]:
    """The time options offered to families: one to three, each aware and still to come."""
    if not 1 <= len(options) <= MAX_OPTIONS:
        raise InvalidInputError(f"give one to {MAX_OPTIONS} time options")
    if any(o.tzinfo is None for o in options):
        raise InvalidInputError("time options need a time zone")
    for option in options:
        if option <= now:
            raise InvalidInputError(f"that time has passed ({option:%Y-%m-%d %H:%M}): "
                                    "choose a later time")
    return list(options)


def parse_options(values: Iterable[str], zone: str, now: datetime) -> list[datetime]:
    """Time options as typed (blanks skipped), checked by `check_options`."""
    return check_options([m for m in (parse_option(v, zone) for v in values)
                          if m is not None], now)


#: how an invitation names an author who gave no title and is not the child's key worker
ROLE_WORDS = {"admin": "from the school's leadership team", "office": "from the school office",
              "teacher": "a teacher at the school"}


def author_role(session: Session, author: Staff, student: Student | None) -> str:
    """Who the author is, as the family reads it when nobody else is listed: their own
    title (role_description); else the child's key worker, or their cover while they are
    away or have left; else their role in plain words (an admin is not "your child's key
    worker")."""
    if author.role_description and author.role_description.strip():
        return author.role_description.strip()
    if student is not None and student.key_worker_id is not None:
        if student.key_worker_id == author.id:
            return "your child's key worker"
        worker = session.get(Staff, student.key_worker_id)
        if worker is not None and worker.cover_id == author.id \
                and (worker.away_at() or not worker.active):
            return "covering for your child's key worker"
    return ROLE_WORDS.get(author.role, "a member of staff at the school")


def new_pack_token() -> str:
    """An unguessable prep-pack link token: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def queue_invitation(session: Session, school: School, student: Student, author: Staff, *,
                     why: str, options: Sequence[datetime], where: str, minutes: int,
                     who: Sequence[tuple[str, str]], available: Collection[str],
                     meeting_type: str = DEFAULT_TYPE, public_url: str | None = None,
                     pack_link_days: int = PACK_LINK_DAYS) -> tuple[Message, list[Delivery]]:
    """Queue an invitation, with its prep pack, to every guardian who may hear about this child.

    `who` empty: the author is the one families will meet. This does not read the clock:
    front ends refuse options already past with `check_options` (or `parse_options`).

    Each guardian gets a private pack link (expiring `pack_link_days` after the last time
    option), made in the same transaction as the deliveries; SMS and Telegram carry it
    when `public_url` is given, email carries the whole pack.
    """
    meeting_type = check_type(meeting_type)
    if not why.strip():
        raise InvalidInputError("say why the meeting is happening")
    if not 1 <= len(options) <= MAX_OPTIONS:
        raise InvalidInputError(f"give one to {MAX_OPTIONS} time options")
    if any(o.tzinfo is None for o in options):
        raise InvalidInputError("time options need a time zone")
    if not where.strip():
        raise InvalidInputError("say where the meeting is")
    if not SHORTEST <= minutes <= LONGEST:
        raise InvalidInputError(f"say how long, in minutes ({SHORTEST} to {LONGEST})")
    who = list(who) or [(author.name, author_role(session, author, student))]
    details = {
        "options": [o.isoformat() for o in options],
        "where": where.strip(),
        "minutes": minutes,
        "who": [{"name": n, "role": r} for n, r in who],
        "type": meeting_type,
    }
    if public_url:
        details["pack_base_url"] = public_url.rstrip("/")
    message = Message(school_id=school.id, kind=MessageKind.INVITATION, author_id=author.id,
                      student_id=student.id, source_text=why.strip(), details=details,
                      source_language=author.language or school.staff_language)
    session.add(message)
    session.flush()
    expires = max(options) + timedelta(days=pack_link_days)
    session.add_all(PackLink(token=new_pack_token(), message_id=message.id,
                             guardian_id=guardian.id, expires_at=expires)
                    for guardian in audience(session, message))
    session.flush()
    deliveries = dispatch(session, message, available)
    audit(session, f"staff:{author.id}", "invitation_queued", "message", message.id,
          student_id=student.id, deliveries=len(deliveries), meeting_type=meeting_type)
    return message, deliveries
