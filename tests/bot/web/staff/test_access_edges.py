"""Access at the edges (issue 14 finding 5): a guardian shared by two key workers'
children; the words of a conversation follow one rule wherever they are shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.inbound.staff_reply import reply_to_inbound
from bot.journeys.good_news import queue_good_news
from bot.runtime.context import Context
from bot.store.models import InboundMessage, InboundStatus, Staff, StudentGuardian, utcnow
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, sign_in

REPLY = "Zofia cried all night about the move"
ANSWER = "Thank you for telling me about the move"
NEWS = "Zofia read her poem to the whole class"


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _shared_family(ctx: Context, student_known: bool = False) -> dict[str, Any]:
    """Marta is the guardian of Zofia (Ana's) and Tomasz (Ben's); she answered Ana, who
    answered back, and Ana sent good news about Zofia."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        ben = account(s, school, name="Ben Teacher", email="ben@school.test")
        account(s, school, "office", name="Olu Office", email="office@school.test")
        account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        zofia = f.student(s, school, ana, first_name="Zofia")
        tomasz = f.student(s, school, ben, first_name="Tomasz")
        marta = f.guardian(s, school, zofia, first_name="Marta", phone="+447700900201")
        s.add(StudentGuardian(student_id=tomasz.id, guardian_id=marta.id))
        inbound = InboundMessage(channel="sms", sender_address=marta.phone or "",
                                 raw_payload="{}", body=REPLY, received_at=utcnow(),
                                 status=InboundStatus.ROUTED, guardian_id=marta.id,
                                 student_id=zofia.id if student_known else None,
                                 routed_to_id=ana.id)
        s.add(inbound)
        s.flush()
        reply_to_inbound(s, inbound.id, ana, ANSWER, {"sms"})
        queue_good_news(s, school, zofia, ana, NEWS, {"sms"})
        return {"marta": marta.id, "inbound": inbound.id, "ana": ana.id, "ben": ben.id}


def _as(client: TestClient, email: str) -> None:
    client.cookies.clear()
    assert sign_in(client, email).status_code == 303


@pytest.mark.parametrize("student_known", [False, True])
def test_the_other_key_worker_reads_neither_the_reply_nor_its_answer_nor_the_news(
        ctx: Context, client: TestClient, student_known: bool) -> None:
    ids = _shared_family(ctx, student_known)
    _as(client, "ben@school.test")
    family = client.get(f"/families/{ids['marta']}")
    assert family.status_code == 200  # Tomasz's family is his too
    for words in (REPLY, ANSWER, NEWS):
        assert words not in family.text, words
    assert client.get(f"/inbox/{ids['inbound']}").status_code == 403
    assert f'href="/inbox/{ids["inbound"]}"' not in client.get("/inbox").text
    _as(client, "ana@school.test")
    family = client.get(f"/families/{ids['marta']}")
    for words in (REPLY, ANSWER, NEWS):
        assert words in family.text, words
    assert f'href="/inbox/{ids["inbound"]}"' in client.get("/inbox").text


def test_cover_reads_the_reply_only_while_the_key_worker_is_away(
        ctx: Context, client: TestClient) -> None:
    ids = _shared_family(ctx)
    with ctx.factory() as s, s.begin():
        ana = s.get(Staff, ids["ana"])
        assert ana is not None
        ana.cover_id = ids["ben"]
    _as(client, "ben@school.test")
    assert client.get(f"/inbox/{ids['inbound']}").status_code == 403
    with ctx.factory() as s, s.begin():
        ana = s.get(Staff, ids["ana"])
        assert ana is not None
        ana.away = True
    assert REPLY in client.get(f"/inbox/{ids['inbound']}").text
    assert ANSWER in client.get(f"/families/{ids['marta']}").text


def test_the_office_sees_a_conversation_by_one_rule(ctx: Context, client: TestClient) -> None:
    ids = _shared_family(ctx)
    _as(client, "office@school.test")
    family = client.get(f"/families/{ids['marta']}")
    assert family.status_code == 200
    # neither the family's words nor the answer that repeats them; the news, as before
    assert REPLY not in family.text and ANSWER not in family.text
    assert NEWS in family.text
    _as(client, "admin@school.test")
    family = client.get(f"/families/{ids['marta']}")
    assert REPLY in family.text and ANSWER in family.text and NEWS in family.text
