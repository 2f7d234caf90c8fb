"""Sign in and sign out, and setting a new password through a one-time link."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from bot.web.staff.access import SIGNED_IN
from bot.web.staff.deps import (
    COOKIE,
    HEADERS,
    LOGIN_COOKIE,
    ctx_of,
    page,
    redirect,
    require,
    secure_cookies,
    transaction,
)
from bot.web.staff.passwords import LINK_HOURS, LinkRefused, usable_link, use_link
from bot.web.staff.security import (
    MIN_PASSWORD,
    Me,
    authenticate,
    end_session,
    same_token,
    start_session,
)

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, error: str | None = None, status: int = 200,
                email: str = "", next_url: str = "/", notice: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, code=status, error=error,
                    login_csrf=token, email=email, next_url=_safe_next(next_url),
                    notice=notice)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=secure_cookies(request), path="/login")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/", reset: str = "") -> Response:
    """The sign-in form (after a password link: a line saying the password is set)."""
    return _login_page(request, next_url=next, notice="Your new password is set: sign in "
                       "with it." if reset else None)


@router.post("/login")
def login(request: Request, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "",
          csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    """Check the password; on success start a session and go where the person was going."""
    if not same_token(request.cookies.get(LOGIN_COOKIE, ""), csrf_token):
        return _login_page(request, "The sign-in form expired. Please try again.", 403,
                           email, next)
    settings = ctx_of(request).settings
    with transaction(request) as session:
        result = authenticate(session, email, password,
                              unknown=request.app.state.unknown_emails,
                              client=request.client.host if request.client else "",
                              clients=request.app.state.client_failures)
        token = None
        if result.staff_id is not None:
            token = start_session(session, result.staff_id,
                                  timedelta(minutes=settings.web_session_idle_minutes))
    if token is None:
        status = 429 if result.retry_after else 401
        response = _login_page(request, result.error, status, email, next)
        if result.retry_after:
            response.headers["Retry-After"] = str(result.retry_after)
        return response
    response = redirect(_safe_next(next))
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax",
                        secure=secure_cookies(request), path="/",
                        max_age=int(settings.web_session_absolute_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, me: Annotated[Me, Depends(require(*SIGNED_IN))]) -> Response:
    """Sign out: the session row is deleted, the cookie cleared."""
    with transaction(request) as session:
        end_session(session, request.cookies.get(COOKIE, ""))
    response = redirect("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


GONE = ("This link has been used or has expired. Ask your administrator for a new one: "
        "they make it on the Set-up, Staff accounts page.")


def _reset_page(request: Request, token: str, error: str | None = None,
                status: int = 200, name: str = "") -> Response:
    csrf = secrets.token_urlsafe(24)
    response = page(request, "reset.html", None, code=status, error=error, token=token,
                    person=name, reset_csrf=csrf, min_password=MIN_PASSWORD, hours=LINK_HOURS)
    response.set_cookie(LOGIN_COOKIE, csrf, max_age=3600, httponly=True, samesite="strict",
                        secure=secure_cookies(request), path="/reset")
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response


def _gone(request: Request) -> Response:
    response = page(request, "reset.html", None, code=410, gone=GONE)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/reset/{token}")
def reset_form(request: Request, token: str) -> Response:
    """The page behind a one-time password link: choose a new password."""
    with transaction(request) as session:
        found = usable_link(session, token)
        name = found[1].name if found else ""
    if found is None:
        return _gone(request)
    return _reset_page(request, token, name=name)


@router.post("/reset/{token}")
def reset_submit(request: Request, token: str,
                 password: Annotated[str, Form()] = "",
                 again: Annotated[str, Form()] = "",
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    """Set the new password (once); then the person signs in with it."""
    if not same_token(request.cookies.get(LOGIN_COOKIE, ""), csrf_token):
        return _reset_page(request, token, "The form expired. Please try again.", 403)
    try:
        with transaction(request) as session:
            use_link(session, token, password, again)
    except LinkRefused as exc:
        if str(exc) == "gone":
            return _gone(request)
        return _reset_page(request, token, f"{str(exc)[:1].upper()}{str(exc)[1:]}.", 400)
    response = redirect("/login?reset=1")
    response.headers.update({**HEADERS, "Referrer-Policy": "no-referrer"})
    response.delete_cookie(LOGIN_COOKIE, path="/reset")
    return response
