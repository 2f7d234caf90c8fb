"""The good-news round: a teacher's children on one page, who waits and for how long; every
note queued at once in each family's language, spread over the cadence window; a round
with a bad note queues nothing and keeps every note; a second click queues nothing more."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Message,
    MessageKind,
    Staff,
    Student,
    utcnow,
)
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in

LANGUAGES = ("pl", "es", "ar", "so", "ro")


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _class(ctx: Context, size: int = 6) -> dict[str, Any]:
    """Ana's class (families in five languages, one child who joined today, one who had
    good news yesterday), Ben's child, and an admin."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        ben = account(s, school, name="Ben Teacher", email="ben@school.test")
        account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        kids, fams = [], []
        for i in range(size):
            kid = f.student(s, school, ana, first_name=f"Kid{i}", last_name="Round",
                            created_at=utcnow() - timedelta(days=0 if i == 0 else 60))
            fams.append(f.guardian(s, school, kid, language=LANGUAGES[i % len(LANGUAGES)],
                                   first_name=f"Parent{i}"))
            kids.append(kid)
        other = f.student(s, school, ben, first_name="Bens", last_name="Child")
        f.guardian(s, school, other)
        recent = kids[-1]
        message = Message(school_id=school.id, kind=MessageKind.GOOD_NEWS, author_id=ana.id,
                          student_id=recent.id, source_text="Lovely painting.")
        s.add(message)
        s.flush()
        s.add(Delivery(message_id=message.id, guardian_id=fams[-1].id, channel="sms",
                       address=fams[-1].phone, rendered_text="x", status=DeliveryStatus.SENT,
                       sent_at=utcnow() - timedelta(days=1), idempotency_key=f"gn{message.id}"))
        return {"ana": ana.id, "ben": ben.id, "kids": [k.id for k in kids],
                "fams": [g.id for g in fams], "other": other.id, "recent": recent.id,
                "new": kids[0].id}


def _form(html: str) -> dict[str, Any]:
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token
    return {"csrf_token": form_token(html), "token": token.group(1)}


def _notes(ids: list[int], texts: dict[int, str]) -> dict[str, list[str]]:
    return {"student": [str(i) for i in ids], "note": [texts.get(i, "") for i in ids]}


def _good_news_count(ctx: Context) -> int:
    with ctx.factory() as s:
        return s.scalar(select(func.count()).select_from(Message).where(
            Message.kind == MessageKind.GOOD_NEWS)) or 0


def test_the_round_lists_my_children_waiting_longest_first_with_language_and_channel(
        ctx: Context, client: TestClient) -> None:
    ids = _class(ctx)
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    assert "Bens Child" not in html  # another teacher's child
    lines = re.findall(r'data-student="(\d+)"', html)
    assert sorted(int(x) for x in lines) == sorted(ids["kids"])
    assert int(lines[-1]) == ids["recent"]  # had good news yesterday: last
    assert "5 of 6 children are waiting" in html
    assert "never had good news" in html  # the child who joined today waits from day one
    assert "good news 1 day ago" in html
    for name in ("Polish", "Spanish", "Arabic", "Somali", "Romanian"):
        assert name in html
    assert "Polish, sms" in html


def test_a_round_queues_every_note_in_each_familys_language_spread_over_the_window(
        ctx: Context, client: TestClient) -> None:
    ids = _class(ctx)
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    kids = ids["kids"]
    texts = {k: f"Kid{i} helped tidy the library today." for i, k in enumerate(kids[:5])}
    done = client.post("/round", data={**_form(html), **_notes(kids, texts)},
                       follow_redirects=False)
    assert done.status_code == 303
    with ctx.factory() as s:
        rows = s.execute(select(Message, Delivery).join(Delivery)
                         .where(Message.kind == MessageKind.GOOD_NEWS,
                                Message.source_text != "Lovely painting.")
                         .order_by(Message.id)).all()
        assert [m.student_id for m, _ in rows] == kids[:5]  # the empty sixth is skipped
        for (message, delivery), language in zip(rows, LANGUAGES, strict=True):
            assert delivery.language == language
            assert message.source_text.endswith("helped tidy the library today.")
        starts = [d.next_attempt_at for _, d in rows]
        assert starts == sorted(starts)
        assert starts[-1] - starts[0] >= timedelta(minutes=40)  # spread, not one burst
        assert starts[-1] - starts[0] <= timedelta(minutes=60)  # inside the spread window
    summary = client.get(done.headers["location"]).text
    assert "5 notes queued" in summary
    assert summary.count("<td class=\"status\">") == 5
    again = client.post("/round", data={**_form(html), **_notes(kids, texts)},
                        follow_redirects=False)
    assert again.status_code == 303  # the same round: shown, not queued twice
    assert _good_news_count(ctx) == 6  # five new + the one from yesterday


