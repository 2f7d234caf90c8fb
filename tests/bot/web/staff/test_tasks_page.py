"""The tasks page and the dashboard: they agree from day one on who waits for good news;
every waiting child is listed with a way into the round; waiting replies show the family,
the child, the first words (only to those who may read them) and the reply-by time; a
CALL becomes a call-back with the number, on the tasks page, the dashboard and the reply
page, closed when the call is done (audited), by nobody else."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cli.support import simulate_reply
from bot.runtime.context import Context
from bot.store.models import AuditEntry, InboundMessage, InboundStatus, Staff, StaffTask
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in

PHONE = "+447700900555"


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _world(ctx: Context, children: int = 1) -> dict[str, int]:
    """Ana's children, all imported today; Ben's child; an office account."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        ben = account(s, school, name="Ben Teacher", email="ben@school.test")
        account(s, school, "office", name="Olu Office", email="office@school.test")
        kid = f.student(s, school, ana, first_name="Zofia", last_name="Kowalska")
        f.guardian(s, school, kid, first_name="Marta", last_name="Kowalska", phone=PHONE)
        for i in range(1, children):
            more = f.student(s, school, ana, first_name=f"Pupil{i:02d}", last_name="Class")
            f.guardian(s, school, more)
        other = f.student(s, school, ben, first_name="Tomek", last_name="Nowak")
        f.guardian(s, school, other)
        return {"ana": ana.id, "ben": ben.id, "kid": kid.id, "other": other.id}


def _listed(html: str, table: str) -> set[str]:
    part = html.split(f'id="{table}"')[1].split("</table>")[0]
    return set(re.findall(r'href="/students/(\d+)"', part))


def test_the_tasks_page_and_the_dashboard_agree_on_day_one(ctx: Context,
                                                           client: TestClient) -> None:
    ids = _world(ctx, children=3)  # imported today, no job has run
    sign_in(client, "ana@school.test")
    tasks = client.get("/tasks").text
    dashboard = client.get("/").text
    assert "Nothing to do." not in tasks
    assert _listed(tasks, "news-tasks") == _listed(dashboard, "overdue")
    assert len(_listed(tasks, "news-tasks")) == 3
    assert str(ids["other"]) not in _listed(tasks, "news-tasks")
    assert 'href="/round"' in tasks and 'href="/round"' in dashboard
    client.post("/logout", data={"csrf_token": form_token(tasks)})
    sign_in(client, "office@school.test")
    tasks = client.get("/tasks").text
    assert _listed(tasks, "news-tasks") == _listed(client.get("/").text, "overdue")
    assert len(_listed(tasks, "news-tasks")) == 4  # Ben's child too


def test_the_dashboard_lists_every_waiting_child_not_the_first_fifteen(
        ctx: Context, client: TestClient) -> None:
    _world(ctx, children=22)
    sign_in(client, "ana@school.test")
    html = client.get("/").text
    assert len(_listed(html, "overdue")) == 22
    assert "22 children waiting for good news" in html
    assert "and 7 more" not in html


def test_waiting_replies_show_family_child_first_words_and_reply_by(
        ctx: Context, client: TestClient) -> None:
    _world(ctx)
    simulate_reply(ctx, PHONE, "Zofia will be late tomorrow because of the dentist, sorry")
    sign_in(client, "ana@school.test")
    html = client.get("/").text
    card = html.split('id="h-waiting"')[1].split("</section>")[0]
    assert "Marta Kowalska about Zofia Kowalska" in card
    assert "Zofia will be late tomorrow because of the dentist" in card
    assert "reply by" in card and "UTC" not in card
    assert "Reply 1" not in card
    client.post("/logout", data={"csrf_token": form_token(html)})
    sign_in(client, "office@school.test")  # may not read a family's words
    card = client.get("/").text.split('id="h-waiting"')[1].split("</section>")[0]
    assert "Marta Kowalska about Zofia Kowalska" in card
    assert "dentist" not in card


