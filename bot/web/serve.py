"""`schoolgate serve`: the web app, with the background work beside it.

`workers` says where the background work (bot.runtime.background) runs:

- "process" (what `schoolgate serve` does): in a companion process the web process starts
  and watches, so the web process only stores and answers;
- "inline": inside the web process, with stored SMS replies routed after each response
  (tests, and `schoolgate serve --one-process`);
- "none": elsewhere (`schoolgate serve --no-workers` beside `schoolgate background`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import FastAPI

from bot.runtime.context import Context
from bot.web.app import create_app
from channels.base import reveal

log = logging.getLogger(__name__)

Workers = Literal["process", "inline", "none"]


def build_server_app(ctx: Context, workers: Workers = "inline") -> FastAPI:
    """The web app, with the background work run as `workers` says."""
    if workers not in ("process", "inline", "none"):
        raise ValueError(f"workers must be process, inline or none, not {workers!r}")
    app = create_app(ctx)
    app.state.route_after_response = workers == "inline"

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks: list[asyncio.Task[object]] = []
        if workers == "inline":
            from bot.inbound.routing import Router
            from bot.runtime.background import run_background

            # one router: each webhook's message routed after its response, the loop the rest
            router = app.state.inbound_router = Router(ctx.factory, ctx.channels,
                                                       route_new=False)
            tasks.append(asyncio.create_task(
                run_background(ctx, stop, route_replies=False, router=router),
                name="background"))
        elif workers == "process":
            from bot.runtime.companion import supervise

            tasks.append(asyncio.create_task(supervise(stop), name="companion"))
        tg = ctx.settings.telegram
        if tg.configured and tg.mode != "polling" and tg.webhook_secret:
            await ctx.channels["telegram"].set_webhook(  # type: ignore[attr-defined]
                f"{ctx.settings.public_url}/webhooks/telegram", reveal(tg.webhook_secret))
        if workers != "inline":  # inline: the background warm-up does this when loaded
            from bot.runtime.background import settle_memory

            settle_memory()
        log.info("serving; background work: %s", workers)
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
