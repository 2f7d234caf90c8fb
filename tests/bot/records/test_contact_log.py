"""The contact log merges messages out and replies in, per student and per guardian."""

from __future__ import annotations

import asyncio

from bot.inbound import inbox
from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker
from bot.records.contact_log import contact_log
from bot.runtime.context import Context
from channels.sms import parse_inbound
from tests import factories as f
from tests.recording_channel import RecordingChannel

ALL = {"sms", "email"}


def test_log_shows_out_and_in_in_time_order_for_student_and_guardian(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher)
        other_child = f.student(s, school, teacher)
        mum = f.guardian(s, school, child, phone="+447700900200")
        f.guardian(s, school, other_child)
        queue_good_news(s, school, child, teacher, "Brilliant spelling test.", ALL)
        queue_good_news(s, school, other_child, teacher, "Helped tidy up.", ALL)
        ids = (child.id, mum.id)
    sms = RecordingChannel("sms")
    asyncio.run(Worker(ctx.factory, {"sms": sms, "email": RecordingChannel("email")})
                .run(until_empty=True))
    inbox.receive(ctx.factory, parse_inbound(
        {"From": "+447700900200", "Body": "So proud!", "MessageSid": "SMlog"}), ALL)
    with ctx.factory() as s:
        by_student = contact_log(s, student_id=ids[0])
        by_guardian = contact_log(s, guardian_id=ids[1])
    kinds = [(e.direction, e.kind) for e in by_student]
    assert kinds == [("out", "good_news"), ("in", "reply"), ("out", "system")]
    assert by_student[0].status == "sent" and "Brilliant spelling test." in by_student[0].text
    assert by_student[1].text == "So proud!" and by_student[1].staff == "Ms Key"
    assert all("Helped tidy up." not in e.text for e in by_student)
    assert [e.kind for e in by_guardian] == ["good_news", "reply", "system"]
    assert [e.at for e in by_student] == sorted(e.at for e in by_student)
