"""Messages to groups: each family once, in their language, with the cadence applied;
urgent notices pass quiet hours and the cap, and only the right people may send them;
class news never counts as a child's own good news."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.errors import InvalidInputError
from bot.journeys.announcements import (
    CELEBRATION,
    UrgentNotAllowedError,
    check_urgent,
    queue_announcement,
)
from bot.journeys.concerns import queue_concern
from bot.outbound.audience import audience_students, parse_audience
from bot.outbound.render import render
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Delivery,
    DeliveryStatus,
    Message,
    MessageKind,
    School,
    Student,
)
from scheduler.cadence import QUIET_HOURS, WEEKLY_CAP
from scheduler.contact_summary import count_sent
from scheduler.policy import set_policy_value
from tests import factories as f
from tests.clocks import FakeClock, london

CHANNELS = {"sms", "email"}


def _class(s, school, teacher, n=3, klass="3B"):  # type: ignore[no-untyped-def]
    kids = [f.student(s, school, teacher, class_name=klass) for _ in range(n)]
    return kids, [f.guardian(s, school, k) for k in kids]


def test_a_family_with_two_children_in_the_class_gets_it_once(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, role="admin")
        _kids, parents = _class(s, school, teacher)
        sibling = f.student(s, school, teacher, class_name="3B")
        f.guardian(s, school, sibling)  # a second guardian of the sibling only
        from bot.store.models import StudentGuardian

        s.add(StudentGuardian(student_id=sibling.id, guardian_id=parents[0].id))
        f.student(s, school, teacher, class_name="4A")  # not in the audience
        audience = parse_audience("class", "3b")
        ids = audience_students(s, school.id, audience)
        queued = queue_announcement(s, school, teacher, "The trip to the farm is on Friday.",
                                    audience, ids, CHANNELS)
        assert len(ids) == 4
        per_guardian = s.execute(select(Delivery.guardian_id, func.count())
                                 .where(Delivery.message_id == queued.message.id)
                                 .group_by(Delivery.guardian_id)).all()
        assert len(per_guardian) == 4 and all(n == 1 for _g, n in per_guardian)
        assert queued.message.student_id is None
        assert queued.message.kind == MessageKind.ANNOUNCEMENT


def test_refuses_an_unknown_class_naming_the_classes_there_are(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        _class(s, school, None)
        with pytest.raises(InvalidInputError, match="no class '9Z'; classes: 3B"):
            audience_students(s, school.id, parse_audience("class", "9Z"))
        with pytest.raises(InvalidInputError, match="not a year group"):
            parse_audience("year", "blue")
        with pytest.raises(InvalidInputError, match="no saved list 'Choir'"):
            audience_students(s, school.id, parse_audience("list", "Choir"))


def test_year_groups_from_class_names() -> None:
    from bot.outbound.audience import year_of

    assert [year_of(c) for c in ("3B", "Year 5 Oak", "Y6", "10X", "R", "Reception", "RB",
                                 "Robins", None)] == ["3", "5", "6", "10", "R", "R", "R",
                                                      None, None]


def test_a_non_urgent_announcement_waits_for_quiet_hours_and_counts_toward_the_cap(
        ctx: Context, clock: FakeClock) -> None:
    clock.set(london(2026, 11, 18, 7, 0))  # a Wednesday, before quiet hours end
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = f.staff(s, school, role="admin")
        _kids, _parents = _class(s, school, admin, n=2)
        audience = parse_audience("class", "3B")
        ids = audience_students(s, school.id, audience)
        queued = queue_announcement(s, school, admin, "PE kit on Thursday.", audience, ids,
                                    CHANNELS)
        assert {r.status for r in queued.rows} == {DeliveryStatus.HELD}
        assert {r.held_reason for r in queued.rows} == {QUIET_HOURS}
    clock.set(london(2026, 11, 18, 10, 0))
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = s.scalars(select(type(admin)).where(type(admin).role == "admin")).one()
        for n in range(3):  # the cap is 3 a week
            queued = queue_announcement(s, school, admin, f"Notice {n}.", audience, ids,
                                        CHANNELS)
            assert {r.status for r in queued.rows} == {DeliveryStatus.QUEUED}
        queued = queue_announcement(s, school, admin, "A fourth.", audience, ids, CHANNELS)
        assert {r.held_reason for r in queued.rows} == {WEEKLY_CAP}


def test_an_urgent_notice_goes_at_once_at_night_and_past_the_cap(ctx: Context,
                                                                 clock: FakeClock) -> None:
    clock.set(london(2026, 11, 18, 7, 0))
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = f.staff(s, school, role="admin")
        _class(s, school, admin, n=2)
        audience = parse_audience("school")
        ids = audience_students(s, school.id, audience)
        for n in range(3):
            queue_announcement(s, school, admin, f"Notice {n}.", audience, ids, CHANNELS)
        queued = queue_announcement(s, school, admin, "The school is closed today (snow).",
                                    audience, ids, CHANNELS,
                                    urgent_reason="snow: the school is closed")
        assert {r.status for r in queued.rows} == {DeliveryStatus.QUEUED}
        entry = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "urgent_notice_queued")).one()
        assert entry.object_id == str(queued.message.id)
        assert entry.detail["families"] == 2
        assert queued.message.details["urgent"]["reason"] == "snow: the school is closed"


def test_urgent_is_shown_to_families_in_their_language(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = f.staff(s, school, role="admin")
        kid = f.student(s, school, admin)
        mum = f.guardian(s, school, kid, language="pl")
        audience = parse_audience("school")
        queued = queue_announcement(s, school, admin, "Zamknięte.", audience, [kid.id],
                                    CHANNELS, urgent_reason="snow")
        r = render(queued.message, mum, school, language="pl", channel="sms")
        assert r.text.startswith(f"Pilna wiadomość od {school.name}")
        assert r.subject == f"Pilna wiadomość od {school.name}"


def test_only_admin_or_a_role_the_policy_names_may_send_urgent(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        head = f.staff(s, school, role="head")
        kid = f.student(s, school, head)
        f.guardian(s, school, kid)
        audience = parse_audience("school")
        with pytest.raises(UrgentNotAllowedError, match="only an admin"):
            queue_announcement(s, school, head, "Closed.", audience, [kid.id], CHANNELS,
                               urgent_reason="snow")
        assert s.scalar(select(func.count()).select_from(Message)) == 0
        set_policy_value(school, "urgent_roles", "admin,head")
        queued = queue_announcement(s, school, head, "Closed.", audience, [kid.id],
                                    CHANNELS, urgent_reason="snow")
        assert queued.rows[0].status == DeliveryStatus.QUEUED


def test_urgent_needs_a_reason_and_is_never_good_news_or_a_concern(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = f.staff(s, school, role="admin")
        kid = f.student(s, school, admin)
        f.guardian(s, school, kid)
        audience = parse_audience("school")
        with pytest.raises(InvalidInputError, match="say why it is urgent"):
            queue_announcement(s, school, admin, "Closed.", audience, [kid.id], CHANNELS,
                               urgent_reason="  ")
        with pytest.raises(InvalidInputError, match="good news is never urgent"):
            queue_announcement(s, school, admin, "Well done all!", audience, [kid.id],
                               CHANNELS, tone=CELEBRATION, urgent_reason="joy")
        with pytest.raises(InvalidInputError, match="a concern is never urgent"):
            check_urgent(MessageKind.CONCERN)
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_a_class_celebration_is_not_any_childs_good_news(ctx: Context) -> None:
    """It leaves the overdue clock, positive-first and the balance as they were."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, role="admin")
        kids, _parents = _class(s, school, teacher, n=2)
        audience = parse_audience("class", "3B")
        queued = queue_announcement(s, school, teacher, "3B won the reading cup!", audience,
                                    [k.id for k in kids], CHANNELS, tone=CELEBRATION)
        for row in queued.rows:
            row.status, row.sent_at = DeliveryStatus.SENT, row.created_at
        s.flush()
        assert count_sent(s, [r.id for r in queued.rows]) == 0
        assert all(s.get(Student, k.id).last_positive_at is None for k in kids)  # type: ignore[union-attr]
        _m, rows = queue_concern(s, school, kids[0], teacher, "Upset at lunch.", CHANNELS)
        assert {r.held_reason for r in rows} == {"positive_first"}


