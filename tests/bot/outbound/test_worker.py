"""The outbox worker: claims, sends, retries with backoff, falls back, recovers after a crash."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Claimed, Worker, WorkerPolicy
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, GuardianChannel, utcnow
from tests import factories as f
from tests.recording_channel import PermanentAddressError, RecordingChannel, TransientError

#: recovery at once: stale at once, and the provider asked at once
NOW_POLICY = WorkerPolicy(stale_sending_seconds=0, settle_seconds=0)


def _setup(ctx: Context, n_guardians: int = 1, **guardian_kw: object) -> list[int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        for _ in range(n_guardians):
            f.guardian(s, school, child, **guardian_kw)
        _, rows = queue_good_news(s, school, child, teacher, "Read aloud to the class today.",
                                  available={"sms", "email"})
        return [r.id for r in rows]


def _statuses(ctx: Context) -> list[tuple[str | None, str]]:
    with ctx.factory() as s:
        return [(d.channel, d.status) for d in s.scalars(select(Delivery).order_by(Delivery.id))]


def test_sends_each_queued_delivery_once(ctx: Context) -> None:
    _setup(ctx, n_guardians=3)
    sms = RecordingChannel("sms")
    worker = Worker(ctx.factory, {"sms": sms, "email": RecordingChannel("email")})
    asyncio.run(worker.run(until_empty=True))
    assert len(sms.sent) == 3
    assert len({m.idempotency_key for m in sms.sent}) == 3
    assert "Read aloud to the class today." in sms.sent[0].text
    assert _statuses(ctx) == [("sms", DeliveryStatus.SENT)] * 3
    asyncio.run(worker.run(until_empty=True))
    assert len(sms.sent) == 3  # nothing is sent twice


def test_transient_failure_retries_later_with_backoff(ctx: Context) -> None:
    _setup(ctx)
    sms = RecordingChannel("sms")
    sms.fail_next(TransientError("503 from provider"))
    worker = Worker(ctx.factory, {"sms": sms}, WorkerPolicy(retry_base_seconds=60))
    asyncio.run(worker.run_batch())
    with ctx.factory() as s:
        d = s.scalars(select(Delivery)).one()
        assert d.status == DeliveryStatus.QUEUED
        assert d.attempts == 1 and "503" in (d.last_error or "")
        wait = (d.next_attempt_at - utcnow()).total_seconds()
        assert 25 <= wait <= 61  # half to full base delay, jittered
    assert asyncio.run(worker.run_batch()) == 0  # not due yet
    later = Worker(ctx.factory, {"sms": sms}, clock=lambda: utcnow() + timedelta(minutes=2))
    asyncio.run(later.run_batch())
    assert len(sms.sent) == 1
    assert _statuses(ctx) == [("sms", DeliveryStatus.SENT)]


def test_retry_after_from_provider_is_honoured(ctx: Context) -> None:
    _setup(ctx)
    sms = RecordingChannel("sms")
    sms.fail_next(TransientError("429 too many requests", retry_after=900))
    worker = Worker(ctx.factory, {"sms": sms}, WorkerPolicy(retry_base_seconds=1))
    asyncio.run(worker.run_batch())
    with ctx.factory() as s:
        d = s.scalars(select(Delivery)).one()
        assert (d.next_attempt_at - utcnow()).total_seconds() >= 899


def test_permanent_failure_moves_guardian_to_next_channel(ctx: Context) -> None:
    _setup(ctx)
    sms, email = RecordingChannel("sms"), RecordingChannel("email")
    sms.fail_next(PermanentAddressError("21211 invalid number"))
    worker = Worker(ctx.factory, {"sms": sms, "email": email})
    asyncio.run(worker.run(until_empty=True))
    assert len(email.sent) == 1 and not sms.sent
    assert _statuses(ctx) == [("sms", DeliveryStatus.FAILED), ("email", DeliveryStatus.SENT)]
    with ctx.factory() as s:
        state = s.scalars(select(GuardianChannel)).one()
        assert state.channel == "sms" and "21211" in (state.failed_reason or "")


def test_guardian_with_no_channel_left_is_recorded_unreachable(ctx: Context) -> None:
    _setup(ctx, email=None)
    sms = RecordingChannel("sms")
    sms.fail_next(PermanentAddressError("21610 recipient opted out"))
    asyncio.run(Worker(ctx.factory, {"sms": sms, "email": RecordingChannel("email")})
                .run(until_empty=True))
    with ctx.factory() as s:
        rows = list(s.scalars(select(Delivery).order_by(Delivery.id)))
    assert [r.status for r in rows] == [DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE]
    assert "email: no address" in (rows[1].last_error or "")
    assert "sms: already tried" in (rows[1].last_error or "")


def test_transient_failures_give_up_after_max_attempts_then_fall_back(ctx: Context) -> None:
    _setup(ctx)
    sms, email = RecordingChannel("sms"), RecordingChannel("email")
    sms.fail_next(*[TransientError("timeout")] * 3)
    clock = [utcnow()]
    worker = Worker(ctx.factory, {"sms": sms, "email": email},
                    WorkerPolicy(max_attempts=3, retry_base_seconds=1), clock=lambda: clock[0])
    for _ in range(4):
        asyncio.run(worker.run_batch())
        clock[0] += timedelta(hours=1)
    assert sms.calls == 3 and len(email.sent) == 1
    with ctx.factory() as s:
        first = s.scalars(select(Delivery).order_by(Delivery.id)).first()
        assert first.status == DeliveryStatus.FAILED
        assert "gave up after 3 attempts" in (first.last_error or "")


def _leave_in_sending(ctx: Context, worker_id: str, handed: bool = True) -> list[int]:
    """Claim rows as a worker that then 'dies' (its id names a process that is gone),
    after marking their provider calls started (`handed`) or before."""
    dead = Worker(ctx.factory, {"sms": RecordingChannel("sms")}, worker_id=worker_id)
    ids = [c.id for c in dead.claim()]
    if handed:
        assert dead.hand_over(ids) == set(ids)
    return ids


def test_crashed_row_is_marked_sent_when_provider_confirms_it_went(ctx: Context) -> None:
    _setup(ctx, n_guardians=2)
    sms = RecordingChannel("sms")
    dead = "some-other-host:1:abc"
    _leave_in_sending(ctx, dead)
    with ctx.factory() as s:
        first = s.scalars(select(Delivery).order_by(Delivery.id)).first()
    # the dead worker's send of the first row reached the provider before it died
    asyncio.run(sms.send(Claimed(first.id, "sms", first.address, first.rendered_text, None,
                                 "en", first.idempotency_key, 1).outgoing()))
    worker = Worker(ctx.factory, {"sms": sms}, NOW_POLICY)
    counts = asyncio.run(worker.recover())
    assert counts == {"sent": 1, "requeued": 1, "needs_review": 0, "released": 0,
                      "asking_later": 0}
    asyncio.run(worker.run(until_empty=True))
    assert sorted(m.idempotency_key for m in sms.sent) == sorted(
        {m.idempotency_key for m in sms.sent})
    assert len(sms.sent) == 2


def test_crashed_row_is_flagged_for_a_person_when_provider_cannot_tell(ctx: Context) -> None:
    _setup(ctx)
    _leave_in_sending(ctx, "some-other-host:1:abc")

    class Blind(RecordingChannel):
        can_check_sent = False

    blind = Blind("sms")
    worker = Worker(ctx.factory, {"sms": blind}, NOW_POLICY)
    asyncio.run(worker.run(until_empty=True))
    assert not blind.sent
    with ctx.factory() as s:
        d = s.scalars(select(Delivery)).one()
    assert d.status == DeliveryStatus.NEEDS_REVIEW
    assert "a person should check" in (d.last_error or "")


def test_fresh_sending_row_of_live_remote_worker_is_left_alone(ctx: Context) -> None:
    _setup(ctx)
    _leave_in_sending(ctx, "some-other-host:1:abc")
    worker = Worker(ctx.factory, {"sms": RecordingChannel("sms")})
    assert asyncio.run(worker.recover()) == {"sent": 0, "requeued": 0, "needs_review": 0,
                                             "released": 0, "asking_later": 0}
