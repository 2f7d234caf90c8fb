"""Messages to groups in the staff app: the audiences a person may write to, the preview
(how many families, in which languages and channels, SMS cost, who cannot be reached and
why), the send (one click, one transaction, however many families) and its progress.

The compose page (compose.py) chooses the audience; this module does the rest. Admin and
office may write to any audience; a teacher to a class or a saved list, and then only to
the families of their own children (and those they cover) in it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError, SchoolgateError
from bot.journeys.announcements import (
    AUDIENCE_KEY,
    CELEBRATION,
    NEWS,
    TONE_KEY,
    URGENT_KEY,
    may_send_urgent,
    queue_announcement,
)
from bot.outbound.audience import (
    SCHOOL,
    YEAR,
    Audience,
    audience_students,
    classes,
    families_of,
    years,
)
from bot.outbound.dispatch import choose_channel
from bot.outbound.pages import BASE_KEY
from bot.outbound.render import (
    SMS_SEGMENTS,
    language_name,
    render,
    same_language,
    sms_segments,
    target_language,
)
from bot.outbound.translate import names_in, preview
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    JobMark,
    Message,
    MessageKind,
    SavedList,
    School,
    Staff,
    Student,
    Urgency,
)
from bot.web.staff.access import ADMIN, OFFICE, TEACHER, own_students, role_of
from bot.web.staff.deps import (
    HEADERS,
    StaffPageError,
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
from bot.web.staff.security import Me
from scheduler.policy import school_policy
from translations import has_catalog
from translations.machine import TranslationError, build_translator

router = APIRouter()
CHANNEL_NAMES = {"sms": "text message (SMS)", "email": "email", "telegram": "Telegram"}
SHOWN_UNREACHED = 200  # the preview names this many who cannot be reached, then counts


def audience_choices(s: Session, me: Me) -> list[tuple[str, list[tuple[str, str]]]]:
    """The compose page's audience options, grouped: (group label, [(value, label)])."""
    teacher = role_of(me) == TEACHER
    within = own_students(me) if teacher else None
    names = classes(s, me.school_id, within)
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        ("One child", [("child", "One child: good news")])]
    if names:
        groups.append(("A class", [(f"class:{n}", f"Class {n}") for n in names]))
    if not teacher:
        ys = years(names)
        if ys:
            groups.append(("A year group", [(f"year:{y}", "Reception" if y == "R"
                                             else f"Year {y}") for y in ys]))
    lists = list(s.scalars(select(SavedList.name).where(SavedList.school_id == me.school_id)
                           .order_by(SavedList.name)))
    if lists:
        groups.append(("A saved list", [(f"list:{n}", f"List: {n}") for n in lists]))
    if not teacher:
        groups.append(("Everyone", [("school", "The whole school")]))
    return groups


def students_for(s: Session, me: Me, audience: Audience) -> list[int]:
    """The children of the audience this person may write to (a teacher: their own)."""
    if role_of(me) == TEACHER:
        if audience.kind in (YEAR, SCHOOL):
            raise StaffPageError(403, "A year group or the whole school is written to by the "
                                      "office or an admin. You can write to your class.")
        return audience_students(s, me.school_id, audience, own_students(me))
    return audience_students(s, me.school_id, audience)


@dataclass(slots=True)
class LanguageLine:
    """One language of the audience as the preview shows it."""

    code: str
    name: str
    families: int = 0
    channels: Counter[str] = field(default_factory=Counter)
    sms_segments: int | None = None  # the SMS as this language's families get it
    sample: str = ""
    subject: str = ""
    problem: str | None = None

    @property
    def sms_families(self) -> int:
        """Families of this language reached by SMS."""
        return self.channels.get("sms", 0)


@dataclass(slots=True)
class Summary:
    """Everything the preview says before anything is saved."""

    families: int
    students: int
    languages: list[LanguageLine]
    channels: Counter[str]
    unreached: list[tuple[str, str]]  # (who, why)
    unreached_total: int
    overdue: int  # children in the audience still waiting for their own good news

    @property
    def sms_total(self) -> int:
        """SMS segments the whole send costs (each language's count times its families)."""
        return sum((line.sms_segments or 0) * line.sms_families for line in self.languages)

    @property
    def too_long(self) -> list[LanguageLine]:
        """Languages whose SMS would be more than 3 segments."""
        return [line for line in self.languages
                if line.sms_segments is not None and line.sms_segments > SMS_SEGMENTS]


