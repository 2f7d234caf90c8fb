"""FastAPI application: provider webhooks, one-click unsubscribe, prep-pack pages, staff
pages and a health check."""

from __future__ import annotations

from fastapi import FastAPI

from bot.runtime.context import Context
from bot.store import reading


def create_app(ctx: Context) -> FastAPI:
    """Build the app around a Context (settings, database, channels)."""
    from bot.web import pack, telegram_hooks, twilio_hooks, unsubscribe

    app = FastAPI(title="schoolgate", docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    app.include_router(twilio_hooks.router)
    app.include_router(telegram_hooks.router)
    app.include_router(unsubscribe.router)
    app.include_router(pack.router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process is up and the database answers."""
        with reading(ctx.factory) as session:  # never queues for SQLite's write lock
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    from bot.web import staff  # staff pages, their static files and error pages

    staff.install(app)
    return app
