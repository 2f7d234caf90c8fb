"""The contact summaries the cadence scan reads (students.last_positive_at, contact_counts)
are kept by the real send and status paths, and equal a rebuild from history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from typer.testing import CliRunner

from bot.cli import app
from bot.journeys.concerns import queue_concern
from bot.journeys.good_news import queue_good_news
from bot.outbound.status import apply_status
from bot.outbound.worker import Claimed, Worker, WorkerPolicy
from bot.records.cadence_report import cadence_report
from bot.runtime.context import Context
from bot.store import upgrade
from bot.store.models import (
    AuditEntry,
    ContactCount,
    Delivery,
    DeliveryStatus,
    JobMark,
    School,
    Staff,
    Student,
)
from bot.web.app import create_app
from channels.sms import TwilioSmsChannel
from scheduler.contact_summary import rebuild
from tests import factories as f
from tests.clocks import FakeClock, london
from tests.conftest import make_settings
from tests.recording_channel import PermanentAddressError, RecordingChannel
from tests.standins.twilio import TwilioStandin, twilio_settings

ALL = {"sms", "email"}
KEYS = ("term_start", "overdue", "families", "classes")


#: recovery at once: stale at once, and the provider asked at once
NOW_POLICY = WorkerPolicy(stale_sending_seconds=0, settle_seconds=0)


def _report(ctx: Context, clock: FakeClock) -> dict[str, Any]:
    with ctx.factory() as s:
        report = cadence_report(s, ctx.school(s), clock(), available=ALL)
    return {k: report[k] for k in KEYS}


def _forget(ctx: Context) -> None:
    """Throw the summaries away, as an upgrade from before they existed would find them."""
    with ctx.factory() as s, s.begin():
        s.execute(delete(ContactCount))
        s.execute(update(Student).values(last_positive_at=None))


def _rebuild(ctx: Context) -> None:
    with ctx.engine.begin() as conn:
        rebuild(conn)


class School_:
    """One school's people, by short name, and a way to write to them."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ids: dict[str, int] = {}

    def note(self, who: str, concern: bool = False, override: str | None = None) -> None:
        with self.ctx.factory() as s, s.begin():
            school = self.ctx.school(s)
            args = (s, school, s.get(Student, self.ids[who]), s.get(Staff, self.ids["t"]))
            if concern:
                queue_concern(*args, "She was upset at lunch.", ALL, override_reason=override)
            else:
                queue_good_news(*args, "Lovely reading.", ALL)


def _send(ctx: Context, clock: FakeClock, sms: RecordingChannel | None = None,
          email: RecordingChannel | None = None) -> None:
    channels = {"sms": sms or RecordingChannel("sms"), "email": email or RecordingChannel("email")}
    asyncio.run(Worker(ctx.factory, channels, clock=clock).run(until_empty=True))