def test_a_call_becomes_a_call_back_with_the_number_closed_when_the_call_is_done(
        ctx: Context, client: TestClient) -> None:
    ids = _world(ctx)
    inbound = simulate_reply(ctx, PHONE, "Zadzwoń")
    with ctx.factory() as s:
        task = s.scalars(select(StaffTask).where(StaffTask.kind == "call_back")).one()
        assert (task.staff_id, task.inbound_id, task.student_id) == (
            ids["ana"], inbound.id, ids["kid"])
        assert PHONE not in task.reason
    sign_in(client, "ana@school.test")
    tasks = client.get("/tasks").text
    assert "they asked for a call" in tasks and f'href="tel:{PHONE}"' in tasks
    dashboard = client.get("/").text
    calls = dashboard.split('id="h-calls"')[1].split("</section>")[0]
    assert "Marta Kowalska" in calls and PHONE in calls
    reply = client.get(f"/inbox/{inbound.id}").text
    assert "Number to call" in reply and PHONE in reply
    done = client.post(f"/tasks/{task.id}/done",
                       data={"csrf_token": form_token(reply), "back": "reply"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/inbox/{inbound.id}"
    assert "Call done" in client.get(f"/inbox/{inbound.id}").text
    assert "Nobody is waiting for a call." in client.get("/").text
    with ctx.factory() as s:
        closed = s.get(StaffTask, task.id)
        row = s.get(InboundMessage, inbound.id)
        assert closed is not None and closed.done_at is not None
        assert row is not None and row.status == InboundStatus.HANDLED
        assert row.handled_by_id == ids["ana"]
        actions = {a.action for a in s.scalars(select(AuditEntry))}
        assert {"call_back_opened", "task_done", "call_back_done"} <= actions


def test_another_teacher_neither_sees_nor_closes_a_call_back(ctx: Context,
                                                             client: TestClient) -> None:
    _world(ctx)
    inbound = simulate_reply(ctx, PHONE, "CALL")
    with ctx.factory() as s:
        task = s.scalars(select(StaffTask).where(StaffTask.kind == "call_back")).one()
    sign_in(client, "ben@school.test")
    html = client.get("/tasks").text
    assert PHONE not in html and PHONE not in client.get("/").text
    refused = client.post(f"/tasks/{task.id}/done", data={"csrf_token": form_token(html)},
                          follow_redirects=False)
    assert refused.status_code == 403
    assert client.get(f"/inbox/{inbound.id}").status_code == 403
    with ctx.factory() as s:
        still = s.get(StaffTask, task.id)
        assert still is not None and still.done_at is None


def test_a_cover_sees_and_closes_the_away_key_workers_call_back(ctx: Context,
                                                                client: TestClient) -> None:
    ids = _world(ctx)
    simulate_reply(ctx, PHONE, "call")
    with ctx.factory() as s, s.begin():
        ana = s.get(Staff, ids["ana"])
        assert ana is not None
        ana.away, ana.cover_id = True, ids["ben"]
        task = s.scalars(select(StaffTask).where(StaffTask.kind == "call_back")).one()
    sign_in(client, "ben@school.test")
    html = client.get("/tasks").text
    assert PHONE in html
    done = client.post(f"/tasks/{task.id}/done", data={"csrf_token": form_token(html)},
                       follow_redirects=False)
    assert done.status_code == 303


def test_a_call_by_email_from_a_family_with_no_phone_says_there_is_no_number(
        ctx: Context, client: TestClient) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        kid = f.student(s, school, ana, first_name="Ola")
        f.guardian(s, school, kid, first_name="Ewa", phone=None, email="ewa@home.test",
                   channel_order=["email"])
    inbound = simulate_reply(ctx, "ewa@home.test", "Call")
    sign_in(client, "ana@school.test")
    assert "no number on file" in client.get("/tasks").text
    assert "no phone number on file" in client.get(f"/inbox/{inbound.id}").text
