"""One-click unsubscribe (RFC 8058): POST opts the family out, GET only asks.

Every email carries `List-Unsubscribe: <{public_url}/unsubscribe/{reply_token}>` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`. Mail providers POST that body to
the link with no login; the token is the delivery's opaque reply token, so it names one
guardian without revealing anything. Link scanners and people clicking use GET, which
must not unsubscribe by itself: it shows a page with a button that POSTs.
"""

from __future__ import annotations

import logging
import re
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bot.outbound.consent import opt_out
from bot.runtime.context import Context
from bot.store.models import Delivery, School
from channels.email import html_lang, text_direction
from translations import catalog_language, translations_for

log = logging.getLogger(__name__)

router = APIRouter()

NOT_FOUND = ("This unsubscribe link is not known. It may have been copied incompletely. "
             "Please reply to the email or contact the school office.")
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _a_token(token: str) -> bool:
    """Whether `token` could be one of ours (url-safe base64, models.new_token): anything
    else (a NUL, which PostgreSQL refuses, a megabyte) is unknown without a query."""
    return bool(_TOKEN.fullmatch(token))


def _lookup(ctx: Context, token: str) -> tuple[str, str, str, bool] | None:
    """(language, school name, channel, already opted out) for the token's guardian."""
    if not _a_token(token):
        return None
    with ctx.factory() as session:
        delivery = session.scalar(select(Delivery).where(Delivery.reply_token == token))
        if delivery is None:
            return None
        guardian = delivery.guardian
        school = session.get(School, guardian.school_id)
        channel = delivery.channel or "email"
        out = any(c.channel == channel and c.opted_out_at is not None for c in guardian.channels)
        return guardian.language, school.name if school else "", channel, out


def _unsubscribe(ctx: Context, token: str) -> tuple[str, str, bool] | None:
    """Opt the token's guardian out of the delivery's channel; None for an unknown token."""
    if not _a_token(token):
        return None
    with ctx.factory() as session, session.begin():
        delivery = session.scalar(select(Delivery).where(Delivery.reply_token == token))
        if delivery is None:
            return None
        guardian = delivery.guardian
        channel = delivery.channel or "email"
        changed = opt_out(session, guardian, channel, actor="guardian:unsubscribe-link")
        school = session.get(School, guardian.school_id)
        log.info("unsubscribe: guardian %s out of %s (changed=%s)", guardian.id, channel,
                 changed)
        return guardian.language, school.name if school else "", changed


def _page(language: str, title: str, paragraphs: list[str], form: str = "") -> str:
    lang = catalog_language(language)
    direction = text_direction(lang)
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html>\n<html lang="{html_lang(lang)}" dir="{direction}">\n<head>\n'
            f'<meta charset="utf-8">\n<meta name="robots" content="noindex">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n</head>\n"
            f'<body style="font-family:Arial,sans-serif;font-size:18px;max-width:36em;'
            f'margin:2em auto;padding:0 1em">\n<h1 style="font-size:1.4em">{escape(title)}'
            f"</h1>\n{body}\n{form}</body>\n</html>\n")


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, request: Request) -> Response:
    """Ask before unsubscribing: a GET (a link click or a link scanner) changes nothing."""
    ctx: Context = request.app.state.ctx
    found = await run_in_threadpool(_lookup, ctx, token)
    if found is None:
        return PlainTextResponse(NOT_FOUND, status_code=404, headers=_HEADERS)
    language, school, _channel, already = found
    _ = translations_for(catalog_language(language)).gettext
    title = _("Stop emails from {school}?").format(school=school or _("the school"))
    if already:
        return HTMLResponse(_page(language, _("These emails are already stopped"), [
            _("You will not get emails from {school}. The school can still reach you "
              "another way you agreed to.").format(school=school or _("the school"))]),
            headers=_HEADERS)
    button = escape(_("Yes, stop these emails"))
    form = (f'<form method="post" action="/unsubscribe/{escape(token, quote=True)}">\n'
            f'<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
            f'<button type="submit" style="font-size:1em;padding:0.5em 1em">'
            f'{button}</button>\n</form>\n')
    return HTMLResponse(_page(language, title, [
        _("Press the button to stop getting emails from {school}.").format(
            school=school or _("the school")),
        _("The school may still reach you in another way, such as by text."),
    ], form), headers=_HEADERS)


@router.post("/unsubscribe/{token}")
async def unsubscribe(token: str, request: Request) -> Response:
    """RFC 8058 one-click: opt the guardian out of email; idempotent, no login."""
    ctx: Context = request.app.state.ctx
    await request.body()  # "List-Unsubscribe=One-Click"; the token alone decides
    done = await run_in_threadpool(_unsubscribe, ctx, token)
    if done is None:
        return PlainTextResponse(NOT_FOUND, status_code=404, headers=_HEADERS)
    language, school, _changed = done
    _ = translations_for(catalog_language(language)).gettext
    return HTMLResponse(_page(language, _("These emails have stopped"), [
        _("You will not get any more emails from {school}.").format(
            school=school or _("the school")),
        _("Made a mistake? Reply to any message from the school, or call the office."),
    ]), headers=_HEADERS)