def draft_message(s: Session, me: Me, text: str, audience: Audience, tone: str,
                  urgent: bool, public_url: str) -> Message:
    """The announcement as it would be saved (not added to the session)."""
    author = s.get(Staff, me.id)
    school = s.get(School, me.school_id)
    assert author is not None and school is not None
    message = Message(school_id=me.school_id, kind=MessageKind.ANNOUNCEMENT, author_id=me.id,
                      source_text=text.strip(),
                      source_language=author.language or school.staff_language,
                      urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
                      details={AUDIENCE_KEY: audience.as_dict(), TONE_KEY: tone,
                               BASE_KEY: public_url.rstrip("/")})
    message.author = author
    return message


async def _translations(settings: Any, text: str, source: str, targets: list[str],
                        names: list[str]) -> dict[str, str]:
    translator = build_translator(settings)
    if translator is None or not text:
        return {}
    try:
        return {t: (await preview(translator, text, source, t, names=names)).translated
                for t in targets}
    finally:
        await translator.close()


def summarise(s: Session, request: Request, me: Me, message: Message,
              student_ids: list[int]) -> Summary:
    """Who would get it, in which language and channel, at what SMS cost, and who not."""
    ctx = ctx_of(request)
    school = s.get(School, me.school_id)
    assert school is not None
    available = set(ctx.channels)
    families = families_of(s, student_ids)
    by_language: dict[str, LanguageLine] = {}
    firsts: dict[str, Any] = {}
    channels: Counter[str] = Counter()
    unreached: list[tuple[str, str]] = []
    names = _student_names(s, [sid for sid, _why in families.unheard])
    for sid, why in families.unheard:
        unreached.append((f"{names.get(sid, 'a child')} (no family will hear)", why))
    for guardian in families.guardians:
        code = target_language(guardian)
        line = by_language.get(code)
        if line is None:
            line = by_language[code] = LanguageLine(code, language_name(code, "en"))
        choice = choose_channel(guardian, available)
        if choice.channel is None:
            unreached.append((f"{guardian.first_name} {guardian.last_name}", choice.reason))
            continue
        line.families += 1
        line.channels[choice.channel] += 1
        channels[choice.channel] += 1
        # the SMS sample when any family of this language reads one: that is the cost
        if code not in firsts or (choice.channel == "sms"
                                  and firsts[code][1] != "sms"):
            firsts[code] = (guardian, choice.channel)
    source = message.source_language
    targets = sorted(c for c in by_language if not same_language(c, source))
    problem = None
    translated: dict[str, str] = {}
    if targets:
        try:
            translated = asyncio.run(_translations(ctx.settings, message.source_text, source,
                                                   targets, names_in(s, message)))
        except TranslationError as exc:
            problem = f"translation failed: {exc}"
        if not translated and problem is None:
            problem = ("no translation service is set up: these families get the frame in "
                       "their language and what you wrote in English, marked as not "
                       "translated")
    for code, (guardian, channel) in firsts.items():
        line = by_language[code]
        if same_language(code, source):
            r = render(message, guardian, school, language=source, channel=channel)
        elif code in translated and has_catalog(code):
            r = render(message, guardian, school, language=code,
                       translated={message.source_text: translated[code]}, channel=channel)
        else:
            r = render(message, guardian, school, language=source, note_language=code,
                       channel=channel)
            line.problem = problem
        line.sample, line.subject = r.text, r.subject
        if line.sms_families:
            line.sms_segments = sms_segments(r.text)
    lines = sorted(by_language.values(), key=lambda line: (-line.families, line.name))
    overdue = _overdue(s, school, student_ids) if (message.details or {}).get(
        TONE_KEY) == CELEBRATION else 0
    return Summary(families=sum(line.families for line in lines), students=len(student_ids),
                   languages=lines, channels=channels, unreached=unreached[:SHOWN_UNREACHED],
                   unreached_total=len(unreached), overdue=overdue)


