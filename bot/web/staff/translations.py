"""Translation review: a translator (or an admin) checks and corrects what the machine
wrote, or translates what no service could, one sentence or phrase at a time.

Only the school's translation memory is shown: masked text, where [1], [2] ... stand for
names, numbers and addresses, never the family, the child or the message it came from.
A saved review is used for every later message with that sentence (bot/language/memory.py),
and rows held for a reviewed translation in that language are looked at again at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.language.memory import MAX_REVIEW, MESSAGE, ReviewError, save_review
from bot.outbound.render import language_name
from bot.outbound.translate import HELD, release_reviewed
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Message,
    School,
    TranslationMemory,
    utcnow,
)
from bot.web.staff.access import REVIEWERS
from bot.web.staff.deps import (
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

#: the lists a reviewer can pick, and what each holds
SHOWS = {
    "check": "Machine translations to check",
    "missing": "Waiting for a translation (no service could translate these)",
    "phrases": "Recurring phrases (places, job titles, meeting purposes)",
    "reviewed": "Reviewed",
}
LIMIT = 200


def _filter(show: str) -> list[Any]:
    m = TranslationMemory
    if show == "missing":
        return [m.reviewed_text.is_(None), m.machine_text.is_(None)]
    if show == "reviewed":
        return [m.reviewed_text.is_not(None)]
    if show == "phrases":
        return [m.context != MESSAGE]
    return [m.reviewed_text.is_(None), m.machine_text.is_not(None)]


def _waiting(session: Session, school_id: int) -> list[dict[str, Any]]:
    """Deliveries held for a reviewed translation, per language: how many, and the
    earliest time one goes without a review (no family, no text)."""
    rows = session.execute(
        select(Delivery.language, func.count(Delivery.id), func.min(Delivery.created_at))
        .join(Message, Message.id == Delivery.message_id)
        .where(Message.school_id == school_id, Delivery.status == DeliveryStatus.TRANSLATING,
               Delivery.last_error.like(f"{HELD}%"))
        .group_by(Delivery.language).order_by(Delivery.language))
    return [{"language": lang, "name": language_name(lang, "en"), "count": n, "since": at}
            for lang, n, at in rows]


@router.get("/translations")
def translations_list(request: Request, me: Annotated[Me, Depends(require(*REVIEWERS))],
                      show: str = "check", language: str = "",
                      saved: int | None = None) -> Response:
    """The school's sentences and phrases to review, most wanted first."""
    show = show if show in SHOWS else "check"
    m = TranslationMemory
    with reading_transaction(request) as s:
        school = s.get(School, me.school_id)
        assert school is not None, "a signed-in person's school exists"
        languages = list(s.scalars(select(m.target_language).where(m.school_id == me.school_id)
                                   .distinct().order_by(m.target_language)))
        stmt = select(m).where(m.school_id == me.school_id, *_filter(show))
        if language in languages:
            stmt = stmt.where(m.target_language == language)
        else:
            language = ""
        stmt = stmt.order_by(m.wanted_until.is_(None), m.wanted_until, m.uses.desc(),
                             m.id.desc()).limit(LIMIT)
        entries = list(s.scalars(stmt))
        response = page(request, "translations.html", me, nav="translations", show=show,
                        shows=SHOWS, entries=entries, language=language,
                        languages=[(code, language_name(code, "en")) for code in languages],
                        waiting=_waiting(s, me.school_id), language_label=language_name,
                        now=utcnow(),
                        notice="Saved. The next message with this sentence uses your "
                               "translation." if saved else None)
    return response


def _entry(session: Session, me: Me, entry_id: int) -> TranslationMemory:
    entry = session.get(TranslationMemory, entry_id)
    if entry is None or entry.school_id != me.school_id:
        raise not_found("sentence")
    return entry


def _form(request: Request, me: Me, entry: TranslationMemory, text: str,
          error: str | None = None, code: int = 200) -> Response:
    return page(request, "translations_review.html", me, code=code, nav="translations",
                entry=entry, text=text, error=error, max_length=MAX_REVIEW,
                source_name=language_name(entry.source_language, "en"),
                target_name=language_name(entry.target_language, "en"))


@router.get("/translations/{entry_id}")
def translation_form(request: Request, entry_id: DbId,
                     me: Annotated[Me, Depends(require(*REVIEWERS))]) -> Response:
    """One sentence: the source (masked), the machine's draft, and a box for yours."""
    with reading_transaction(request) as s:
        entry = _entry(s, me, entry_id)
        response = _form(request, me, entry,
                         entry.reviewed_text or entry.machine_text or "")
    return response


@router.post("/translations/{entry_id}")
def translation_save(request: Request, entry_id: DbId,
                     me: Annotated[Me, Depends(require(*REVIEWERS))],
                     text: Annotated[str, Form()] = "") -> Response:
    """Save a reviewed translation (its placeholders checked first); audited."""
    with transaction(request) as s:
        entry = _entry(s, me, entry_id)
        try:
            save_review(s, entry, text, me.id, utcnow())
        except ReviewError as exc:
            return _form(request, me, entry, text, str(exc), 400)
        audit(s, me.actor, "translation_reviewed", "translation_memory", entry.id,
              language=entry.target_language)
        release_reviewed(s, entry.school_id, entry.source_language, entry.target_language)
    return redirect("/translations?saved=1")
