"""The private family page: `GET /pack/{token}`, no login, in the family's language.

It shows the whole message a short SMS points to, as it was written for this guardian
(kept on the link, bot/outbound/pages.py), and for an invitation its prep pack. The
token is the whole secret (128 random bits, one per message and guardian, stored in
pack_links); an invitation's expires a configurable number of days after the meeting's
last time option, another message's after 30 days. The page is never cached, indexed,
or named in a Referer header, and every view of a real link is audited with identifiers
only. A token we never made is counted, not audited: guessing writes no rows.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from bot.journeys.meetings.prep_packs import DEFAULT_TYPE, Pack, build_pack
from bot.outbound.render import format_when
from bot.runtime.context import Context
from bot.store.audit import audit
from bot.store.models import Guardian, Message, MessageKind, PackLink, School, utcnow
from channels.email_message import html_lang, text_direction
from translations import catalog_language, translations_for

log = logging.getLogger(__name__)

router = APIRouter()

HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow",
           "Referrer-Policy": "no-referrer"}
_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]))


#: the alphabet of our tokens (URL-safe base64); anything else was never made by us
TOKEN = re.compile(r"[A-Za-z0-9_-]+")
#: requests for tokens we never made, since the process started (see /pack/<token>)
unknown_tokens = 0


@dataclass(frozen=True, slots=True)
class PackView:
    """What the page shows, already in the guardian's language."""

    language: str
    heading: str
    when_label: str
    options: list[str]
    pack: Pack | None
    #: the whole message, one paragraph per block of lines (None for links made before)
    message: list[list[str]] | None


def _view(ctx: Context, token: str, now: datetime) -> PackView | tuple[int, str]:
    """The page for a token, or (404 or 410, language) for the refusal. Audits every view
    of a link we made; an unknown token is only counted."""
    global unknown_tokens
    with ctx.factory() as session, session.begin():
        link = session.get(PackLink, token)
        if link is None:
            unknown_tokens += 1
            log.debug("private page: unknown token (%d so far)", unknown_tokens)
            return 404, "en"
        message = session.get(Message, link.message_id)
        guardian = session.get(Guardian, link.guardian_id)
        if message is None or guardian is None:
            return 404, "en"
        if link.expires_at <= now:
            audit(session, f"guardian:{guardian.id}", "pack_expired", "message", message.id,
                  guardian_id=guardian.id)
            return 410, catalog_language(guardian.language)
        school = session.get(School, message.school_id)
        assert school is not None, "messages.school_id is a non-null foreign key"
        language = link.language or catalog_language(guardian.language)
        _ = translations_for(language).gettext
        child = message.student.first_name if message.student else ""
        invitation = message.kind == MessageKind.INVITATION
        options = [format_when(datetime.fromisoformat(o), guardian, school, language)
                   for o in message.details.get("options", [])] if invitation else []
        audit(session, f"guardian:{guardian.id}", "pack_viewed", "message", message.id,
              guardian_id=guardian.id)
        log.info("private page for message %s viewed by guardian %s", message.id, guardian.id)
        heading = (_("Get ready for the meeting about {child}").format(child=child)
                   if invitation else link.subject or "")
        return PackView(
            language=language, heading=heading,
            when_label=_("When (reply with the number that suits you):"), options=options,
            pack=build_pack(str(message.details.get("type") or DEFAULT_TYPE), _)
            if invitation else None,
            message=[block.split("\n") for block in link.text.split("\n\n")]
            if link.text else None)


def _error_page(status: int, language: str = "en") -> HTMLResponse:
    _ = translations_for(language).gettext
    text = (_("This link has expired. Please ask the school for a new one.") if status == 410
            else _("We cannot find this page. Please check the link, or ask the school."))
    html = _templates.get_template("pack_error.html").render(
        lang=html_lang(language), dir=text_direction(language), text=text)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


@router.get("/pack/{token}", response_class=HTMLResponse)
async def pack_page(token: str, request: Request) -> HTMLResponse:
    """The prep pack for one invitation and one guardian, in their language and time zone."""
    ctx: Context = request.app.state.ctx
    if len(token) > 64 or not TOKEN.fullmatch(token):  # not one of ours: no lookup at all
        return _error_page(404)
    view = await run_in_threadpool(_view, ctx, token, utcnow())
    if not isinstance(view, PackView):
        return _error_page(*view)
    html = _templates.get_template("pack.html").render(
        lang=html_lang(view.language), dir=text_direction(view.language), view=view)
    return HTMLResponse(html, headers=HEADERS)
