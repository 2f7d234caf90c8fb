"""Provider status reports (delivered, failed, bounced) applied to deliveries.

Idempotent and monotonic: the same report twice changes nothing, and a late 'sent'
never overwrites 'delivered'. A failure that is permanent for the address marks it
failed and moves the guardian to their next channel, like a failure at send time.
A report that makes a contact count (or stop counting) updates the contact summary in
the same transaction (scheduler/contact_summary.py).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.outbound.dispatch import fall_back, mark_address_failed
from bot.store.models import Delivery, DeliveryStatus, utcnow
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
