"""`POST /webhooks/telegram`: Telegram updates, signed with our secret token in a header.

The secret is compared in constant time; without a configured secret nothing is
accepted. An update is stored before the 2xx answer, and a failure to store answers
503 so Telegram sends it again (the repeat is recognised by its update_id).
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.inbound.telegram_updates import update_handler
from bot.runtime.context import Context

log = logging.getLogger(__name__)

router = APIRouter()

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


def secret_ok(configured: str | None, given: str | None) -> bool:
    """True only when a secret is configured and the header matches it exactly."""
    if not configured or given is None:
        return False
    return hmac.compare_digest(given.encode(), configured.encode())


@router.post("/webhooks/telegram")
async def telegram_update(request: Request) -> JSONResponse:
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
        handled = await update_handler(ctx.factory, ctx.channels)(update)
    except Exception as exc:  # not stored: a non-2xx answer makes Telegram retry
        log.warning("telegram update not stored (%s)", type(exc).__name__)
        return JSONResponse({"ok": False, "error": "not stored, try again"}, status_code=503)
    return JSONResponse({"ok": True, "action": handled.action})
