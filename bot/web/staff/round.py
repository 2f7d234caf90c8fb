"""The good-news round: every child of a key worker (or of the key worker they cover) on
one page, who waits for good news and for how long, a note typed on each line, and one
button (or Ctrl+Enter) that queues them all. One form, one page load for the whole round;
bot/web/static/round.js adds the keyboard moves and the as-you-type check, and the page
works without it. The engine is bot/journeys/good_news_round.py."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from bot.errors import InvalidInputError
from bot.follow_up.staff_tasks import good_news_window, last_good_news, waiting_for_good_news
from bot.journeys.good_news import MAX_LENGTH
from bot.journeys.good_news_round import (
    ROUND_KEY,
    RoundAlreadyQueuedError,
    RoundNote,
    RoundProblem,
    check_round,
    queue_round,
    round_was_queued,
)
from bot.language.plain import check_text
from bot.outbound.dispatch import choose_channel
from bot.outbound.render import language_name
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    JobMark,
    Message,
    School,
    Staff,
    Student,
    StudentGuardian,
    utcnow,
)
from bot.web.staff.access import ADMIN, EVERYONE, OFFICE, own_students, role_of
from bot.web.staff.compose import jargon_mode
from bot.web.staff.deps import (
    HEADERS,
    StaffPageError,
    ctx_of,
    forbidden,
    page,
    reading_transaction,
    redirect,
    require,
    transaction,
)
from bot.web.staff.security import Me
from scheduler.policy import school_policy

router = APIRouter()


@dataclass(slots=True)
class Family:
    """One guardian as the round shows them: name, language, the channel a note takes."""

    name: str
    language: str
    channel: str | None
    why_not: str


@dataclass(slots=True)
class Line:
    """One child's line in the round."""

    student: Student
    families: list[Family]
    last: datetime | None
    days: int | None
    waiting: bool
    text: str = ""
    problem: RoundProblem | None = None
    findings: list[str] | None = None


def _whose(s: Session, me: Me, staff: int | None) -> tuple[Select[Any] | None, Staff | None]:
    """The children of the round: a teacher's own (and those of whoever they cover);
    admin and office choose a key worker (their own children when they have some)."""
    if role_of(me) in (ADMIN, OFFICE) and staff is not None:
        worker = s.get(Staff, staff)
        if worker is None or worker.school_id != me.school_id:
            return None, None
        return select(Student.id).where(Student.school_id == me.school_id,
                                        Student.key_worker_id == worker.id), worker
    return own_students(me), s.get(Staff, me.id)


def _lines(request: Request, s: Session, me: Me, school: School, ids: Select[Any],
           now: datetime) -> list[Line]:
    channels = set(ctx_of(request).channels)
    students = list(s.scalars(
        select(Student).where(Student.id.in_(ids))
        .options(selectinload(Student.links).selectinload(StudentGuardian.guardian)
                 .selectinload(Guardian.channels))
        .order_by(Student.class_name, Student.last_name, Student.first_name)))
    waiting = set(s.scalars(waiting_for_good_news(school.id, good_news_window(school, now))
                            .where(Student.id.in_(ids))))
    last = last_good_news(s, ids)
    lines = []
    for st in students:
        families = []
        for link in st.links:
            if not link.may_contact:
                continue
            g = link.guardian
            choice = choose_channel(g, channels)
            families.append(Family(f"{g.first_name} {g.last_name}",
                                   language_name(g.language, "en"), choice.channel,
                                   "; ".join(choice.reason) if choice.channel is None else ""))
        at = last.get(st.id)
        lines.append(Line(st, families, at, (now - at).days if at else None, st.id in waiting))
    # waiting first, the longest waiting first (never before any), then the rest
    lines.sort(key=lambda ln: (not ln.waiting, ln.last is not None,
                               ln.last or now))
    return lines


