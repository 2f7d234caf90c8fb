"""Email replies are the family's only on proof: a token or Message-ID of ours AND an address
on file for a guardian of that family; the second parent is credited as themself."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.inbound.email_replies import handle_raw
from bot.journeys.meetings.invitation import queue_invitation
from bot.journeys.meetings.replies import rsvp_summary
from bot.outbound.dispatch import dispatch
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    MeetingResponse,
    Message,
    MessageKind,
    StudentGuardian,
)
from tests import factories as f

ALL = {"sms", "email", "telegram"}
LONDON = ZoneInfo("Europe/London")
OPTIONS = [datetime(2030, 3, 5, 15, 30, tzinfo=LONDON),
           datetime(2030, 3, 7, 9, 0, tzinfo=LONDON)]


def _two_parents(ctx: Context) -> dict[str, object]:
    """Beatriz's parents Agnieszka and Marek, both by email, both invited to a meeting."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Beatriz")
        agnieszka = f.guardian(s, school, child, first_name="Agnieszka", last_name="Nowak",
                               email="agnieszka@family.test", channel_order=["email"])
        marek = f.guardian(s, school, child, first_name="Marek", last_name="Nowak",
                           email="Marek.Nowak@family.test", channel_order=["email"])
        message, rows = queue_invitation(s, school, child, teacher, why="To talk.",
                                         options=OPTIONS, where="Room 4", minutes=30,
                                         who=[("Ms Key", "class teacher")], available=ALL)
        s.execute(update(Delivery).where(Delivery.message_id == message.id)
                  .values(status=DeliveryStatus.SENT))
        to_a = next(r for r in rows if r.guardian_id == agnieszka.id)
        return {"a": agnieszka.id, "m": marek.id, "message": message.id, "teacher": teacher.id,
                "delivery": to_a.id, "mid": f"<{to_a.email_message_id}@school.test>",
                "token": to_a.reply_token, "child": child.id}


def _mail(sender: str, body: str, *, in_reply_to: str = "", to: str = "office@school.test",
          mid: str = "<r1@family.test>") -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: Re: Meeting\r\nMessage-ID: {mid}\r\n"
    if in_reply_to:
        head += f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n"
    return (head + "\r\n" + body + "\r\n").encode()


def _acks(ctx: Context) -> list[Delivery]:
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).join(Message)
                              .where(Message.kind == MessageKind.SYSTEM)))


def test_a_stranger_citing_a_real_message_id_is_not_the_parent(ctx: Context) -> None:
    ids = _two_parents(ctx)
    row = handle_raw(ctx.factory, _mail("stranger@evil.example",
                                        "Please send Beatriz home early today",
                                        in_reply_to=str(ids["mid"])), ALL)
    assert row.status == InboundStatus.UNMATCHED
    assert row.guardian_id is None and row.student_id is None and row.routed_to_id is None
    assert _acks(ctx) == []  # Agnieszka is not told "we have your message"


def test_a_stranger_with_the_reply_token_is_not_the_parent(ctx: Context) -> None:
    ids = _two_parents(ctx)
    row = handle_raw(ctx.factory, _mail("stranger@evil.example", "1",
                                        to=f"replies+{ids['token']}@school.test"), ALL)
    assert row.status == InboundStatus.UNMATCHED and row.guardian_id is None
    assert _acks(ctx) == []
    with ctx.factory() as s:
        assert s.scalars(select(MeetingResponse)).all() == []


def test_a_counter_style_message_id_matches_nothing(ctx: Context) -> None:
    ids = _two_parents(ctx)
    with ctx.factory() as s:
        key = s.get(Delivery, ids["delivery"]).idempotency_key
    row = handle_raw(ctx.factory, _mail("agnieszka@family.test", "Hello",
                                        in_reply_to=f"<{key}@school.test>"), ALL)
    assert row.status == InboundStatus.UNMATCHED


def test_the_second_parent_is_credited_as_themself(ctx: Context) -> None:
    ids = _two_parents(ctx)
    row = handle_raw(ctx.factory, _mail("marek.nowak@family.test", "1",
                                        in_reply_to=str(ids["mid"])), ALL)
    assert row.status == InboundStatus.ROUTED
    assert row.guardian_id == ids["m"] and row.student_id == ids["child"]
    assert row.in_reply_to_id == ids["delivery"] and row.routed_to_id == ids["teacher"]
    with ctx.factory() as s:
        [answer] = s.scalars(select(MeetingResponse)).all()
        assert (answer.guardian_id, answer.kind, answer.slot) == (ids["m"], "slot", 1)
        summary = {r["name"]: r["kind"] for r in rsvp_summary(s, int(ids["message"]))}
    assert summary == {"Agnieszka Nowak": None, "Marek Nowak": "slot"}
    # the confirmation goes to Marek, at his own address, not to Agnieszka
    assert [(d.guardian_id, d.address) for d in _acks(ctx)] == [
        (ids["m"], "Marek.Nowak@family.test")]


def test_an_auto_reply_from_a_stranger_is_kept_without_the_family(ctx: Context) -> None:
    ids = _two_parents(ctx)
    raw = _mail("stranger@evil.example", "I am away", in_reply_to=str(ids["mid"]))
    raw = b"Auto-Submitted: auto-replied\r\n" + raw
    row = handle_raw(ctx.factory, raw, ALL)
    assert row.status == InboundStatus.HANDLED and row.guardian_id is None
    assert _acks(ctx) == []


def test_an_email_answer_to_which_child_attaches_the_earlier_reply(ctx: Context) -> None:
    """A school notice names no child: a parent of two is asked which child, by email, and
    answers "2" to that question's mail."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        first, second = f.student(s, school, teacher), f.student(s, school, teacher)
        g = f.guardian(s, school, first, email="parent@family.test", channel_order=["email"])
        s.add(StudentGuardian(student_id=second.id, guardian_id=g.id))
        notice = Message(school_id=school.id, kind=MessageKind.NOTICE, author_id=teacher.id,
                         source_text="The school is closed on Friday.", source_language="en")
        s.add(notice)
        [row] = dispatch(s, notice, ALL, guardians=[g])
        mid, kids = f"<{row.email_message_id}@school.test>", (first.id, second.id)
    earlier = handle_raw(ctx.factory, _mail("parent@family.test", "Can we talk?",
                                            in_reply_to=mid, mid="<q1@family.test>"), ALL)
    assert earlier.status == InboundStatus.ROUTED and earlier.student_id is None
    [question] = _acks(ctx)
    answer = handle_raw(ctx.factory, _mail(
        "parent@family.test", "2", in_reply_to=f"<{question.email_message_id}@school.test>",
        mid="<q2@family.test>"), ALL)
    assert answer.status == InboundStatus.HANDLED
    with ctx.factory() as s:
        attached = s.get(InboundMessage, earlier.id)
        assert attached is not None and attached.student_id == kids[1]
