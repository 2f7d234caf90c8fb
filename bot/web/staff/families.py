"""Student and family pages: contact log, channels and consent, language, key worker and
cover. Every view of a contact log is written to the audit log (identifiers only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.outbound.dispatch import choose_channel
from bot.outbound.status import shown
from bot.records.contact_log import LogEntry, contact_log
from bot.store.audit import audit
from bot.store.models import (
    ChannelName,
    Delivery,
    Guardian,
    InboundMessage,
    Staff,
    Student,
    StudentGuardian,
)
from bot.web.staff.access import (
    EVERYONE,
    may_open_guardian,
    may_open_student,
    may_read_reply,
    may_read_sent,
    visible_students,
)
from bot.web.staff.deps import (
    ctx_of,
    forbidden,
    not_found,
    page,
    reading_transaction,
    require,
    transaction,
)
from bot.web.staff.formats import reply_state
from bot.web.staff.ids import DbId
from bot.web.staff.security import Me

router = APIRouter()


def _shown_log(s: Session, me: Me, entries: list[LogEntry]) -> list[dict[str, Any]]:
    """The log as the page shows it: words only for those who may read them (one rule for
    a family's reply and our answers to it, bot.web.staff.access)."""
    out = []
    readable: dict[tuple[str, int], bool] = {}
    for e in entries:
        row = e.as_dict()
        row["at"] = e.at
        row["hidden"] = False
        key = (e.direction, e.id)
        # the status in words, from the same source as the inbox and the outbox
        if e.direction == "in":
            inbound = s.get(InboundMessage, e.id)
            handler = s.get(Staff, inbound.handled_by_id) \
                if inbound is not None and inbound.handled_by_id else None
            row["state"] = reply_state(inbound, handler.name if handler else None)[1] \
                if inbound is not None else e.status
        else:
            delivery = s.get(Delivery, e.id)
            row["state"] = shown(delivery).words if delivery else e.status
            row["until"] = shown(delivery).until if delivery else None
        if key not in readable:
            if e.direction == "in":
                readable[key] = inbound is not None and may_read_reply(s, me, inbound)
            else:
                readable[key] = delivery is not None and may_read_sent(s, me, delivery.message)
        if not readable[key]:
            row["text"] = row["translation"] = None
            if e.direction == "in":
                row["address"] = None
            row["hidden"] = True
        out.append(row)
    return list(reversed(out))  # newest first on a page


def _channels(guardian: Guardian, available: Any) -> list[dict[str, Any]]:
    state = {c.channel: c for c in guardian.channels}
    rows = []
    for name in ChannelName:
        c = state.get(name.value)
        rows.append({
            "channel": name.value,
            "address": guardian.address_for(name.value),
            "preferred": name.value in (guardian.channel_order or []),
            "consent": c.consent if c else True,
            "opted_out_at": c.opted_out_at if c else None,
            "failed_reason": c.failed_reason if c else None,
        })
    return rows


def _key_worker(s: Session, student: Student) -> dict[str, Any]:
    worker = s.get(Staff, student.key_worker_id) if student.key_worker_id else None
    cover = s.get(Staff, worker.cover_id) if worker and worker.cover_id else None
    return {"worker": worker, "cover": cover,
            "covering": bool(worker and cover and (worker.away_at() or not worker.active))}


@router.get("/students")
def students_list(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))]) -> Response:
    """The students whose pages this person may open."""
    with reading_transaction(request) as s:
        students = list(s.scalars(visible_students(me).options(
            selectinload(Student.key_worker))))
        return page(request, "students.html", me, nav="students", students=students)


@router.get("/students/{student_id}")
def student_page(request: Request, student_id: DbId,
                 me: Annotated[Me, Depends(require(*EVERYONE))]) -> Response:
    """One child: guardians and their channels, key worker and cover, the contact log."""
    ctx = ctx_of(request)
    with transaction(request) as s:
        student = s.get(Student, student_id)
        if student is None or student.school_id != me.school_id:
            raise not_found("student")
        if not may_open_student(s, me, student):
            raise forbidden()
        links = list(s.scalars(select(StudentGuardian).where(
            StudentGuardian.student_id == student.id)
            .options(selectinload(StudentGuardian.guardian).selectinload(Guardian.channels))))
        guardians = [{"link": link, "guardian": link.guardian,
                      "reach": choose_channel(link.guardian, ctx.channels)} for link in links]
        log = _shown_log(s, me, contact_log(s, student_id=student.id))
        audit(s, me.actor, "view_contact_log", "student", student.id)
        return page(request, "student.html", me, nav="students", student=student,
                    guardians=guardians, log=log, kw=_key_worker(s, student))


@router.get("/families/{guardian_id}")
def family_page(request: Request, guardian_id: DbId,
                me: Annotated[Me, Depends(require(*EVERYONE))]) -> Response:
    """One guardian: language, channels and consent, their children, the contact log."""
    ctx = ctx_of(request)
    with transaction(request) as s:
        guardian = s.get(Guardian, guardian_id)
        if guardian is None or guardian.school_id != me.school_id:
            raise not_found("family")
        if not may_open_guardian(s, me, guardian.id, guardian.school_id):
            raise forbidden()
        children = [{"student": link.student, "link": link, "kw": _key_worker(s, link.student),
                     "open": may_open_student(s, me, link.student)}
                    for link in s.scalars(select(StudentGuardian).where(
                        StudentGuardian.guardian_id == guardian.id)
                        .options(selectinload(StudentGuardian.student)))]
        log = _shown_log(s, me, contact_log(s, guardian_id=guardian.id))
        audit(s, me.actor, "view_contact_log", "guardian", guardian.id)
        return page(request, "family.html", me, nav="students", guardian=guardian,
                    channels=_channels(guardian, ctx.channels),
                    reach=choose_channel(guardian, ctx.channels), children=children, log=log)
