"""Opting out and back in, per channel. Every change is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.store.audit import audit
from bot.store.models import Guardian, GuardianChannel, utcnow


def _state(session: Session, guardian: Guardian, channel: str) -> GuardianChannel:
    row = session.get(GuardianChannel, (guardian.id, channel))
    if row is None:
        row = GuardianChannel(guardian_id=guardian.id, channel=channel, consent=True)
        session.add(row)
    return row


def opt_out(session: Session, guardian: Guardian, channel: str, actor: str = "guardian",
            now: datetime | None = None) -> bool:
    """Stop all messages to this guardian on this channel. Returns False if already out."""
    row = _state(session, guardian, channel)
    if row.opted_out_at is not None:
        return False
    row.opted_out_at = now or utcnow()
    audit(session, actor, "opt_out", "guardian", guardian.id, channel=channel)
    return True


def opt_in(session: Session, guardian: Guardian, channel: str, actor: str = "guardian") -> bool:
    """Allow messages again on this channel. Returns False if they were not opted out."""
    row = _state(session, guardian, channel)
    if row.opted_out_at is None and row.consent:
        return False
    row.opted_out_at = None
    row.consent = True
    audit(session, actor, "opt_in", "guardian", guardian.id, channel=channel)
    return True
