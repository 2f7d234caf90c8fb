"""Who cannot be reached at all: never dropped quietly, always listed with the reason."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.dispatcher import choose_channel
from bot.store.models import Guardian


def unreachable_guardians(session: Session, available: Collection[str], *,
                          school_id: int | None = None) -> list[tuple[Guardian, str]]:
    """Guardians for whom no channel can be chosen (opted out, no address, failed), and why."""
    stmt = select(Guardian).options(selectinload(Guardian.channels)).order_by(Guardian.id)
    if school_id is not None:
        stmt = stmt.where(Guardian.school_id == school_id)
    out = []
    for guardian in session.scalars(stmt):
        choice = choose_channel(guardian, available)
        if choice.channel is None:
            out.append((guardian, choice.reason))
    return out