def _student_names(s: Session, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        for sid, first, last, klass in s.execute(
                select(Student.id, Student.first_name, Student.last_name, Student.class_name)
                .where(Student.id.in_(ids[start:start + 500]))):
            out[sid] = f"{first} {last}" + (f", {klass}" if klass else "")
    return out


def _overdue(s: Session, school: School, student_ids: list[int]) -> int:
    """Children of the audience with no good news of their own for positive_contact_days."""
    from datetime import timedelta

    from bot.clock import now

    since = now() - timedelta(days=school_policy(school).positive_contact_days)
    count = 0
    for start in range(0, len(student_ids), 500):
        chunk = student_ids[start:start + 500]
        count += s.scalar(select(func.count()).select_from(Student).where(
            Student.id.in_(chunk),
            (Student.last_positive_at.is_(None)) | (Student.last_positive_at < since))) or 0
    return count


def preview_group(request: Request, me: Me, s: Session, audience: Audience, text: str, *,
                  tone: str, urgent: bool, urgent_reason: str, send_at: str,
                  jargon: dict[str, Any], report: dict[str, Any]) -> Response:
    """The preview page for a message to a group; nothing is saved."""
    ctx = ctx_of(request)
    school = s.get(School, me.school_id)
    assert school is not None
    ids = students_for(s, me, audience)
    narrowed = None
    if role_of(me) == TEACHER:  # say so when a teacher's own children are not all of it
        everyone = len(audience_students(s, me.school_id, audience))
        if everyone > len(ids):
            narrowed = (f"Only the families of your own children in {audience.label} get "
                        f"this: {len(ids)} of its {everyone} children. The office or an "
                        "admin can write to all of them.")
    message = draft_message(s, me, text, audience, tone, urgent, ctx.settings.public_url)
    summary = summarise(s, request, me, message, ids)
    if message in s:
        s.expunge(message)
    return page(request, "announce_preview.html", me, nav="compose", audience=audience,
                text=text, tone=tone, urgent=urgent, urgent_reason=urgent_reason,
                send_at=send_at, summary=summary, report=report, jargon=jargon,
                channel_names=CHANNEL_NAMES, draft=secrets.token_urlsafe(16), narrowed=narrowed,
                may_urgent=may_send_urgent(me.role, school), school=school)


def send_group(request: Request, me: Me, s: Session, audience: Audience, text: str, *,
               tone: str, urgent_reason: str | None, not_before: datetime | None,
               draft: str) -> Response:
    """Queue the message to every family of the audience, once, and show its progress.

    A draft key (made by the preview) is claimed in the same transaction, so a second
    click, a reload or a resubmitted form leads to the first send, never to a second."""
    ctx = ctx_of(request)
    school = s.get(School, me.school_id)
    author = s.get(Staff, me.id)
    assert school is not None and author is not None
    key = f"announce:{me.school_id}:{draft}" if draft else None
    if key is not None:
        done = s.get(JobMark, key)
        if done is not None:
            return redirect(f"/announcements/{done.detail.get('message_id')}")
        # claimed before queueing: a second click at the same moment waits on this row
        # (PostgreSQL) or the write lock (SQLite), then finds it taken
        mark = JobMark(key=key, detail={})
        s.add(mark)
        try:
            s.flush()
        except IntegrityError:
            raise InvalidInputError("this message was sent already: see the outbox") from None
    ids = students_for(s, me, audience)
    queued = queue_announcement(s, school, author, text, audience, ids, set(ctx.channels),
                                tone=tone, urgent_reason=urgent_reason,
                                not_before=not_before, public_url=ctx.settings.public_url)
    if key is not None:
        mark.detail = {"message_id": queued.message.id}
    return redirect(f"/announcements/{queued.message.id}")


# -- progress ----------------------------------------------------------------------------------
def _message_for(s: Session, me: Me, message_id: int) -> Message:
    message = s.get(Message, message_id)
    if message is None or message.school_id != me.school_id \
            or message.kind != MessageKind.ANNOUNCEMENT:
        raise not_found("message to a group")
    if role_of(me) not in (ADMIN, OFFICE) and message.author_id != me.id:
        raise forbidden()
    return message


WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.TRANSLATING, DeliveryStatus.SENDING)


