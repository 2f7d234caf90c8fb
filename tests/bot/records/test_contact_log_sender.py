"""The contact log says who a reply came from (their address) and which message it answers;
the staff page shows the address only to those who may read the reply."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.inbound.email_replies import handle_raw
from bot.journeys.good_news import queue_good_news
from bot.records.contact_log import contact_log
from bot.runtime.context import Context
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, sign_in

ALL = {"sms", "email"}


def family(ctx: Context) -> dict[str, object]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = account(s, school, name="Ms Key", email="key@school.test")
        account(s, school, "office", name="Ola Office", email="office@school.test")
        child = f.student(s, school, teacher)
        agnieszka = f.guardian(s, school, child, first_name="Agnieszka", last_name="Nowak",
                               email="agnieszka@family.test", channel_order=["email"])
        marek = f.guardian(s, school, child, first_name="Marek", last_name="Nowak",
                           email="marek@family.test", channel_order=["email"])
        _, rows = queue_good_news(s, school, child, teacher, "Read a whole book.",
                                  available=ALL)
        to_a = next(r for r in rows if r.guardian_id == agnieszka.id)
        return {"child": child.id, "m": marek.id, "delivery": to_a.id,
                "mid": f"<{to_a.email_message_id}@school.test>"}


def marek_answers(ctx: Context, ids: dict[str, object]) -> int:
    raw = (f"From: Marek <marek@family.test>\r\nTo: office@school.test\r\nSubject: Re: news\r\n"
           f"In-Reply-To: {ids['mid']}\r\nMessage-ID: <m-1@family.test>\r\n\r\n"
           "Wonderful, thank you!\r\n").encode()
    return handle_raw(ctx.factory, raw, ALL).id


def test_the_log_shows_the_sender_address_and_the_message_answered(ctx: Context) -> None:
    ids = family(ctx)
    inbound_id = marek_answers(ctx, ids)
    with ctx.factory() as s:
        entries = contact_log(s, student_id=int(str(ids["child"])))
    [reply] = [e for e in entries if e.direction == "in"]
    assert (reply.guardian, reply.address) == ("Marek Nowak", "marek@family.test")
    assert (reply.answers, reply.answers_kind) == (ids["delivery"], "good_news")
    [ack] = [e for e in entries if e.direction == "out" and e.kind == "system"]
    assert (ack.guardian, ack.address, ack.answers) == ("Marek Nowak", "marek@family.test",
                                                        inbound_id)


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def test_the_family_page_shows_the_sender_to_who_may_read_it(ctx: Context,
                                                            client: TestClient) -> None:
    ids = family(ctx)
    marek_answers(ctx, ids)
    sign_in(client, "key@school.test")
    page = client.get(f"/families/{ids['m']}").text
    assert "From: marek@family.test" in page
    assert "In reply to our good news" in page
    client.cookies.clear()
    sign_in(client, "office@school.test")  # office staff open the page, not the reply
    office = client.get(f"/families/{ids['m']}")
    assert office.status_code == 200 and "Only the key worker" in office.text
    assert "From: marek@family.test" not in office.text and "Wonderful" not in office.text
