"""Provider status reports (delivered, failed, bounced) applied to deliveries, and what
a delivery's status means to the people who read it (`family_statuses`).

Idempotent and monotonic: the same report twice changes nothing, and a late 'sent'
never overwrites 'delivered'. A failure that is permanent for the address marks it
failed and moves the guardian to their next channel, like a failure at send time.
A report that makes a contact count (or stop counting) updates the contact summary in
the same transaction (scheduler/contact_summary.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.outbound.dispatch import fall_back, mark_address_failed
from bot.outbound.translate import review_hold
from bot.store.models import Delivery, DeliveryStatus, utcnow
from scheduler.cadence import POSITIVE_FIRST, QUIET_HOURS, WEEKLY_CAP
from scheduler.contact_summary import SENT_STATES, count_sent, uncount_failed

log = logging.getLogger(__name__)

RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.NEEDS_REVIEW: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
}


def apply_status(factory: sessionmaker[Session], channel: str, provider_id: str, status: str,
                 available: Collection[str], *, error: str | None = None,
                 permanent: bool = False, now: datetime | None = None) -> str:
    """Apply one provider report. Returns 'updated', 'ignored' or 'unknown' (no such delivery)."""
    now = now or utcnow()
    with factory() as session, session.begin():
        delivery = session.scalar(
            select(Delivery).where(Delivery.channel == channel, Delivery.provider_id == provider_id)
            .with_for_update())
        if delivery is None:
            log.info("%s status for unknown provider id", channel)
            return "unknown"
        current = DeliveryStatus(delivery.status)
        if status == DeliveryStatus.FAILED:
            if current in (DeliveryStatus.FAILED, DeliveryStatus.DELIVERED, DeliveryStatus.READ):
                return "ignored"
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = (error or "the provider reported a failure")[:500]
            delivery.updated_at = now
            if current in SENT_STATES:  # it had counted as a contact: it no longer does
                uncount_failed(session, delivery)
            if permanent:
                mark_address_failed(session, delivery.guardian, channel, delivery.address,
                                    delivery.last_error, now)
            nxt = fall_back(session, delivery, available, now)
            log.info("delivery %s failed after sending; next: %s", delivery.id,
                     nxt.channel or "unreachable")
            return "updated"
        new = DeliveryStatus(status)
        if current not in RANK or RANK[new] <= RANK[current]:
            return "ignored"
        delivery.status = new
        delivery.updated_at = now
        if current not in SENT_STATES:  # e.g. 'delivered' before the worker recorded 'sent'
            delivery.sent_at = delivery.sent_at or now
            session.flush()
            count_sent(session, [delivery.id])
        return "updated"


#: what staff are shown, in the order a message moves through them
STATES = ("queued", "held", "sending", "sent", "delivered", "failed", "unreachable",
          "cancelled")

HELD_WHY = {
    QUIET_HOURS: "quiet hours",
    WEEKLY_CAP: "weekly limit reached",
    POSITIVE_FIRST: "waiting for good news to go first",
}


@dataclass(frozen=True, slots=True)
class Shown:
    """One delivery as staff read it: a state from STATES, why, and until when."""

    state: str
    why: str | None = None
    #: held: when it may next go; queued for later: when it is due
    until: datetime | None = None

    @property
    def words(self) -> str:
        """The state and its reason in one phrase ("held: quiet hours")."""
        return f"{self.state}: {self.why}" if self.why else self.state


def shown(delivery: Delivery, now: datetime | None = None) -> Shown:
    """What one outbox row means for the family: never "queued" for a row that cannot go."""
    now = now or utcnow()
    status = delivery.status
    if status == DeliveryStatus.HELD:
        reason = delivery.held_reason or ""
        return Shown("held", HELD_WHY.get(reason, reason.replace("_", " ") or None),
                     delivery.next_attempt_at)
    if status == DeliveryStatus.NEEDS_REVIEW:
        return Shown("held", "waiting for review: the provider did not say whether it went, "
                             "so a person checks before it is sent again")
    if status == DeliveryStatus.TRANSLATING:
        review = review_hold(delivery)  # the school's policy: a person checks it first
        if review is not None:
            return Shown("held", review[1], review[0])
        return Shown("queued", "being translated", _later(delivery, now))
    if status == DeliveryStatus.QUEUED:
        return Shown("queued", None, _later(delivery, now))
    if status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
        return Shown("delivered", "read" if status == DeliveryStatus.READ else None)
    if status == DeliveryStatus.UNREACHABLE:
        error = delivery.last_error or "no channel"
        return Shown("unreachable", error.removeprefix("unreachable: "))
    if status == DeliveryStatus.FAILED:
        return Shown("failed", delivery.last_error)
    return Shown(str(status), None)  # sending, sent, cancelled


def _later(delivery: Delivery, now: datetime) -> datetime | None:
    return delivery.next_attempt_at if delivery.next_attempt_at > now else None


@dataclass(frozen=True, slots=True)
class FamilyStatus:
    """Where one message stands for one family: their latest attempt, and the earlier ones
    (a channel that failed before the next was tried)."""

    guardian_id: int
    guardian_name: str
    channel: str | None
    language: str
    shown: Shown
    delivery_id: int
    earlier: tuple[tuple[str | None, Shown], ...] = ()


def family_statuses(session: Session, message_id: int,
                    now: datetime | None = None) -> list[FamilyStatus]:
    """Per family, from the deliveries table: queued, held (until, why), sending, sent,
    delivered, failed, unreachable (why). Falling back to another channel adds a row, so a
    family's state is their newest row; the rows before it are kept as `earlier`."""
    now = now or utcnow()
    rows = session.scalars(select(Delivery).where(Delivery.message_id == message_id)
                           .options(selectinload(Delivery.guardian))
                           .order_by(Delivery.guardian_id, Delivery.id))
    by_family: dict[int, list[Delivery]] = {}
    for row in rows:
        by_family.setdefault(row.guardian_id, []).append(row)
    out = []
    for attempts in by_family.values():
        last = attempts[-1]
        guardian = last.guardian
        out.append(FamilyStatus(
            guardian.id, f"{guardian.first_name} {guardian.last_name}", last.channel,
            last.language, shown(last, now), last.id,
            tuple((d.channel, shown(d, now)) for d in attempts[:-1])))
    return sorted(out, key=lambda f: (STATES.index(f.shown.state)
                                      if f.shown.state in STATES else len(STATES),
                                      f.guardian_name))


def tally(statuses: Iterable[FamilyStatus]) -> list[tuple[str, int]]:
    """How many families are in each state, in STATES order (only states that occur)."""
    counts = Counter(f.shown.state for f in statuses)
    return [(state, counts[state]) for state in (*STATES, *sorted(set(counts) - set(STATES)))
            if counts[state]]


def summary(statuses: Iterable[FamilyStatus]) -> str:
    """One honest sentence after sending: "1 family queued; 1 cannot be reached (sms: opted
    out)". Never says a message is on its way to a family it cannot reach."""
    statuses = list(statuses)
    if not statuses:
        return "nobody can be told: no guardian may be contacted about this child"
    parts = []
    for state, n in tally(statuses):
        families = f"{n} {'family' if n == 1 else 'families'}"
        if state == "unreachable":
            why = sorted({f.shown.why or "no channel" for f in statuses
                          if f.shown.state == "unreachable"})
            parts.append(f"{families} cannot be reached ({'; '.join(why)})")
        elif state == "held":
            why = sorted({f.shown.why or "held" for f in statuses if f.shown.state == "held"})
            parts.append(f"{families} held ({'; '.join(w.split(':')[0] for w in why)})")
        else:
            parts.append(f"{families} {state}")
    return "; ".join(parts)