def progress(s: Session, message: Message, zone: str) -> dict[str, Any]:
    """Per family, the latest attempt's status: how many are waiting, held (until when and
    why), sent, delivered, failed, unreachable or need a person; done when none wait."""
    latest = (select(func.max(Delivery.id)).where(Delivery.message_id == message.id)
              .group_by(Delivery.guardian_id))
    counts: Counter[str] = Counter()
    held: dict[str, Any] = defaultdict(lambda: {"families": 0, "until": None})
    for status, reason, at in s.execute(
            select(Delivery.status, Delivery.held_reason, Delivery.next_attempt_at)
            .where(Delivery.id.in_(latest))):
        counts[status] += 1
        if status == DeliveryStatus.HELD:
            entry = held[reason or "held"]
            entry["families"] += 1
            entry["until"] = at if entry["until"] is None else min(entry["until"], at)
    tz = ZoneInfo(zone)
    total = sum(counts.values())
    return {
        "message_id": message.id,
        "families": total,
        "waiting": sum(counts[s] for s in WAITING),
        "held": counts[DeliveryStatus.HELD],
        "held_reasons": {r: {"families": v["families"],
                             "until": v["until"].astimezone(tz).strftime("%a %d %b %H:%M %Z")
                             if v["until"] else None} for r, v in sorted(held.items())},
        "sent": counts[DeliveryStatus.SENT],
        "delivered": counts[DeliveryStatus.DELIVERED] + counts[DeliveryStatus.READ],
        "failed": counts[DeliveryStatus.FAILED],
        "unreachable": counts[DeliveryStatus.UNREACHABLE],
        "needs_review": counts[DeliveryStatus.NEEDS_REVIEW],
        "done": sum(counts[s] for s in WAITING) == 0,
    }


@router.get("/announcements/{message_id}")
def announcement_page(request: Request, message_id: DbId,
                      me: Annotated[Me, Depends(require(ADMIN, OFFICE, TEACHER))]) -> Response:
    """What happened to a message to a group, family by family counted (polls itself)."""
    with reading_transaction(request) as s:
        message = _message_for(s, me, message_id)
        school = s.get(School, me.school_id)
        assert school is not None
        details = message.details or {}
        return page(request, "announce_status.html", me, nav="compose", message=message,
                    audience=details.get(AUDIENCE_KEY, {}), tone=details.get(TONE_KEY, NEWS),
                    urgent=details.get(URGENT_KEY), state=progress(s, message, school.timezone),
                    zone=school.timezone)


@router.get("/announcements/{message_id}/status")
def announcement_status(request: Request, message_id: DbId,
                        me: Annotated[Me, Depends(require(ADMIN, OFFICE, TEACHER))]
                        ) -> Response:
    """The same counts as JSON, for the page to poll while it sends."""
    with reading_transaction(request) as s:
        message = _message_for(s, me, message_id)
        school = s.get(School, me.school_id)
        assert school is not None
        return JSONResponse(progress(s, message, school.timezone), headers=HEADERS)


# -- saved lists -------------------------------------------------------------------------------
def _lists_page(request: Request, me: Me, s: Session, code: int = 200, **extra: Any
                ) -> Response:
    from bot.outbound.audience import list_sizes

    return page(request, "lists.html", me, code=code, nav="compose",
                lists=list_sizes(s, me.school_id), **extra)


@router.get("/lists")
def lists_page(request: Request, me: Annotated[Me, Depends(require(ADMIN, OFFICE))]
               ) -> Response:
    """The school's saved lists (an audience for a message to a group), and a form to
    make or replace one from student ids."""
    with reading_transaction(request) as s:
        return _lists_page(request, me, s)


@router.post("/lists")
def lists_save(request: Request, me: Annotated[Me, Depends(require(ADMIN, OFFICE))],
               name: Annotated[str, Form()] = "", refs: Annotated[str, Form()] = ""
               ) -> Response:
    """Save a list: every unknown student id is named and nothing is saved."""
    from bot.outbound.audience import save_list
    from bot.store.audit import audit

    wanted = [r for r in re.split(r"[\s,;]+", refs) if r]
    try:
        with transaction(request) as s:
            row, count = save_list(s, me.school_id, name, wanted, me.id)
            audit(s, f"staff:{me.id}", "saved_list_saved", "saved_list", row.id,
                  students=count)
            saved = row.name
    except SchoolgateError as exc:
        with reading_transaction(request) as s:
            return _lists_page(request, me, s, code=400, error=str(exc), list_name=name, refs=refs)
    with reading_transaction(request) as s:
        return _lists_page(request, me, s, notice=f"Saved the list {saved}: {count} "
                                                  f"student{'' if count == 1 else 's'}.")
