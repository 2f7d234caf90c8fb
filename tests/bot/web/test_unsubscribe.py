"""One-click unsubscribe (RFC 8058): POST opts out with no login, GET only asks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.journeys.good_news import queue_good_news
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Delivery, GuardianChannel, Staff, Student
from bot.web.app import create_app
from tests import factories as f

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The real app on the test database."""
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _family(ctx: Context) -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        guardian = f.guardian(s, school, child, channel_order=["email", "sms"])
        _, rows = queue_good_news(s, school, child, teacher, "Helped a friend at lunch.",
                                  available={"sms", "email"})
        assert rows[0].channel == "email"
        return {"guardian": guardian.id, "token": rows[0].reply_token, "student": child.id,
                "teacher": teacher.id}


def _opted_out(ctx: Context, guardian_id: int) -> bool:
    with ctx.factory() as s:
        row = s.get(GuardianChannel, (guardian_id, "email"))
        return row is not None and row.opted_out_at is not None


def test_one_click_post_unsubscribes_and_next_note_goes_another_way(
        ctx: Context, client: TestClient) -> None:
    ids = _family(ctx)
    response = client.post(f"/unsubscribe/{ids['token']}", **ONE_CLICK)
    assert response.status_code == 200
    assert "These emails have stopped" in response.text
    assert _opted_out(ctx, ids["guardian"])
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        _, rows = queue_good_news(s, school, s.get(Student, ids["student"]),
                                  s.get(Staff, ids["teacher"]), "Tidied the library.",
                                  available={"sms", "email"})
        assert [r.channel for r in rows] == ["sms"]


def test_post_is_idempotent(ctx: Context, client: TestClient) -> None:
    ids = _family(ctx)
    for _ in range(3):
        assert client.post(f"/unsubscribe/{ids['token']}", **ONE_CLICK).status_code == 200
    with ctx.factory() as s:
        opt_outs = s.scalar(select(func.count()).select_from(AuditEntry)
                            .where(AuditEntry.action == "opt_out"))
    assert opt_outs == 1


def test_get_shows_a_button_and_does_not_unsubscribe(ctx: Context, client: TestClient) -> None:
    ids = _family(ctx)
    response = client.get(f"/unsubscribe/{ids['token']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'<form method="post" action="/unsubscribe/{ids["token"]}">' in response.text
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert not _opted_out(ctx, ids["guardian"])


def test_get_after_unsubscribing_says_so(ctx: Context, client: TestClient) -> None:
    ids = _family(ctx)
    client.post(f"/unsubscribe/{ids['token']}", **ONE_CLICK)
    response = client.get(f"/unsubscribe/{ids['token']}")
    assert response.status_code == 200 and "already stopped" in response.text
    assert "<form" not in response.text


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_token_is_404_with_a_plain_message(ctx: Context, client: TestClient,
                                                   method: str) -> None:
    _family(ctx)
    response = getattr(client, method)("/unsubscribe/not-a-real-token")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert "not known" in response.text
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(GuardianChannel)) == 0
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1
