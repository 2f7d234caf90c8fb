"""`POST /webhooks/telegram`: Telegram updates, signed with our secret token in a header.

The secret is compared in constant time; without a configured secret nothing is
accepted. An update is stored before the 2xx answer, and a failure to store answers
503 so Telegram sends it again (the repeat is recognised by its update_id). Linking a
chat (`/start <code>`) and routing a message happen after the answer, in the routing
loop, exactly as for SMS (bot.web.after_response).
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.inbound.telegram_updates import store_update
from bot.runtime.context import Context
from bot.web.after_response import route_after_response

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
    if not secret_ok(ctx.settings.telegram.webhook_secret, request.headers.get(SECRET_HEADER)):
        log.warning("telegram webhook refused: missing or wrong secret token")
        return JSONResponse({"ok": False, "error": "forbidden"}, status_code=403)
    try:
        update = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"ok": False, "error": "not JSON"}, status_code=400)
    if not isinstance(update, dict):
        return JSONResponse({"ok": False, "error": "not an update"}, status_code=400)
    try:
        stored = await run_in_threadpool(store_update, ctx.factory, update)
    except Exception as exc:  # not stored: a non-2xx answer makes Telegram retry
        log.warning("telegram update not stored (%s)", type(exc).__name__)
        return JSONResponse({"ok": False, "error": "not stored, try again"}, status_code=503)
    if stored is None:
        return JSONResponse({"ok": True, "action": "ignored"})
    inbound_id, is_new = stored
    if not is_new:
        return JSONResponse({"ok": True, "action": "duplicate"})
    return route_after_response(request, JSONResponse({"ok": True, "action": "stored"}),
                                inbound_id, "telegram", json.dumps(update))
