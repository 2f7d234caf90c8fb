"""Signing in through the real form, for staff page tests."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot.store.models import School, Staff
from bot.web.staff.security import hash_password
from tests import factories as f

PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test run


def account(session: Session, school: School, role: str = "teacher", **kw: object) -> Staff:
    """A member of staff who can sign in with PASSWORD."""
    return f.staff(session, school, role=role, password_hash=_HASH, **kw)


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Post the sign-in form as a browser would (its token cookie included)."""
    token = form_token(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token, "next": "/"},
                       follow_redirects=False)
