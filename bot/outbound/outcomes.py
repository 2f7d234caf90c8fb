"""What a worker does with each result: its policy, and recording outcomes in batches.

One transaction stores whatever results have come in (bot.outbound.handover.Batcher
gathers them): sent rows get their provider id and count as contact; a definite failure
is retried after a backoff, or, when permanent or out of attempts, fails and falls back
to the guardian's next channel; an uncertain one ("the provider may have it") goes back
to the queue with its hand-over kept, to be asked about before any resend, or to a
person when the provider cannot be asked; a question the provider could not answer is
asked again later, and after `max_attempts` goes to a person.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.outbound.claimed import Claimed
from bot.outbound.dispatch import fall_back, mark_address_failed
from bot.store.models import Delivery, DeliveryStatus, table
from channels.base import Channel, DeliveryOutcome, DeliveryResult
from scheduler.contact_summary import count_sent

log = logging.getLogger(__name__)
T = table(Delivery)

REVIEW_UNKNOWN = ("the provider got this message but its answer never came, and it cannot "
                  "tell whether the message went, so a person should check before it is "
                  "sent again")
REVIEW_LOOKUP = ("the provider's answer never came and it could not say afterwards whether "
                 "the message went, so a person should check before it is sent again")


@dataclass(frozen=True, slots=True)
class WorkerPolicy:
    """How hard a worker tries: batch size, attempts, backoff, crash recovery, shutdown.

    `settle_seconds`: after a send whose answer never came, how long to wait before asking
    the provider whether it took the message (a late answer must have been processed).
    `grace_seconds`: on stop, how long calls already started may take to finish.
    """

    batch_size: int = 50
    max_attempts: int = 6
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    stale_sending_seconds: float = 600.0
    poll_seconds: float = 1.0
    settle_seconds: float = 60.0
    grace_seconds: float = 10.0

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds until the next attempt: the provider's hint, else jittered exponential."""
        if retry_after is not None and retry_after > 0:
            return retry_after + random.uniform(0, min(retry_after * 0.1, 5.0))
        ceiling = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(attempts - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class Everything:
    """A container that holds every item (a write that accepts all it is given)."""

    def __contains__(self, item: object) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Outcome:
    """One row's result to record: a send's, or a question to the provider's (`lookup`)."""

    row: Claimed
    result: DeliveryResult
    lookup: bool = False


class Recorder:
    """Stores outcomes for one worker (only rows it still holds)."""

    def __init__(self, factory: sessionmaker[Session], channels: Mapping[str, Channel],
                 policy: WorkerPolicy, worker_id: str,
                 clock: Callable[[], datetime]) -> None:
        self.factory = factory
        self.channels = channels
        self.policy = policy
        self.worker_id = worker_id
        self.clock = clock
        self.sent = 0

    def record(self, outcomes: list[Outcome]) -> Everything:
        """Store results of sends and of questions to the provider in one transaction."""
        now = self.clock()
        sent = [
            {"b_id": o.row.id, "b_pid": o.result.provider_id, "b_seg": o.result.segments}
            for o in outcomes if o.result.outcome is DeliveryOutcome.SENT
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
            for o in outcomes:
                if o.result.outcome is not DeliveryOutcome.SENT:
                    self._record_failure(session, o, now)
        self.sent += len(sent)
        return Everything()

    def _record_failure(self, session: Session, o: Outcome, now: datetime) -> None:
        claimed, result = o.row, o.result
        delivery = session.get(Delivery, claimed.id, with_for_update=True)
        if delivery is None or delivery.status != DeliveryStatus.SENDING \
                or delivery.claimed_by != self.worker_id:
            return
        delivery.last_error = (result.error or result.outcome.value)[:500]
        delivery.updated_at = now
        delivery.claimed_by = None
        if o.lookup:  # the provider could not say whether an earlier hand-over went
            delivery.attempts += 1
            if delivery.attempts < self.policy.max_attempts:
                delivery.status = DeliveryStatus.QUEUED  # asked again before any resend
                delivery.next_attempt_at = now + timedelta(
                    seconds=self.policy.backoff(delivery.attempts, None))
            else:
                delivery.status = DeliveryStatus.NEEDS_REVIEW
                delivery.last_error = REVIEW_LOOKUP
            return
        if result.outcome is DeliveryOutcome.UNCERTAIN:
            channel = self.channels.get(claimed.channel)
            if channel is not None and channel.can_check_sent:
                # handed_at stays: before anything is sent again the provider is asked, once
                # a late answer must have been processed
                delivery.status = DeliveryStatus.QUEUED
                delivery.next_attempt_at = now + timedelta(
                    seconds=self.policy.settle_seconds * random.uniform(1.0, 1.25))
            else:
                delivery.status = DeliveryStatus.NEEDS_REVIEW
                delivery.last_error = REVIEW_UNKNOWN
            return
        delivery.handed_at = None  # the provider answered: it did not take this one
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
