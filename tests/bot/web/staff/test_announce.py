"""Compose to a group through the real app: the preview says who, in which languages and
channels, at what SMS cost and who cannot be reached; one click sends, once; urgent needs
the role, a reason and a tick; the school's jargon policy warns, asks or blocks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.runtime.context import Context
from bot.store.models import AuditEntry, Delivery, Message, MessageKind, School
from bot.web.app import create_app
from scheduler.policy import set_policy_value
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _school(ctx: Context) -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        admin = account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        account(s, school, "office", name="Olu Office", email="office@school.test")
        kids = [f.student(s, school, ana, class_name="3B") for _ in range(3)]
        f.guardian(s, school, kids[0], language="pl")
        f.guardian(s, school, kids[1], language="ar", channel_order=["email"])
        f.guardian(s, school, kids[2], phone=None, email=None)  # cannot be reached
        other = f.student(s, school, admin, class_name="5A", first_name="Noor")
        return {"ana": ana.id, "admin": admin.id, "kids": [k.id for k in kids],
                "other": other.id}


def _post(client: TestClient, **data: str) -> Any:
    token = form_token(client.get("/compose").text)
    return client.post("/compose", data={"csrf_token": token, **data},
                       follow_redirects=False)


def test_preview_names_families_languages_channels_cost_and_who_cannot_be_reached(
        ctx: Context, client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "admin@school.test")
    html = _post(client, audience="class:3B", text="The trip to the farm is on Friday.",
                 action="preview").text
    assert "2 families" in html and "of 3 children" in html
    assert "Polish" in html and "Arabic" in html and ">pl<" not in html
    assert "text message (SMS) 1" in html and "email 1" in html
    assert re.search(r"SMS cost: [1-3] text message segment", html)
    assert "Who cannot be reached (1)" in html  # the family with no address
    assert "no address" in html
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0  # nothing saved
    party = _post(client, audience="class:3B", tone="celebration", text="3B won the cup!",
                  action="preview").text
    assert "3 children in it are still waiting for a note of their own" in party


def test_send_is_one_click_once_and_shows_progress(ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "admin@school.test")
    html = _post(client, audience="class:3B", text="The trip to the farm is on Friday.",
                 action="preview").text
    draft = re.search(r'name="draft" value="([^"]+)"', html)
    assert draft
    token = form_token(html)
    form = {"csrf_token": token, "audience": "class:3B", "tone": "news",
            "draft": draft.group(1), "text": "The trip to the farm is on Friday.",
            "action": "send"}
    first = client.post("/compose", data=form, follow_redirects=False)
    again = client.post("/compose", data=form, follow_redirects=False)  # a double click
    assert first.status_code == 303 and again.headers["location"] == first.headers["location"]
    with ctx.factory() as s:
        message = s.scalars(select(Message)).one()
        assert message.kind == MessageKind.ANNOUNCEMENT
        rows = s.scalars(select(Delivery).where(Delivery.message_id == message.id)).all()
        assert sorted(r.guardian_id for r in rows) == sorted({r.guardian_id for r in rows})
        assert len(rows) == 3
    state = client.get(f"/announcements/{message.id}/status").json()
    assert state["families"] == 3 and state["unreachable"] == 1
    page = client.get(first.headers["location"]).text
    assert "Progress" in page and 'data-key="unreachable">1<' in page
    sign_in(client, "ana@school.test")  # not hers to watch
    assert client.get(f"/announcements/{message.id}").status_code == 403
    assert ids


def test_a_teacher_writes_to_her_class_not_the_year_or_the_school(ctx: Context,
                                                                 client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "ana@school.test")
    form = client.get("/compose").text
    assert 'value="class:3B"' in form and 'value="class:5A"' not in form
    assert 'value="school"' not in form
    assert _post(client, audience="school", text="Hello all.", action="preview"
                 ).status_code == 403
    refused = _post(client, audience="class:5A", text="Hello.", action="preview")
    assert refused.status_code == 400 and "no class" in refused.text
    with ctx.factory() as s, s.begin():  # another key worker's child joins 3B
        school = ctx.school(s)
        f.guardian(s, school, f.student(s, school, None, class_name="3B"))
    html = _post(client, audience="class:3B", text="Hello.", action="preview").text
    assert "Only the families of your own children in class 3B get this: 3 of its 4" in html


def test_urgent_needs_the_role_a_reason_and_a_tick(ctx: Context, client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "office@school.test")
    assert 'name="urgent"' not in client.get("/compose?audience=school").text
    refused = _post(client, audience="school", text="Closed today.", action="preview",
                    urgent="1", urgent_reason="snow")
    assert refused.status_code == 400 and "only an admin" in refused.text
    sign_in(client, "admin@school.test")
    no_reason = _post(client, audience="school", text="Closed today.", action="preview",
                      urgent="1", urgent_reason="")
    assert "say why it is urgent" in no_reason.text
    preview = _post(client, audience="school", text="Closed today.", action="preview",
                    urgent="1", urgent_reason="snow")
    assert "Urgent: this goes at once" in preview.text and 'name="urgent_confirm"' in preview.text
    unticked = _post(client, audience="school", text="Closed today.", action="send",
                     urgent="1", urgent_reason="snow")
    assert unticked.status_code == 400 and "tick" in unticked.text
    sent = _post(client, audience="school", text="Closed today.", action="send", urgent="1",
                 urgent_reason="snow", urgent_confirm="1")
    assert sent.status_code == 303
    with ctx.factory() as s:
        assert s.scalars(select(Message)).one().urgency == "urgent"
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "urgent_notice_queued")) == 1


def test_good_news_is_never_urgent(ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "admin@school.test")
    refused = _post(client, audience="child", student_id=str(ids["kids"][0]),
                    text="Read a whole book.", action="send", urgent="1",
                    urgent_reason="proud")
    assert refused.status_code == 400 and "good news is never urgent" in refused.text
    refused = _post(client, audience="class:3B", tone="celebration", text="We won!",
                    action="send", urgent="1", urgent_reason="joy", urgent_confirm="1")
    assert "good news is never urgent" in refused.text
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def _policy(ctx: Context, mode: str) -> None:
    with ctx.factory() as s, s.begin():
        school = s.scalars(select(School)).one()
        set_policy_value(school, "jargon", mode)


JARGON = "The SENCO will review the EHCP targets."


def test_jargon_block_refuses_naming_the_terms(ctx: Context, client: TestClient) -> None:
    _school(ctx)
    _policy(ctx, "block")
    sign_in(client, "admin@school.test")
    refused = _post(client, audience="class:3B", text=JARGON, action="send")
    assert refused.status_code == 400 and "SENCO" in refused.text and "EHCP" in refused.text
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_jargon_confirm_needs_the_tick_box(ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    _policy(ctx, "confirm")
    sign_in(client, "admin@school.test")
    assert 'name="jargon_ok"' in client.get("/compose").text
    kid = str(ids["kids"][0])
    refused = _post(client, student_id=kid, text=JARGON, action="send")
    assert refused.status_code == 400 and "confirm" in refused.text
    sent = _post(client, student_id=kid, text=JARGON, action="send", jargon_ok="1")
    assert sent.status_code == 303


def test_use_plain_words_rewrites_in_one_click(ctx: Context, client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "admin@school.test")
    html = _post(client, audience="class:3B", text=JARGON, action="rewrite").text
    textarea = re.search(r'<textarea id="text"[^>]*>([^<]*)</textarea>', html)
    assert textarea and "SENCO" not in textarea.group(1)
    assert "Plain words put in" in html and 'value="class:3B" selected' in html


def test_a_saved_list_from_the_browser_names_unknown_ids_and_is_an_audience(
        ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    with ctx.factory() as s:
        from bot.store.models import Student

        refs = [s.get(Student, k).ref for k in ids["kids"][:2]]  # type: ignore[union-attr]
    sign_in(client, "ana@school.test")
    assert client.get("/lists").status_code == 403  # the office or an admin keeps them
    sign_in(client, "office@school.test")
    token = form_token(client.get("/lists").text)
    bad = client.post("/lists", data={"csrf_token": token, "name": "Choir",
                                      "refs": f"{refs[0]}, NOPE1\nNOPE2"})
    assert bad.status_code == 400 and "NOPE1, NOPE2: nothing saved" in bad.text
    good = client.post("/lists", data={"csrf_token": token, "name": "Choir",
                                       "refs": "\n".join(refs)})
    assert "Saved the list Choir: 2 students" in good.text
    html = _post(client, audience="list:Choir", text="Choir at 3pm.", action="preview").text
    assert "of 2 children" in html
