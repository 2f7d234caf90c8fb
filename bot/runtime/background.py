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
import contextlib
import gc
import logging
import time

from bot.inbound import inbox
from bot.inbound.sweep import YIELD_FACTOR, newest_id, waiting_ids
from bot.runtime.context import Context

log = logging.getLogger(__name__)

ROUTE_POLL_SECONDS = 0.25  # how soon a stored SMS reply is routed when nothing is waiting
ROUTE_PAUSE_SECONDS = 0.002  # between routings: leaves SQLite's write lock to the webhooks
ROUTE_BATCH = 50


async def run_background(ctx: Context, stop: asyncio.Event, *, route_replies: bool,
                         scheduler: bool = True) -> None:
    """Run the background tasks until `stop` is set; then let each finish cleanly."""
    tasks = [asyncio.create_task(_warm_up(ctx), name="language-warm-up"),
             asyncio.create_task(ctx.worker().run(stop), name="outbox-worker")]
    if route_replies:
        tasks.append(asyncio.create_task(route_replies_forever(ctx, stop),
                                         name="reply-routing"))
    if scheduler and ctx.settings.scheduler_enabled:
        from bot.runtime.jobs import all_jobs
        from scheduler.service import SchedulerService  # waits for the lease if another runs

        tasks.append(asyncio.create_task(
            SchedulerService(ctx.engine, all_jobs(ctx)).run(stop), name="scheduler"))
    if ctx.settings.imap.configured:
        from bot.inbound.email_replies import poll_mailbox

        tasks.append(asyncio.create_task(
            poll_mailbox(ctx.factory, ctx.settings.imap, ctx.channels, stop),
            name="imap-poller"))
    tg = ctx.settings.telegram
    if tg.configured and tg.mode == "polling":
        from bot.inbound.telegram_updates import run_polling

        tasks.append(asyncio.create_task(
            run_polling(ctx.factory, ctx.channels, tg, stop), name="telegram-polling"))
    log.info("running %d background task(s)", len(tasks))
    await asyncio.gather(*tasks, return_exceptions=True)


async def route_replies_forever(ctx: Context, stop: asyncio.Event,
                                poll: float = ROUTE_POLL_SECONDS) -> int:
    """Route SMS replies the webhook stored (oldest first) until `stop`; returns how many.

    Storing comes first. Routing costs about ten times what storing does, and on SQLite it
    holds the one write lock the webhook needs for the next reply; on a small machine it
    also takes the CPU the web process needs. So while replies keep arriving, each routing
    is followed by a pause YIELD_FACTOR times as long (routing then takes a fifth of the
    time at most), and when they stop it routes at full speed.

    A message whose routing fails is left 'received' and skipped here; the worker's
    sweep (bot.inbound.sweep) tries it again a minute later, so nothing is lost or done twice
    (routing is idempotent: a message no longer 'received' is left alone).
    """
    failed: set[int] = set()
    routed, newest = 0, 0
    while not stop.is_set():
        ids = await asyncio.to_thread(waiting_ids, ctx.factory, "sms", failed, ROUTE_BATCH)
        for inbound_id in ids:
            if stop.is_set():
                break
            started = time.monotonic()
            if await route_one(ctx, inbound_id):
                routed += 1
            else:
                failed.add(inbound_id)
            pause = ROUTE_PAUSE_SECONDS
            latest = await asyncio.to_thread(newest_id, ctx.factory, "sms")
            if latest > newest and newest:  # still arriving: storing them comes first
                pause = max(pause, YIELD_FACTOR * (time.monotonic() - started))
            newest = latest
            await asyncio.sleep(pause)
        if len(ids) < ROUTE_BATCH:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
    return routed


async def route_one(ctx: Context, inbound_id: int) -> bool:
    """Identify, route and acknowledge one stored reply; False (logged) if it failed."""
    try:
        await asyncio.to_thread(inbox.process, ctx.factory, inbound_id, list(ctx.channels))
    except Exception as exc:  # stored already: safe, and the sweep tries again
        # the type only: a database error's text carries the SQL parameters (bodies,
        # numbers); the traceback goes to DEBUG
        log.error("inbound %s stored but processing failed (%s)", inbound_id,
                  type(exc).__name__)
        log.debug("processing failure of inbound %s", inbound_id, exc_info=True)
        return False
    return True


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
    from babel.dates import format_datetime
    from sqlalchemy import select

    from bot.store import reading
    from bot.store.models import School, utcnow
    from translations import catalog_language, translations_for

    with reading(ctx.factory) as session:
        languages = {"en"}
        for spoken in session.scalars(select(School.languages)):
            languages.update(spoken or [])
    for language in sorted(languages):
        code = catalog_language(language)
        translations_for(code)  # the catalog, parsed once and kept
        format_datetime(utcnow(), "EEEE HH:mm", locale=code.replace("-", "_"))