def _key_workers(s: Session, me: Me) -> list[Staff]:
    if role_of(me) not in (ADMIN, OFFICE):
        return []
    with_children = select(Student.key_worker_id).where(Student.school_id == me.school_id)
    return list(s.scalars(select(Staff).where(Staff.school_id == me.school_id,
                                              Staff.id.in_(with_children))
                          .order_by(Staff.name)))


def _page(request: Request, me: Me, s: Session, *, staff: int | None, code: int = 200,
          typed: dict[int, str] | None = None, problems: list[RoundProblem] = (),  # type: ignore[assignment]
          findings: dict[int, list[str]] | None = None, error: str | None = None,
          token: str | None = None, done: dict[str, Any] | None = None) -> Response:
    school = s.get(School, me.school_id)
    assert school is not None
    now = utcnow()
    ids, worker = _whose(s, me, staff)
    lines = _lines(request, s, me, school, ids, now) if ids is not None else []
    by_id = {p.student_id: p for p in problems}
    for line in lines:
        line.text = (typed or {}).get(line.student.id, "")
        line.problem = by_id.get(line.student.id)
        line.findings = (findings or {}).get(line.student.id)
    policy = school_policy(school)
    return page(request, "round.html", me, code=code, nav="round", lines=lines,
                worker=worker, staff=staff, key_workers=_key_workers(s, me),
                chooser=role_of(me) in (ADMIN, OFFICE),
                waiting=sum(1 for ln in lines if ln.waiting), max_length=MAX_LENGTH,
                days=policy.positive_contact_days, spread=policy.spread_minutes,
                token=token or secrets.token_urlsafe(16), error=error, done=done,
                mode=jargon_mode(request, school), zone=school.timezone)


def _done(s: Session, me: Me, token: str) -> dict[str, Any] | None:
    """What a queued round became, from its record: per child, each family's status."""
    mark = s.get(JobMark, ROUND_KEY + token)
    if mark is None or mark.detail.get("author_id") != me.id:
        return None
    school = s.get(School, me.school_id)
    assert school is not None
    zone = ZoneInfo(school.timezone)
    ids = [int(i) for i in mark.detail.get("messages", [])]
    rows = s.execute(select(Message, Student, Delivery, Guardian)
                     .join(Student, Student.id == Message.student_id)
                     .outerjoin(Delivery, Delivery.message_id == Message.id)
                     .outerjoin(Guardian, Guardian.id == Delivery.guardian_id)
                     .where(Message.id.in_(ids)).order_by(Message.id, Delivery.id)).all()
    children: dict[int, dict[str, Any]] = {}
    unreachable = 0
    for message, student, delivery, guardian in rows:
        child = children.setdefault(message.id, {"student": student, "families": []})
        if delivery is None or guardian is None:
            continue
        if delivery.status == DeliveryStatus.UNREACHABLE:
            unreachable += 1
            state = f"cannot be reached ({delivery.last_error or 'no channel'})"
        elif delivery.status == DeliveryStatus.HELD:
            state = (f"waits until {delivery.next_attempt_at.astimezone(zone):%a %d %b %H:%M}"
                     f" ({delivery.held_reason or 'cadence'})" if delivery.next_attempt_at
                     else "waits")
        else:
            when = delivery.next_attempt_at
            state = f"{delivery.status}, by {delivery.channel}" + (
                f", from {when.astimezone(zone):%H:%M}" if when else "")
        child["families"].append({"guardian": guardian, "language": language_name(
            delivery.language or guardian.language, "en"), "state": state})
    first, last = mark.detail.get("first_at"), mark.detail.get("last_at")
    return {"children": list(children.values()), "count": len(children),
            "unreachable": unreachable, "zone": school.timezone,
            "first": datetime.fromisoformat(first).astimezone(zone) if first else None,
            "last": datetime.fromisoformat(last).astimezone(zone) if last else None}


