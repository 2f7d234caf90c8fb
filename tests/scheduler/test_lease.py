"""One active scheduler: a second contender waits while the first holds the lease,
and takes over when the first releases it or dies."""

from __future__ import annotations

from bot.store import make_engine
from bot.store.models import utcnow
from scheduler.lease import AdvisoryLease, RowLease, make_lease
from tests.clocks import FakeClock


def test_second_contender_waits_then_takes_over_after_release(db_url: str) -> None:
    one, two = make_engine(db_url), make_engine(db_url)
    try:
        first, second = make_lease(one, "host:1:a"), make_lease(two, "host:2:b")
        assert first.acquire() and first.held
        assert not second.acquire() and not second.held
        assert first.acquire()  # renewing keeps it
        assert not second.acquire()
        first.release()
        assert not first.held
        assert second.acquire()
        assert not first.acquire()
        second.release()
    finally:
        one.dispose()
        two.dispose()


def test_advisory_lock_frees_when_the_holders_connection_dies(db_url: str) -> None:
    one, two = make_engine(db_url), make_engine(db_url)
    try:
        first, second = make_lease(one, "host:1:a"), make_lease(two, "host:2:b")
        if not isinstance(first, AdvisoryLease):  # SQLite: a dead holder's lease lapses
            clock = FakeClock(utcnow())
            first = RowLease(one, "elsewhere:1:a", ttl_seconds=60, clock=clock)
            second = RowLease(two, "elsewhere:2:b", ttl_seconds=60, clock=clock)
            assert first.acquire()
            clock.advance(seconds=59)
            assert not second.acquire()  # still within the first's lease
            clock.advance(seconds=2)  # the first stopped renewing: it has lapsed
            assert second.acquire()
            assert not first.acquire()  # and the old holder knows it lost it
            return
        assert first.acquire()
        assert first._conn is not None
        first._conn.invalidate()  # the process died: the server drops its session
        first._conn = None
        assert second.acquire()
        second.release()
    finally:
        one.dispose()
        two.dispose()


def test_a_dead_process_on_this_machine_is_replaced_at_once(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        import socket

        clock = FakeClock(utcnow())
        # a holder on another machine cannot be judged dead: wait for its expiry
        assert RowLease(engine, "another-host:999999:x", ttl_seconds=600, clock=clock).acquire()
        assert not RowLease(engine, None, ttl_seconds=600, clock=clock).acquire()
        clock.advance(seconds=601)
        # a holder on this machine whose process is gone is replaced before its expiry
        dead = f"{socket.gethostname()}:999999:x"  # no such pid
        assert RowLease(engine, dead, ttl_seconds=600, clock=clock).acquire()
        clock.advance(seconds=1)
        assert RowLease(engine, None, ttl_seconds=600, clock=clock).acquire()
    finally:
        engine.dispose()
