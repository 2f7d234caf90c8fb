"""Saved messages: wording a school keeps to start from (a trip reminder, a closure
notice, a warm first note). Every member of staff sees the list and starts from one
(compose opens with its text: /compose?template=<id>); admin and office add, change and
delete them. Audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.roster.values import unsafe_character
from bot.store.audit import audit
from bot.store.models import MessageKind, SavedMessage
from bot.web.staff.access import EVERYONE, role_of
from bot.web.staff.deps import not_found, reading_transaction, redirect, require, transaction
from bot.web.staff.ids import DbId
from bot.web.staff.security import Me
from bot.web.staff.setup.common import SETUP, setup_page

router = APIRouter()
MAX_BODY = 5000
#: what a saved message may be marked as (empty: any)
KINDS = {"": "any message", MessageKind.GOOD_NEWS.value: "good news",
         MessageKind.NOTICE.value: "a notice", MessageKind.CONCERN.value: "a concern",
         MessageKind.CHECK_IN.value: "a check-in", MessageKind.INVITATION.value: "an invitation",
         MessageKind.REMINDER.value: "a reminder"}


def saved_message(s: Session, school_id: int, saved_id: int) -> SavedMessage | None:
    """A school's saved message by id (None when not this school's)."""
    found = s.get(SavedMessage, saved_id)
    return found if found is not None and found.school_id == school_id else None


def _page(request: Request, me: Me, s: Session, code: int = 200, **extra: Any) -> Response:
    saved = list(s.scalars(select(SavedMessage).where(SavedMessage.school_id == me.school_id)
                           .order_by(SavedMessage.title)))
    return setup_page(request, "setup_saved.html", me, code=code, saved=saved, kinds=KINDS,
                      max_body=MAX_BODY, manage=role_of(me) in SETUP, **extra)


@router.get("/saved")
def saved_list(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
               done: str = "") -> Response:
    """The school's saved messages, each with a link to start from it."""
    with reading_transaction(request) as s:
        return _page(request, me, s, notice={"added": "Saved.", "deleted": "Deleted."}.get(done))


def _check(title: str, body: str, kind: str) -> dict[str, str]:
    errors = {}
    if not title.strip():
        errors["title"] = "Give it a title staff will recognise."
    elif len(title.strip()) > 200 or unsafe_character(title):
        errors["title"] = "Write the title on one line, at most 200 characters."
    if not body.strip():
        errors["body"] = "Write the message."
    elif len(body.strip()) > MAX_BODY:
        errors["body"] = f"Keep it under {MAX_BODY:,} characters."
    if kind not in KINDS:
        errors["kind"] = "Choose what kind of message it is."
    return errors


@router.post("/saved")
def saved_add(request: Request, me: Annotated[Me, Depends(require(*SETUP))],
              title: Annotated[str, Form()] = "", body: Annotated[str, Form()] = "",
              kind: Annotated[str, Form()] = "") -> Response:
    """Keep a new message to start from."""
    errors = _check(title, body, kind)
    with transaction(request) as s:
        if errors:
            return _page(request, me, s, 400, errors=errors,
                         form={"title": title, "body": body, "kind": kind})
        row = SavedMessage(school_id=me.school_id, title=title.strip(), body=body.strip(),
                           kind=kind or None, created_by_id=me.id)
        s.add(row)
        s.flush()
        audit(s, me.actor, "saved_message_added", "saved_message", row.id, kind=kind or None)
    return redirect("/saved?done=added")


@router.post("/saved/{saved_id}/delete")
def saved_delete(request: Request, saved_id: DbId,
                 me: Annotated[Me, Depends(require(*SETUP))]) -> Response:
    """Delete a saved message (messages already sent from it are not touched)."""
    with transaction(request) as s:
        row = saved_message(s, me.school_id, saved_id)
        if row is None:
            raise not_found("saved message")
        audit(s, me.actor, "saved_message_deleted", "saved_message", row.id)
        s.delete(row)
    return redirect("/saved?done=deleted")
