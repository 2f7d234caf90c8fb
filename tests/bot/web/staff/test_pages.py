"""Staff pages through the real app: what the dashboard counts, the as-you-type check,
answers on the parent's channel, meetings previewed without saving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.cli.support import simulate_reply
from bot.journeys.good_news import queue_good_news
from bot.outbound.dispatch import dispatch
from bot.runtime.context import Context
from bot.store.models import (
    ActionPoint,
    Delivery,
    DeliveryStatus,
    Message,
    MessageKind,
    Staff,
    Student,
    utcnow,
)
from bot.web.app import create_app
from scheduler.contact_summary import count_sent
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The real app on the test database."""
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _school(ctx: Context) -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        admin = account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        kids = [f.student(s, school, ana, class_name=c) for c in ("3B", "3B", "4A")]
        fams = [f.guardian(s, school, k, channel_order=["email", "sms"]) for k in kids]
        return {"ana": ana.id, "admin": admin.id, "kids": [k.id for k in kids],
                "fams": [g.id for g in fams], "fam_email": fams[0].email}


def _news(ctx: Context, student_id: int, author_id: int, kind: str = "good_news") -> None:
    """A message about a child, sent (as the worker would record it)."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        student, author = s.get(Student, student_id), s.get(Staff, author_id)
        assert student is not None and author is not None
        if kind == "good_news":
            _, rows = queue_good_news(s, school, student, author, "Read a whole book.",
                                      {"email", "sms"})
        else:
            message = Message(school_id=school.id, kind=MessageKind.CONCERN,
                              author_id=author.id, student_id=student.id,
                              source_text="Late twice this week.")
            s.add(message)
            rows = dispatch(s, message, {"email", "sms"})
        for row in rows:
            row.status, row.sent_at = DeliveryStatus.SENT, utcnow()
        s.flush()
        count_sent(s, [row.id for row in rows])  # the worker's record step keeps the summary


def test_dashboard_counts_balance_per_class_and_deliveries(ctx: Context,
                                                           client: TestClient) -> None:
    ids = _school(ctx)
    _news(ctx, ids["kids"][0], ids["ana"])
    _news(ctx, ids["kids"][1], ids["ana"])
    _news(ctx, ids["kids"][1], ids["ana"], "concern")
    sign_in(client, "admin@school.test")
    html = client.get("/").text
    assert 'aria-label="Positive and concern messages per class: 3B: 2 positive, 1 concern"' \
        in html
    row = re.search(r'<th scope="row">3B</th><td>(\d+)</td><td>(\d+)</td>', html)
    assert row and row.groups() == ("2", "1")
    assert 'aria-label="Deliveries by channel: email: 3 deliveries"' in html
    # only the 4A child has had no good news
    overdue = html.split('id="h-overdue"')[1].split("</section>")[0]
    assert overdue.count("write good news") == 1 and f"/compose?student={ids['kids'][2]}" \
        in overdue


def test_as_you_type_check_needs_the_token_in_its_header(ctx: Context,
                                                         client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "ana@school.test")
    token = form_token(client.get("/compose").text)
    text = {"text": "We will review her EHCP at the SENCO meeting."}
    assert client.post("/compose/check", data=text).status_code == 403
    found = client.post("/compose/check", data=text, headers={"X-CSRF-Token": token}).json()
    assert {hit["term"] for hit in found["jargon"]} >= {"EHCP", "SENCO"}
    assert found["ok"] is False


def test_check_button_works_without_javascript(ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "ana@school.test")
    token = form_token(client.get("/compose").text)
    page = client.post("/compose", data={"csrf_token": token, "student_id": ids["kids"][0],
                                         "text": "She met her IEP targets.", "action": "check"})
    assert page.status_code == 200
    assert "Words families may not know" in page.text and "IEP" in page.text
    with ctx.factory() as s:  # checking sends nothing
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_answer_goes_back_on_the_channel_the_parent_used(ctx: Context,
                                                         client: TestClient) -> None:
    ids = _school(ctx)
    inbound = simulate_reply(ctx, ids["fam_email"], "Is the trip on Friday?")
    assert inbound.channel == "email"
    sign_in(client, "ana@school.test")
    token = form_token(client.get(f"/inbox/{inbound.id}").text)
    done = client.post(f"/inbox/{inbound.id}/reply",
                       data={"csrf_token": token, "text": "Yes, it is on Friday."},
                       follow_redirects=False)
    assert done.status_code == 303
    with ctx.factory() as s:
        answer = s.scalar(select(Delivery).join(Message).where(
            Message.kind == MessageKind.REPLY))
        assert answer is not None and answer.channel == "email"
        assert answer.guardian_id == ids["fams"][0]
    empty = client.post(f"/inbox/{inbound.id}/reply", data={"csrf_token": token, "text": " "})
    assert empty.status_code == 400 and "the reply is empty" in empty.text


def test_meeting_preview_saves_nothing_and_send_queues_it(ctx: Context,
                                                          client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "ana@school.test")
    token = form_token(client.get("/meetings/new").text)
    when = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT15:30")
    form = {"csrf_token": token, "student_id": ids["kids"][0], "why": "To plan next term.",
            "when1": when, "where": "Room 4", "minutes": "30", "who": "Ana Teacher | class teacher"}
    preview = client.post("/meetings/new", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "How each family will see it" in preview.text
    assert "Room 4" in preview.text
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
    sent = client.post("/meetings/new", data={**form, "action": "send"},
                       follow_redirects=False)
    assert sent.status_code == 303
    meeting = client.get(sent.headers["location"])
    assert "no answer yet" in meeting.text
    past = client.post("/meetings/new", data={**form, "when1": "2020-01-01T10:00",
                                              "action": "send"})
    assert past.status_code == 400 and "that time has passed" in past.text
    # an action point agreed at the meeting, then done
    meeting_url = sent.headers["location"].split("?")[0]
    due = (utcnow() + timedelta(days=10)).date().isoformat()
    added = client.post(f"{meeting_url}/actions", data={
        "csrf_token": token, "description": "Try the reading club", "owner": "family",
        "due": due}, follow_redirects=False)
    assert added.status_code == 303
    with ctx.factory() as s:
        action = s.scalar(select(ActionPoint))
        assert action is not None and action.meeting_message_id == int(meeting_url.split("/")[-1])
    assert client.post(f"{meeting_url}/actions/{action.id}/done",
                       data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with ctx.factory() as s:
        done = s.get(ActionPoint, action.id)
        assert done is not None and done.status == "done"
    late = client.post(f"{meeting_url}/actions", data={
        "csrf_token": token, "description": "x", "owner": "family", "due": "2020-01-01"})
    assert late.status_code == 400 and "is in the past" in late.text


def test_the_office_sees_why_a_message_waits_for_a_person(ctx: Context,
                                                          client: TestClient) -> None:
    """A message the routing loop gave up on is in the unmatched queue with its reason."""
    from bot.inbound import inbox
    from bot.inbound.routing import MAX_ATTEMPTS, record_failure
    from channels.sms import parse_inbound

    ids = _school(ctx)
    inbound_id, _ = inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900999", "Body": "Is the trip still on?", "MessageSid": "SMstuck"}))
    for _ in range(MAX_ATTEMPTS):
        record_failure(ctx.factory, inbound_id, "KeyError")
    with ctx.factory() as s:
        admin = s.get(Staff, ids["admin"])
        assert admin is not None
        email = admin.email
    sign_in(client, email)
    page = client.get("/inbox").text
    unmatched = page[page.index('id="unmatched"'):]
    assert "Is the trip still on?" in unmatched
    assert "Could not be processed: could not be processed (KeyError), 5 time(s)" in unmatched