def test_the_whole_school_is_batched_not_a_query_per_family(ctx: Context) -> None:
    from sqlalchemy import event

    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = f.staff(s, school, role="admin")
        kids = [f.student(s, school, admin, class_name=c) for c in ["3B", "5A"] * 60]
        for k in kids:
            f.guardian(s, school, k, channel_order=["email"])
        statements: list[str] = []
        event.listen(s.get_bind(), "before_cursor_execute",
                     lambda *a: statements.append(a[2]))
        audience = parse_audience("school")
        ids = audience_students(s, school.id, audience)
        queued = queue_announcement(s, school, admin, "Term ends on Friday.", audience, ids,
                                    {"email"})
        assert len(queued.rows) == 120
        # each family's page link is looked up once, the rest is grouped
        assert len(statements) < 120 + 40, len(statements)


def test_a_saved_list_and_a_year_group(ctx: Context) -> None:
    from bot.store.models import SavedList, SavedListMember

    with ctx.factory() as s, s.begin():
        school: School = ctx.school(s)
        a = f.student(s, school, class_name="5A")
        b = f.student(s, school, class_name="5B")
        c = f.student(s, school, class_name="6A")
        choir = SavedList(school_id=school.id, name="Choir")
        s.add(choir)
        s.flush()
        s.add_all([SavedListMember(list_id=choir.id, student_id=x.id) for x in (a, c)])
        s.flush()
        assert audience_students(s, school.id, parse_audience("list", "choir")) == [a.id, c.id]
        assert audience_students(s, school.id, parse_audience("year", "5")) == [a.id, b.id]
        assert audience_students(s, school.id, parse_audience("year", "Year 6")) == [c.id]


