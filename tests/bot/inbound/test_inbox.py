"""Inbound replies: stored first, deduplicated, routed to the key worker or cover, acknowledged."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.inbound import inbox
from bot.journeys.good_news import queue_good_news
from bot.runtime.context import Context
from bot.store.models import Delivery, InboundMessage, InboundStatus, MessageKind
from channels.sms import parse_inbound
from tests import factories as f

ALL = {"sms", "email", "telegram"}


def _sms(sender: str, body: str, sid: str = "SM1") -> object:
    return parse_inbound({"From": sender, "Body": body, "MessageSid": sid})


def _family(ctx: Context, *, away: bool = False) -> dict[str, object]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        cover = f.staff(s, school, name="Mr Cover")
        teacher = f.staff(s, school, name="Ms Key", away=away, cover_id=cover.id)
        child = f.student(s, school, teacher)
        g = f.guardian(s, school, child, phone="+447700900123")
        return {"guardian": g.id, "teacher": teacher.id, "cover": cover.id, "child": child.id}


def test_reply_is_stored_routed_to_key_worker_and_acknowledged(ctx: Context) -> None:
    ids = _family(ctx)
    row = inbox.receive(ctx.factory, _sms("+447700900123", "Thank you!"), ALL)
    assert row.status == InboundStatus.ROUTED
    assert (row.guardian_id, row.student_id, row.routed_to_id) == (
        ids["guardian"], ids["child"], ids["teacher"])
    with ctx.factory() as s:
        stored = s.get(InboundMessage, row.id)
        assert stored.body == "Thank you!" and '"Body": "Thank you!"' in stored.raw_payload
        ack = s.scalars(select(Delivery)).one()
        assert ack.message.kind == MessageKind.SYSTEM and ack.channel == "sms"
        assert "Ms Key will read it" in ack.rendered_text


def test_reply_goes_to_cover_while_key_worker_is_away(ctx: Context) -> None:
    ids = _family(ctx, away=True)
    row = inbox.receive(ctx.factory, _sms("+447700900123", "Is there school tomorrow?"), ALL)
    assert row.routed_to_id == ids["cover"]


def test_duplicate_webhook_is_stored_once(ctx: Context) -> None:
    _family(ctx)
    first = inbox.receive(ctx.factory, _sms("+447700900123", "Yes", sid="SMdup"), ALL)
    second = inbox.receive(ctx.factory, _sms("+447700900123", "Yes", sid="SMdup"), ALL)
    assert first.id == second.id
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 1
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1  # one ack only


def test_unknown_sender_lands_in_unmatched_queue(ctx: Context) -> None:
    _family(ctx)
    row = inbox.receive(ctx.factory, _sms("+447700900777", "Who is this?"), ALL)
    assert row.status == InboundStatus.UNMATCHED
    with ctx.factory() as s:
        assert [m.id for m in inbox.unmatched(s)] == [row.id]
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0


def test_reply_is_kept_even_if_processing_fails(ctx: Context) -> None:
    _family(ctx)
    inbound_id, is_new = inbox.store(ctx.factory, _sms("+447700900123", "Hello"))
    assert is_new
    # processing never ran (as if the process died): the message is still there, unprocessed
    with ctx.factory() as s:
        assert s.get(InboundMessage, inbound_id).status == InboundStatus.RECEIVED
    row = inbox.process(ctx.factory, inbound_id, ALL)
    assert row.status == InboundStatus.ROUTED


def test_parent_of_two_children_reply_attaches_to_latest_message(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        older = f.student(s, school, teacher)
        younger = f.student(s, school, teacher)
        g = f.guardian(s, school, older, phone="+447700900124")
        from bot.store.models import StudentGuardian

        s.add(StudentGuardian(student_id=younger.id, guardian_id=g.id, may_contact=True))
        s.flush()
        queue_good_news(s, school, younger, teacher, "Super painting.", ALL)
        younger_id = younger.id
    row = inbox.receive(ctx.factory, _sms("+447700900124", "Thanks!"), ALL)
    assert row.student_id == younger_id


def test_acknowledgement_says_when_to_expect_an_answer_in_working_hours(ctx: Context) -> None:
    """Friday 18:00, 4 working hours: the answer is due by Monday 12:30, in their language,
    with the date written as their locale writes it."""
    from datetime import UTC, datetime

    from bot.store.models import Guardian, School

    ids = _family(ctx)
    with ctx.factory() as s, s.begin():
        school = s.scalars(select(School)).one()
        school.policy = {"school_hours": {"start": "08:30", "end": "16:00"},
                         "reply_within_hours": 4}
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    inbox.receive(ctx.factory, _sms("+447700900123", "Is there school on Monday?"), ALL,
                  now=friday_evening)
    with ctx.factory() as s:
        ack = s.scalars(select(Delivery)).one()
        assert ack.rendered_text == ("Thank you, we have your message. Ms Key will read it "
                                     "and reply by Monday 23 November, 12:30.")
        guardian = s.get(Guardian, ids["guardian"])
    with ctx.factory() as s, s.begin():
        guardian = s.get(Guardian, ids["guardian"])
        guardian.language, guardian.timezone = "pl", "Europe/Warsaw"
    inbox.receive(ctx.factory, _sms("+447700900123", "Dziękuję", sid="SM2"), ALL,
                  now=friday_evening)
    with ctx.factory() as s:
        text = s.scalars(select(Delivery).order_by(Delivery.id.desc())).first().rendered_text
        assert text.startswith("Dziękujemy") and "poniedziałek, 23 listopada 13:30" in text
