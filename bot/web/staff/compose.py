"""Compose: good news about one child, or a message to a group (a class, a year group, a
saved list, the whole school; see announce.py). Jargon and reading level as you type (or
with the Check button when JavaScript is off); the school's `jargon` policy decides what
jargon does (warn, confirm with a tick, block) and "Use plain words" rewrites it in one
click; preview in each family's language; send now or at a time. An urgent notice (a
group message only) needs the right role, a reason and a confirmation on the preview.

The form is filled from what the caller passes (`_form(text=...)`), so a saved template
can prefill it later (`?template=`) without another path."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError, SchoolgateError
from bot.journeys.announcements import MAX_LENGTH as GROUP_MAX_LENGTH
from bot.journeys.announcements import (
    NEWS,
    TONES,
    check_announcement,
    check_urgent,
    may_send_urgent,
)
from bot.journeys.good_news import MAX_LENGTH, queue_good_news
from bot.language.plain import JargonMode, check_text, enforce, suggest_rewrite
from bot.outbound.audience import Audience, parse_choice
from bot.outbound.pages import BASE_KEY
from bot.store.models import Message, MessageKind, School, Staff, Student, utcnow
from bot.web.staff.access import ADMIN, OFFICE, TEACHER, may_open_student, visible_students
from bot.web.staff.announce import audience_choices, preview_group, send_group
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
from bot.web.staff.ids import MAX_ID, DbId
from bot.web.staff.previews import previews
from bot.web.staff.security import Me
from bot.web.staff.setup.saved import saved_message
from scheduler.policy import school_policy

router = APIRouter()
WRITERS = (ADMIN, OFFICE, TEACHER)


def report_dict(request: Request, text: str, max_length: int = MAX_LENGTH) -> dict[str, Any]:
    """The plain-words check as the page shows it."""
    report = check_text(text, ctx_of(request).settings.glossary_file)
    return {**report.as_dict(), "too_long": len(text.strip()) > max_length,
            "length": len(text.strip()), "max_length": max_length}


def jargon_mode(request: Request, school: School) -> JargonMode:
    """What jargon does here: the school's policy, unless the server blocks it everywhere."""
    if ctx_of(request).settings.jargon_mode == "block":
        return "block"
    return school_policy(school).jargon


def jargon_info(request: Request, s: Session, me: Me) -> dict[str, Any]:
    """The policy as the form explains it."""
    school = s.get(School, me.school_id)
    assert school is not None
    mode = jargon_mode(request, school)
    about = {"warn": "Words families may not know are shown; you decide.",
             "confirm": "The school asks you to confirm words families may not know "
                        "before they go (tick the box).",
             "block": "The school does not send words families may not know: put in the "
                      "plain words first."}[mode]
    return {"mode": mode, "about": about}


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
          status: int = 200, audience: str = "child", **extra: Any) -> Response:
    students = list(s.scalars(visible_students(me)))
    school = s.get(School, me.school_id)
    assert school is not None
    extra.setdefault("tone", NEWS)
    return page(request, "compose.html", me, code=status, nav="compose", students=students,
                student_id=student_id, text=text, audience=audience or "child",
                choices=audience_choices(s, me), jargon=jargon_info(request, s, me),
                may_urgent=may_send_urgent(me.role, school),
                max_length=MAX_LENGTH if audience in ("", "child") else GROUP_MAX_LENGTH,
                **extra)