def test_children_nobody_may_hear_about_are_named(ctx: Context) -> None:
    from bot.outbound.audience import families_of

    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        orphan = f.student(s, school)
        private = f.student(s, school)
        f.guardian(s, school, private, may_contact=False)
        fine = f.student(s, school)
        f.guardian(s, school, fine)
        found = families_of(s, [orphan.id, private.id, fine.id])
        assert len(found.guardians) == 1
        assert dict(found.unheard) == {
            orphan.id: "no parent or carer on the roster",
            private.id: "the roster says the school may not contact their parents or carers"}


def test_send_at_later_is_held_until_then_and_urgent_refuses_it(ctx: Context) -> None:
    from bot import clock

    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = f.staff(s, school, role="admin")
        kid = f.student(s, school, admin)
        f.guardian(s, school, kid)
        later = clock.now() + timedelta(days=1)
        audience = parse_audience("school")
        with pytest.raises(InvalidInputError, match="an urgent notice goes now"):
            queue_announcement(s, school, admin, "Closed.", audience, [kid.id], CHANNELS,
                               urgent_reason="snow", not_before=later)
        queued = queue_announcement(s, school, admin, "Open day.", audience, [kid.id],
                                    CHANNELS, not_before=later)
        assert queued.rows[0].next_attempt_at >= later - timedelta(seconds=1)


@pytest.mark.parametrize("urgent", [True, False])
def test_every_language_says_it_in_their_words_within_three_sms(ctx: Context,
                                                                 urgent: bool) -> None:
    """The longest announcement, urgent or a celebration, in every catalog language: the
    frame in their language, the SMS at most 3 segments with the link to the whole."""
    from bot.outbound.render import sms_segments
    from translations import available

    long_text = ("Our school will close early on Friday because of the storm. " * 20)[:1000]
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = f.staff(s, school, role="admin")
        kid = f.student(s, school, admin)
        f.guardian(s, school, kid)
        queued = queue_announcement(
            s, school, admin, long_text, parse_audience("school"), [kid.id], CHANNELS,
            tone="news" if urgent else CELEBRATION,
            urgent_reason="storm" if urgent else None, public_url="https://school.example")
        english = render(queued.message, queued.rows[0].guardian, school, language="en",
                         channel="email").subject
        for language in sorted(available()):
            parent = f.guardian(s, school, kid, language=language)
            sms = render(queued.message, parent, school, language=language,
                         translated={long_text: long_text}, channel="sms")
            whole = render(queued.message, parent, school, language=language,
                           translated={long_text: long_text}, channel="email")
            assert sms_segments(sms.text) <= 3, (language, sms.text)
            assert "https://school.example/pack/" in sms.text
            subject = whole.subject.replace("\u2068", "").replace("\u2069", "")  # bidi marks
            assert subject != english and subject in sms.text, language
