"""Stopping a worker, and slow answers: only rows whose call started stay with the provider.

Issue 14, finding 7: a stop sent the whole claimed batch to manual review, and one slow
answer held all 50 claimed rows in 'sending'. Calls here block on events the test
controls, so nothing depends on how long anything takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from sqlalchemy import select

from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker, WorkerPolicy
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus
from channels.base import DeliveryResult, OutgoingMessage
from tests import factories as f
from tests.recording_channel import RecordingChannel

GUARD_SECONDS = 30.0  # only against a hung test


class GatedChannel(RecordingChannel):
    """A provider whose calls wait for the test: `hold` names the texts that wait for
    `gate`; with `hold_all`, every call does. `started` counts calls that began."""

    max_in_flight: ClassVar[int] = 2

    def __init__(self, name: str = "sms", hold_all: bool = False) -> None:
        super().__init__(name)
        self.gate = asyncio.Event()
        self.hold: set[str] = set()
        self.hold_all = hold_all
        self.started: list[str] = []

    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        self.started.append(message.idempotency_key)
        if self.hold_all or message.idempotency_key in self.hold:
            await self.gate.wait()
        return await super()._send(message)


#: recovery at once: stale at once, and the provider asked at once
NOW_POLICY = WorkerPolicy(stale_sending_seconds=0, settle_seconds=0)


def _queue(ctx: Context, n: int) -> list[str]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        for _ in range(n):
            f.guardian(s, school, child)
        _, rows = queue_good_news(s, school, child, teacher, "Helped tidy the library.",
                                  available={"sms"})
        return [r.idempotency_key for r in rows]


def _by_status(ctx: Context) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with ctx.factory() as s:
        for d in s.scalars(select(Delivery)):
            out.setdefault(d.status, set()).add(d.idempotency_key)
    return out


async def _until(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GUARD_SECONDS
    while True:
        value = condition()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        assert loop.time() < deadline, "no progress"
        await asyncio.sleep(0.01)


def test_one_slow_answer_holds_only_its_own_row(ctx: Context) -> None:
    keys = _queue(ctx, 12)
    sms = GatedChannel()
    sms.hold = {keys[0]}
    worker = Worker(ctx.factory, {"sms": sms}, WorkerPolicy(poll_seconds=0.05))

    async def scenario() -> dict[str, set[str]]:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await _until(lambda: len(sms.sent) == 11)
        await _until(lambda: len(_by_status(ctx).get(DeliveryStatus.SENT, ())) == 11)
        during = _by_status(ctx)
        sms.gate.set()
        await _until(lambda: len(sms.sent) == 12)
        stop.set()
        await task
        return during

    during = asyncio.run(scenario())
    # while the first call still waited, every other row went and was recorded
    assert during == {DeliveryStatus.SENDING: {keys[0]}, DeliveryStatus.SENT: set(keys[1:])}
    assert _by_status(ctx) == {DeliveryStatus.SENT: set(keys)}


def test_stop_finishes_calls_in_flight_and_gives_back_the_rest(ctx: Context) -> None:
    keys = _queue(ctx, 10)
    sms = GatedChannel(hold_all=True)
    worker = Worker(ctx.factory, {"sms": sms}, WorkerPolicy(poll_seconds=0.05))

    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await _until(lambda: len(sms.started) == 2)  # both lanes busy, the rest waiting
        stop.set()
        await asyncio.sleep(0)
        sms.gate.set()  # the provider answers the two calls in flight
        return await task

    assert asyncio.run(scenario()) == 2
    rows = _by_status(ctx)
    assert rows[DeliveryStatus.SENT] == set(sms.started)
    assert rows[DeliveryStatus.QUEUED] == set(keys) - set(sms.started)  # given back
    assert DeliveryStatus.NEEDS_REVIEW not in rows and DeliveryStatus.SENDING not in rows
    with ctx.factory() as s:
        released = s.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.QUEUED))
        assert {(d.claimed_by, d.handed_at, d.attempts) for d in released} == {(None, None, 0)}
    # the next worker sends the rest, each once
    asyncio.run(Worker(ctx.factory, {"sms": RecordingChannel("sms")}).run(until_empty=True))
    assert _by_status(ctx) == {DeliveryStatus.SENT: set(keys)}


def test_a_call_still_open_after_the_grace_period_is_settled_by_asking(ctx: Context) -> None:
    keys = _queue(ctx, 4)
    sms = GatedChannel(hold_all=True)  # never answers
    worker = Worker(ctx.factory, {"sms": sms},
                    WorkerPolicy(poll_seconds=0.05, grace_seconds=0.2))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await _until(lambda: len(sms.started) == 2)
        stop.set()
        await task

    asyncio.run(scenario())
    rows = _by_status(ctx)
    assert rows[DeliveryStatus.SENDING] == set(sms.started)  # with the provider
    assert rows[DeliveryStatus.QUEUED] == set(keys) - set(sms.started)
    # at the next start the provider is asked; it has none of them, so each goes once
    after = RecordingChannel("sms")
    later = Worker(ctx.factory, {"sms": after}, NOW_POLICY)
    counts = asyncio.run(later.recover(force=True))
    assert counts == {"sent": 0, "requeued": 2, "released": 0, "needs_review": 0,
                      "asking_later": 0}
    asyncio.run(later.run(until_empty=True))
    assert sorted(m.idempotency_key for m in after.sent) == sorted(keys)


def test_stop_with_a_blind_provider_sends_only_started_rows_to_review(ctx: Context) -> None:
    keys = _queue(ctx, 6)

    class Blind(GatedChannel):
        can_check_sent = False

    sms = Blind(hold_all=True)
    worker = Worker(ctx.factory, {"sms": sms},
                    WorkerPolicy(poll_seconds=0.05, grace_seconds=0.2))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await _until(lambda: len(sms.started) == 2)
        stop.set()
        await task

    asyncio.run(scenario())
    later = Worker(ctx.factory, {"sms": Blind()}, NOW_POLICY)
    asyncio.run(later.recover(force=True))
    rows = _by_status(ctx)
    assert rows[DeliveryStatus.NEEDS_REVIEW] == set(sms.started)  # 2 of 6, not all
    assert rows[DeliveryStatus.QUEUED] == set(keys) - set(sms.started)
