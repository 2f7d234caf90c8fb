"""The staff web app: sign-in, inbox, good news, meetings, families, dashboard, outbox,
set-up."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from bot.web.staff.deps import (
    GoTo,
    SignInRequired,
    StaffPageError,
    login_redirect,
    page,
    redirect,
)
from bot.web.staff.security import UnknownEmails, client_failures

STATIC = Path(__file__).resolve().parent.parent / "static"


def _warm_plain_words(app: FastAPI) -> None:
    """Load the plain-words guard's glossary and word frequencies beside start-up, so the
    first as-you-type check in compose or the round answers at once, not seconds later."""
    from bot.errors import ConfigurationError
    from bot.language.plain import check_text

    glossary = app.state.ctx.settings.glossary_file

    def warm() -> None:
        try:
            check_text("Warm up.", glossary)
        except ConfigurationError:  # a school file not written yet: the page says so on use
            check_text("Warm up.")

    threading.Thread(target=warm, daemon=True, name="warm-plain-words").start()


def install(app: FastAPI) -> None:
    """Mount the staff pages, their static files and their error pages on `app`."""
    from bot.web.staff import (
        announce,
        auth,
        compose,
        dashboard,
        families,
        inbox,
        meetings,
        round,
        setup,
        tasks,
        translations,
    )

    app.router.on_startup.append(lambda: _warm_plain_words(app))
    app.state.unknown_emails = UnknownEmails()
    app.state.client_failures = client_failures()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, dashboard, inbox, compose, announce, round, meetings, families,
                   tasks, translations, setup):
        app.include_router(module.router)

    @app.exception_handler(StaffPageError)
    async def _staff_error(request: Request, exc: StaffPageError) -> Response:
        return page(request, "error.html", getattr(request.state, "me", None),
                    code=exc.status, status=exc.status, message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def _bad_value(request: Request, exc: RequestValidationError) -> Response:
        # an id in the address that no record can have (bot.web.staff.ids): 404
        if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
            return page(request, "error.html", getattr(request.state, "me", None), code=404,
                        status=404, message="There is nothing with that number.")
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(GoTo)
    async def _go_to(request: Request, exc: GoTo) -> Response:
        return redirect(exc.url)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return login_redirect(request)
