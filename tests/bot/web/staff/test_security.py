"""Staff web app security: sign-in throttle, sessions, CSRF, roles, audit of log views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bot.cli.support import simulate_reply
from bot.runtime.context import Context
from bot.store.models import AuditEntry, InboundMessage, Staff, WebSession, utcnow
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import PASSWORD, account, form_token, sign_in


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The real app on the test database."""
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _school(ctx: Context) -> dict[str, Any]:
    """Two teachers with one family each, an office account and an admin."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        ben = account(s, school, name="Ben Teacher", email="ben@school.test")
        office = account(s, school, "office", name="Olu Office", email="office@school.test")
        child_a = f.student(s, school, ana, first_name="Zofia")
        child_b = f.student(s, school, ben, first_name="Tomasz")
        fam_a = f.guardian(s, school, child_a, first_name="Marta", phone="+447700900101")
        fam_b = f.guardian(s, school, child_b, first_name="Piotr", phone="+447700900102")
        return {"ana": ana.id, "ben": ben.id, "office": office.id, "child_a": child_a.id,
                "child_b": child_b.id, "fam_a": fam_a.id, "fam_b": fam_b.id}


def test_teacher_opening_another_teachers_family_gets_403(ctx: Context,
                                                          client: TestClient) -> None:
    ids = _school(ctx)
    assert sign_in(client, "ana@school.test").status_code == 303
    assert client.get(f"/families/{ids['fam_a']}").status_code == 200
    assert client.get(f"/students/{ids['child_a']}").status_code == 200
    for path in (f"/families/{ids['fam_b']}", f"/students/{ids['child_b']}",
                 f"/compose?student={ids['child_b']}"):
        response = client.get(path)
        if path.startswith("/compose"):  # the form lists only her own children
            assert "Tomasz" not in response.text and "Zofia" in response.text
            continue
        assert response.status_code == 403
        assert "not one of yours" in response.text
        assert "Piotr" not in response.text


def test_cover_opens_the_family_only_while_the_key_worker_is_away(
        ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    with ctx.factory() as s, s.begin():
        s.execute(update(Staff).where(Staff.id == ids["ben"]).values(cover_id=ids["ana"]))
    sign_in(client, "ana@school.test")
    assert client.get(f"/families/{ids['fam_b']}").status_code == 403
    with ctx.factory() as s, s.begin():
        s.execute(update(Staff).where(Staff.id == ids["ben"]).values(away=True))
    assert client.get(f"/families/{ids['fam_b']}").status_code == 200


def test_form_posted_without_its_csrf_token_is_refused(ctx: Context,
                                                       client: TestClient) -> None:
    ids = _school(ctx)
    inbound = simulate_reply(ctx, "+447700900101", "Thank you, see you Monday")
    sign_in(client, "ana@school.test")
    page = client.get(f"/inbox/{inbound.id}")
    assert page.status_code == 200
    refused = client.post(f"/inbox/{inbound.id}/handled", data={}, follow_redirects=False)
    assert refused.status_code == 403
    wrong = client.post(f"/inbox/{inbound.id}/handled", data={"csrf_token": "forged"},
                        follow_redirects=False)
    assert wrong.status_code == 403
    with ctx.factory() as s:
        assert s.get(InboundMessage, inbound.id).handled_at is None  # type: ignore[union-attr]
    done = client.post(f"/inbox/{inbound.id}/handled",
                       data={"csrf_token": form_token(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    with ctx.factory() as s:
        row = s.get(InboundMessage, inbound.id)
        assert row is not None and row.handled_at is not None
        assert row.handled_by_id == ids["ana"] and row.status == "handled"


def test_login_form_without_its_token_is_refused(ctx: Context, client: TestClient) -> None:
    _school(ctx)
    response = client.post("/login", data={"email": "ana@school.test", "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 403
    assert "sg_session" not in response.cookies


def test_five_wrong_passwords_slow_further_attempts(ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    for _ in range(5):
        response = sign_in(client, "ana@school.test", "not the password")
        assert response.status_code == 401
        assert "do not match an account" in response.text
    # even the right password is refused now, with a clear message and Retry-After
    slowed = sign_in(client, "ana@school.test")
    assert slowed.status_code == 429
    assert "Too many wrong passwords" in slowed.text
    assert 0 < int(slowed.headers["Retry-After"]) <= 31
    with ctx.factory() as s, s.begin():
        staff = s.get(Staff, ids["ana"])
        assert staff is not None and staff.failed_logins == 5
        # the wait passes (stored on the row, so any process sees it)
        staff.last_failed_login_at = utcnow() - timedelta(seconds=31)
    assert sign_in(client, "ana@school.test", "still wrong").status_code == 401
    again = sign_in(client, "ana@school.test")
    assert again.status_code == 429  # the sixth failure doubled the wait
    assert 31 < int(again.headers["Retry-After"]) <= 61
    with ctx.factory() as s, s.begin():
        staff = s.get(Staff, ids["ana"])
        assert staff is not None
        staff.last_failed_login_at = utcnow() - timedelta(seconds=61)
    assert sign_in(client, "ana@school.test").status_code == 303
    with ctx.factory() as s:
        staff = s.get(Staff, ids["ana"])
        assert staff is not None and staff.failed_logins == 0


def test_unknown_email_is_answered_like_a_wrong_password(ctx: Context,
                                                         client: TestClient) -> None:
    _school(ctx)
    known = sign_in(client, "ana@school.test", "wrong password")
    unknown = sign_in(client, "nobody@school.test", "wrong password")
    assert (known.status_code, unknown.status_code) == (401, 401)
    assert "do not match an account" in unknown.text
    for _ in range(4):
        sign_in(client, "nobody@school.test", "wrong password")
    assert sign_in(client, "nobody@school.test", "wrong password").status_code == 429


def test_idle_and_absolute_session_expiry(ctx: Context, client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "ana@school.test")
    assert client.get("/inbox", follow_redirects=False).status_code == 200
    with ctx.factory() as s, s.begin():
        s.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.get("/inbox", follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"].startswith("/login")
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0
    # absolute: a session in daily use still ends 12 hours after sign-in
    sign_in(client, "ana@school.test")
    assert client.get("/inbox", follow_redirects=False).status_code == 200
    with ctx.factory() as s, s.begin():
        s.execute(update(WebSession).values(created_at=utcnow() - timedelta(hours=12, seconds=1),
                                            expires_at=utcnow() + timedelta(minutes=30)))
    assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_sign_out_deletes_the_session(ctx: Context, client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "ana@school.test")
    cookie = client.cookies.get("sg_session")
    page = client.get("/")
    assert client.post("/logout", data={"csrf_token": form_token(page.text)},
                       follow_redirects=False).status_code == 303
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0
    client.cookies.set("sg_session", cookie or "")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_office_sees_unmatched_queue_but_not_family_replies(ctx: Context,
                                                            client: TestClient) -> None:
    ids = _school(ctx)
    private = simulate_reply(ctx, "+447700900101", "Zofia is upset about her grandmother")
    stray = simulate_reply(ctx, "+447700900999", "Who is this please")
    assert stray.status == "unmatched"
    sign_in(client, "office@school.test")
    family = client.get(f"/families/{ids['fam_a']}")
    assert family.status_code == 200  # the roster is theirs
    assert "grandmother" not in family.text
    assert "Only the key worker and their cover can read this reply" in family.text
    assert client.get(f"/inbox/{private.id}").status_code == 403
    inbox = client.get("/inbox")
    assert "Who is this please" in inbox.text and "grandmother" not in inbox.text
    # the key worker reads it
    client.cookies.clear()
    sign_in(client, "ana@school.test")
    assert "grandmother" in client.get(f"/inbox/{private.id}").text


def test_every_contact_log_view_is_audited_with_identifiers_only(
        ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "ana@school.test")
    client.get(f"/families/{ids['fam_a']}")
    client.get(f"/families/{ids['fam_a']}")
    client.get(f"/students/{ids['child_a']}")
    client.get(f"/families/{ids['fam_b']}")  # refused: no view, no entry
    with ctx.factory() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "view_contact_log")
                              .order_by(AuditEntry.id)))
    assert [(r.actor, r.object_type, r.object_id) for r in rows] == [
        (f"staff:{ids['ana']}", "guardian", str(ids["fam_a"])),
        (f"staff:{ids['ana']}", "guardian", str(ids["fam_a"])),
        (f"staff:{ids['ana']}", "student", str(ids["child_a"])),
    ]
    text = repr([(r.actor, r.object_id, r.detail) for r in rows])
    assert "Marta" not in text and "Ana" not in text and "+44" not in text


def test_signed_out_visitor_signs_in_and_returns_but_never_leaves_the_site(
        ctx: Context, client: TestClient) -> None:
    _school(ctx)
    first = client.get("/inbox", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Finbox"
    for target, lands in (("/inbox", "/inbox"), ("//evil.example/x", "/")):
        client.cookies.clear()
        token = form_token(client.get("/login?next=%2Finbox").text)
        response = client.post("/login", data={"email": "ana@school.test", "password": PASSWORD,
                                               "csrf_token": token, "next": target},
                               follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == lands
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
