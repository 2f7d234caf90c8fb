"""The inbox: replies from my families (original and translation side by side), answering
them on the channel the parent used, marking them handled; the office's unmatched queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.errors import SchoolgateError
from bot.inbound import inbox as core_inbox
from bot.inbound.staff_reply import reply_limit, reply_to_inbound
from bot.language.plain import check_text, enforce
from bot.store.audit import audit
from bot.store.models import Guardian, InboundMessage, InboundStatus, Staff, utcnow
from bot.web.staff.access import ADMIN, EVERYONE, OFFICE, TEACHER, may_read_reply, role_of
from bot.web.staff.dashboard import mine
from bot.web.staff.deps import (
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

router = APIRouter()


PAGE_SIZE = 50


@router.get("/inbox")
def inbox_list(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
               page_number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
               ) -> Response:
    """Replies to me (waiting first), PAGE_SIZE a page; for the office and admin, the
    unmatched queue too."""
    with reading_transaction(request) as s:
        stmt = (select(InboundMessage).join(Guardian, Guardian.id == InboundMessage.guardian_id)
                .where(Guardian.school_id == me.school_id)
                .options(selectinload(InboundMessage.guardian),
                         selectinload(InboundMessage.student),
                         selectinload(InboundMessage.routed_to))
                .order_by(InboundMessage.handled_at.is_not(None),
                          InboundMessage.received_at.desc(), InboundMessage.id.desc())
                .offset((page_number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
        if role_of(me) != ADMIN:
            stmt = stmt.where(mine(me))
        replies = list(s.scalars(stmt))
        unmatched = core_inbox.unmatched(s) if role_of(me) in (ADMIN, OFFICE) else []
        response = page(request, "inbox.html", me, nav="inbox", replies=replies[:PAGE_SIZE],
                        unmatched=unmatched, page_number=page_number,
                        more=len(replies) > PAGE_SIZE)
    return response


def _load(s: object, me: Me, inbound_id: int) -> InboundMessage:
    inbound = s.get(InboundMessage, inbound_id)  # type: ignore[attr-defined]
    if inbound is None:
        raise not_found("reply")
    if inbound.guardian is not None and inbound.guardian.school_id != me.school_id:
        raise not_found("reply")
    return inbound


@router.get("/inbox/{inbound_id}")
def inbox_item(request: Request, inbound_id: DbId,
               me: Annotated[Me, Depends(require(*EVERYONE))],
               done: str | None = None) -> Response:
    """One reply: what the parent wrote and its translation, a reply box, mark handled."""
    with transaction(request) as s:
        inbound = _load(s, me, inbound_id)
        if not may_read_reply(s, me, inbound):
            raise forbidden()
        audit(s, me.actor, "view_inbound", "inbound", inbound.id)
        handled_by = s.get(Staff, inbound.handled_by_id) if inbound.handled_by_id else None
        notice = {"reply": "Your answer is queued: it goes back on the channel they used, "
                           "in their language.",
                  "handled": "Marked as handled."}.get(done or "")
        response = page(request, "inbound.html", me, nav="inbox", inbound=inbound,
                        handled_by=handled_by, error=None, notice=notice,
                        can_reply=inbound.guardian_id is not None,
                        reply_max_length=reply_limit(inbound.channel))
    return response


def _mark_handled(inbound: InboundMessage, me: Me) -> None:
    inbound.status = InboundStatus.HANDLED
    inbound.handled_at = inbound.handled_at or utcnow()
    inbound.handled_by_id = inbound.handled_by_id or me.id


@router.post("/inbox/{inbound_id}/reply")
def inbox_reply(request: Request, inbound_id: DbId,
                me: Annotated[Me, Depends(require(ADMIN, OFFICE, TEACHER))],
                text: Annotated[str, Form()] = "") -> Response:
    """Answer the parent: the core queues it on their channel, translated."""
    ctx = ctx_of(request)
    try:
        with transaction(request) as s:
            inbound = _load(s, me, inbound_id)
            if not may_read_reply(s, me, inbound):
                raise forbidden()
            enforce(check_text(text, ctx.settings.glossary_file), ctx.settings.jargon_mode)
            staff = s.get(Staff, me.id)
            assert staff is not None
            reply_to_inbound(s, inbound.id, staff, text, set(ctx.channels))
            _mark_handled(inbound, me)
    except SchoolgateError as exc:
        return _retry(request, me, inbound_id, str(exc), text)
    return redirect(f"/inbox/{inbound_id}?done=reply")


def _retry(request: Request, me: Me, inbound_id: int, error: str, text: str) -> Response:
    with transaction(request) as s:
        inbound = _load(s, me, inbound_id)
        if not may_read_reply(s, me, inbound):
            raise StaffPageError(403, error)
        return page(request, "inbound.html", me, code=400, nav="inbox", inbound=inbound,
                    handled_by=None, error=error, draft=text,
                    can_reply=inbound.guardian_id is not None,
                    reply_max_length=reply_limit(inbound.channel))


@router.post("/inbox/{inbound_id}/handled")
def inbox_handled(request: Request, inbound_id: DbId,
                  me: Annotated[Me, Depends(require(ADMIN, OFFICE, TEACHER))]) -> Response:
    """Mark a reply as handled (no answer needed, or answered another way)."""
    with transaction(request) as s:
        inbound = _load(s, me, inbound_id)
        if not may_read_reply(s, me, inbound):
            raise forbidden()
        _mark_handled(inbound, me)
        audit(s, me.actor, "inbound_handled", "inbound", inbound.id)
    return redirect(f"/inbox/{inbound_id}?done=handled")
