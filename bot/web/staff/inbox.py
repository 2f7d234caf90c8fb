"""The inbox: replies from my families (original and translation side by side), answering
them on the channel the parent used, marking them handled; the office's unmatched queue."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.errors import SchoolgateError
from bot.inbound import inbox as core_inbox
from bot.inbound.staff_reply import reply_limit, reply_to_inbound
from bot.language.plain import check_text, enforce
from bot.outbound.status import family_statuses
from bot.store.audit import audit
from bot.store.models import (
    ChannelName,
    Guardian,
    InboundMessage,
    InboundStatus,
    Message,
    Staff,
    Student,
    utcnow,
)
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
from bot.web.staff.formats import format_when, language_label, page_values, reply_state
from bot.web.staff.ids import DbId
from bot.web.staff.security import Me
from bot.web.staff.tasks import call_back_for

router = APIRouter()


PAGE_SIZE = 50
PREVIEW_WORDS = 12
STATUS_FILTERS = {"": "any status", "waiting": "waiting for an answer", "handled": "handled"}


def first_words(text: str | None, words: int = PREVIEW_WORDS) -> str:
    """The opening of a reply for the inbox list: its first words, "…" when cut."""
    parts = (text or "").split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _like(value: str) -> str:
    """A LIKE pattern that matches `value` anywhere, its own % and _ taken literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(stmt: Select[Any], *, q: str, status: str, language: str,
              channel: str) -> Select[Any]:
    """The inbox's search and filters, in SQL (a page of 50 is cut after them)."""
    if q:
        pattern = _like(q)
        who = select(Student.id).where(or_(Student.first_name.ilike(pattern, escape="\\"),
                                           Student.last_name.ilike(pattern, escape="\\"),
                                           (Student.first_name + " " + Student.last_name)
                                           .ilike(pattern, escape="\\")))
        # the words too: every row in this list is one the reader may read (may_read_reply
        # and dashboard.mine are the same rule), so searching them tells nothing new
        stmt = stmt.where(or_(Guardian.first_name.ilike(pattern, escape="\\"),
                              Guardian.last_name.ilike(pattern, escape="\\"),
                              (Guardian.first_name + " " + Guardian.last_name)
                              .ilike(pattern, escape="\\"),
                              InboundMessage.student_id.in_(who),
                              InboundMessage.body.ilike(pattern, escape="\\"),
                              InboundMessage.translation.ilike(pattern, escape="\\")))
    if status == "waiting":
        stmt = stmt.where(InboundMessage.status == InboundStatus.ROUTED,
                          InboundMessage.handled_at.is_(None))
    elif status == "handled":
        stmt = stmt.where(or_(InboundMessage.status == InboundStatus.HANDLED,
                              InboundMessage.handled_at.is_not(None)))
    if language:
        stmt = stmt.where(InboundMessage.language == language)
    if channel:
        stmt = stmt.where(InboundMessage.channel == channel)
    return stmt


