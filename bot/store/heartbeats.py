"""Heartbeats: a long-running process saying, every few seconds, that it is alive.

The background process beats as "background", the scheduler as "scheduler" while it
holds the lease (with its job counters). The web process reads them for /readyz and
/metrics, so a companion that died, or a scheduler nobody runs, shows from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import Heartbeat, utcnow


def beat(factory: sessionmaker[Session], name: str, holder: str,
         detail: dict[str, Any] | None = None, now: datetime | None = None) -> None:
    """Record that `name` is alive now (one short transaction)."""
    values = {"at": now or utcnow(), "holder": holder, "detail": detail or {}}
    with factory() as session, session.begin():
        done = session.execute(update(Heartbeat).where(Heartbeat.name == name).values(values))
        if done.rowcount:  # type: ignore[attr-defined]
            return
    try:
        with factory() as session, session.begin():
            session.add(Heartbeat(name=name, **values))
    except IntegrityError:  # another process beat first under this name: it is alive
        pass


@dataclass(frozen=True, slots=True)
class LastBeat:
    """A process's last heartbeat, read out of the session."""

    at: datetime
    holder: str
    detail: dict[str, Any]


def last_beats(session: Session) -> dict[str, LastBeat]:
    """Every process's last heartbeat, by name."""
    return {b.name: LastBeat(b.at, b.holder, dict(b.detail or {}))
            for b in session.scalars(select(Heartbeat))}