@router.get("/compose")
def compose_form(request: Request, me: Annotated[Me, Depends(require(*WRITERS))],
                 student: int | None = None, audience: str = "child",
                 template: str = "") -> Response:
    """The compose form: good news about one child, or a message to a group; with
    `template`, it starts from one of the school's saved messages."""
    with reading_transaction(request) as s:
        number = int(template) if template.isdigit() and len(template) < 10 else 0
        saved = saved_message(s, me.school_id, number) if 0 < number <= MAX_ID else None
        return _form(request, me, s, student_id=student, text=saved.body if saved else "",
                     audience=audience, notice=f"Started from the saved message "
                     f"\u201c{saved.title}\u201d: change it as you need." if saved else None)


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
                   send_at: Annotated[str, Form()] = "",
                   audience: Annotated[str, Form()] = "child",
                   tone: Annotated[str, Form()] = NEWS,
                   urgent: Annotated[str, Form()] = "",
                   urgent_reason: Annotated[str, Form()] = "",
                   urgent_confirm: Annotated[str, Form()] = "",
                   jargon_ok: Annotated[str, Form()] = "",
                   draft: Annotated[str, Form()] = "") -> Response:
    """Check (no JavaScript needed), use plain words, preview, or send now / at a time."""
    ctx = ctx_of(request)
    sid = int(student_id) if student_id.isdigit() else None
    tone = tone if tone in TONES else NEWS
    keep: dict[str, Any] = {"send_at": send_at, "tone": tone, "urgent": bool(urgent),
            "urgent_reason": urgent_reason, "jargon_ok": bool(jargon_ok)}
    try:
        with transaction(request) as s:
            school = s.get(School, me.school_id)
            assert school is not None
            if action == "rewrite":
                plain, changes = suggest_rewrite(text, ctx.settings.glossary_file)
                notice = ("Plain words put in: " + "; ".join(
                    f'"{c.found}" is now "{c.plain}"' for c in changes) + ". Read it through."
                    if changes else "No words to change: the words left flagged need "
                                    "saying in your own plain words.")
                return _form(request, me, s, student_id=sid, text=plain, audience=audience,
                             notice=notice, report=report_dict(request, plain), **keep)
            group = parse_choice(audience)
            if group is not None:
                return _group(request, me, s, school, group, text, action, keep, draft,
                              confirmed=bool(urgent_confirm))
            if urgent:
                check_urgent(MessageKind.GOOD_NEWS)
            if sid is None:
                raise InvalidInputError("choose the child this good news is about, or who "
                                        "the message is for")
            student = student_for(s, me, sid)
            if action == "preview":
                return preview_page(request, me, s, student, text, bool(back), send_at)
            if action == "send":
                report = check_text(text, ctx.settings.glossary_file)
                enforce(report, jargon_mode(request, school), confirmed=bool(jargon_ok))
                author = s.get(Staff, me.id)
                assert author is not None
                message, _rows = queue_good_news(
                    s, school, student, author, text, set(ctx.channels),
                    not_before=parse_when(send_at, school.timezone),
                    public_url=ctx.settings.public_url)
                message_id = message.id
            else:
                return _form(request, me, s, student_id=sid, text=text, audience=audience,
                             report=report_dict(request, text), **keep)
    except SchoolgateError as exc:
        with transaction(request) as s:
            limit = MAX_LENGTH if audience in ("", "child") else GROUP_MAX_LENGTH
            return _form(request, me, s, student_id=sid, text=text, status=400,
                         audience=audience, error=str(exc),
                         report=report_dict(request, text, limit), **keep)
    return redirect(f"/outbox?message={message_id}&queued={message_id}")


def _group(request: Request, me: Me, s: Session, school: School, group: Audience, text: str,
           action: str, keep: dict[str, Any], draft: str, *, confirmed: bool) -> Response:
    """Preview, send or check a message to a group."""
    ctx = ctx_of(request)
    urgent_reason = keep["urgent_reason"] if keep["urgent"] else None
    author = s.get(Staff, me.id)
    assert author is not None
    not_before = parse_when(keep["send_at"], school.timezone)
    report = report_dict(request, text, GROUP_MAX_LENGTH)
    if action in ("preview", "send"):
        check_announcement(text, keep["tone"], urgent_reason, author, school, not_before)
    if action == "preview":
        return preview_group(request, me, s, group, text, tone=keep["tone"],
                             urgent=urgent_reason is not None,
                             urgent_reason=keep["urgent_reason"], send_at=keep["send_at"],
                             jargon=jargon_info(request, s, me), report=report)
    if action == "send":
        enforce(check_text(text, ctx.settings.glossary_file), jargon_mode(request, school),
                confirmed=keep["jargon_ok"])
        if urgent_reason is not None and not confirmed:
            raise InvalidInputError("an urgent notice goes at once, at night too: preview it "
                                    "and tick 'Yes, send it now as urgent' to confirm")
        return send_group(request, me, s, group, text, tone=keep["tone"],
                          urgent_reason=urgent_reason, not_before=not_before, draft=draft)
    return _form(request, me, s, student_id=None, text=text,
                 audience=f"{group.kind}:{group.value}" if group.value else group.kind,
                 report=report, **keep)