def test_report_from_sends_equals_the_rebuild_from_history(
        ctx: Context, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = School_(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        t = f.staff(s, school)
        twins = f.student(s, school, t, class_name="3B")   # two parents
        solo = f.student(s, school, t, class_name="3B")
        other = f.student(s, school, t, class_name="4A")
        quiet = f.student(s, school, t, class_name="4A")   # nothing ever sent
        mum, dad = f.guardian(s, school, twins), f.guardian(s, school, twins)
        f.guardian(s, school, solo)
        f.guardian(s, school, other, phone=None)
        f.guardian(s, school, quiet)
        sc.ids.update(t=t.id, twins=twins.id, solo=solo.id, other=other.id, quiet=quiet.id,
                      mum=mum.id, dad=dad.id)
    clock.set(london(2026, 7, 10, 10, 0))  # last term: counts then, not now
    sc.note("solo", concern=True, override="safeguarding follow-up")
    sc.note("other")
    _send(ctx, clock)
    clock.set(london(2026, 11, 6, 10, 0))
    sc.note("twins")
    sc.note("solo")
    _send(ctx, clock)
    sc.note("twins", concern=True)
    sms = RecordingChannel("sms")
    sms.fail_next(PermanentAddressError("21211 invalid number"))  # mum's phone: to email
    _send(ctx, clock, sms=sms)
    clock.set(london(2026, 11, 16, 10, 0))
    sc.note("solo")
    sc.note("solo", concern=True)
    _send(ctx, clock)
    clock.set(london(2026, 11, 18, 10, 0))
    sent = _report(ctx, clock)

    ids = sc.ids
    assert [o["student_id"] for o in sent["overdue"]] == [ids["quiet"], ids["other"],
                                                         ids["twins"]]
    assert sent["overdue"][1]["last_positive_at"].startswith("2026-07-10")
    assert [(x["guardian_id"], x["positive"], x["concern"]) for x in sent["families"]] \
        == [(ids["mum"], 1, 1), (ids["dad"], 1, 1), (ids["mum"] + 2, 2, 1)]
    # the note to both of the twins' parents counts once for the class
    assert [(c["class_name"], c["positive"], c["concern"]) for c in sent["classes"]] \
        == [("3B", 3, 2)]

    _forget(ctx)
    assert _report(ctx, clock) != sent
    monkeypatch.setenv("SCHOOLGATE_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SCHOOLGATE_OUTBOX_DIR", str(tmp_path / "outbox"))
    from bot.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["cadence", "--rebuild", "--json"])
    assert result.exit_code == 0, result.output
    assert {k: json.loads(result.stdout)[k] for k in KEYS} == sent
    assert _report(ctx, clock) == sent
    with ctx.factory() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "cadence_rebuilt"))

    # a new term start in the policy: the counts follow it after a rebuild
    with ctx.factory() as s, s.begin():
        s.execute(update(School).values(policy={"term_start": "2026-11-10"}))
    _rebuild(ctx)
    moved = _report(ctx, clock)
    assert moved["term_start"] == "2026-11-10"
    assert [(x["positive"], x["concern"]) for x in moved["families"]] == [(1, 1)]
    assert moved["overdue"] == sent["overdue"]


