"""What every staff page shares: the signed-in person, roles, CSRF, templates, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from bot.runtime.context import Context
from bot.store import reading
from bot.store.models import School
from bot.web.staff import formats
from bot.web.staff.access import TRANSLATOR, role_of
from bot.web.staff.security import Me, check_session, load_session, same_token

COOKIE = "sg_session"
LOGIN_COOKIE = "sg_login_csrf"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent
                                          / "templates" / "staff"))
formats.install(TEMPLATES.env)  # times in school time, language names (bot.web.staff.formats)
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class StaffPageError(Exception):
    """An error page for staff: status code and one plain sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """No valid session: send the browser to the sign-in page."""


class GoTo(Exception):
    """Send the browser elsewhere (a translator's home is the translation review)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def ctx_of(request: Request) -> Context:
    """The process Context the app was built with."""
    return request.app.state.ctx


@contextmanager
def transaction(request: Request) -> Iterator[Session]:
    """A short session and transaction: SQLite takes its write lock per transaction."""
    with ctx_of(request).factory() as session, session.begin():
        yield session


@contextmanager
def reading_transaction(request: Request) -> Iterator[Session]:
    """A read-only session for pages that write nothing: on SQLite it never waits for
    the write lock (reply routing, the outbox worker). Audited views use `transaction`."""
    with reading(ctx_of(request).factory) as session:
        yield session


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure when the public address is HTTPS."""
    return ctx_of(request).settings.public_url.startswith("https://")


def _signed_in(request: Request) -> Me:
    cached = getattr(request.state, "me", None)
    if cached is not None:
        return cached
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired
    settings = ctx_of(request).settings
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    absolute = timedelta(hours=settings.web_session_absolute_hours)
    with reading_transaction(request) as session:  # most page views write nothing
        me, write = check_session(session, token, idle=idle, absolute=absolute)
        school = session.get(School, me.school_id) if me is not None else None
        if school is not None:  # every page shows times in the school's zone
            request.state.school_tz = school.timezone
            request.state.staff_language = school.staff_language
    if write:  # expired (the row goes) or its idle expiry slides: at most once a minute
        with transaction(request) as session:
            me = load_session(session, token, idle=idle, absolute=absolute)
    if me is None:
        raise SignInRequired
    request.state.me = me
    return me


async def _check_csrf(request: Request, me: Me) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    given = request.headers.get("X-CSRF-Token")
    if given is None:
        form = await request.form()  # Starlette caches it for the route's Form fields
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not same_token(me.csrf_token, given):
        raise StaffPageError(403, "This form has expired or did not come from schoolgate. "
                                  "Go back, reload the page and try again.")


def require(*roles: str) -> Callable[..., Any]:
    """The one dependency of each staff route: signed in, one of `roles`, CSRF on POST."""

    async def dependency(request: Request) -> Me:
        me = await run_in_threadpool(_signed_in, request)
        if role_of(me) not in roles:
            if role_of(me) == TRANSLATOR and request.url.path == "/":
                raise GoTo("/translations")
            raise StaffPageError(403, "Your role does not give access to this page.")
        await _check_csrf(request, me)
        return me

    return dependency


def page(request: Request, name: str, me: Me | None, code: int = 200,
         **values: Any) -> HTMLResponse:
    """Render a staff template with the signed-in person and security headers."""
    response = TEMPLATES.TemplateResponse(
        request, name, {"me": me, "role": role_of(me) if me else None,
                        **formats.page_values(request), **values},
        status_code=code)
    response.headers.update(HEADERS)
    return response


def redirect(url: str) -> Response:
    """After a POST: 303 so a reload does not post again."""
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def forbidden() -> StaffPageError:
    """The 403 for a record outside the person's families."""
    return StaffPageError(403, "This family is not one of yours. Ask the office or the "
                               "child's key worker if you need to see it.")


def not_found(what: str) -> StaffPageError:
    """The 404 for a missing record."""
    return StaffPageError(404, f"There is no {what} with that number.")


def login_redirect(request: Request) -> Response:
    """Where an unsigned request goes: the sign-in page, then back. A form posted after the
    session ran out goes back to the page it was written on (its Referer, same site only),
    where static/drafts.js puts back what was typed."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET":
        target = _same_site_page(request) or "/"
    if target == "/":
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _same_site_page(request: Request) -> str | None:
    """The path (and query) of the Referer when it is a page of this site, else None."""
    referer = request.headers.get("referer") or ""
    parts = urlsplit(referer)
    if not parts.path.startswith("/") or parts.path.startswith("//") \
            or parts.netloc != request.url.netloc or parts.path == "/login":
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
