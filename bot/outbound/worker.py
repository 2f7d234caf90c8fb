"""Workers drain the outbox: claim due rows, hand each to its channel, record, retry or fall back.

The life of a row: 'queued' -> claimed ('sending', `claimed_by`) -> handed over (`handed_at`
written, in a transaction of its own, just before that row's own provider call starts)
-> 'sent' / 'queued' again (a retry) / 'failed' (and the guardian's next channel).
Claiming is one UPDATE ... RETURNING: with `FOR UPDATE SKIP LOCKED` on PostgreSQL so
several workers on several machines share one outbox, and inside `BEGIN IMMEDIATE` on
SQLite. A worker claims only about as many rows as its channels can start soon, and
records each result as soon as it comes, so one slow answer holds only its own row.

A row claimed but never handed over is released (back to 'queued') when the worker stops,
and by crash recovery after a crash: nothing of it reached a provider. A row handed over
whose answer never came (a crash, a timeout after the request went out) has an unknown
outcome: where the provider can say (`can_check_sent`, `find_sent`: Twilio's Messages
list, the outbox folder) it is asked, and the row becomes 'sent' with the provider's id,
or is sent again when the provider proves it has none; only a row no provider can tell
about goes to a person ('needs_review', `schoolgate review`). Nothing is resent blind.

On stop (SIGTERM, SIGINT) the worker claims nothing more, lets calls already started
finish within `grace_seconds`, records them, releases what it had not started, and says
so in one line.

One message walked through this code, file by file: docs/sending-a-message.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.outbound.claimed import Claimed
from bot.outbound.handover import Batcher
from bot.outbound.kinds import attach_files
from bot.outbound.outcomes import REVIEW_UNKNOWN, Outcome, Recorder, WorkerPolicy
from bot.store.db import rowcount
from bot.store.models import Delivery, DeliveryStatus, table, utcnow
from bot.store.owners import claimer_is_dead, new_worker_id
from channels.base import Channel, DeliveryOutcome, DeliveryResult
from scheduler.contact_summary import count_sent

__all__ = ["Claimed", "Step", "Worker", "WorkerPolicy"]

log = logging.getLogger(__name__)
T = table(Delivery)

#: the columns a claim returns, in `Claimed`'s order (attachments are added after)
CLAIMED_COLUMNS = (T.c.id, T.c.channel, T.c.address, T.c.rendered_text, T.c.subject,
                   T.c.language, T.c.idempotency_key, T.c.attempts, T.c.reply_token,
                   T.c.message_id, T.c.email_message_id, T.c.reply_headers)

#: work the runtime hands a worker to run in its loop: `(now) -> how many things it did`
Step = Callable[[datetime], Awaitable[int]]


class _Round:
    """Per-run state (bound to one event loop): lanes per channel, the two batch writers,
    the rows waiting for a lane (cancellable on stop) and the rows in flight."""

    def __init__(self, worker: Worker) -> None:
        self.lanes = {name: asyncio.Semaphore(max(1, ch.max_in_flight))
                      for name, ch in worker.channels.items()}
        self.handing: Batcher[int] = Batcher(worker.hand_over)
        self.recording: Batcher[Outcome] = Batcher(worker.recorder.record)
        self.waiting: dict[int, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

class Worker:
    """Drains due outbox rows through the given channel adapters.

    `steps` run before each claim (the runtime passes translation of new rows and of
    replies); `upkeep` runs at start and about once a minute. The worker itself knows only
    the outbox.
    """

    def __init__(self, factory: sessionmaker[Session], channels: Mapping[str, Channel],
                 policy: WorkerPolicy | None = None, worker_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow, public_url: str = "",
                 steps: Sequence[Step] = (), upkeep: Sequence[Step] = ()) -> None:
        self.factory = factory
        self.channels = dict(channels)
        self.worker_id = worker_id or new_worker_id()
        self.clock = clock
        self.public_url = public_url
        self.steps = tuple(steps)
        self.upkeep = tuple(upkeep)
        self.recorder = Recorder(factory, self.channels, policy or WorkerPolicy(),
                                 self.worker_id, clock)
        self.released = 0

    @property
    def policy(self) -> WorkerPolicy:
        """How hard this worker tries (shared with its recorder)."""
        return self.recorder.policy

    @policy.setter
    def policy(self, policy: WorkerPolicy) -> None:
        self.recorder.policy = policy

    @property
    def sent(self) -> int:
        """Rows this worker has recorded as sent."""
        return self.recorder.sent

    @property
    def room(self) -> int:
        """How many rows this worker keeps claimed at most: a batch, but no more than its
        channels can start soon (twice their lanes), so a stop releases little."""
        lanes = sum(max(1, c.max_in_flight) for c in self.channels.values())
        return max(1, min(self.policy.batch_size, 2 * lanes))

    # -- claiming ------------------------------------------------------------------------
    def claim(self, limit: int | None = None) -> list[Claimed]:
        """Atomically move up to `limit` due rows to 'sending' for this worker (not yet
        handed over: nothing of them has reached a provider)."""
        now = self.clock()
        due = (
            select(T.c.id)
            .where(T.c.status == DeliveryStatus.QUEUED, T.c.next_attempt_at <= now,
                   T.c.channel.in_(list(self.channels)))
            .order_by(T.c.next_attempt_at, T.c.id)
            .limit(limit or self.policy.batch_size)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(T)
            .where(T.c.id.in_(due.scalar_subquery()))
            .values(status=DeliveryStatus.SENDING, claimed_by=self.worker_id, claimed_at=now,
                    updated_at=now)
            .returning(*CLAIMED_COLUMNS, T.c.handed_at)
        )
        with self.factory() as session, session.begin():
            claimed = [replace(Claimed(*row[:-1]), handed_at=row[-1])
                       for row in session.execute(stmt).all()]
            # Only rows for channels that carry files can need one: SMS batches skip this.
            if any(self.channels[c.channel].supports_attachments for c in claimed):
                claimed = attach_files(session, claimed, self.channels)
        return sorted(claimed, key=lambda c: c.id)

    def hand_over(self, ids: list[int]) -> set[int]:
        """Record that these rows' provider calls start now (one transaction, committed
        before any of them starts); returns the ids still ours, the only ones to send."""
        now = self.clock()
        with self.factory() as session, session.begin():
            mine = set(session.scalars(
                update(T)
                .where(T.c.id.in_(ids), T.c.status == DeliveryStatus.SENDING,
                       T.c.claimed_by == self.worker_id)
                .values(handed_at=now, attempts=T.c.attempts + 1, updated_at=now)
                .returning(T.c.id)))
        return mine

    def release(self, ids: Collection[int] | None = None) -> int:
        """Give back rows this worker claimed but never handed over ('queued', due now);
        with no ids, every such row of this worker. An earlier hand-over whose outcome is
        still unknown stays recorded, so the provider is asked before the row is sent."""
        now = self.clock()
        where = [T.c.status == DeliveryStatus.SENDING, T.c.claimed_by == self.worker_id,
                 or_(T.c.handed_at.is_(None), T.c.handed_at < T.c.claimed_at)]
        if ids is not None:
            if not ids:
                return 0
            where.append(T.c.id.in_(list(ids)))
        with self.factory() as session, session.begin():
            count = rowcount(session.execute(
                update(T).where(*where)
                .values(status=DeliveryStatus.QUEUED, claimed_by=None, next_attempt_at=now,
                        updated_at=now)))
        self.released += count
        return count

    # -- one row -------------------------------------------------------------------------
    async def _work(self, rnd: _Round, row: Claimed) -> None:
        """Settle an earlier unknown outcome if there is one, then hand the row over and
        send it; the result is recorded as soon as it comes."""
        try:
            await self._hand(rnd, row)
        except Exception as exc:  # the database went away: the row waits for recovery
            log.warning("delivery %s left for recovery (%s)", row.id, type(exc).__name__)

    async def _hand(self, rnd: _Round, row: Claimed) -> None:
        channel = self.channels[row.channel]
        message = row.outgoing(self.public_url)
        if row.handed_at is not None and await self._settle(rnd, row, channel):
            return
        lane = rnd.lanes[row.channel]
        await lane.acquire()  # cancelled here on stop: nothing was handed over
        rnd.waiting.pop(row.id, None)
        try:
            if rnd.stopping or not await rnd.handing.submit(row.id):
                return  # stopping (released later), or no longer ours
            result = await channel.send(message)
        finally:
            lane.release()
        await rnd.recording.submit(Outcome(row, result))

    async def _settle(self, rnd: _Round, row: Claimed, channel: Channel) -> bool:
        """Ask the provider about an earlier hand-over of this row; True when that settled
        it (sent, given up, or the question recorded as unanswered), False to send now."""
        assert row.handed_at is not None
        message = row.outgoing(self.public_url)
        others = await asyncio.to_thread(self._provider_ids_near, row)
        try:
            provider_id = await channel.find_sent(message, row.handed_at, others)
        except Exception as exc:  # the provider cannot say now: ask again later
            rnd.waiting.pop(row.id, None)
            await rnd.recording.submit(Outcome(row, DeliveryResult(
                DeliveryOutcome.TRANSIENT, error=f"asking the provider failed: "
                                                 f"{type(exc).__name__}"), lookup=True))
            return True
        if provider_id:
            rnd.waiting.pop(row.id, None)
            await rnd.recording.submit(Outcome(row, DeliveryResult(
                DeliveryOutcome.SENT, provider_id=provider_id)))
            return True
        if row.attempts >= self.policy.max_attempts:
            rnd.waiting.pop(row.id, None)
            await rnd.recording.submit(Outcome(row, DeliveryResult(
                DeliveryOutcome.TRANSIENT, error="the provider has no such message")))
            return True
        return False

    def _provider_ids_near(self, row: Claimed) -> frozenset[str]:
        """Provider ids other rows to the same address got since this row's hand-over
        (so the same text sent to them is not taken for this row's)."""
        assert row.handed_at is not None
        since = row.handed_at - timedelta(hours=1)
        with self.factory() as session:
            return frozenset(pid for pid in session.scalars(
                select(T.c.provider_id).where(
                    T.c.channel == row.channel, T.c.address == row.address,
                    T.c.id != row.id, T.c.provider_id.is_not(None),
                    T.c.updated_at >= since)) if pid)

    # -- one batch -----------------------------------------------------------------------
    async def run_batch(self, limit: int | None = None) -> int:
        """Claim, send and record one batch; returns how many rows were claimed."""
        claimed = await asyncio.to_thread(self.claim, limit)
        if not claimed:
            return 0
        rnd = _Round(self)
        await asyncio.gather(*(self._work(rnd, row) for row in claimed))
        return len(claimed)

    def record(self, outcomes: list[tuple[Claimed, DeliveryResult]]) -> None:
        """Store send results in one transaction."""
        self.recorder.record([Outcome(c, r) for c, r in outcomes])

    # -- crash recovery ------------------------------------------------------------------
    async def recover(self, force: bool = False) -> dict[str, int]:
        """Settle rows left in 'sending' by a worker that died; never resend blind.

        Rows it never handed over are released. Rows it handed over are settled by asking
        the provider where it can say (sent, or queued again when it has none; when it
        cannot answer now, or the call is under `settle_seconds` old and may still be
        arriving, queued to be asked before any resend), else flagged for a person."""
        now = self.clock()
        cutoff = now - timedelta(seconds=self.policy.stale_sending_seconds)
        with self.factory() as session:
            rows = session.execute(
                select(*CLAIMED_COLUMNS, T.c.handed_at, T.c.claimed_by, T.c.claimed_at)
                .where(T.c.status == DeliveryStatus.SENDING,
                       or_(T.c.claimed_by.is_(None), T.c.claimed_by != self.worker_id))
            ).all()
        counts = {"sent": 0, "requeued": 0, "needs_review": 0, "released": 0,
                  "asking_later": 0}
        for row in rows:
            claimed_by, claimed_at, handed_at = row.claimed_by, row.claimed_at, row.handed_at
            stale = force or claimed_at is None or claimed_at <= cutoff \
                or claimer_is_dead(claimed_by)
            if not stale:
                continue
            handed = handed_at is not None and (claimed_at is None or handed_at >= claimed_at)
            channel = self.channels.get(row.channel)
            values: dict[str, object]
            if not handed:
                values = {"status": DeliveryStatus.QUEUED, "next_attempt_at": now}
                outcome = "released"
            elif channel is not None and channel.can_check_sent:
                assert handed_at is not None
                ask_at = handed_at + timedelta(seconds=self.policy.settle_seconds)
                if ask_at > now:  # a call this recent may still be arriving: ask later
                    values = {"status": DeliveryStatus.QUEUED, "next_attempt_at": ask_at}
                    outcome = "asking_later"
                else:
                    claimed = replace(Claimed(*row[:len(CLAIMED_COLUMNS)]),
                                      handed_at=handed_at)
                    values, outcome = await self._ask(channel, claimed, now)
            else:
                values = {"status": DeliveryStatus.NEEDS_REVIEW, "last_error": REVIEW_UNKNOWN}
                outcome = "needs_review"
            with self.factory() as session, session.begin():
                changed = rowcount(session.execute(
                    update(T).where(T.c.id == row.id, T.c.status == DeliveryStatus.SENDING,
                                    T.c.claimed_by.is_(None) if claimed_by is None
                                    else T.c.claimed_by == claimed_by)
                    .values(updated_at=now, claimed_by=None, **values)))
                if changed and outcome == "sent":
                    count_sent(session, [row.id])
            if changed:
                counts[outcome] += 1
        if any(counts.values()):
            log.info("recovered rows left in sending: %s", counts)
        return counts

    async def _ask(self, channel: Channel, row: Claimed,
                   now: datetime) -> tuple[dict[str, object], str]:
        """Recovery's question to the provider about one handed-over row."""
        assert row.handed_at is not None
        try:
            others = await asyncio.to_thread(self._provider_ids_near, row)
            provider_id = await channel.find_sent(row.outgoing(self.public_url),
                                                  row.handed_at, others)
        except Exception as exc:  # cannot say now: queued, and asked before any resend
            return ({"status": DeliveryStatus.QUEUED, "next_attempt_at": now,
                     "last_error": f"asking the provider failed: {type(exc).__name__}"},
                    "requeued")
        if provider_id:
            return ({"status": DeliveryStatus.SENT, "provider_id": provider_id,
                     "sent_at": now, "last_error": None}, "sent")
        return ({"status": DeliveryStatus.QUEUED, "next_attempt_at": now, "handed_at": None},
                "requeued")

    async def _upkeep(self) -> None:
        for job in self.upkeep:
            await job(self.clock())

    # -- the loop --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, until_empty: bool = False) -> int:
        """Drain until stopped (or, with `until_empty`, until nothing is due), then stop
        gracefully. Returns rows sent."""
        stop = stop or asyncio.Event()
        rnd = _Round(self)
        try:
            await self.recover()
            await self._upkeep()
            last_recovery = self.clock()
            last_steps: datetime | None = None
            while not stop.is_set():
                prepared = 0
                if not rnd.tasks or last_steps is None or \
                        (self.clock() - last_steps).total_seconds() >= self.policy.poll_seconds:
                    last_steps = self.clock()
                    for step in self.steps:  # translation of rows and of replies
                        prepared += await step(self.clock())
                room = self.room - len(rnd.tasks)
                claimed = await asyncio.to_thread(self.claim, room) if room > 0 else []
                for row in claimed:
                    task = asyncio.create_task(self._work(rnd, row), name=f"send-{row.id}")
                    rnd.waiting[row.id] = task
                    rnd.tasks.add(task)
                    task.add_done_callback(rnd.tasks.discard)
                if claimed and len(rnd.tasks) < self.room:
                    continue  # more may be due: claim again at once
                if not claimed and not prepared and not rnd.tasks and until_empty:
                    break
                if (self.clock() - last_recovery).total_seconds() > \
                        min(60.0, self.policy.stale_sending_seconds / 2):
                    await self.recover()
                    await self._upkeep()
                    last_recovery = self.clock()
                if prepared and not claimed:
                    continue
                await self._pause(rnd, stop)
        finally:
            await self._stop(rnd)
            for channel in self.channels.values():
                await channel.close()
        return self.sent

    async def _pause(self, rnd: _Round, stop: asyncio.Event) -> None:
        """Until a row finishes (room to claim), `stop`, or the poll interval (new rows
        may have come due)."""
        stopped = asyncio.ensure_future(stop.wait())
        waiters: set[asyncio.Future[object]] = {stopped, *rnd.tasks}  # type: ignore[arg-type]
        await asyncio.wait(waiters, timeout=self.policy.poll_seconds,
                           return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()

    async def _stop(self, rnd: _Round) -> None:
        """Claim nothing more; let started calls finish within the grace period and record
        them; give back every claimed row not handed over; one log line."""
        rnd.stopping = True
        for task in list(rnd.waiting.values()):
            task.cancel()  # waiting for a lane: never handed over
        in_flight = set(rnd.tasks)
        unfinished: set[asyncio.Task[None]] = set()
        if in_flight:
            _, unfinished = await asyncio.wait(in_flight, timeout=self.policy.grace_seconds)
            for task in unfinished:
                task.cancel()  # handed over: left 'sending', settled by asking at next start
            with contextlib.suppress(Exception):
                await asyncio.gather(*in_flight, return_exceptions=True)
        try:
            released = await asyncio.to_thread(self.release)
        except Exception as exc:  # the database is away: recovery releases them later
            log.warning("worker %s could not release its claims (%s)", self.worker_id,
                        type(exc).__name__)
            released = 0
        if in_flight or released:
            log.info("worker stopped: %d sent, %d unstarted given back, %d still with the "
                     "provider after %.0f s (settled at next start)", self.sent, released,
                     len(unfinished), self.policy.grace_seconds)
