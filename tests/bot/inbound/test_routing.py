"""The one routing loop: a reply stored but never routed (a crash after the 2xx, a failure)
is finished later by the same loop, once, through its channel's own path."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import clock
from bot.clock import RunningClock
from bot.inbound import inbox
from bot.inbound.routing import Router
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Delivery, InboundMessage, InboundStatus, utcnow
from channels.sms import parse_inbound
from tests import factories as f
from tests.recording_channel import RecordingChannel


def test_stored_but_unprocessed_reply_is_routed_by_the_sweep(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        f.guardian(s, school, f.student(s, school, teacher), phone="+447700900301")
        teacher_id = teacher.id
    # the process died right after storing: the message is safe but nobody has seen it
    inbound_id, _ = inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900301", "Body": "Can we talk?", "MessageSid": "SMsweep"}))
    channels = {"sms": RecordingChannel("sms"), "email": RecordingChannel("email")}

    left_over = Router(ctx.factory, channels, route_new=False)  # the web routes new ones
    assert asyncio.run(left_over.route_waiting()) == 0  # too fresh: maybe in flight
    later = utcnow() + timedelta(minutes=2)
    with clock.using(RunningClock(later)):
        assert asyncio.run(Router(ctx.factory, channels, route_new=False)
                           .route_waiting()) == 1
    with ctx.factory() as s:
        row = s.get(InboundMessage, inbound_id)
        assert row.status == InboundStatus.ROUTED and row.routed_to_id == teacher_id
        assert len(list(s.scalars(select(Delivery)))) == 1  # one acknowledgement
    with clock.using(RunningClock(later)):  # idempotent: nothing is done twice
        assert asyncio.run(Router(ctx.factory, channels, route_new=False)
                           .route_waiting()) == 0


def test_a_routing_that_fails_is_tried_again_only_after_a_while(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        f.guardian(s, school, f.student(s, school, f.staff(s, school)), phone="+447700900302")
    inbound_id, _ = inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900302", "Body": "Hello", "MessageSid": "SMblip"}))
    channels = {"sms": RecordingChannel("sms"), "email": RecordingChannel("email")}
    real, calls = inbox.process, []

    def blip(*args: object, **kwargs: object) -> object:
        calls.append(args[1])
        if len(calls) == 1:
            raise RuntimeError("database blip")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inbox, "process", blip)
    router = Router(ctx.factory, channels)
    assert asyncio.run(router.route_waiting()) == 0  # failed: left 'received', not lost
    assert asyncio.run(router.route_waiting()) == 0  # not hammered on every pass
    assert calls == [inbound_id]
    with clock.using(RunningClock(utcnow() + timedelta(minutes=2))):
        router.failed = {i: at - 120 for i, at in router.failed.items()}  # a while ago
        router._next_stale = 0.0
        assert asyncio.run(router.route_waiting()) == 1
    with ctx.factory() as s:
        assert s.get(InboundMessage, inbound_id).status == InboundStatus.ROUTED
        assert len(list(s.scalars(select(Delivery)))) == 1


def test_a_message_that_can_never_be_routed_waits_for_a_person_and_holds_up_nothing(
        ctx: Context, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    """Issue 14, finding 8: poisoned rows sat at the head of the sweep for good."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        f.guardian(s, school, f.student(s, school, f.staff(s, school)), phone="+447700900304")
    poison = [inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900304", "Body": f"Bad {n}", "MessageSid": f"SMpoison{n}"}))[0]
        for n in range(3)]
    genuine, _ = inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900304", "Body": "See you on Friday", "MessageSid": "SMgood"}))
    real = inbox.process

    def buggy(factory: object, inbound_id: int, *args: object, **kwargs: object) -> object:
        if inbound_id in poison:
            raise KeyError("a bug that hits these messages every time")
        return real(factory, inbound_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inbox, "process", buggy)
    channels = {"sms": RecordingChannel("sms"), "email": RecordingChannel("email")}
    router = Router(ctx.factory, channels, settle_after=timedelta(0))  # no rest: see it all
    with caplog.at_level("WARNING", logger="bot.inbound.routing"):
        passes = [asyncio.run(router.route_waiting()) for _ in range(8)]
    assert passes[0] == 1 and sum(passes) == 1  # the genuine reply, on the first pass
    with ctx.factory() as s:
        assert s.get(InboundMessage, genuine).status == InboundStatus.ROUTED
        rows = [s.get(InboundMessage, i) for i in poison]
        assert [(r.status, r.attempts) for r in rows] == [(InboundStatus.UNMATCHED, 5)] * 3
        assert all("KeyError" in (r.problem or "") for r in rows)
        audited = s.scalars(select(AuditEntry.object_id).where(
            AuditEntry.action == "inbound_failed")).all()
        assert sorted(audited) == sorted(str(i) for i in poison)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 3  # one line each when it is handed to a person, not thousands
    assert len(caplog.records) == 3 * 5  # four warnings and one error per message
    assert not any("Bad" in r.getMessage() or "+4477" in r.getMessage()
                   for r in caplog.records)  # no bodies or numbers in the log


def test_a_failing_message_rests_longer_each_time(ctx: Context) -> None:
    router = Router(ctx.factory, {}, settle_after=timedelta(seconds=60))
    assert [router._rest(n) for n in (1, 2, 3, 4, 10)] == [60, 120, 240, 480, 1800]


def test_replies_left_over_in_a_burst_are_routed_by_the_loop_when_no_more_arrive(
        ctx: Context) -> None:
    """--one-process: pushes beyond the waiting limit are left 'received'; the web process's
    loop routes them soon after, not a minute later."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        f.guardian(s, school, f.student(s, school, f.staff(s, school)), phone="+447700900303")
    ids = [inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900303", "Body": f"Note {n}", "MessageSid": f"SMburst{n}"}))[0]
        for n in range(3)]
    channels = {"sms": RecordingChannel("sms"), "email": RecordingChannel("email")}
    router = Router(ctx.factory, channels, route_new=False, max_waiting=0, poll=0.01)

    async def burst_then_quiet() -> list[bool]:
        pushed = [await router.route(i) for i in ids]  # all left over: the limit is full
        stop = asyncio.Event()
        loop = asyncio.create_task(router.run(stop))
        for _ in range(500):
            if await asyncio.to_thread(_all_routed, ctx, ids):
                break
            await asyncio.sleep(0.01)
        stop.set()
        await loop
        return pushed

    assert asyncio.run(burst_then_quiet()) == [False, False, False]
    assert _all_routed(ctx, ids)
    assert not router.left


def _all_routed(ctx: Context, ids: list[int]) -> bool:
    with ctx.factory() as s:
        return all(s.get(InboundMessage, i).status == InboundStatus.ROUTED for i in ids)
