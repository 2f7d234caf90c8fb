"""Workers drain the outbox: claim due rows atomically, send, record, retry or fall back.

Claiming is one UPDATE ... RETURNING: with `FOR UPDATE SKIP LOCKED` on PostgreSQL so
several workers on several machines share one outbox, and inside `BEGIN IMMEDIATE` on
SQLite. A row stays in 'sending' while its channel works on it; a row left there by a
crash is recovered: marked sent if the provider can confirm it went, queued again if the
provider can confirm it did not, and otherwise flagged for a person, never resent blind.

One message walked through this code, file by file: docs/sending-a-message.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.outbound.claimed import Claimed
from bot.outbound.dispatch import fall_back, mark_address_failed
from bot.outbound.kinds import attach_files
from bot.store.db import rowcount
from bot.store.models import Delivery, DeliveryStatus, table, utcnow
from bot.store.owners import claimer_is_dead, new_worker_id
from channels.base import Channel, DeliveryOutcome, DeliveryResult
from scheduler.contact_summary import count_sent

log = logging.getLogger(__name__)
T = table(Delivery)


@dataclass(frozen=True, slots=True)
class WorkerPolicy:
    """How hard a worker tries: batch size, attempts, backoff and crash-recovery timing."""

    batch_size: int = 50
    max_attempts: int = 6
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    stale_sending_seconds: float = 600.0
    poll_seconds: float = 1.0

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds until the next attempt: the provider's hint, else jittered exponential."""
        if retry_after is not None and retry_after > 0:
            return retry_after + random.uniform(0, min(retry_after * 0.1, 5.0))
        ceiling = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(attempts - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


#: work the runtime hands a worker to run in its loop: `(now) -> how many things it did`
Step = Callable[[datetime], Awaitable[int]]


class Worker:
    """Drains due outbox rows through the given channel adapters.

    `steps` run before each batch (the runtime passes translation of new rows and of
    replies); `upkeep` runs at start and about once a minute (the runtime passes the sweep
    of replies stored but never routed). The worker itself knows only the outbox.
    """

    def __init__(self, factory: sessionmaker[Session], channels: Mapping[str, Channel],
                 policy: WorkerPolicy | None = None, worker_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow, public_url: str = "",
                 steps: Sequence[Step] = (), upkeep: Sequence[Step] = ()) -> None:
        self.factory = factory
        self.channels = dict(channels)
        self.policy = policy or WorkerPolicy()
        self.worker_id = worker_id or new_worker_id()
        self.clock = clock
        self.public_url = public_url
        self.steps = tuple(steps)
        self.upkeep = tuple(upkeep)
        self.sent = 0

    # -- claiming ------------------------------------------------------------------------
    def claim(self, limit: int | None = None) -> list[Claimed]:
        """Atomically move up to `limit` due rows to 'sending' for this worker."""
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
                    attempts=T.c.attempts + 1, updated_at=now)
            .returning(T.c.id, T.c.channel, T.c.address, T.c.rendered_text, T.c.subject,
                       T.c.language, T.c.idempotency_key, T.c.attempts, T.c.reply_token,
                       T.c.message_id, T.c.email_message_id, T.c.reply_headers)
        )
        with self.factory() as session, session.begin():
            claimed = [Claimed(*row) for row in session.execute(stmt).all()]
            # Only rows for channels that carry files can need one: SMS batches skip this.
            if any(self.channels[c.channel].supports_attachments for c in claimed):
                claimed = attach_files(session, claimed, self.channels)
        return sorted(claimed, key=lambda c: c.id)

    # -- one batch -----------------------------------------------------------------------
    async def run_batch(self, limit: int | None = None) -> int:
        """Claim, send and record one batch; returns how many rows were claimed."""
        claimed = await asyncio.to_thread(self.claim, limit)
        if not claimed:
            return 0
        results = await asyncio.gather(
            *(self.channels[c.channel].send(c.outgoing(self.public_url)) for c in claimed))
        await asyncio.to_thread(self.record, list(zip(claimed, results, strict=True)))
        return len(claimed)

    def record(self, outcomes: list[tuple[Claimed, DeliveryResult]]) -> None:
        """Store every result of a batch in one transaction."""
        now = self.clock()
        sent = [
            {"b_id": c.id, "b_pid": r.provider_id, "b_seg": r.segments}
            for c, r in outcomes if r.outcome is DeliveryOutcome.SENT
        ]
        with self.factory() as session, session.begin():
            if sent:
                # the rows still ours to record (locked): only these become sent now, and
                # only these count in the contact summary, in this same transaction
                mine = set(session.scalars(
                    select(T.c.id).where(T.c.id.in_([r["b_id"] for r in sent]),
                                         T.c.status == DeliveryStatus.SENDING,
                                         T.c.claimed_by == self.worker_id)
                    .with_for_update()))
                sent = [r for r in sent if r["b_id"] in mine]
            if sent:
                session.connection().execute(
                    update(T)
                    .where(T.c.id == bindparam("b_id"), T.c.status == DeliveryStatus.SENDING,
                           T.c.claimed_by == self.worker_id)
                    .values(status=DeliveryStatus.SENT, provider_id=bindparam("b_pid"),
                            segments=bindparam("b_seg"), sent_at=now, last_error=None,
                            updated_at=now),
                    sent,
                )
                count_sent(session, mine)
            for claimed, result in outcomes:
                if result.outcome is not DeliveryOutcome.SENT:
                    self._record_failure(session, claimed, result, now)
        self.sent += len(sent)

    def _record_failure(self, session: Session, claimed: Claimed, result: DeliveryResult,
                        now: datetime) -> None:
        delivery = session.get(Delivery, claimed.id, with_for_update=True)
        if delivery is None or delivery.status != DeliveryStatus.SENDING \
                or delivery.claimed_by != self.worker_id:
            return
        delivery.last_error = (result.error or result.outcome.value)[:500]
        delivery.updated_at = now
        retryable = result.outcome is DeliveryOutcome.TRANSIENT
        if retryable and delivery.attempts < self.policy.max_attempts:
            delay = self.policy.backoff(delivery.attempts, result.retry_after)
            delivery.status = DeliveryStatus.QUEUED
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            return
        delivery.status = DeliveryStatus.FAILED
        if result.outcome is DeliveryOutcome.PERMANENT:
            mark_address_failed(session, delivery.guardian, claimed.channel, claimed.address,
                                delivery.last_error, now)
        else:
            delivery.last_error = f"gave up after {delivery.attempts} attempts: " \
                                  f"{delivery.last_error}"[:500]
        nxt = fall_back(session, delivery, self.channels, now)
        log.info("delivery %s failed on %s; next: %s", delivery.id, claimed.channel,
                 nxt.channel or "unreachable")

    # -- crash recovery ------------------------------------------------------------------
    async def recover(self, force: bool = False) -> dict[str, int]:
        """Settle rows left in 'sending' by a worker that died; never resend blind."""
        now = self.clock()
        cutoff = now - timedelta(seconds=self.policy.stale_sending_seconds)
        with self.factory() as session:
            rows = session.execute(
                select(T.c.id, T.c.channel, T.c.idempotency_key, T.c.claimed_by, T.c.claimed_at)
                .where(T.c.status == DeliveryStatus.SENDING,
                       T.c.claimed_by != self.worker_id)
            ).all()
        counts = {"sent": 0, "requeued": 0, "needs_review": 0}
        for row in rows:
            stale = force or row.claimed_at is None or row.claimed_at <= cutoff \
                or claimer_is_dead(row.claimed_by)
            if not stale:
                continue
            channel = self.channels.get(row.channel)
            if channel is not None and channel.can_check_sent:
                provider_id = await channel.was_sent(row.idempotency_key)
                if provider_id:
                    values = {"status": DeliveryStatus.SENT, "provider_id": provider_id,
                              "sent_at": now}
                    outcome = "sent"
                else:
                    values = {"status": DeliveryStatus.QUEUED, "next_attempt_at": now}
                    outcome = "requeued"
            else:
                values = {"status": DeliveryStatus.NEEDS_REVIEW,
                          "last_error": "the worker stopped while sending; the provider cannot "
                                        "tell whether it went, so a person should check "
                                        "before it is sent again"}
                outcome = "needs_review"
            with self.factory() as session, session.begin():
                changed = rowcount(session.execute(
                    update(T).where(T.c.id == row.id, T.c.status == DeliveryStatus.SENDING,
                                    T.c.claimed_by == row.claimed_by)
                    .values(updated_at=now, **values)))
                if changed and outcome == "sent":
                    count_sent(session, [row.id])
            if changed:
                counts[outcome] += 1
        if any(counts.values()):
            log.info("recovered rows left in sending: %s", counts)
        return counts

    async def _upkeep(self) -> None:
        for job in self.upkeep:
            await job(self.clock())

    # -- the loop --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, until_empty: bool = False) -> int:
        """Drain until stopped (or, with `until_empty`, until nothing is due). Returns rows sent."""
        stop = stop or asyncio.Event()
        await self.recover()
        await self._upkeep()
        last_recovery = self.clock()
        while not stop.is_set():
            prepared = 0
            for step in self.steps:  # translation of rows and of replies, run before sending
                prepared += await step(self.clock())
            if await self.run_batch() or prepared:
                continue
            if until_empty:
                break
            if (self.clock() - last_recovery).total_seconds() > \
                    min(60.0, self.policy.stale_sending_seconds / 2):
                await self.recover()
                await self._upkeep()
                last_recovery = self.clock()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.policy.poll_seconds)
        for channel in self.channels.values():
            await channel.close()
        return self.sent
