"""Sign in and sign out."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from bot.web.staff.access import SIGNED_IN
from bot.web.staff.deps import (
    COOKIE,
    LOGIN_COOKIE,
    ctx_of,
    page,
    redirect,
    require,
    secure_cookies,
    transaction,
)
from bot.web.staff.security import (
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
                email: str = "", next_url: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, code=status, error=error,
                    login_csrf=token, email=email, next_url=_safe_next(next_url))
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=secure_cookies(request), path="/login")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return _login_page(request, next_url=next)


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
