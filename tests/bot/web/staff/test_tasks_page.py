"""The tasks page: a key worker sees the children waiting for good news and closes tasks;
another teacher cannot close them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.follow_up.staff_tasks import refresh_positive_contact
from bot.runtime.context import Context
from bot.store.models import StaffTask, utcnow
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _world(ctx: Context) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        account(s, school, name="Ben Teacher", email="ben@school.test")
        kid = f.student(s, school, ana, first_name="Zofia", last_name="Kowalska")
        f.guardian(s, school, kid)
        kid.created_at = utcnow() - timedelta(days=30)
        s.flush()
        refresh_positive_contact(s, school, utcnow())
        task = s.query(StaffTask).one()
        return {"task": task.id, "kid": kid.id}


def test_key_worker_sees_the_child_waiting_for_good_news_and_closes_the_task(
        ctx: Context, client: TestClient) -> None:
    ids = _world(ctx)
    sign_in(client, "ana@school.test")
    html = client.get("/tasks").text
    assert "Zofia Kowalska" in html
    assert f'/compose?student={ids["kid"]}' in html
    done = client.post(f"/tasks/{ids['task']}/done", data={"csrf_token": form_token(html)},
                       follow_redirects=False)
    assert done.status_code == 303
    assert "Nothing to do." in client.get("/tasks").text
    with ctx.factory() as s:
        task = s.get(StaffTask, ids["task"])
        assert task is not None and task.done_at is not None


def test_another_teacher_neither_sees_nor_closes_the_task(ctx: Context,
                                                          client: TestClient) -> None:
    ids = _world(ctx)
    sign_in(client, "ben@school.test")
    html = client.get("/tasks").text
    assert "Zofia" not in html
    refused = client.post(f"/tasks/{ids['task']}/done", data={"csrf_token": form_token(html)},
                          follow_redirects=False)
    assert refused.status_code == 403
    with ctx.factory() as s:
        task = s.get(StaffTask, ids["task"])
        assert task is not None and task.done_at is None
