"""Good news: pick a child, write, see jargon and reading level as you type (or with the
Check button when JavaScript is off), preview in each guardian's language, send or schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError, SchoolgateError
from bot.journeys.good_news import MAX_LENGTH, queue_good_news
from bot.language.plain import check_text, enforce
from bot.outbound.pages import BASE_KEY
from bot.store.models import Message, MessageKind, School, Staff, Student, utcnow
from bot.web.staff.access import ADMIN, OFFICE, TEACHER, may_open_student, visible_students
from bot.web.staff.deps import (
    HEADERS,
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
WRITERS = (ADMIN, OFFICE, TEACHER)


def report_dict(request: Request, text: str) -> dict[str, Any]:
    """The plain-words check as the page shows it."""
    report = check_text(text, ctx_of(request).settings.glossary_file)
    return {**report.as_dict(), "too_long": len(text.strip()) > MAX_LENGTH,
            "length": len(text.strip()), "max_length": MAX_LENGTH}


def student_for(s: Session, me: Me, student_id: int) -> Student:
    """The student, if `me` may write about them (403 for another teacher's child)."""
    student = s.get(Student, student_id)
    if student is None or student.school_id != me.school_id:
        raise not_found("student")
    if not may_open_student(s, me, student):
        raise forbidden()
    return student


def parse_when(value: str, zone: str) -> datetime | None:
    """A datetime-local value in school time, or None when empty."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(f"{value!r} is not a date and time") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))
    if moment < utcnow():
        raise InvalidInputError("that time has passed: choose a later time or send now")
    return moment


def _form(request: Request, me: Me, s: Session, *, student_id: int | None, text: str,
          status: int = 200, **extra: Any) -> Response:
    students = list(s.scalars(visible_students(me)))
    return page(request, "compose.html", me, code=status, nav="compose", students=students,
                student_id=student_id, text=text, max_length=MAX_LENGTH, **extra)


@router.get("/compose")
def compose_form(request: Request, me: Annotated[Me, Depends(require(*WRITERS))],
                 student: int | None = None) -> Response:
    """The good-news form."""
    with reading_transaction(request) as s:
        return _form(request, me, s, student_id=student, text="")


@router.post("/compose/check")
def compose_check(request: Request, me: Annotated[Me, Depends(require(*WRITERS))],
                  text: Annotated[str, Form()] = "") -> Response:
    """JSON for the as-you-type check: jargon, reading age, long sentences, length."""
    return JSONResponse(report_dict(request, text), headers=HEADERS)


def _draft(s: Session, me: Me, student: Student, text: str) -> Message:
    author = s.get(Staff, me.id)
    school = s.get(School, me.school_id)
    assert author is not None and school is not None
    message = Message(school_id=me.school_id, kind=MessageKind.GOOD_NEWS, author_id=me.id,
                      student_id=student.id, source_text=text.strip(),
                      source_language=author.language or school.staff_language, details={})
    message.author, message.student = author, student
    return message


def preview_page(request: Request, me: Me, s: Session, student: Student, text: str,
                 back: bool, send_at: str = "") -> Response:
    """Each guardian's version of the note, before anything is saved."""
    ctx = ctx_of(request)
    school = s.get(School, me.school_id)
    assert school is not None
    message = _draft(s, me, student, text)
    message.details = {BASE_KEY: ctx.settings.public_url.rstrip("/")}  # the SMS link, as sent
    shown = previews(s, ctx.settings, message, school, set(ctx.channels), back=back)
    if message in s:
        s.expunge(message)
    return page(request, "preview.html", me, nav="compose", student=student, text=text,
                back=back, send_at=send_at, previews=shown, report=report_dict(request, text))


@router.post("/students/{student_id}/preview")
def student_preview(request: Request, student_id: DbId,
                    me: Annotated[Me, Depends(require(*WRITERS))],
                    text: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "",
                    send_at: Annotated[str, Form()] = "") -> Response:
    """The preview page for one child's note."""
    with transaction(request) as s:
        student = student_for(s, me, student_id)
        return preview_page(request, me, s, student, text, bool(back), send_at)


@router.post("/compose")
def compose_submit(request: Request, me: Annotated[Me, Depends(require(*WRITERS))],
                   student_id: Annotated[str, Form()] = "",
                   text: Annotated[str, Form()] = "",
                   action: Annotated[str, Form()] = "check",
                   back: Annotated[str, Form()] = "",
                   send_at: Annotated[str, Form()] = "") -> Response:
    """Check (no JavaScript needed), preview, or send now / at a time."""
    ctx = ctx_of(request)
    sid = int(student_id) if student_id.isdigit() else None
    try:
        with transaction(request) as s:
            if sid is None:
                raise InvalidInputError("choose the child this good news is about")
            student = student_for(s, me, sid)
            if action == "preview":
                return preview_page(request, me, s, student, text, bool(back), send_at)
            if action == "send":
                report = check_text(text, ctx.settings.glossary_file)
                enforce(report, ctx.settings.jargon_mode)
                school = s.get(School, me.school_id)
                author = s.get(Staff, me.id)
                assert school is not None and author is not None
                message, _rows = queue_good_news(
                    s, school, student, author, text, set(ctx.channels),
                    not_before=parse_when(send_at, school.timezone),
                    public_url=ctx.settings.public_url)
                message_id = message.id
            else:
                return _form(request, me, s, student_id=sid, text=text, send_at=send_at,
                             report=report_dict(request, text))
    except SchoolgateError as exc:
        with transaction(request) as s:
            return _form(request, me, s, student_id=sid, text=text, status=400,
                         send_at=send_at, error=str(exc), report=report_dict(request, text))
    return redirect(f"/outbox?message={message_id}&queued={message_id}")
