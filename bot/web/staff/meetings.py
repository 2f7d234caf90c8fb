"""Meetings: invite (why, who, when, where, type and prep pack), preview as each family sees
it, follow the answers, record action points, read check-in replies."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError, SchoolgateError
from bot.follow_up.action_points import action_as_dict, add_action, complete_action, list_actions
from bot.journeys.check_ins import check_in_rows
from bot.journeys.meetings.invitation import (
    LONGEST,
    SHORTEST,
    author_role,
    parse_options,
    parse_who,
    queue_invitation,
)
from bot.journeys.meetings.prep_packs import DEFAULT_TYPE, MEETING_TYPES, TITLES
from bot.journeys.meetings.replies import rsvp_summary
from bot.language.plain import check_text, enforce
from bot.outbound.status import family_statuses, summary
from bot.store.audit import audit
from bot.store.models import (
    InboundMessage,
    MeetingResponse,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
    utcnow,
)
from bot.web.staff.access import (
    ADMIN,
    EVERYONE,
    OFFICE,
    TEACHER,
    may_read_reply,
    own_students,
    role_of,
    visible_students,
)
from bot.web.staff.compose import student_for
from bot.web.staff.deps import (
    ctx_of,
    forbidden,
    not_found,
    page,
    reading_transaction,
    redirect,
    require,
    transaction,
)
from bot.web.staff.ids import DbId
from bot.web.staff.previews import previews
from bot.web.staff.security import Me

router = APIRouter()
ORGANISERS = (ADMIN, OFFICE, TEACHER)


def _meeting_types() -> tuple[list[tuple[str, str]], str | None]:
    """(value, label) for the meeting-type select (each has its prep pack), and the default."""
    return ([(t, TITLES.get(t, t.replace("_", " "))) for t in MEETING_TYPES], DEFAULT_TYPE)


@router.get("/meetings")
def meetings_list(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))]) -> Response:
    """Invitations, newest first, with how many families have answered."""
    with reading_transaction(request) as s:
        stmt = (select(Message, Student).join(Student, Student.id == Message.student_id)
                .where(Message.school_id == me.school_id,
                       Message.kind == MessageKind.INVITATION)
                .order_by(Message.id.desc()).limit(200))
        if role_of(me) == TEACHER:
            stmt = stmt.where(Student.id.in_(own_students(me)))
        rows = []
        for message, student in s.execute(stmt):
            answered = len({r.guardian_id for r in s.scalars(
                select(MeetingResponse).where(MeetingResponse.message_id == message.id))})
            rows.append({"message": message, "student": student, "answered": answered})
        return page(request, "meetings.html", me, nav="meetings", rows=rows)


def _form(request: Request, me: Me, s: Session, values: dict[str, Any], status: int = 200,
          **extra: Any) -> Response:
    types, default = _meeting_types()
    author = s.get(Staff, me.id)
    chosen = values.get("student_id")
    student = s.get(Student, chosen) if isinstance(chosen, int) else None
    return page(request, "meeting_new.html", me, code=status, nav="meetings",
                students=list(s.scalars(visible_students(me))), types=types,
                default_type=default, v=values,
                author_role=author_role(s, author, student if student is not None
                                        and student.school_id == me.school_id else None)
                if author is not None else "the author", **extra)


@router.get("/meetings/new")
def meeting_form(request: Request, me: Annotated[Me, Depends(require(*ORGANISERS))],
                 student: int | None = None) -> Response:
    """The invitation form."""
    with reading_transaction(request) as s:
        return _form(request, me, s, {"student_id": student, "minutes": "30"})


@router.post("/meetings/new")
def meeting_submit(request: Request, me: Annotated[Me, Depends(require(*ORGANISERS))],
                   student_id: Annotated[str, Form()] = "", why: Annotated[str, Form()] = "",
                   when1: Annotated[str, Form()] = "", when2: Annotated[str, Form()] = "",
                   when3: Annotated[str, Form()] = "", where: Annotated[str, Form()] = "",
                   minutes: Annotated[str, Form()] = "30", who: Annotated[str, Form()] = "",
                   meeting_type: Annotated[str, Form()] = "",
                   action: Annotated[str, Form()] = "preview") -> Response:
    """Preview the invitation as each family will read it, or send it."""
    ctx = ctx_of(request)
    chosen = int(student_id) if student_id.isdigit() else None
    values = {"student_id": chosen, "why": why,
              "when1": when1, "when2": when2, "when3": when3, "where": where,
              "minutes": minutes, "who": who, "meeting_type": meeting_type}
    try:
        with transaction(request) as s:
            if chosen is None:
                raise InvalidInputError("choose the child the meeting is about")
            student = student_for(s, me, chosen)
            school = s.get(School, me.school_id)
            staff = s.get(Staff, me.id)
            assert school is not None and staff is not None
            options = parse_options((when1, when2, when3), school.timezone, utcnow())
            people = parse_who(who)
            if not minutes.strip().isdigit():
                raise InvalidInputError(f"say how long, in minutes ({SHORTEST} to {LONGEST})")
            enforce(check_text(why, ctx.settings.glossary_file), ctx.settings.jargon_mode)
            extra: dict[str, Any] = {"public_url": ctx.settings.public_url,
                                     "pack_link_days": ctx.settings.pack_link_days}
            if meeting_type:
                extra["meeting_type"] = meeting_type
            if action == "send":
                message, _rows = queue_invitation(
                    s, school, student, staff, why=why, options=options, where=where,
                    minutes=int(minutes), who=people, available=set(ctx.channels),
                    **extra)
                message_id = message.id
            else:
                # the real thing in a transaction that is rolled back: what families would get
                nested = s.begin_nested()
                message, _rows = queue_invitation(
                    s, school, student, staff, why=why, options=options, where=where,
                    minutes=int(minutes), who=people, available=set(ctx.channels),
                    **extra)
                shown = previews(s, ctx.settings, message, school, set(ctx.channels))
                response = _form(request, me, s, values, previews=shown,
                                 report=check_text(why, ctx.settings.glossary_file).as_dict())
                nested.rollback()
                return response
    except SchoolgateError as exc:
        with transaction(request) as s:
            return _form(request, me, s, values, status=400, error=str(exc))
    return redirect(f"/meetings/{message_id}?sent=1")


def _meeting(s: Session, me: Me, message_id: int) -> tuple[Message, Student]:
    message = s.get(Message, message_id)
    if message is None or message.kind != MessageKind.INVITATION \
            or message.school_id != me.school_id or message.student_id is None:
        raise not_found("meeting")
    student = student_for(s, me, message.student_id)
    return message, student


def _check_ins(s: Session, me: Me, school: School, message_id: int) -> list[dict[str, Any]]:
    rows = [r for r in check_in_rows(s, school.id, school.timezone)
            if r.get("meeting_message_id") == message_id]
    for r in rows:
        inbound = s.get(InboundMessage, r["reply_id"]) if r.get("reply_id") else None
        if inbound is not None and not may_read_reply(s, me, inbound):
            r["reply"] = r["reply_translation"] = None
            r["hidden"] = True
    return rows


def _meeting_view(request: Request, me: Me, s: Session, message_id: int, *,
                  code: int = 200, error: str | None = None,
                  notice: str | None = None) -> Response:
    message, student = _meeting(s, me, message_id)
    school = s.get(School, me.school_id)
    assert school is not None
    actions = [action_as_dict(s, a, school.timezone)
               for a in list_actions(s, me.school_id, student_id=student.id)
               if a.meeting_message_id == message.id]
    return page(request, "meeting.html", me, code=code, nav="meetings", message=message,
                student=student, rsvps=rsvp_summary(s, message.id), actions=actions,
                families=family_statuses(s, message.id),
                check_ins=_check_ins(s, me, school, message.id),
                meeting_type=dict(_meeting_types()[0]).get(message.details.get("type", "")),
                today=utcnow().astimezone(ZoneInfo(school.timezone)).date().isoformat(),
                error=error, notice=notice)


@router.get("/meetings/{message_id}")
def meeting_page(request: Request, message_id: DbId,
                 me: Annotated[Me, Depends(require(*EVERYONE))],
                 sent: str | None = None) -> Response:
    """One meeting: details, who answered what, action points, check-ins."""
    with transaction(request) as s:
        response = _meeting_view(
            request, me, s, message_id,
            notice=f"The invitation: {summary(family_statuses(s, message_id))}."
            if sent else None)
        audit(s, me.actor, "view_rsvps", "message", message_id)
        return response


@router.post("/meetings/{message_id}/actions")
def meeting_action_add(request: Request, message_id: DbId,
                       me: Annotated[Me, Depends(require(*ORGANISERS))],
                       description: Annotated[str, Form()] = "",
                       owner: Annotated[str, Form()] = "school",
                       due: Annotated[str, Form()] = "") -> Response:
    """Record an action point agreed at the meeting."""
    try:
        with transaction(request) as s:
            message, student = _meeting(s, me, message_id)
            school = s.get(School, me.school_id)
            assert school is not None
            try:
                due_date = date.fromisoformat(due)
            except ValueError:
                raise InvalidInputError("give the due date as a date") from None
            add_action(s, me.school_id, student, owner, description, due_date,
                       meeting_message_id=message.id, tz=school.timezone, actor=me.actor)
    except SchoolgateError as exc:
        with transaction(request) as s:
            return _meeting_view(request, me, s, message_id, code=400, error=str(exc))
    return redirect(f"/meetings/{message_id}")


@router.post("/meetings/{message_id}/actions/{action_id}/done")
def meeting_action_done(request: Request, message_id: DbId, action_id: DbId,
                        me: Annotated[Me, Depends(require(*ORGANISERS))]) -> Response:
    """Mark an action point done."""
    with transaction(request) as s:
        message, _student = _meeting(s, me, message_id)
        try:
            action = complete_action(s, action_id, me.actor, school_id=me.school_id)
        except SchoolgateError:
            raise not_found("action point") from None
        if action.meeting_message_id != message.id:
            raise forbidden()
    return redirect(f"/meetings/{message_id}")