@router.get("/inbox")
def inbox_list(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
               page_number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
               q: Annotated[str, Query(max_length=100)] = "",
               status: Annotated[str, Query(max_length=20)] = "",
               language: Annotated[str, Query(max_length=16)] = "",
               channel: Annotated[str, Query(max_length=16)] = "",
               ) -> Response:
    """Replies to me (waiting first), PAGE_SIZE a page, searched by family, child or words
    and filtered by status, language and channel; for the office and admin, the unmatched
    queue too."""
    q = q.strip()
    status = status if status in STATUS_FILTERS else ""
    channel = channel if channel in {c.value for c in ChannelName} else ""
    with reading_transaction(request) as s:
        base = (select(InboundMessage)
                .join(Guardian, Guardian.id == InboundMessage.guardian_id)
                .where(Guardian.school_id == me.school_id))
        if role_of(me) != ADMIN:
            base = base.where(mine(me))
        languages = sorted(code for code in s.scalars(
            base.with_only_columns(InboundMessage.language).distinct()) if code)
        stmt = (_filtered(base, q=q, status=status, language=language, channel=channel)
                .options(selectinload(InboundMessage.guardian),
                         selectinload(InboundMessage.student),
                         selectinload(InboundMessage.routed_to))
                .order_by(InboundMessage.handled_at.is_not(None),
                          InboundMessage.received_at.desc(), InboundMessage.id.desc())
                .offset((page_number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
        replies = list(s.scalars(stmt))
        more = len(replies) > PAGE_SIZE
        replies = replies[:PAGE_SIZE]
        names = dict(s.execute(select(Staff.id, Staff.name).where(
            Staff.id.in_({r.handled_by_id for r in replies if r.handled_by_id})))
            .tuples().all())
        rows = [{"r": r, "state": reply_state(r, names.get(r.handled_by_id or 0)),
                 "readable": may_read_reply(s, me, r)} for r in replies]
        unmatched = core_inbox.unmatched(s) if role_of(me) in (ADMIN, OFFICE) else []
        filters = {"q": q, "status": status, "language": language, "channel": channel}
        response = page(request, "inbox.html", me, nav="inbox", rows=rows,
                        unmatched=unmatched, page_number=page_number, more=more,
                        filters=filters, query=urlencode({k: v for k, v in filters.items()
                                                          if v}),
                        filtered=any(filters.values()), languages=languages,
                        statuses=STATUS_FILTERS, channels=[c.value for c in ChannelName],
                        first_words=first_words)
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
               done: str | None = None,
               answer: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    """One reply: what the parent wrote and its translation, a reply box, mark handled."""
    with transaction(request) as s:
        inbound = _load(s, me, inbound_id)
        if not may_read_reply(s, me, inbound):
            raise forbidden()
        audit(s, me.actor, "view_inbound", "inbound", inbound.id)
        handled_by = s.get(Staff, inbound.handled_by_id) if inbound.handled_by_id else None
        values = page_values(request)
        notice = {"reply": _answer_notice(s, inbound, answer, (values["school_tz"],
                                                               values["staff_language"])),
                  "handled": "Marked as handled."}.get(done or "")
        response = page(request, "inbound.html", me, nav="inbox", inbound=inbound,
                        state=reply_state(inbound, handled_by.name if handled_by else None),
                        error=None, notice=notice,
                        can_reply=inbound.guardian_id is not None,
                        reply_max_length=reply_limit(inbound.channel),
                        call_back=call_back_for(s, me, inbound))
    return response


def _answer_notice(s: Session, inbound: InboundMessage, answer: int | None,
                   zone: tuple[str, str]) -> str:
    """What became of the answer, from its delivery: on its way on the parent's channel,
    or why it cannot reach them (they sent STOP, say)."""
    message = s.get(Message, answer) if answer is not None else None
    if message is None or (message.details or {}).get("in_reply_to_inbound") != inbound.id:
        return "Your answer is saved."
    families = family_statuses(s, message.id)
    if not families:
        return "Your answer cannot reach them (no channel): phone them instead."
    family = families[0]
    if family.shown.state in ("unreachable", "failed"):
        return f"Your answer cannot reach them ({family.shown.why}): phone them instead."
    shown = family.shown
    until = f" until {format_when(shown.until, *zone)}" if shown.until else ""
    why = f" ({shown.why})" if shown.why else ""
    on = f" by {family.channel}" if family.channel else ""
    return (f"Your answer is {shown.state}{until}{on}, in {language_label(family.language)}"
            f"{why}.")


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
            rows = reply_to_inbound(s, inbound.id, staff, text, set(ctx.channels))
            _mark_handled(inbound, me)
            answer_id = rows[0].message_id if rows else None
    except SchoolgateError as exc:
        return _retry(request, me, inbound_id, str(exc), text)
    return redirect(f"/inbox/{inbound_id}?done=reply"
                    + (f"&answer={answer_id}" if answer_id else ""))


def _retry(request: Request, me: Me, inbound_id: int, error: str, text: str) -> Response:
    with transaction(request) as s:
        inbound = _load(s, me, inbound_id)
        if not may_read_reply(s, me, inbound):
            raise StaffPageError(403, error)
        handled_by = s.get(Staff, inbound.handled_by_id) if inbound.handled_by_id else None
        return page(request, "inbound.html", me, code=400, nav="inbox", inbound=inbound,
                    state=reply_state(inbound, handled_by.name if handled_by else None),
                    error=error, draft=text,
                    can_reply=inbound.guardian_id is not None,
                    reply_max_length=reply_limit(inbound.channel),
                    call_back=call_back_for(s, me, inbound))


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