@router.get("/round")
def round_page(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
               staff: int | None = None, done: str | None = None) -> Response:
    """The round: my children (or a chosen key worker's), who waits, a note on each line."""
    with reading_transaction(request) as s:
        summary = _done(s, me, done) if done else None
        return _page(request, me, s, staff=staff, done=summary)


@router.post("/round/check")
def round_check(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
                text: Annotated[str, Form()] = "") -> Response:
    """JSON for the as-you-type check of one note: jargon, length, reading age."""
    report = check_text(text, ctx_of(request).settings.glossary_file)
    return JSONResponse({**report.as_dict(), "length": len(text.strip()),
                         "max_length": MAX_LENGTH,
                         "too_long": len(text.strip()) > MAX_LENGTH}, headers=HEADERS)


@router.post("/round")
def round_submit(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
                 token: Annotated[str, Form()] = "",
                 student: Annotated[list[str] | None, Form()] = None,
                 note: Annotated[list[str] | None, Form()] = None,
                 confirm: Annotated[list[str] | None, Form()] = None,
                 staff: Annotated[str, Form()] = "") -> Response:
    """Check every note, then queue them all in one transaction, or none (with each
    problem shown on its child's line and every note kept as typed)."""
    ctx = ctx_of(request)
    chosen = int(staff) if staff.isdigit() else None
    students, notes = student or [], note or []
    if len(students) != len(notes) or not all(sid.isdigit() for sid in students):
        raise StaffPageError(400, "The round's form was incomplete: reload the page.")
    typed = {int(sid): text for sid, text in zip(students, notes, strict=True)}
    confirmed = {int(c) for c in (confirm or []) if c.isdigit()}
    try:
        with transaction(request) as s:
            school = s.get(School, me.school_id)
            author = s.get(Staff, me.id)
            assert school is not None and author is not None
            ids, _worker = _whose(s, me, chosen)
            allowed = set(s.scalars(ids)) if ids is not None else set()
            written = {sid: text for sid, text in typed.items() if text.strip()}
            if not set(written) <= allowed:
                raise forbidden()
            children = {st.id: st for st in s.scalars(
                select(Student).where(Student.id.in_(list(written))))}
            names = [n for st in children.values() for n in (st.first_name, st.last_name)]
            problems, reports = check_round(
                [RoundNote(sid, text, sid in confirmed) for sid, text in written.items()],
                jargon_mode(request, school), ctx.settings.glossary_file, names)
            findings = {sid: [f'"{h.found}": say "{h.plain}"' for h in r.jargon]
                        for sid, r in reports.items() if r.jargon}
            if problems:
                return _page(request, me, s, staff=chosen, code=400, typed=typed,
                             problems=problems, findings=findings, token=token,
                             error=f"{len(problems)} note{'s' if len(problems) > 1 else ''}"
                                   " need a change; nothing has been queued yet.")
            result = queue_round(s, school, author,
                                 [(children[sid], text) for sid, text in written.items()],
                                 set(ctx.channels), token=token, now=utcnow(),
                                 public_url=ctx.settings.public_url)
            mark = s.get(JobMark, ROUND_KEY + token)
            assert mark is not None
            mark.detail = {**mark.detail,
                           "messages": [m.id for _, m, _ in result.queued],
                           "first_at": result.first_at.isoformat() if result.first_at else None,
                           "last_at": result.last_at.isoformat() if result.last_at else None}
    except RoundAlreadyQueuedError:
        return redirect(f"/round?done={token}")
    except IntegrityError:
        # two clicks at once: the first queued the round, this one nothing
        with reading_transaction(request) as s:
            if not round_was_queued(s, token):
                raise
        return redirect(f"/round?done={token}")
    except InvalidInputError as exc:
        with reading_transaction(request) as s:
            return _page(request, me, s, staff=chosen, code=400, typed=typed,
                         error=str(exc), token=token)
    suffix = f"&staff={chosen}" if chosen is not None else ""
    return redirect(f"/round?done={token}{suffix}")
