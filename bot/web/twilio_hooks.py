"""Twilio webhooks: inbound SMS and delivery status callbacks, both signature-checked.

The signature covers the public URL Twilio called (SCHOOLGATE_PUBLIC_URL + path + query)
and the form fields, so a request that was not signed with our auth token is refused
(403) before anything is read into the database. An inbound message is committed before
Twilio gets its 2xx; if it cannot be stored we answer 503 so Twilio tries again. Routing
and the acknowledgement happen later, in the routing loop (bot.inbound.routing): in the
background process, or after the response when the background work runs in this process.

One message walked through this code, file by file: docs/receiving-a-reply.md.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from bot.inbound import inbox
from bot.outbound.status import apply_status
from bot.runtime.context import Context
from bot.web.after_response import route_after_response
from channels.base import reveal
from channels.sms import (
    INBOUND_PATH,
    STATUS_PATH,
    parse_inbound,
    parse_status,
    verify_signature,
)

log = logging.getLogger(__name__)

router = APIRouter()

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _twiml(status_code: int = 200) -> Response:
    return Response(EMPTY_TWIML, status_code=status_code, media_type="text/xml")


def public_url_for(ctx: Context, request: Request) -> str:
    """The URL Twilio signed: our public base URL, this path, and the query string if any."""
    url = ctx.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


async def _verified_form(request: Request) -> dict[str, str] | None:
    """The form fields if the X-Twilio-Signature is valid for them, else None."""
    ctx: Context = request.app.state.ctx
    signature = request.headers.get("X-Twilio-Signature")
    token = reveal(ctx.settings.sms.auth_token)
    if not signature or not token:
        log.warning("twilio webhook refused: %s", "no signature" if token else
                    "TWILIO_AUTH_TOKEN is not set")
        return None
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    if not verify_signature(token, public_url_for(ctx, request), fields, signature):
        log.warning("twilio webhook refused: signature does not match (is "
                    "SCHOOLGATE_PUBLIC_URL the URL set in the Twilio console?)")
        return None
    return fields


@router.post(INBOUND_PATH)
async def inbound_sms(request: Request) -> Response:
    """An SMS from a family: verify, store (or 503) and answer; route and acknowledge after."""
    form = await _verified_form(request)
    if form is None:
        return Response("forbidden", status_code=403, media_type="text/plain")
    ctx: Context = request.app.state.ctx
    # Twilio's own per-request id, the same on each retry: with a form that has no
    # MessageSid it still tells two different texts apart (see parse_inbound).
    parsed = parse_inbound(form, request.headers.get("I-Twilio-Idempotency-Token"))
    try:
        inbound_id, is_new = await run_in_threadpool(inbox.store, ctx.factory, parsed)
    except Exception as exc:  # the database is down: make Twilio retry rather than lose it
        log.error("inbound sms could not be stored (%s); answering 503 so Twilio retries",
                  type(exc).__name__)
        return _twiml(503)
    if not is_new:
        log.info("inbound %s was a repeated webhook", inbound_id)
    # Committed: answer now. Identifying, detecting the language, routing and the
    # acknowledgement never add to Twilio's wait (bot.web.after_response).
    return route_after_response(request, _twiml(), inbound_id, "sms")


@router.post(STATUS_PATH)
async def sms_status(request: Request) -> Response:
    """A delivery status callback: applied idempotently, never moving a status backwards."""
    form = await _verified_form(request)
    if form is None:
        return Response("forbidden", status_code=403, media_type="text/plain")
    ctx: Context = request.app.state.ctx
    report = parse_status(form)
    if not report.provider_id or report.status is None:
        return _twiml()  # a status we do not track (e.g. 'receiving'): nothing to do
    try:
        outcome = await run_in_threadpool(_apply, ctx, report.provider_id, report.status,
                                          report.error, report.permanent)
    except Exception as exc:
        log.error("sms status could not be applied (%s); answering 503", type(exc).__name__)
        return _twiml(503)
    log.debug("sms status %s for %s: %s", report.status, report.provider_id, outcome)
    return _twiml()


def _apply(ctx: Context, provider_id: str, status: str, error: str | None,
           permanent: bool) -> str:
    return apply_status(ctx.factory, "sms", provider_id, status, list(ctx.channels),
                        error=error, permanent=permanent)