def test_fallback_after_a_reported_failure_counts_once(ctx: Context, clock: FakeClock) -> None:
    sc = School_(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        t = f.staff(s, school)
        child = f.student(s, school, t)
        g = f.guardian(s, school, child)
        sc.ids.update(t=t.id, child=child.id, g=g.id)
    sms, email = RecordingChannel("sms"), RecordingChannel("email")
    sc.note("child")
    _send(ctx, clock, sms, email)
    assert [(x["positive"]) for x in _report(ctx, clock)["classes"]] == [1]
    with ctx.factory() as s:
        first = s.scalars(select(Delivery)).one()
    for _ in range(2):  # the provider says it never arrived (twice): the email takes over
        apply_status(ctx.factory, "sms", first.provider_id, DeliveryStatus.FAILED, ALL,
                     error="30005 unknown handset", permanent=True, now=clock())
    between = _report(ctx, clock)
    assert between["classes"] == [] and between["overdue"][0]["last_positive_at"] is None
    clock.set(london(2026, 11, 18, 11, 0))
    _send(ctx, clock, sms, email)
    after = _report(ctx, clock)
    assert len(email.sent) == 1
    assert [(c["positive"], c["concern"]) for c in after["classes"]] == [(1, 0)]
    assert after["overdue"] == []
    with ctx.factory() as s:
        row = s.scalars(select(ContactCount)).one()
        assert (row.guardian_id, row.positive, row.student_positive) == (sc.ids["g"], 1, 1)
        assert s.get(Student, sc.ids["child"]).last_positive_at == clock()
    _forget(ctx)
    _rebuild(ctx)
    assert _report(ctx, clock) == after


def test_send_time_fallback_counts_once_per_guardian(ctx: Context, clock: FakeClock) -> None:
    sc = School_(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        t = f.staff(s, school)
        child = f.student(s, school, t)
        f.guardian(s, school, child)
        sc.ids.update(t=t.id, child=child.id)
    sc.note("child")
    sms = RecordingChannel("sms")
    sms.fail_next(PermanentAddressError("21211 invalid number"))
    _send(ctx, clock, sms=sms)
    sc.note("child", concern=True)
    _send(ctx, clock, sms=sms)
    report = _report(ctx, clock)
    assert [(x["positive"], x["concern"]) for x in report["families"]] == [(1, 1)]
    with ctx.factory() as s:
        statuses = sorted((d.channel, d.status) for d in s.scalars(select(Delivery)))
    assert ("sms", DeliveryStatus.FAILED) in statuses and len(statuses) == 3


@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    """A running Twilio stand-in (API and webhook signer)."""
    with TwilioStandin.running() as standin:
        yield standin


def test_status_callbacks_repeated_count_once(db_url: str, tmp_path: Path, clock: FakeClock,
                                              twilio: TwilioStandin) -> None:
    public = "https://school.example"
    ctx = Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio),
                                public_url=public))
    try:
        with ctx.factory() as s, s.begin():
            school = ctx.school(s)
            t = f.staff(s, school)
            child = f.student(s, school, t)
            f.guardian(s, school, child, phone="+447700900123", email=None)
            queue_good_news(s, school, child, t, "Lovely painting.", ALL)
        sms = TwilioSmsChannel(twilio_settings(twilio), public_url=public)
        asyncio.run(Worker(ctx.factory, {"sms": sms}, clock=clock).run(until_empty=True))
        with ctx.factory() as s:
            sid = s.scalars(select(Delivery.provider_id)).one()
        path = "/webhooks/twilio/status"
        with TestClient(create_app(ctx)) as client:
            for status in ("sent", "delivered", "delivered", "read", "delivered"):
                form = twilio.status_form(sid, status)
                response = client.post(path, data=form,
                                       headers=twilio.webhook_headers(public + path, form))
                assert response.status_code == 200
        with ctx.factory() as s:
            assert s.scalars(select(Delivery.status)).one() == DeliveryStatus.READ
            row = s.scalars(select(ContactCount)).one()
            assert (row.positive, row.student_positive, row.concern) == (1, 1, 0)
    finally:
        ctx.engine.dispose()


def test_row_recovered_as_sent_after_a_crash_counts_once(ctx: Context, clock: FakeClock) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        t = f.staff(s, school)
        child = f.student(s, school, t)
        f.guardian(s, school, child)
        f.guardian(s, school, child)
        queue_good_news(s, school, child, t, "Lovely reading.", ALL)
    sms = RecordingChannel("sms")
    dead = Worker(ctx.factory, {"sms": sms}, worker_id="gone-host:1:abc", clock=clock)
    dead.hand_over([c.id for c in dead.claim()])  # it died with both calls started
    with ctx.factory() as s:
        first = s.scalars(select(Delivery).order_by(Delivery.id)).first()
    # the dead worker's send of the first row reached the provider before it died
    asyncio.run(sms.send(Claimed(first.id, "sms", first.address, first.rendered_text, None,
                                 "en", first.idempotency_key, 1).outgoing()))
    worker = Worker(ctx.factory, {"sms": sms}, NOW_POLICY,
                    clock=clock)
    assert asyncio.run(worker.recover())["sent"] == 1
    assert [c["positive"] for c in _report(ctx, clock)["classes"]] == [1]
    asyncio.run(worker.recover(force=True))  # nothing left in sending: no second count
    asyncio.run(worker.run(until_empty=True))  # the other parent's row, sent normally
    report = _report(ctx, clock)
    assert [(x["positive"]) for x in report["classes"]] == [1]  # one note, two parents
    with ctx.factory() as s:
        assert sorted(r.positive for r in s.scalars(select(ContactCount))) == [1, 1]
    _forget(ctx)
    _rebuild(ctx)
    assert _report(ctx, clock) == report


