"""Several children: an unclear reply asks which child, and a "1" / "2" sorts it out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.inbound import inbox
from bot.inbound.which_child import choice_of
from bot.journeys.good_news import queue_good_news
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Delivery,
    InboundMessage,
    InboundStatus,
    School,
    Staff,
    Student,
    StudentGuardian,
    utcnow,
)
from channels.sms import parse_inbound
from tests import factories as f

ALL = {"sms", "email", "telegram"}
PHONE = "+447700900123"


def _sms(body: str, sid: str) -> object:
    return parse_inbound({"From": PHONE, "Body": body, "MessageSid": sid})


def _two_children(ctx: Context) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        shah = f.staff(s, school, name="Ms Shah")
        kowal = f.staff(s, school, name="Mr Kowal")
        zofia = f.student(s, school, shah, first_name="Zofia")
        kacper = f.student(s, school, kowal, first_name="Kacper")
        g = f.guardian(s, school, zofia, phone=PHONE)
        s.add(StudentGuardian(student_id=kacper.id, guardian_id=g.id, may_contact=True,
                              relationship_="parent"))
        return {"guardian": g.id, "shah": shah.id, "kowal": kowal.id, "zofia": zofia.id,
                "kacper": kacper.id}


def _texts(ctx: Context) -> list[str]:
    with ctx.factory() as s:
        return [d.rendered_text for d in s.scalars(select(Delivery).order_by(Delivery.id))]


def test_choice_of_reads_one_small_number() -> None:
    assert [choice_of(t) for t in ("1", " 2. ", "3)", "12", "123", "one", "1 and 2", "")] \
        == [1, 2, 3, 12, None, None, None, None]


def test_unclear_reply_asks_which_child_and_first_key_worker_reads_it(ctx: Context) -> None:
    ids = _two_children(ctx)
    row = inbox.receive(ctx.factory, _sms("Is there school on Friday?", "SM1"), ALL)
    assert row.status == InboundStatus.ROUTED
    assert (row.student_id, row.routed_to_id) == (None, ids["shah"])
    assert _texts(ctx) == ["Thank you, we have your message. Which child is it about? "
                           "Reply with the number: 1 Zofia, 2 Kacper"]


def test_answer_attaches_the_earlier_reply_and_moves_it(ctx: Context) -> None:
    ids = _two_children(ctx)
    first = inbox.receive(ctx.factory, _sms("Is there school on Friday?", "SM1"), ALL)
    answer = inbox.receive(ctx.factory, _sms("2", "SM2"), ALL)
    assert answer.status == InboundStatus.HANDLED and answer.student_id == ids["kacper"]
    with ctx.factory() as s:
        earlier = s.get(InboundMessage, first.id)
        assert (earlier.student_id, earlier.routed_to_id) == (ids["kacper"], ids["kowal"])
        assert s.scalar(select(AuditEntry).where(
            AuditEntry.action == "inbound_child_chosen",
            AuditEntry.object_id == str(first.id))) is not None
    assert "Mr Kowal will read it and reply by" in _texts(ctx)[-1]
    # a second "1" no longer answers anything: it is an ordinary reply (and asks again)
    again = inbox.receive(ctx.factory, _sms("1", "SM3"), ALL)
    assert again.status == InboundStatus.ROUTED


def test_number_out_of_range_is_an_ordinary_reply(ctx: Context) -> None:
    _two_children(ctx)
    inbox.receive(ctx.factory, _sms("Hello", "SM1"), ALL)
    row = inbox.receive(ctx.factory, _sms("7", "SM2"), ALL)
    assert row.status == InboundStatus.ROUTED


def test_answer_after_a_day_is_not_taken_as_a_choice(ctx: Context) -> None:
    _two_children(ctx)
    first = inbox.receive(ctx.factory, _sms("Hello", "SM1"), ALL)
    later = utcnow() + timedelta(days=2)
    row = inbox.receive(ctx.factory, _sms("1", "SM2"), ALL, now=later)
    assert row.status == InboundStatus.ROUTED
    with ctx.factory() as s:
        assert s.get(InboundMessage, first.id).student_id is None


def test_recent_messages_about_one_child_settle_it(ctx: Context) -> None:
    ids = _two_children(ctx)
    with ctx.factory() as s, s.begin():
        school = s.get(School, s.get(Student, ids["kacper"]).school_id)
        queue_good_news(s, school, s.get(Student, ids["kacper"]), s.get(Staff, ids["kowal"]),
                        "Kacper read aloud to the class.", ALL)
    row = inbox.receive(ctx.factory, _sms("Thank you!", "SM1"), ALL)
    assert (row.student_id, row.routed_to_id) == (ids["kacper"], ids["kowal"])
    assert "Mr Kowal will read it and reply by" in _texts(ctx)[-1]


def test_a_newer_message_from_school_closes_the_question(ctx: Context) -> None:
    """Once something else went out, "1" may answer that: it is not taken as a child."""
    ids = _two_children(ctx)
    first = inbox.receive(ctx.factory, _sms("Hello", "SM1"), ALL)
    with ctx.factory() as s, s.begin():
        school = s.get(School, s.get(Student, ids["zofia"]).school_id)
        queue_good_news(s, school, s.get(Student, ids["zofia"]), s.get(Staff, ids["shah"]),
                        "Zofia helped a friend today.", ALL)
    row = inbox.receive(ctx.factory, _sms("1", "SM2"), ALL)
    assert row.status == InboundStatus.ROUTED and row.student_id == ids["zofia"]
    with ctx.factory() as s:
        assert s.get(InboundMessage, first.id).student_id is None
