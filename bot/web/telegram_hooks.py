"""`POST /webhooks/telegram`: Telegram updates, signed with our secret token in a header.

The secret is compared in constant time; without a configured secret nothing is
accepted. A body is read no further than MAX_UPDATE_BYTES. An update that can never be
processed (not JSON, nested thousands deep, too large, or breaking the Bot API's schema:
no chat, a text that is not a string ...) is kept for a person in the unmatched queue
with the reason, and answered 200: Telegram resends anything else, for a day. An
update is stored before the 2xx answer, and a failure to store answers
503 so Telegram sends it again (the repeat is recognised by its update_id). Linking a
chat (`/start <code>`) and routing a message happen after the answer, in the routing
loop, exactly as for SMS (bot.web.after_response).
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.inbound.telegram_updates import store_parsed
from bot.runtime.context import Context
from bot.web.after_response import route_after_response
from channels.base import reveal
from channels.telegram import MAX_UPDATE_BYTES, PROBLEM, parse_body

log = logging.getLogger(__name__)

router = APIRouter()

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


def secret_ok(configured: str | None, given: str | None) -> bool:
    """True only when a secret is configured and the header matches it exactly."""
    if not configured or given is None:
        return False
    return hmac.compare_digest(given.encode(), configured.encode())


@router.post("/webhooks/telegram")
async def telegram_update(request: Request) -> Response:
    """Receive one update from Telegram."""
    ctx: Context = request.app.state.ctx
    if not secret_ok(reveal(ctx.settings.telegram.webhook_secret),
                     request.headers.get(SECRET_HEADER)):
        log.warning("telegram webhook refused: missing or wrong secret token")
        return JSONResponse({"ok": False, "error": "forbidden"}, status_code=403)
    body, complete = await read_bounded(request, MAX_UPDATE_BYTES)
    parsed = parse_body(body, complete)
    try:
        stored = await run_in_threadpool(store_parsed, ctx.factory, parsed)
    except Exception as exc:  # not stored: a non-2xx answer makes Telegram retry
        log.warning("telegram update not stored (%s)", type(exc).__name__)
        return JSONResponse({"ok": False, "error": "not stored, try again"}, status_code=503)
    if stored is None or parsed is None:
        return JSONResponse({"ok": True, "action": "ignored"})
    inbound_id, is_new = stored
    if not is_new:
        return JSONResponse({"ok": True, "action": "duplicate"})
    if parsed.extra.get(PROBLEM):  # 200 all the same: Telegram would resend it forever
        return JSONResponse({"ok": True, "action": "kept for a person"})
    return route_after_response(request, JSONResponse({"ok": True, "action": "stored"}),
                                inbound_id, "telegram", parsed.raw)


async def read_bounded(request: Request, limit: int) -> tuple[bytes, bool]:
    """The body, read no further than `limit` + 1 bytes: (what was read, whether that was
    all of it). A huge body is never held whole."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit + 1], False
    return b"".join(chunks), True