def test_a_blocked_word_queues_nothing_and_keeps_every_note(ctx: Context,
                                                            client: TestClient) -> None:
    ids = _class(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        school.policy = {**school.policy, "jargon": "block"}
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    kids = ids["kids"]
    texts = {kids[0]: "Kid0 read a whole book.", kids[1]: "Kid1 met her EHCP targets."}
    page = client.post("/round", data={**_form(html), **_notes(kids, texts)})
    assert page.status_code == 400
    assert "nothing has been queued yet" in page.text
    assert "Kid0 read a whole book." in page.text  # kept as typed
    line = page.text.split(f'data-student="{kids[1]}"')[1].split("</li>")[0]
    assert "EHCP" in line and 'aria-invalid="true"' in line
    assert _good_news_count(ctx) == 1


def test_confirm_mode_asks_for_a_tick_on_the_line_then_queues(ctx: Context,
                                                              client: TestClient) -> None:
    ids = _class(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        school.policy = {**school.policy, "jargon": "confirm"}
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    kids = ids["kids"]
    texts = {kids[1]: "Kid1 met her EHCP targets."}
    form = {**_form(html), **_notes(kids, texts)}
    page = client.post("/round", data=form)
    assert page.status_code == 400 and f'name="confirm" value="{kids[1]}"' in page.text
    done = client.post("/round", data={**form, "confirm": [str(kids[1])]},
                       follow_redirects=False)
    assert done.status_code == 303
    assert _good_news_count(ctx) == 2


def test_a_note_too_long_is_named_and_nothing_goes(ctx: Context, client: TestClient) -> None:
    ids = _class(ctx)
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    kids = ids["kids"]
    page = client.post("/round", data={**_form(html), **_notes(
        kids, {kids[0]: "Great. " * 120, kids[1]: "Kid1 was kind."})})
    assert page.status_code == 400 and "keep good news under 600" in page.text
    assert _good_news_count(ctx) == 1


def test_a_note_about_another_teachers_child_is_refused(ctx: Context,
                                                        client: TestClient) -> None:
    ids = _class(ctx)
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    refused = client.post("/round", data={**_form(html), **_notes(
        [ids["kids"][0], ids["other"]], {ids["other"]: "Nice work."})})
    assert refused.status_code == 403
    assert _good_news_count(ctx) == 1


def test_an_empty_round_says_so(ctx: Context, client: TestClient) -> None:
    ids = _class(ctx)
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    page = client.post("/round", data={**_form(html), **_notes(ids["kids"], {})})
    assert page.status_code == 400 and "write at least one note" in page.text


def test_cover_runs_the_round_for_an_away_key_worker_and_admin_chooses_one(
        ctx: Context, client: TestClient) -> None:
    ids = _class(ctx, size=2)
    with ctx.factory() as s, s.begin():
        ana = s.get(Staff, ids["ana"])
        assert ana is not None
        ana.away, ana.cover_id = True, ids["ben"]
    sign_in(client, "ben@school.test")
    html = client.get("/round").text
    assert "Kid0 Round" in html and "Bens Child" in html
    client.post("/logout", data={"csrf_token": form_token(html)})
    sign_in(client, "admin@school.test")
    chosen = client.get(f"/round?staff={ids['ana']}").text
    assert "Kid0 Round" in chosen and "Bens Child" not in chosen
    assert "Ana Teacher&#39;s children" in chosen or "Ana Teacher's children" in chosen


def test_an_unreachable_family_is_named_before_and_after(ctx: Context,
                                                         client: TestClient) -> None:
    ids = _class(ctx, size=2)
    with ctx.factory() as s, s.begin():
        kid = s.get(Student, ids["kids"][0])
        assert kid is not None
        g = kid.links[0].guardian
        g.phone, g.email = None, None
    sign_in(client, "ana@school.test")
    html = client.get("/round").text
    assert "cannot be reached" in html
    done = client.post("/round", data={**_form(html), **_notes(
        ids["kids"], {ids["kids"][0]: "Kid0 sang in assembly."})}, follow_redirects=False)
    summary = client.get(done.headers["location"]).text
    assert "1 family cannot be reached" in summary


def test_the_check_for_one_note_needs_the_token(ctx: Context, client: TestClient) -> None:
    _class(ctx, size=1)
    sign_in(client, "ana@school.test")
    token = form_token(client.get("/round").text)
    text = {"text": "She met her EHCP targets."}
    assert client.post("/round/check", data=text).status_code == 403
    found = client.post("/round/check", data=text, headers={"X-CSRF-Token": token}).json()
    assert [hit["term"] for hit in found["jargon"]] == ["EHCP"]

