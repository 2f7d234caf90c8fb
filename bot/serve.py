"""`schoolgate serve`: the web app plus background workers in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from bot.context import Context
from bot.web.app import create_app

log = logging.getLogger(__name__)


def build_server_app(ctx: Context, run_workers: bool = True) -> FastAPI:
    """The web app, with the outbox worker running beside it while it serves."""
    app = create_app(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_warm_up(ctx), name="language-warm-up")]
        if run_workers:
            tasks.append(asyncio.create_task(ctx.worker().run(stop), name="outbox-worker"))
        if run_workers and ctx.settings.scheduler_enabled:
            from scheduler.service import SchedulerService  # waits for the lease if another runs

            tasks.append(asyncio.create_task(SchedulerService(ctx).run(stop), name="scheduler"))
        if ctx.settings.imap.configured:
            from bot.email_inbound import poll_mailbox

            tasks.append(asyncio.create_task(
                poll_mailbox(ctx.factory, ctx.settings.imap, ctx.channels, stop),
                name="imap-poller"))
        tg = ctx.settings.telegram
        if tg.configured and tg.mode == "polling":
            from bot.telegram_inbound import run_polling

            tasks.append(asyncio.create_task(run_polling(ctx, stop), name="telegram-polling"))
        elif tg.configured and tg.webhook_secret:
            await ctx.channels["telegram"].set_webhook(  # type: ignore[attr-defined]
                f"{ctx.settings.public_url}/webhooks/telegram", tg.webhook_secret)
        log.info("serving with %d background task(s)", len(tasks))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app


async def _warm_up(ctx: Context) -> None:
    """Load the reply-language models now, so no reply waits ~1.5 s for them later."""
    from bot.reply_language import warm_up

    try:
        await asyncio.to_thread(warm_up, ctx.factory)
    except Exception as exc:  # not fatal: the first reply then loads them itself
        log.warning("language detection warm-up failed (%s)", type(exc).__name__)
