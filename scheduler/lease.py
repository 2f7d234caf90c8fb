"""Exactly one active scheduler across processes and machines.

PostgreSQL: a session-level advisory lock held on a dedicated connection. The server
drops it the moment that connection dies, so a killed holder frees it at once. The
lock key is hashed from the current schema, so two schoolgate databases sharing one
server (or test schemas) do not block each other.

SQLite (and any other database): a row in scheduler_leases, taken or renewed with one
conditional UPDATE inside `BEGIN IMMEDIATE`, with an expiry. A holder that dies stops
renewing and its lease lapses; a holder on this machine whose process is gone is
replaced at once.
"""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.clock import Clock
from bot.clock import now as clock_now
from bot.store import is_postgres
from bot.store.models import SchedulerLease, table
from bot.store.owners import claimer_is_dead, new_worker_id

log = logging.getLogger(__name__)
NAME = "scheduler"


class Lease(ABC):
    """The right to run the scheduler: try to take it, keep it, give it back."""

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or new_worker_id()
        self.held = False

    @abstractmethod
    def acquire(self) -> bool:
        """Take the lease if it is free, or renew it if held; True while held."""

    @abstractmethod
    def release(self) -> None:
        """Give the lease up so another process may take it at once."""


class AdvisoryLease(Lease):
    """PostgreSQL: pg_try_advisory_lock on a connection kept open while held."""

    def __init__(self, engine: Engine, holder: str | None = None, name: str = NAME) -> None:
        super().__init__(holder)
        self.engine = engine
        self.name = name
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            try:  # still holding: the connection is alive, so the lock is ours
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except DBAPIError:
                log.warning("scheduler lease lost: its database connection dropped")
                self._drop()
                return False
        conn = self.engine.connect()
        try:
            got = conn.execute(text(
                "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':' || :name))"),
                {"name": self.name}).scalar()
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn, self.held = conn, True
            log.info("scheduler lease taken (advisory lock)")
        else:
            conn.close()
        return bool(got)

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text(
                "SELECT pg_advisory_unlock(hashtext(current_schema() || ':' || :name))"),
                {"name": self.name})
            self._conn.commit()
        except DBAPIError:
            pass  # the connection is gone, and the lock with it
        self._drop()

    def _drop(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.close()


class RowLease(Lease):
    """A lease row with an expiry, renewed by its holder before it lapses."""

    def __init__(self, engine: Engine, holder: str | None = None, name: str = NAME,
                 ttl_seconds: float = 60.0, clock: Clock = clock_now) -> None:
        super().__init__(holder)
        self.engine = engine
        self.name = name
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock

    def acquire(self) -> bool:
        now = self.clock()
        T = table(SchedulerLease)
        with self.engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite: one writer decides
            current = conn.execute(select(T.c.holder, T.c.expires_at)
                                   .where(T.c.name == self.name)).first()
            if current is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(T).values(name=self.name, holder=self.holder,
                                                      acquired_at=now,
                                                      expires_at=now + self.ttl))
                    got = True
                except IntegrityError:
                    got = False
            else:
                takeover = current.holder != self.holder and claimer_is_dead(current.holder)
                conds = [T.c.holder == self.holder, T.c.expires_at < now]
                if takeover:
                    conds.append(T.c.holder == current.holder)
                values: dict[str, object] = {"holder": self.holder, "expires_at": now + self.ttl}
                if current.holder != self.holder:
                    values["acquired_at"] = now
                got = conn.execute(update(T).where(T.c.name == self.name, or_(*conds))
                                   .values(**values)).rowcount == 1
        if got and not self.held:
            log.info("scheduler lease taken (lease row)")
        elif self.held and not got:
            log.warning("scheduler lease lost to another holder")
        self.held = got
        return got

    def release(self) -> None:
        if not self.held:
            return
        T = table(SchedulerLease)
        with self.engine.begin() as conn:
            conn.execute(update(T).where(T.c.name == self.name, T.c.holder == self.holder)
                         .values(expires_at=datetime(1970, 1, 1).astimezone()))
        self.held = False


def make_lease(engine: Engine, holder: str | None = None, ttl_seconds: float = 60.0,
               clock: Clock = clock_now) -> Lease:
    """The right kind of lease for this database."""
    if is_postgres(engine):
        return AdvisoryLease(engine, holder)
    return RowLease(engine, holder, ttl_seconds=ttl_seconds, clock=clock)
