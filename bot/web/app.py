"""FastAPI application: provider webhooks, one-click unsubscribe, prep-pack pages, staff
pages, health and metrics (bot/web/health.py)."""

from __future__ import annotations

from fastapi import FastAPI

from bot.runtime.context import Context


def create_app(ctx: Context) -> FastAPI:
    """Build the app around a Context (settings, database, channels)."""
    from bot.web import health, pack, telegram_hooks, twilio_hooks, unsubscribe

    # no schema and no API docs: they would list every route to anyone (issue 14)
    app = FastAPI(title="schoolgate", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    app.include_router(twilio_hooks.router)
    app.include_router(telegram_hooks.router)
    app.include_router(unsubscribe.router)
    app.include_router(pack.router)

    health.install(app, ctx)  # /healthz, /readyz, /metrics

    from bot.web import staff  # staff pages, their static files and error pages

    staff.install(app)
    return app
