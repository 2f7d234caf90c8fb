"""Everything `schoolgate serve` does besides answering HTTP, in one place.

The outbox worker, reply routing, the scheduler, the IMAP poller and Telegram polling.
`schoolgate serve` runs these in a companion process (`schoolgate background`, started
and watched by the web process), so that the web process only stores and answers:
routing a reply costs about ten times what storing it does, and in the same process it
would hold the GIL while webhooks wait. `build_server_app(ctx, workers="inline")` runs
them inside the web process instead (tests, tiny set-ups).
"""

from __future__ import annotations

import asyncio
import gc
import logging

from bot.inbound.routing import POLL_SECONDS, Router
from bot.outbound.channel_loop import CHANNEL_LOOP
from bot.runtime.context import Context
from bot.runtime.heartbeat import keep_beating

log = logging.getLogger(__name__)


async def run_background(ctx: Context, stop: asyncio.Event, *, route_replies: bool,
                         scheduler: bool = True, router: Router | None = None) -> None:
    """Run the background tasks until `stop` is set; then let each finish cleanly.

    `route_replies`: route every new message as soon as it is stored (the companion
    process); otherwise the web process routes each webhook's message after its response
    (passing its `router`), and the loop here routes mail and finishes what was left.
    """
    router = router or Router(ctx.factory, ctx.channels, route_new=route_replies)
    tasks = [asyncio.create_task(_warm_up(ctx), name="language-warm-up"),
             asyncio.create_task(ctx.worker().run(stop), name="outbox-worker"),
             asyncio.create_task(router.run(stop), name="reply-routing"),
             asyncio.create_task(keep_beating(ctx.factory, stop,
                                              ctx.settings.heartbeat_seconds),
                                 name="heartbeat")]
    if scheduler and ctx.settings.scheduler_enabled:
        from bot.runtime.jobs import all_jobs
        from scheduler.service import SchedulerService  # waits for the lease if another runs

        tasks.append(asyncio.create_task(
            SchedulerService(ctx.engine, all_jobs(ctx)).run(stop), name="scheduler"))
    if ctx.settings.imap.configured:
        from bot.inbound.email_replies import poll_mailbox

        tasks.append(asyncio.create_task(
            poll_mailbox(ctx.factory, ctx.settings.imap, stop),
            name="imap-poller"))
    tg = ctx.settings.telegram
    if tg.configured and tg.mode == "polling":
        from bot.inbound.telegram_updates import run_polling

        tasks.append(asyncio.create_task(
            run_polling(ctx.factory, tg, stop), name="telegram-polling"))
    log.info("running %d background task(s)", len(tasks))
    # The scheduler's jobs run in threads; their channel work (staff notes) comes back to
    # this loop, which owns the channels' locks and connection pools (finding 9).
    with CHANNEL_LOOP.bound(asyncio.get_running_loop()):
        await asyncio.gather(*tasks, return_exceptions=True)


async def route_replies_forever(ctx: Context, stop: asyncio.Event,
                                poll: float = POLL_SECONDS) -> int:
    """Route every stored reply until `stop` (the one loop, bot.inbound.routing)."""
    return await Router(ctx.factory, ctx.channels, poll=poll).run(stop)


async def _warm_up(ctx: Context) -> None:
    """Load what the first replies would otherwise load while holding the write lock: the
    reply-language models (about 1.5 s), and each school language's catalog and dates."""
    from bot.inbound.reply_language import warm_up

    try:
        await asyncio.to_thread(warm_up, ctx.factory)
        await asyncio.to_thread(_load_languages, ctx)
    except Exception as exc:  # not fatal: the first reply then loads them itself
        log.warning("language warm-up failed (%s)", type(exc).__name__)
    settle_memory()


def settle_memory() -> None:
    """Move everything loaded at start-up out of the garbage collector's sight.

    The language models and libraries are millions of objects that live as long as the
    process; left in the collector's generations, each full collection walks them all
    (100-200 ms here), and one that lands inside a transaction holds SQLite's write lock
    that long. gc.freeze() keeps them out of every later collection.
    """
    gc.collect()
    gc.freeze()


def _load_languages(ctx: Context) -> None:
    from datetime import UTC

    from sqlalchemy import select

    from bot.store import reading
    from bot.store.models import School, utcnow
    from translations import catalog_language, dates, translations_for

    with reading(ctx.factory) as session:
        languages = {"en"}
        for spoken in session.scalars(select(School.languages)):
            languages.update(spoken or [])
    for language in sorted(languages):
        code = catalog_language(language)
        translations_for(code)  # the catalog, parsed once and kept
        dates.format_when(utcnow(), code, UTC)  # the locale's date data, loaded once