def test_upgrade_fills_the_summaries_from_existing_history(ctx: Context,
                                                          clock: FakeClock) -> None:
    from alembic import command

    from bot.store.migrate import alembic_config

    command.downgrade(alembic_config(ctx.engine), "0003")
    sent = london(2026, 11, 2, 10, 0).astimezone(UTC)
    rows = [
        "INSERT INTO schools (id, name, timezone, staff_language, languages, policy, created_at)"
        " VALUES (1, 'S', 'Europe/London', 'en', '[]', '{}', :t)",
        "INSERT INTO students (id, school_id, ref, first_name, last_name, class_name,"
        " created_at) VALUES (1, 1, 'S1', 'A', 'B', '3B', :t), (2, 1, 'S2', 'C', 'D', '3B', :t)",
        "INSERT INTO guardians (id, school_id, ref, first_name, last_name, language,"
        " channel_order, created_at) VALUES (1, 1, 'G1', 'E', 'F', 'en', '[]', :t)",
        "INSERT INTO messages (id, school_id, kind, student_id, source_text, source_language,"
        " urgency, details, created_at) VALUES (1, 1, 'good_news', 1, 'x', 'en', 'normal',"
        " '{}', :t), (2, 1, 'concern', 1, 'x', 'en', 'normal', '{}', :t)",
        "INSERT INTO deliveries (id, message_id, guardian_id, channel, rendered_text,"
        " language, status, attempts, next_attempt_at, idempotency_key, sent_at, created_at,"
        " updated_at) VALUES (1, 1, 1, 'sms', 'x', 'en', 'delivered', 1, :t, 'k1', :t, :t, :t),"
        " (2, 2, 1, 'sms', 'x', 'en', 'failed', 1, :t, 'k2', :t, :t, :t),"
        " (3, 2, 1, 'email', 'x', 'en', 'sent', 1, :t, 'k3', :t, :t, :t)",
    ]
    try:
        with ctx.engine.begin() as conn:
            for sql in rows:
                conn.execute(text(sql), {"t": sent})
    finally:
        upgrade(ctx.engine)  # never leave the shared PostgreSQL schema behind
    with ctx.factory() as s:  # the migration ran no application code: it left a note
        assert s.get(JobMark, "contact_summary:rebuild") is not None
    ctx.upgrade()  # what every command does first: the summaries are filled, once
    with ctx.factory() as s:
        assert s.get(JobMark, "contact_summary:rebuild") is None
    report = _report(ctx, clock)
    assert [(o["student_id"], o["last_positive_at"]) for o in report["overdue"]] \
        == [(2, None), (1, sent.isoformat())]  # 16 days ago: overdue, with the date
    assert [(x["guardian_id"], x["positive"], x["concern"]) for x in report["families"]] \
        == [(1, 1, 1)]  # the concern's fallback to email counts once
    assert [(c["positive"], c["concern"]) for c in report["classes"]] == [(1, 1)]


def test_a_send_confirmed_by_a_person_counts_as_good_news(ctx: Context) -> None:
    """`schoolgate review --mark-sent`: staff checked with the provider that it arrived."""
    from bot.cli.support import review
    from bot.store.models import Delivery, DeliveryStatus, Student

    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        f.guardian(s, school, child)
        _, rows = queue_good_news(s, school, child, teacher, "Read a whole book.", {"sms"})
        rows[0].status = DeliveryStatus.NEEDS_REVIEW
        child_id, delivery_id = child.id, rows[0].id
    review(ctx, resend=None, mark_sent=delivery_id, send_untranslated=None)
    with ctx.factory() as s:
        assert s.get(Delivery, delivery_id).status == DeliveryStatus.SENT  # type: ignore[union-attr]
        assert s.get(Student, child_id).last_positive_at is not None  # type: ignore[union-attr]
