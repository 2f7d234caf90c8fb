"""The good-news round: one note per child for a whole class, written on one page and
queued in one transaction, spread over the cadence window.

Every note goes through `queue_good_news` (the same engine as one note from compose or
the command line: audience, channel, language, cadence hold, audit); this module only
checks a whole round first, so a round is queued whole or not at all, and gives each
note its moment. The notes leave evenly over the school's `spread_minutes` from the
next moment the cadence window is open (now, in school hours): thirty families are not
texted in the same second, and thirty replies do not land on one person at once. Quiet
hours in each guardian's own zone, the weekly cap and the rest still apply per
delivery, as for any good news.

A round carries a random token from the page that wrote it; queuing it is recorded
under that token in the same transaction, so a second click (or a resent form) queues
nothing more.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.journeys.good_news import MAX_LENGTH, queue_good_news
from bot.language.plain import JargonMode, PlainReport, check_text, enforce
from bot.store.audit import audit
from bot.store.models import Delivery, JobMark, Message, School, Staff, Student
from scheduler import windows
from scheduler.cadence import school_rules

ROUND_KEY = "good_news_round:"


class RoundAlreadyQueuedError(InvalidInputError):
    """This round (its token) was queued before: nothing is queued twice."""


@dataclass(frozen=True, slots=True)
class RoundNote:
    """One child's note as typed; `confirmed`: the author accepts its flagged words."""

    student_id: int
    text: str
    confirmed: bool = False


@dataclass(slots=True)
class RoundProblem:
    """Why one note cannot go as it is, and what the plain-words check found."""

    student_id: int
    error: str
    needs_confirmation: bool = False


@dataclass(slots=True)
class RoundResult:
    """What a round queued: per child, the message and its outbox rows."""

    queued: list[tuple[Student, Message, list[Delivery]]] = field(default_factory=list)
    first_at: datetime | None = None
    last_at: datetime | None = None


def check_round(notes: Sequence[RoundNote], mode: JargonMode,
                glossary: Path | None = None,
                names: Collection[str] = ()) -> tuple[list[RoundProblem],
                                                      dict[int, PlainReport]]:
    """The plain-words guard and the length limit on every note, before anything is
    queued: (problems, report per child). Empty notes are skipped, never a problem."""
    problems: list[RoundProblem] = []
    reports: dict[int, PlainReport] = {}
    for note in notes:
        text = note.text.strip()
        if not text:
            continue
        report = check_text(text, glossary, names=names)
        reports[note.student_id] = report
        if len(text) > MAX_LENGTH:
            problems.append(RoundProblem(
                note.student_id, f"{len(text)} characters: keep good news under {MAX_LENGTH}"))
            continue
        try:
            enforce(report, mode, confirmed=note.confirmed)
        except InvalidInputError as exc:
            problems.append(RoundProblem(note.student_id, str(exc),
                                         needs_confirmation=mode == "confirm"))
    return problems, reports


def round_moments(session: Session, school: School, count: int, now: datetime
                  ) -> list[datetime | None]:
    """When each of `count` notes may first go: evenly over `spread_minutes` from the
    next open moment of the school's window (None for the first when that is now)."""
    policy, zone_name, holidays = school_rules(session, [school.id])[school.id]
    zone = windows.zone(zone_name)
    start = windows.next_open(now, zone, policy, holidays)  # type: ignore[arg-type]
    step = timedelta(seconds=policy.spread_minutes * 60 / count) if count else timedelta(0)
    moments: list[datetime | None] = [start + step * i for i in range(count)]
    if moments and moments[0] is not None and moments[0] <= now:
        moments[0] = None
    return moments


def queue_round(session: Session, school: School, author: Staff,
                notes: Sequence[tuple[Student, str]], available: Collection[str], *,
                token: str, now: datetime, public_url: str | None = None) -> RoundResult:
    """Queue a checked round (one note per child, in page order) in the caller's
    transaction; raises RoundAlreadyQueuedError when this token was queued before."""
    notes = [(student, text.strip()) for student, text in notes if text.strip()]
    if not notes:
        raise InvalidInputError("write at least one note: every empty line is skipped")
    if len({student.id for student, _ in notes}) != len(notes):
        raise InvalidInputError("one note per child in a round")
    key = ROUND_KEY + token
    if not token or session.get(JobMark, key) is not None:
        raise RoundAlreadyQueuedError("this round was queued already: nothing was sent twice")
    session.add(JobMark(key=key, created_at=now, detail={"author_id": author.id,
                                                          "notes": len(notes)}))
    session.flush()  # a concurrent second click fails here, on the key, and queues nothing
    result = RoundResult()
    moments = round_moments(session, school, len(notes), now)
    for (student, text), moment in zip(notes, moments, strict=True):
        message, rows = queue_good_news(session, school, student, author, text, available,
                                        not_before=moment, public_url=public_url)
        result.queued.append((student, message, rows))
    result.first_at = moments[0] or now
    result.last_at = moments[-1] or now
    audit(session, f"staff:{author.id}", "good_news_round_queued", "staff", author.id,
          notes=len(notes), messages=[m.id for _, m, _ in result.queued])
    return result


def round_was_queued(session: Session, token: str) -> bool:
    """True when a round with this token has been queued."""
    return session.scalar(select(JobMark.key).where(JobMark.key == ROUND_KEY + token)) \
        is not None
