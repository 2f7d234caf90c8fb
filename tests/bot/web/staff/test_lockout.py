"""Nobody can keep another person's staff account locked: the wait per client, the capped
wait per account that binds only clients which failed, and no route list for anyone."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.runtime.context import Context
from bot.store.models import Staff, utcnow
from bot.web.app import create_app
from bot.web.staff.security import ACCOUNT_MAX_DELAY, CLIENT_FREE_FAILURES, account_delay
from tests.bot.web.staff.helpers import account, sign_in

STRANGER = ("203.0.113.9", 50000)
OWNER = ("198.51.100.7", 50001)


def _app(ctx: Context) -> FastAPI:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        account(s, school, name="Ana Teacher", email="ana@school.test")
        account(s, school, name="Ben Teacher", email="ben@school.test")
    return create_app(ctx)


def test_a_stranger_guessing_all_day_never_locks_the_owner_out(ctx: Context) -> None:
    app = _app(ctx)
    with TestClient(app, client=STRANGER) as stranger, TestClient(app, client=OWNER) as owner:
        answers = [sign_in(stranger, "ana@school.test", f"guess {n}").status_code
                   for n in range(40)]
        assert answers.count(401) <= CLIENT_FREE_FAILURES  # then the stranger waits
        assert answers[-1] == 429
        # the owner, on her own device, signs in with her password at once
        assert sign_in(owner, "ana@school.test").status_code == 303
    with ctx.factory() as s:
        ana = s.scalar(select(Staff).where(Staff.email == "ana@school.test"))
        assert ana is not None and ana.failed_logins == 0


def test_the_stranger_is_slowed_on_every_account_not_only_the_one_guessed(
        ctx: Context) -> None:
    app = _app(ctx)
    with TestClient(app, client=STRANGER) as stranger:
        for n in range(CLIENT_FREE_FAILURES):
            sign_in(stranger, "ana@school.test" if n % 2 else "ben@school.test", "guess")
        slowed = sign_in(stranger, "nobody@school.test", "guess")
        assert slowed.status_code == 429
        assert "from this device" in slowed.text and int(slowed.headers["Retry-After"]) > 0
        # even the right password: this client is waiting
        assert sign_in(stranger, "ben@school.test").status_code == 429


def test_a_client_that_failed_waits_for_the_account_but_never_for_hours(
        ctx: Context) -> None:
    app = _app(ctx)
    with ctx.factory() as s, s.begin():
        ana = s.scalar(select(Staff).where(Staff.email == "ana@school.test"))
        assert ana is not None
        ana.failed_logins = 500  # a long siege from many addresses
        ana.last_failed_login_at = utcnow()
    with TestClient(app, client=OWNER) as owner:
        assert sign_in(owner, "ana@school.test", "typo").status_code in (401, 429)
        slowed = sign_in(owner, "ana@school.test")
        assert slowed.status_code == 429
        assert int(slowed.headers["Retry-After"]) <= ACCOUNT_MAX_DELAY.total_seconds() + 1
    assert account_delay(10_000) == ACCOUNT_MAX_DELAY == timedelta(minutes=15)


def test_the_schema_and_api_docs_are_not_served(ctx: Context) -> None:
    with TestClient(_app(ctx)) as anonymous:
        for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code in (303, 404), path
            assert "/webhooks/twilio" not in response.text
