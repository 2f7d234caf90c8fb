"""Staff pages say what happened: each family's delivery status after sending, a warning
before sending to a family no channel reaches, one status for a reply wherever it shows,
times in the school's zone, languages by name, the inbox searched and filtered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cli.support import simulate_reply
from bot.journeys.good_news import queue_good_news
from bot.runtime.context import Context
from bot.store.models import (
    DeliveryStatus,
    GuardianChannel,
    InboundMessage,
    Message,
    MessageKind,
    School,
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


def _school(ctx: Context, zone: str = "America/New_York") -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        school.timezone = zone
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        ben = account(s, school, name="Ben Teacher", email="ben@school.test")
        account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        account(s, school, "office", name="Olu Office", email="office@school.test")
        ola = f.student(s, school, ana, first_name="Ola", last_name="Nowak", class_name="3B")
        sam = f.student(s, school, ben, first_name="Sam", last_name="Obi", class_name="5A")
        marta = f.guardian(s, school, ola, first_name="Marta", last_name="Nowak",
                           language="pl", email=None, channel_order=["sms"])
        # opted out of SMS, no other address: nothing can reach her
        opted = f.guardian(s, school, ola, first_name="Opal", last_name="Out", email=None,
                           channel_order=["sms"])
        s.add(GuardianChannel(guardian_id=opted.id, channel="sms", consent=True,
                              opted_out_at=utcnow()))
        amina = f.guardian(s, school, sam, first_name="Amina", last_name="Obi",
                           language="so", email=None, channel_order=["sms"])
        return {"ana": ana.id, "ola": ola.id, "sam": sam.id, "marta": marta.id,
                "marta_phone": marta.phone, "opted": opted.id, "amina_phone": amina.phone}


def test_good_news_to_an_opted_out_family_says_it_cannot_reach_them(
        ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "ana@school.test")
    token = form_token(client.get("/compose").text)
    form = {"csrf_token": token, "student_id": ids["ola"], "text": "Ola read a whole book."}
    preview = client.post("/compose", data={**form, "action": "preview"}).text
    warning = preview.split(f'id="pv-{ids["opted"]}"')[1].split("</section>")[0]
    assert "cannot be reached" in warning and "will not get this message" in warning
    assert "sms: opted out" in warning and "by no channel" not in preview
    sent = client.post("/compose", data={**form, "action": "send"}, follow_redirects=False)
    assert sent.status_code == 303
    outbox = client.get(sent.headers["location"]).text
    notice = re.search(r'<p class="notice" role="status">(.*?)</p>', outbox, re.S)
    assert notice is not None
    assert "1 family cannot be reached (sms: opted out)" in notice.group(1)
    assert "on their channel" not in outbox
    row = outbox.split(f'data-guardian="{ids["opted"]}"')[1].split("</tr>")[0]
    assert 'data-state="unreachable"' in row
    assert "Polish" in outbox  # languages by name, not "pl"


def test_the_meeting_page_shows_each_familys_delivery(ctx: Context,
                                                      client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "ana@school.test")
    token = form_token(client.get("/meetings/new").text)
    when = datetime(2031, 12, 9, 15, 30)
    sent = client.post("/meetings/new", data={
        "csrf_token": token, "student_id": ids["ola"], "why": "To plan next term.",
        "when1": when.strftime("%Y-%m-%dT%H:%M"), "where": "Room 4", "minutes": "30",
        "action": "send"}, follow_redirects=False)
    page = client.get(sent.headers["location"]).text
    assert "1 family cannot be reached (sms: opted out)" in page
    statuses = page.split('id="family-status"')[1].split("</table>")[0]
    assert "Opal Out" in statuses and "unreachable" in statuses
    # the time offered, written as people say it, in school time (New York)
    assert "Tue, December 9, 2031, 3:30\u202fPM" in page  # CLDR: a narrow space before PM
    assert "2031-12-09T15:30:00-05:00" not in page.split("<time")[0]


def test_the_invitation_names_an_admin_as_who_they_are(ctx: Context,
                                                       client: TestClient) -> None:
    ids = _school(ctx)
    sign_in(client, "admin@school.test")
    form_page = client.get(f"/meetings/new?student={ids['ola']}").text
    assert "you, named as “from the school&#39;s leadership team”" in form_page
    token = form_token(form_page)
    client.post("/meetings/new", data={
        "csrf_token": token, "student_id": ids["ola"], "why": "To plan next term.",
        "when1": "2031-12-09T15:30", "where": "Room 4", "minutes": "30", "action": "send"})
    with ctx.factory() as s:
        invitation = s.scalar(select(Message).where(Message.kind == MessageKind.INVITATION))
        assert invitation is not None
        assert invitation.details["who"] == [{"name": "Ada Admin",
                                              "role": "from the school's leadership team"}]


def test_a_stop_reply_has_one_status_in_the_inbox_its_page_and_the_log(
        ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    stop = simulate_reply(ctx, ids["marta_phone"], "STOP")
    sign_in(client, "ana@school.test")
    said = "handled automatically: they opted out (STOP)"
    inbox = client.get("/inbox").text
    assert said in inbox and "waiting" not in inbox.split('id="replies"')[1].split("</table>")[0]
    assert said in client.get(f"/inbox/{stop.id}").text
    assert said in client.get(f"/families/{ids['marta']}").text
    waiting = client.get("/inbox?status=waiting").text
    assert "No replies match." in waiting
    # an answer to it cannot go back by SMS: the page says so, not "queued"
    token = form_token(client.get(f"/inbox/{stop.id}").text)
    answered = client.post(f"/inbox/{stop.id}/reply",
                           data={"csrf_token": token, "text": "Sorry to see you go."})
    assert "Your answer cannot reach them (sms: opted out)" in answered.text
    assert "queued" not in answered.text.split('role="status"')[1].split("</p>")[0]


def test_inbox_search_and_filters(ctx: Context, client: TestClient) -> None:
    ids = _school(ctx)
    simulate_reply(ctx, ids["marta_phone"], "Dziękuję, Ola była bardzo szczęśliwa dzisiaj")
    simulate_reply(ctx, ids["amina_phone"], "Mahadsanid macallin")  # Ben's family
    sign_in(client, "admin@school.test")
    everything = client.get("/inbox").text
    assert "Polish" in everything and "Somali" in everything
    assert re.search(r'<option value="so"\s*>Somali</option>', everything)  # the filter
    # first words, marked with the family's language
    assert '<div class="first-words" lang="pl" dir="ltr">Dziękuję, Ola była' in everything

    def families(html: str) -> set[str]:
        table = html.split('id="replies"')[1].split("</table>")[0]
        return set(re.findall(r">(Marta Nowak|Amina Obi)</a>", table))

    assert families(client.get("/inbox?q=amina").text) == {"Amina Obi"}
    assert families(client.get("/inbox?q=Ola+Nowak").text) == {"Marta Nowak"}  # the child
    assert families(client.get("/inbox?q=macallin").text) == {"Amina Obi"}  # the words
    assert families(client.get("/inbox?q=100%25").text) == set()  # % is a character
    assert families(client.get("/inbox?language=so").text) == {"Amina Obi"}
    assert families(client.get("/inbox?channel=email").text) == set()
    assert families(client.get("/inbox?channel=sms&status=waiting").text) == \
        {"Marta Nowak", "Amina Obi"}
    assert client.get("/inbox?q=" + "x" * 101).status_code == 422
    # a teacher finds nothing of another teacher's family, not even by its words
    client.post("/logout", data={"csrf_token": form_token(everything)})
    sign_in(client, "ana@school.test")
    assert families(client.get("/inbox?q=macallin").text) == set()
    assert families(client.get("/inbox?q=amina").text) == set()


def test_times_are_school_time_with_the_zone_named(ctx: Context, client: TestClient) -> None:
    ids = _school(ctx, zone="Asia/Karachi")
    inbound = simulate_reply(ctx, ids["marta_phone"], "Dziękuję")
    with ctx.factory() as s, s.begin():
        row = s.get(InboundMessage, inbound.id)
        assert row is not None
        row.received_at = datetime(2026, 12, 3, 6, 17, tzinfo=UTC)  # 11:17 in Karachi
    sign_in(client, "ana@school.test")
    for path in ("/inbox", f"/inbox/{inbound.id}", f"/families/{ids['marta']}"):
        html = client.get(path).text
        assert "3 Dec 2026, 11:17" in html, path
        assert "Times are school time: Asia/Karachi (PKT)" in html, path
        assert "UTC" not in html, path


def test_a_teacher_sees_the_balance_of_their_own_classes_only(ctx: Context,
                                                              client: TestClient) -> None:
    ids = _school(ctx)
    with ctx.factory() as s, s.begin():
        school = s.get(School, ctx.school(s).id)
        assert school is not None
        for sid in (ids["ola"], ids["sam"]):
            student, author = s.get(Student, sid), s.get(Staff, ids["ana"])
            assert student is not None and author is not None
            _, rows = queue_good_news(s, school, student, author, "A kind helper today.",
                                      {"sms"})
            for row in rows:  # sent, as the worker records it
                row.status, row.sent_at = DeliveryStatus.SENT, utcnow()
            s.flush()
            count_sent(s, [row.id for row in rows])
    sign_in(client, "ana@school.test")
    balance = client.get("/").text.split('id="h-balance"')[1].split("</section>")[0]
    assert '<th scope="row">3B</th>' in balance
    assert "5A" not in balance


def test_a_form_posted_after_the_session_ran_out_comes_back_to_its_page(
        ctx: Context, client: TestClient) -> None:
    _school(ctx)
    sign_in(client, "ana@school.test")
    token = form_token(client.get("/meetings/new").text)
    client.cookies.clear()  # the session has ended
    base = str(client.base_url)
    lost = client.post("/meetings/new", data={"csrf_token": token, "why": "To plan."},
                       headers={"Referer": f"{base}/meetings/new?student=3"},
                       follow_redirects=False)
    assert lost.status_code == 303
    assert lost.headers["location"] == "/login?next=%2Fmeetings%2Fnew%3Fstudent%3D3"
    # a Referer from another site is not followed
    elsewhere = client.post("/meetings/new", data={"why": "x"},
                            headers={"Referer": "https://evil.example/meetings/new"},
                            follow_redirects=False)
    assert elsewhere.headers["location"] == "/login"
    assert sign_in(client, "ana@school.test").status_code == 303


def test_an_rtl_reply_is_marked_right_to_left(ctx: Context, client: TestClient) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        child = f.student(s, school, None, first_name="Omar")
        g = f.guardian(s, school, child, language="ar", email=None, channel_order=["sms"])
        phone = g.phone
    inbound = simulate_reply(ctx, phone, "شكرا جزيلا على الرسالة")
    sign_in(client, "admin@school.test")
    assert 'lang="ar" dir="rtl">شكرا جزيلا' in client.get("/inbox").text
    assert 'lang="ar" dir="rtl" id="original"' in client.get(f"/inbox/{inbound.id}").text
    assert (utcnow() - timedelta(minutes=5)) < inbound.received_at
